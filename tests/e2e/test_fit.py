"""End to end: real small models on bundled data, asserting real outcomes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from safetensors.torch import load_file

import netfit
from netfit.data.sources import load_table
from netfit.config import load_config

QUICK = {"evaluate.bootstrap": 100, "evaluate.baselines": False}


def test_digits_mlp_reaches_096(digits_run):
    m = digits_run.metrics["accuracy"]
    assert m["value"] >= 0.96
    assert m["ci_low"] <= m["value"] <= m["ci_high"]
    report = digits_run.report
    assert report["baselines"]["linear"]["metrics"]["accuracy"]["value"] > 0.9
    assert report["baselines"]["dummy"]["metrics"]["accuracy"]["value"] < 0.2
    assert set(report["split_sizes"]) == {"train", "val", "test"}
    assert report["stop_reason"] in {"early_stopping", "max_epochs", "converged"}
    for name in ("config.yaml", "model.safetensors", "model.json", "history.csv", "report.json", ):
        assert (digits_run.path / name).is_file(), name
    assert list((digits_run.path / "checkpoints").glob("step-*.pt"))


def test_history_has_one_row_per_epoch(digits_run):
    h = digits_run.history
    assert list(h["epoch"]) == list(range(1, len(h) + 1))
    assert {"train_loss", "val_loss", "val_accuracy", "lr", "seconds", "samples_per_s"} <= set(h.columns)
    assert len(h) == digits_run.report["epochs_run"]


def test_breast_cancer_reaches_095(runs_dir):
    run = netfit.fit({"data": {"source": "sklearn:breast_cancer"}, "train": {"epochs": 60}}, output_dir=str(runs_dir), **QUICK)
    assert run.report["task"] == "binary"
    assert run.metrics["accuracy"]["value"] >= 0.95


@pytest.mark.parametrize("source, metric", [("sklearn:breast_cancer", "accuracy"), ("sklearn:diabetes", "r2")])
def test_the_defaults_reach_the_linear_baseline(runs_dir, source, metric):
    # nothing but the source: the defaults alone must not lose to the linear model (issue 17)
    run = netfit.fit({"data": {"source": source}}, output_dir=str(runs_dir), **{"evaluate.bootstrap": 0})
    linear = run.report["baselines"]["linear"]["metrics"][metric]["value"]
    assert run.metrics[metric]["value"] >= linear - 0.01, (run.metrics[metric]["value"], linear)


def test_diabetes_regression_near_ridge(runs_dir):
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score

    from netfit.data import prepare

    # a small plain MLP: with periodic embeddings (the default) this 16-unit net reaches only R2 0.06 (plain: 0.23)
    cfg = {"data": {"source": "sklearn:diabetes"}, "model": {"hidden": [16], "dropout": 0.0, "numeric_embedding": "none", "ensemble": 1},
           "train": {"batch_size": 32}}
    run = netfit.fit(cfg, output_dir=str(runs_dir), **{"evaluate.bootstrap": 100})
    assert run.report["task"] == "regression"
    # Ridge fitted here, independently, on the same split and the same preprocessed features
    prepared = prepare(load_config(cfg).data, seed=0)
    pre, tr, te = prepared.preprocessor, prepared.splits["train"], prepared.splits["test"]
    ridge = Ridge().fit(tr.x_num, pre.decode_target(tr.y))
    ridge_r2 = r2_score(pre.decode_target(te.y), ridge.predict(te.x_num))
    r2 = run.metrics["r2"]["value"]
    assert r2 >= ridge_r2 - 0.05, (r2, ridge_r2)


def test_saved_run_predicts_identically_in_a_fresh_process(digits_run, tmp_path):
    frame = load_table("sklearn:digits", load_config({"data": {"source": "sklearn:digits"}}).data).drop(columns="target").head(50)
    frame.to_csv(tmp_path / "x.csv", index=False)
    before = digits_run.predict(frame)
    code = (f"import netfit, pandas as pd; r = netfit.load({str(digits_run.path)!r}); "
            f"r.predict(pd.read_csv({str(tmp_path / 'x.csv')!r})).to_parquet({str(tmp_path / 'p.parquet')!r})")
    subprocess.run([sys.executable, "-c", code], check=True)
    after = pd.read_parquet(tmp_path / "p.parquet")  # lossless, unlike CSV
    assert list(after["prediction"]) == list(before["prediction"])
    np.testing.assert_array_equal(after.filter(like="proba_").to_numpy(), before.filter(like="proba_").to_numpy())


def test_same_config_and_seed_give_the_same_weights_and_history(runs_dir):
    cfg = {"data": {"source": "sklearn:iris"}, "train": {"epochs": 8}, **{"evaluate": {"bootstrap": 0, "baselines": False}}}
    a, b = (netfit.fit(cfg, output_dir=str(runs_dir)) for _ in range(2))
    assert a.path != b.path
    wa, wb = load_file(str(a.path / "model.safetensors")), load_file(str(b.path / "model.safetensors"))
    assert all(np.array_equal(wa[k].numpy(), wb[k].numpy()) for k in wa)
    timing = ["seconds", "samples_per_s"]
    pd.testing.assert_frame_equal(a.history.drop(columns=timing), b.history.drop(columns=timing))


@pytest.mark.parametrize("overrides, reason", [
    ({"train.early_stopping.patience": 2, "train.optimizer.lr": 0.05, "train.epochs": 100}, "early_stopping"),
    ({"train.max_time": 0.2, "train.epochs": 100000, "train.early_stopping": None, "train.convergence": None}, "max_time"),
    ({"train.convergence.tol": 0.5, "train.convergence.window": 2, "train.early_stopping": None}, "converged"),
    ({"train.epochs": 3}, "max_epochs"),
])
def test_each_stopping_criterion_stops_for_its_reason(runs_dir, overrides, reason):
    run = netfit.fit({"data": {"source": "sklearn:iris"}}, output_dir=str(runs_dir), **QUICK, **overrides)
    assert run.report["stop_reason"] == reason
    assert run.report["stop_message"]


def test_divergence_stops_keeps_best_weights_and_exits_3(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: {source: 'sklearn:diabetes'}\nmodel: {dropout: 0.0}\n"
                   "train: {epochs: 30, optimizer: {name: sgd, lr: 5.0, momentum: 0.9}, schedule: {name: constant},\n"
                   "        divergence: {policy: stop}}\n"
                   f"output_dir: {tmp_path / 'runs'}\nevaluate: {{bootstrap: 0, baselines: false}}\n")
    proc = subprocess.run([sys.executable, "-m", "netfit", "train", str(cfg), "-q"], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert "diverged" in proc.stderr and "lower train.optimizer.lr" in proc.stderr
    assert "Traceback" not in proc.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    report = json.loads((run_dir / "report.json").read_text())
    assert report["stop_reason"] == "diverged"
    weights = load_file(str(run_dir / "model.safetensors"))
    assert all(np.isfinite(w.numpy()).all() for w in weights.values())


def test_batch_norm_trains_when_the_last_batch_has_one_row(tmp_path):
    """iris's 106 training rows in batches of 35 end with a batch of 1 (3 x 35 + 1)."""
    run = netfit.fit({"data": {"source": "sklearn:iris"}, "model": {"norm": "batch"},
                      "train": {"epochs": 3, "batch_size": 35},
                      "evaluate": {"bootstrap": 0, "baselines": False}}, output_dir=str(tmp_path))
    assert run.report["stop_reason"] == "max_epochs" and len(run.history) == 3


