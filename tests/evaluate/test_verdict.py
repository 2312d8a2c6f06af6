"""The verdict against the baselines: a paired bootstrap of network - baseline, on real small runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import netfit
from netfit.evaluate.verdict import main_metric, paired_differences, verdict

QUICK = {"evaluate": {"bootstrap": 500, "report_html": False}}


def teacher(kind: str, n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Six columns; the label is a noisy linear rule of two (`linear`) or their XOR (`xor`)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    if kind == "linear":
        y = (x[:, 0] + 0.5 * x[:, 1] + 0.5 * rng.normal(size=n) > 0).astype(int)
    else:
        y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(int)
    return pd.DataFrame(x, columns=[f"x{i}" for i in range(6)]).assign(target=y)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("verdict")
    cfg = {"model": {"hidden": [32, 32]}, "train": {"epochs": 60, "threads": 1}, **QUICK}
    return {kind: netfit.fit(cfg, data=teacher(kind), output_dir=str(out), quiet=True) for kind in ("linear", "xor")}


def test_a_network_on_a_linear_teacher_is_no_better_than_the_linear_model(runs):
    v = runs["linear"].report["verdict"]
    assert v["metric"] == "accuracy"
    assert v["against"]["linear"]["outcome"] in ("no better", "worse"), v
    assert v["against"]["dummy"]["outcome"] == "better", v


def test_a_network_on_an_xor_teacher_is_better_than_the_linear_model(runs):
    v = runs["xor"].report["verdict"]["against"]["linear"]
    assert v["outcome"] == "better", v
    assert v["text"].startswith("better than the linear model by ") and "accuracy" in v["text"]
    assert 0 < v["ci_low"] <= v["difference"] <= v["ci_high"]


def test_the_paired_interval_is_narrower_than_the_unpaired_one(runs):
    """Both models are scored on the same resamples: the rows that are hard for both cancel out."""
    import pandas as pd

    run = runs["linear"]
    preds = pd.read_csv(run.path / "test_predictions.csv")
    y = preds["y_true"].astype(int).to_numpy()
    proba = preds[[c for c in preds.columns if c.startswith("proba_")]].to_numpy()
    rng = np.random.default_rng(1)
    # a second model that agrees with the network on most rows: the typical case of two good models
    flip = rng.random(len(y)) < 0.1
    other = np.where(flip[:, None], proba[:, ::-1], proba)
    paired = paired_differences("binary", y, proba, other, [0, 1], resamples=2000, seed=0)["accuracy"]
    hit_a, hit_b = proba.argmax(1) == y, other.argmax(1) == y
    idx_a, idx_b = rng.integers(0, len(y), (2, 2000, len(y)))
    unpaired = np.percentile(hit_a[idx_a].mean(1) - hit_b[idx_b].mean(1), [2.5, 97.5])
    assert paired["value"] == pytest.approx(hit_a.mean() - hit_b.mean())
    assert paired["ci_high"] - paired["ci_low"] < 0.75 * (unpaired[1] - unpaired[0])


def test_lower_is_better_metrics_read_the_right_way_round():
    better = verdict("rmse", {"value": -3.0, "ci_low": -5.0, "ci_high": -1.0}, "linear")
    worse = verdict("accuracy", {"value": -0.05, "ci_low": -0.08, "ci_high": -0.01}, "linear")
    tied = verdict("rmse", {"value": 0.5, "ci_low": -1.0, "ci_high": 2.0}, "linear")
    assert better["outcome"] == "better" and "by 3 [1, 5] rmse (lower is better)" in better["text"]
    assert worse["outcome"] == "worse" and "worse than the linear model by 0.05 [0.01, 0.08] accuracy" in worse["text"]
    assert tied["outcome"] == "no better" and "includes 0" in tied["text"]
    assert main_metric("regression", "val_mae") == "mae" and main_metric("binary", "val_loss") == "accuracy"


def test_the_verdict_heads_the_report_and_the_console(runs, capsys):
    from netfit.evaluate.report import write_report
    from netfit.train.progress import verdict_lines

    run = runs["xor"]
    html = write_report(run.path).read_text()
    assert html.index("Verdict on test accuracy") < html.index("Test metrics")
    assert "better than the linear model by" in html and "predicts without looking at the features" in html
    lines = verdict_lines(run.report)
    assert len(lines) == 2 and lines[0].startswith("verdict: better than the linear model by")
