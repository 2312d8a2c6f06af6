"""The README's quickstarts run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


@pytest.mark.slow
def test_cli_quickstart_runs(tmp_path):
    quickstart = next(b for b in blocks("bash") if "netfit train" in b)
    netfit = str(Path(sys.executable).parent / "netfit")
    script = quickstart.replace(".venv/bin/netfit", netfit)
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy:" in proc.stdout


@pytest.mark.slow
def test_python_quickstart_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = next(b for b in blocks("python") if "netfit.fit" in b)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["run"].metrics["accuracy"]["value"] > 0.8
    assert namespace["same"].path == namespace["run"].path


def test_first_model_on_your_own_csv_runs_as_written(tmp_path):
    """The README's CSV walkthrough (an id column, missing values, text categories): train, then
    predict new rows with the id kept; a mistyped column to keep is a clear error."""
    section = README.split("## Your first model on your own CSV", 1)[1]
    script = next(b for b in blocks("bash") if "churn.yaml" in b and b in section)
    root = Path(__file__).resolve().parents[1]
    netfit = str(Path(sys.executable).parent / "netfit")
    script = script.replace(".venv/bin/netfit", netfit).replace("examples/", f"{root}/examples/")
    script = script.replace("netfit train churn.yaml", "netfit train churn.yaml --set train.epochs=20")  # keep it quick
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "warning: column 'customer_id' dropped" in proc.stderr + proc.stdout
    lines = (tmp_path / "predictions.csv").read_text().splitlines()
    assert lines[0] == "customer_id,prediction,proba_no,proba_yes,set"  # set: the conformal prediction set
    assert [line.split(",")[0] for line in lines[1:]] == ["C00601", "C00602", "C00603", "C00604", "C00605"]
    assert all(line.split(",")[1] in ("yes", "no") for line in lines[1:])
    run = next((tmp_path / "runs").iterdir())
    typo = subprocess.run([netfit, "predict", str(run), f"{root}/examples/churn_new.csv", "--keep", "customer_idd",
                           "-o", str(tmp_path / "p.csv")], capture_output=True, text=True)
    assert typo.returncode == 2 and "did you mean 'customer_id'?" in typo.stderr and "Traceback" not in typo.stderr
