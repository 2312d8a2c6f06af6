"""The layers of docs/architecture.md hold: import-linter's contracts (pyproject.toml) pass on the
code, and fail when a stage imports upward — so the check really guards the layout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(src: Path, cwd: Path) -> subprocess.CompletedProcess:
    """`lint-imports` over the `netfit` package found in `src`, with the contracts in `cwd`."""
    exe = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([str(exe), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_contracts_hold_on_the_code():
    proc = lint_imports(ROOT / "src", ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "3 kept, 0 broken" in proc.stdout


def test_an_upward_import_breaks_the_contracts(tmp_path):
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    split = tmp_path / "src" / "netfit" / "data" / "split.py"
    split.write_text(split.read_text() + "\n\ndef _planted():\n    from netfit.run import train_run  # upward\n")
    proc = lint_imports(tmp_path / "src", tmp_path)
    assert proc.returncode != 0
    assert "netfit.data.split -> netfit.run" in proc.stdout
    assert "BROKEN" in proc.stdout
