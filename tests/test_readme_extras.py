"""The README's "Fit into your world" snippets run as written (RUN replaced by a real run folder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.test_readme import blocks

ROOT = Path(__file__).resolve().parents[1]


def block(lang: str, needle: str) -> str:
    return next(b for b in blocks(lang) if needle in b)


def sh(script: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    script = script.replace(".venv/bin/netfit", f"{sys.executable} -m netfit")
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_estimator_snippet(capsys):
    namespace: dict = {}
    exec(compile(block("python", "NetClassifier"), "README.md", "exec"), namespace)
    assert namespace["scores"].mean() >= 0.9


@pytest.mark.slow
def test_custom_module_snippet_trains_through_the_cli(tmp_path):
    (tmp_path / "mynet.py").write_text(block("python", "class Net"))
    (tmp_path / "c.yaml").write_text(block("yaml", "mynet:Net"))
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    proc = sh(".venv/bin/netfit train c.yaml -q", tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy:" in proc.stdout
    # top2 is a score (higher is better) and the example says so: the weights kept are of its best epoch
    (run,) = (tmp_path / "runs").iterdir()
    history = pd.read_csv(run / "history.csv")
    best = json.loads((run / "report.json").read_text())["best_epoch"]
    assert best == history["epoch"][history["val_top2"].idxmax()], history[["epoch", "val_loss", "val_top2"]]


def test_callback_snippet(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(block("python", "PrintValLoss"), "README.md", "exec"), {})
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["1", "2", "3", "4", "5"]


@pytest.mark.slow
def test_fine_tune_and_export_snippets(digits_run, tmp_path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    proc = sh(block("bash", "init_from").replace("RUN", str(digits_run.path)), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy:" in proc.stdout
    proc = sh(block("bash", "export RUN").replace("RUN", str(digits_run.path)), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (digits_run.path / "export" / "model.onnx").is_file()
    assert (digits_run.path / "export" / "preprocessing.json").is_file()


def test_dataframe_estimator_snippet(capsys):
    namespace: dict = {}
    exec(compile(block("python", "pd.DataFrame({\"age\""), "README.md", "exec"), namespace)
    clf, X, y = namespace["clf"], namespace["X"], namespace["y"]
    assert clf.model_.preprocessor.types == {"age": "numeric", "plan": "categorical"}
    assert clf.score(X, y) >= 0.85


def test_readme_documents_every_public_member_of_run():
    from netfit import Run
    from tests.test_readme import README

    members = [name for name in vars(Run) if not name.startswith("_")]
    assert members and all(f"`run.{name}" in README for name in members), members
