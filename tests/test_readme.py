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
