"""netfit compare: two digits runs with different learning rates, side by side."""

from __future__ import annotations

import subprocess
import sys

import pytest

import netfit

SMALL = {"model.hidden": [32], "train.epochs": 4, "evaluate.bootstrap": 50, "evaluate.baselines": False,
         "evaluate.report_html": False}  # compare reads report.json and history.csv only


@pytest.fixture(scope="module")
def two_digits_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    return [netfit.fit({"data": {"source": "sklearn:digits"}, "name": f"lr{lr:g}"}, output_dir=str(out),
                       train__optimizer__lr=lr, **SMALL) for lr in (1e-3, 1e-2)]


def test_compare_shows_both_runs_curves_metrics_and_config_difference(two_digits_runs, tmp_path):
    a, b = two_digits_runs
    out = tmp_path / "compare.html"
    proc = subprocess.run([sys.executable, "-m", "netfit", "compare", str(a.path), str(b.path), "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}" in proc.stdout
    text = out.read_text()
    for column in ("train_loss", "val_loss", "val_accuracy"):
        assert f"{column}: {a.path.name}, {b.path.name}</figcaption>" in text  # one figure, both runs' curves
    for run in (a, b):
        m = run.metrics["accuracy"]
        assert f"{m['value']:.4f} [{m['ci_low']:.4f}, {m['ci_high']:.4f}]" in text
    assert '<td>train.optimizer.lr</td><td>0.001</td><td>0.01</td>' in text
    assert "<td>name</td>" in text and "train.epochs" not in text  # only fields that differ
    assert "https://" not in text and "http://" not in text and text.count("data:image/png;base64,") >= 4


def test_compare_needs_two_finished_runs(two_digits_runs, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "netfit", "compare", str(two_digits_runs[0].path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "compare needs at least two run folders" in proc.stderr
    assert "how to fix: netfit compare RUN1 RUN2" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "netfit", "compare", str(two_digits_runs[0].path), str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "not a finished netfit run folder" in proc.stderr and str(tmp_path) in proc.stderr
