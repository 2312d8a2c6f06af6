"""`netfit cv`: k folds of the train + val rows, then one final run tested once; the summary is
what the folds' own reports say, and a killed cv goes on where it stopped."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from netfit.cv import cv

CFG = {"data": {"source": "sklearn:digits"}, "model": {"hidden": [32]}, "train": {"epochs": 4},
       "evaluate": {"bootstrap": 200, "report_html": False, "importance": False, "slices": False}}


@pytest.fixture(scope="module")
def crossed(tmp_path_factory):
    out = tmp_path_factory.mktemp("cv")
    return cv({**CFG, "output_dir": str(out)}, folds=5)


def reports(folder, names):
    return [json.loads((folder / n / "report.json").read_text()) for n in names]


def test_folds_partition_the_train_and_val_rows_and_never_see_the_test_rows(crossed):
    folder, summary = crossed
    pool, everything = pd.read_parquet(folder / "pool.parquet"), pd.read_parquet(folder / "all.parquet")
    assert len(everything) == 1797 and summary["test_rows"] == (everything["__netfit_final"] == "test").sum() == 270
    assert summary["pool_rows"] == len(pool) == 1797 - 270 and summary["method"] == "stratified k-fold"
    held = np.stack([(pool[f"__netfit_fold_{j}"] == "test").to_numpy() for j in range(1, 6)])
    assert (held.sum(axis=0) == 1).all()  # every train + val row is held out exactly once
    folds = reports(folder, [f"fold-{j}" for j in range(1, 6)])
    # a fold is scored on its held-out rows only; the final run on the untouched test rows
    assert [r["split_sizes"]["test"] for r in folds] == held.sum(axis=1).tolist() == [r["rows"] for r in summary["runs"]]
    final = reports(folder, ["final"])[0]
    assert final["split_sizes"]["test"] == 270 and final["split_sizes"]["val"] == 0


def test_the_summary_is_the_mean_and_std_of_the_folds_reports(crossed):
    folder, summary = crossed
    folds = reports(folder, [f"fold-{j}" for j in range(1, 6)])
    values = [r["test"]["metrics"]["accuracy"]["value"] for r in folds]
    acc = summary["metrics"]["accuracy"]
    assert acc["mean"] == pytest.approx(np.mean(values)) and acc["std"] == pytest.approx(np.std(values, ddof=1))
    assert json.loads((folder / "cv.json").read_text()) == summary
    final = reports(folder, ["final"])[0]
    assert summary["final"]["metrics"]["accuracy"] == final["test"]["metrics"]["accuracy"]["value"]
    assert final["epochs_run"] == int(np.median([r["best_epoch"] for r in folds]))  # epochs from the folds
    # Nadeau-Bengio: (1/J + n_test/n_train) s^2, t with J - 1 degrees of freedom
    d = np.array([r["verdict"]["against"]["linear"]["difference"] for r in folds])
    n_test = np.mean([run["rows"] for run in summary["runs"]])
    se = np.sqrt((1 / 5 + n_test / (summary["pool_rows"] - n_test)) * d.var(ddof=1))
    linear = summary["verdict"]["against"]["linear"]
    assert linear["difference"] == pytest.approx(d.mean())
    assert linear["ci_high"] - linear["difference"] == pytest.approx(stats.t.ppf(0.975, 4) * se)
    assert linear["text"].endswith("over 5 folds")
    html = (folder / "report.html").read_text()
    assert "Cross-validation" in html and "fold-5" in html and "final (test)" in html


def test_a_killed_cv_resumes_training_only_what_is_missing(crossed, tmp_path):
    import shutil

    folder, summary = crossed
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    kept = (copy / "fold-1" / "report.json").stat().st_mtime_ns
    for name in ("fold-3", "final"):
        (copy / name / "report.json").unlink()  # killed before these reports
    proc = subprocess.run([sys.executable, "-m", "netfit", "cv", "--resume", str(copy)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "final (test)" in proc.stdout and "over 5 folds" in proc.stdout and f"cv folder: {copy}" in proc.stdout
    assert (copy / "fold-1" / "report.json").stat().st_mtime_ns == kept  # done folds are not trained again
    again = json.loads((copy / "cv.json").read_text())
    assert again["metrics"]["accuracy"]["mean"] == pytest.approx(summary["metrics"]["accuracy"]["mean"])


def test_cv_refuses_data_it_cannot_fold_with_exit_code_2(tmp_path):
    (tmp_path / "c.yaml").write_text("data: {source: sklearn:diabetes, split: {order_column: age}}\n")
    proc = subprocess.run([sys.executable, "-m", "netfit", "cv", str(tmp_path / "c.yaml")], capture_output=True,
                          text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "order_column" in proc.stderr and "netfit repeat" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "netfit", "cv", "--resume", str(tmp_path)], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "not a netfit cv folder" in proc.stderr and "plan.json" in proc.stderr


def test_group_folds_keep_each_group_in_one_fold_and_the_final_model_loads_and_predicts(tmp_path):
    import netfit
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame.assign(plant=lambda f: np.arange(len(f)) // 5)
    frame.to_csv(tmp_path / "iris.csv", index=False)
    folder, summary = cv({"data": {"source": str(tmp_path / "iris.csv"), "target": "target", "split": {"group_column": "plant"}},
                          "train": {"epochs": 2}, "evaluate": {"bootstrap": 0, "report_html": False, "importance": False,
                                                               "slices": False}, "output_dir": str(tmp_path / "runs")},
                         folds=3)
    assert summary["method"] in ("stratified group k-fold", "group k-fold")
    pool, everything = pd.read_parquet(folder / "pool.parquet"), pd.read_parquet(folder / "all.parquet")
    for j in (1, 2, 3):
        held = pool[pool[f"__netfit_fold_{j}"] == "test"]["plant"]
        assert not set(held) & set(pool[pool[f"__netfit_fold_{j}"] == "train"]["plant"])
    test_plants = set(everything[everything["__netfit_final"] == "test"]["plant"])
    assert test_plants and not test_plants & set(pool["plant"])  # the test rows' groups are nowhere in the folds
    for name in ("fold-1", "final"):  # each saved config loads again, and the model predicts the plain file
        run = netfit.load(folder / name)
        assert run.config.data.split.column and len(run.predict(frame.drop(columns="target"))) == 150
