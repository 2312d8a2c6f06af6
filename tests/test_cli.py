"""The command line: every listed bad input exits 2 with a message naming what, where and how to fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def netfit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netfit", *args], capture_output=True, text=True, cwd=cwd)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


CASES = {
    "missing file": ("data: {source: nothere.csv, target: y}", None, ["nothere.csv", "how to fix"]),
    "empty file": ("data: {source: d.csv, target: y}", "", ["d.csv", "empty"]),
    "unreadable csv": ("data: {source: d.csv, target: y}", 'a,y\n1,"2\n3,4\n', ["d.csv"]),
    "csv row with a missing field": ("data: {source: d.csv, target: y}", "a,b,y\n" + "1,2,0\n" * 20 + "3,1\n",
                                     ["d.csv: line 22", "ragged CSV row", "3 fields", "2 fields"]),
    "missing target column": ("data: {source: d.csv, target: label}", "a,y\n1,2\n3,4\n", ["label", "d.csv", "y"]),
    "single class": ("data: {source: d.csv, target: y, task: multiclass}", "a,y\n" + "1,x\n2,x\n3,x\n" * 5, ["single", "y"]),
    "text in a numeric column": ("data: {source: d.csv, target: y}",
                                 "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(30)) + "oops,1\n", ["'a'", "oops", "row"]),
    "fractions": ("data: {source: d.csv, target: y, split: {train: 0.5, val: 0.1, test: 0.1}}", "a,y\n1,2\n", ["add up to 1", "data.split"]),
    "split too small": ("data: {source: d.csv, target: y, split: {stratify: true}}",
                        "a,y\n" + "".join(f"{i},{i % 5}\n" for i in range(20)), ["class", "split"]),
    "typo": ("data: {source: d.csv, target: y}\ntrian: {}\n", "a,y\n1,2\n", ["did you mean `train`"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_a_clear_message(tmp_path, name):
    config, data, needles = CASES[name]
    if data is not None:
        write(tmp_path / "d.csv", data)
    write(tmp_path / "c.yaml", config)
    proc = netfit("check", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "error:" in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)


def test_check_prints_resolved_config_and_plan(tmp_path):
    write(tmp_path / "c.yaml", "data: {source: 'sklearn:iris'}\n")
    proc = netfit("check", "c.yaml", "--set", "train.epochs=7", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "epochs: 7" in proc.stdout and "batch_size: 64" in proc.stdout  # resolved, defaults filled in
    assert "parameters" in proc.stdout and "steps per epoch" in proc.stdout and "class balance" in proc.stdout


def test_train_predict_evaluate_report_from_the_cli(tmp_path):
    write(tmp_path / "c.yaml", "data: {source: 'sklearn:iris'}\ntrain: {epochs: 30}\nevaluate: {bootstrap: 100}\n")
    proc = netfit("train", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy:" in proc.stdout and "95% CI" in proc.stdout
    (run,) = (tmp_path / "runs").iterdir()
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame.to_csv(tmp_path / "iris.csv", index=False)
    frame.drop(columns="target").to_csv(tmp_path / "x.csv", index=False)
    proc = netfit("predict", str(run), "x.csv", "-o", "p.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    import pandas as pd

    pred = pd.read_csv(tmp_path / "p.csv")
    assert len(pred) == 150 and {"prediction", "proba_0", "proba_1", "proba_2"} <= set(pred.columns)
    assert (pred["prediction"] == frame["target"]).mean() > 0.85
    proc = netfit("evaluate", str(run), "iris.csv", "--resamples", "100", cwd=tmp_path)
    assert proc.returncode == 0 and "accuracy" in proc.stdout, proc.stderr
    assert "conformal coverage:" in proc.stdout and "on 150 rows (nominal 0.90)" in proc.stdout, proc.stdout
    assert netfit("report", str(run), cwd=tmp_path).returncode == 0
    # a file missing a column the model needs
    frame.drop(columns=["target", "petal width (cm)"]).to_csv(tmp_path / "bad.csv", index=False)
    proc = netfit("predict", str(run), "bad.csv", "-o", "p.csv", cwd=tmp_path)
    assert proc.returncode == 2 and "petal width (cm)" in proc.stderr and "Traceback" not in proc.stderr


def test_not_a_run_folder(tmp_path):
    proc = netfit("report", str(tmp_path))
    assert proc.returncode == 2 and "not a finished netfit run folder" in proc.stderr


def test_datasets_lists_the_bundled_sets():
    proc = netfit("datasets")
    assert proc.returncode == 0
    for name in ("digits", "iris", "wine", "breast_cancer", "diabetes"):
        assert name in proc.stdout


def test_find_lr_on_a_convolutional_config():
    """The range test builds the model the run would build: a cnn reads the 8x8 images."""
    root = Path(__file__).resolve().parents[1]
    proc = netfit("find-lr", str(root / "examples" / "digits_cnn.yaml"), cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "smoothed loss" in proc.stdout
    rate = float(proc.stdout.strip().splitlines()[-1].split()[1])
    assert 1e-6 < rate < 10


def test_check_says_where_validation_comes_from_or_that_there_is_none(tmp_path):
    rows = "".join(f"{i},{i % 3}\n" for i in range(90))
    write(tmp_path / "train.csv", "a,y\n" + rows)
    write(tmp_path / "test.csv", "a,y\n" + rows[:60])
    write(tmp_path / "c.yaml", "data: {train: train.csv, test: test.csv, target: y}\n")
    proc = netfit("check", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "validation: 16 rows carved from the training rows (17.6% = val/(train+val) of data.split, " \
           "stratified, seed 0)" in proc.stdout
    proc = netfit("check", "c.yaml", "--set", "data.split.val=0", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "validation: none (data.split.val: 0): early stopping and restore_best are off" in proc.stdout
    write(tmp_path / "one.yaml", "data: {source: train.csv, target: y}\n")
    proc = netfit("check", "one.yaml", cwd=tmp_path)
    assert "validation: 14 rows, 15% of data.source (stratified, seed 0)" in proc.stdout, proc.stdout