def test_train_and_test_sources_stop_early_on_a_validation_split_carved_from_training(tmp_path):
    """data.train + data.test, no data.val: validation is carved from the training rows, so early
    stopping and restore-best work instead of silently running the whole epoch budget."""
    frame = load_table("sklearn:breast_cancer", load_config({"data": {"source": "sklearn:breast_cancer"}}).data)
    frame.iloc[:420].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[420:].to_csv(tmp_path / "test.csv", index=False)
    config = {"data": {"train": str(tmp_path / "train.csv"), "test": str(tmp_path / "test.csv"), "target": "target"},
              "train": {"epochs": 60, "optimizer": {"lr": 0.05}, "early_stopping": {"patience": 2}},
              "output_dir": str(tmp_path / "runs")}
    run = netfit.fit(config, **QUICK)
    assert run.report["split_sizes"] == {"train": 346, "val": 74, "test": 149}
    assert run.report["data"]["validation"]["from"] == "carved"
    assert run.report["stop_reason"] == "early_stopping" and run.history["val_loss"].notna().all()
    assert "74 rows carved from the training rows" in (run.path / "report.html").read_text()


def test_a_test_label_unseen_in_training_is_a_warning_and_counts_as_wrong(tmp_path):
    """Training and validation hold iris classes 0 and 1; the test file adds 10 rows of class 2."""
    from netfit.data import DataWarning

    iris = load_table("sklearn:iris", load_config({"data": {"source": "sklearn:iris"}}).data)
    two = iris[iris["target"] < 2].sample(frac=1, random_state=0)
    two.iloc[:70].to_csv(tmp_path / "train.csv", index=False)
    two.iloc[70:85].to_csv(tmp_path / "val.csv", index=False)
    test = pd.concat([two.iloc[85:], iris[iris["target"] == 2].iloc[:10]])
    test.to_csv(tmp_path / "test.csv", index=False)
    config = {"data": {**{s: str(tmp_path / f"{s}.csv") for s in ("train", "val", "test")}, "target": "target"},
              "model": {"hidden": [8]}, "train": {"epochs": 5}, "output_dir": str(tmp_path / "runs")}
    with pytest.warns(DataWarning, match=r"10 row\(s\) hold labels not seen in training: '2' \(10 rows\)"):
        run = netfit.fit(config, evaluate__bootstrap=50)
    assert run.report["task"] == "binary" and run.report["test"]["classes"] == [0, 1]
    assert run.report["test"]["unseen_labels"] == {"2": 10} and run.report["test"]["n"] == 25
    rows = pd.read_csv(run.path / "test_predictions.csv", dtype={"y_true": str, "prediction": str})
    assert (rows["y_true"] == "2").sum() == 10 and set(rows["prediction"]) <= {"0", "1"}
    hits = (rows["y_true"] == rows["prediction"]).mean()  # the 10 unseen rows are wrong
    assert run.report["test"]["metrics"]["accuracy"]["value"] == pytest.approx(hits) and hits <= 15 / 25
    assert run.report["baselines"]["dummy"]["metrics"]["accuracy"]["value"] <= 15 / 25
    html = (run.path / "report.html").read_text()
    assert "10 test rows hold labels not seen in training" in html
    from rich.console import Console

    from netfit.train.progress import summary_table

    console = Console(width=200, record=True)
    console.print(summary_table(run.report))
    assert "10 test rows hold labels not seen in training ('2': 10): counted as wrong" in console.export_text()
