"""`netfit repeat`: several seeds on one split; the summary is what the runs' own reports say."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from netfit.repeat import repeat

CFG = {"data": {"source": "sklearn:digits"}, "model": {"hidden": [32]}, "train": {"epochs": 4},
       "evaluate": {"bootstrap": 200, "report_html": False, "importance": False, "slices": False}}


@pytest.fixture(scope="module")
def repeated(tmp_path_factory):
    out = tmp_path_factory.mktemp("repeat")
    return repeat({**CFG, "output_dir": str(out)}, seeds=5)


def test_the_summary_is_the_mean_and_std_of_the_runs_reports_on_one_split(repeated):
    folder, summary = repeated
    reports = [json.loads((folder / f"seed-{s}" / "report.json").read_text()) for s in range(5)]
    assert summary["seeds"] == [0, 1, 2, 3, 4] and summary["split_seed"] == 0
    assert len({r["fingerprint"]["split"] for r in reports}) == 1  # the same rows in every split
    assert [r["fingerprint"]["seed"] for r in reports] == [0, 1, 2, 3, 4]
    values = [r["test"]["metrics"]["accuracy"]["value"] for r in reports]
    assert len(set(values)) > 1  # the seeds changed the networks
    acc = summary["metrics"]["accuracy"]
    assert acc["mean"] == pytest.approx(np.mean(values)) and acc["std"] == pytest.approx(np.std(values, ddof=1))
    assert json.loads((folder / "repeat.json").read_text()) == summary
    html = (folder / "report.html").read_text()
    assert "Seed spread" in html and "seed-4" in html
    linear = summary["verdict"]["against"]["linear"]
    differences = [r["verdict"]["against"]["linear"]["difference"] for r in reports]
    assert linear["difference"] == pytest.approx(np.mean(differences))
    assert linear["ci_low"] <= linear["difference"] <= linear["ci_high"] and linear["text"].endswith("over 5 seeds")
    # the seed spread widens the interval beyond the mean single-run one
    single = np.mean([r["verdict"]["against"]["linear"]["ci_high"] - r["verdict"]["against"]["linear"]["ci_low"]
                      for r in reports])
    assert linear["ci_high"] - linear["ci_low"] > single


def test_a_killed_repeat_resumes_training_only_the_missing_seed(repeated, tmp_path):
    import shutil

    folder, summary = repeated
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    kept = (copy / "seed-0" / "report.json").stat().st_mtime_ns
    (copy / "seed-2" / "report.json").unlink()  # killed before its report (its checkpoints stay)
    proc = subprocess.run([sys.executable, "-m", "netfit", "repeat", "--resume", str(copy), "--seeds", "5"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "accuracy" in proc.stdout and "over 5 seeds" in proc.stdout and f"repeat folder: {copy}" in proc.stdout
    assert (copy / "seed-0" / "report.json").stat().st_mtime_ns == kept  # done seeds are not trained again
    again = json.loads((copy / "repeat.json").read_text())
    assert again["metrics"]["accuracy"]["mean"] == pytest.approx(summary["metrics"]["accuracy"]["mean"])


def test_one_seed_is_a_clear_error():
    proc = subprocess.run([sys.executable, "-m", "netfit", "repeat", "x.yaml", "--seeds", "1"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "at least two seeds" in proc.stderr and "Traceback" not in proc.stderr
