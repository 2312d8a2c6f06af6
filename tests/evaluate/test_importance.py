"""Permutation importance on real small runs: signal columns on top, noise columns flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd

import netfit
from netfit.evaluate.importance import column_groups

QUICK = {"evaluate": {"bootstrap": 500, "report_html": False, "baselines": False}}


def test_the_three_signal_columns_of_twenty_rank_on_top_and_the_noise_is_flagged(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 20))
    y = 2 * x[:, 3] - 1.5 * x[:, 7] + np.sin(2 * x[:, 12]) * 2 + 0.3 * rng.normal(size=2000)
    frame = pd.DataFrame(x, columns=[f"c{i}" for i in range(20)]).assign(target=y)
    cfg = {"model": {"hidden": [32]}, "train": {"epochs": 40, "threads": 1}, **QUICK}
    run = netfit.fit(cfg, data=frame, output_dir=str(tmp_path), quiet=True)
    found = run.report["importance"]
    assert found["metric"] == "rmse" and found["rows"] == run.report["split_sizes"]["test"]
    columns = found["columns"]
    assert {c["column"] for c in columns[:3]} == {"c3", "c7", "c12"}, columns[:5]
    assert all(c["ci_low"] > 0 and not c["flat"] for c in columns[:3])
    noise = columns[3:]
    assert len(noise) == 17 and sum(c["flat"] for c in noise) >= 15, noise


def test_one_hot_blocks_embeddings_and_missing_indicators_group_back_to_their_column(tmp_path):
    rng = np.random.default_rng(1)
    n = 400
    frame = pd.DataFrame({
        "x": rng.normal(size=n),
        "size": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),  # missing values: an indicator column
        "color": rng.choice(["red", "green", "blue"], n),  # few levels: one-hot
        "city": rng.choice([f"city{i}" for i in range(80)], n),  # over max_onehot (50) levels: an embedding
    })
    frame["target"] = (frame["color"] == "red").astype(int)
    cfg = {"data": {"preprocess": {"missing_indicator": True}}, "train": {"epochs": 3}, **QUICK}
    run = netfit.fit(cfg, data=frame, output_dir=str(tmp_path), quiet=True)
    pre = run._loaded().preprocessor
    groups = column_groups(pre)
    assert set(groups) == {"x", "size", "color", "city"}
    assert len(groups["size"]["num"]) == 2  # the value and its missing indicator
    assert len(groups["color"]["num"]) >= 3 and not groups["color"]["cat"]
    assert groups["city"]["cat"] == [0] and not groups["city"]["num"]
    assert sorted(i for g in groups.values() for i in g["num"]) == list(range(pre.n_num))
    assert {c["column"] for c in run.report["importance"]["columns"]} == {"x", "size", "color", "city"}


def test_the_report_shows_the_importances(tmp_path):
    from netfit.evaluate.report import write_report

    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    frame["target"] = (frame["a"] > 0).astype(int)
    run = netfit.fit({"train": {"epochs": 5}, **QUICK}, data=frame, output_dir=str(tmp_path), quiet=True)
    html = write_report(run.path).read_text()
    assert "Feature importance" in html and "accuracy lost" in html and "data:image/png;base64" in html
    assert run.report["importance"]["columns"][0]["column"] == "a"
