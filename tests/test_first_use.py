"""What a first-time user trips over (issue 22): the version, override typos, data paths, choice
values in the docs, `netfit check`'s length, arrays a model asks to read as images or sequences."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from netfit._version import __version__
from netfit.config import render_docs

ROOT = Path(__file__).resolve().parents[1]


def netfit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netfit", *args], capture_output=True, text=True, cwd=cwd)


def test_version_prints_the_package_version():
    proc = netfit("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"netfit {__version__}"
    assert "--version" in netfit("--help").stdout


def test_a_typo_in_an_override_names_the_override(tmp_path):
    (tmp_path / "c.yaml").write_text("data: {source: 'sklearn:iris'}\n")
    proc = netfit("check", "c.yaml", "--set", "train.optimzer.lr=0.01", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "where: --set train.optimzer.lr=0.01" in proc.stderr, proc.stderr
    assert "did you mean `train.optimizer`" in proc.stderr
    # a problem of the file itself still points at the file
    (tmp_path / "c.yaml").write_text("data: {source: 'sklearn:iris'}\ntrian: {}\n")
    proc = netfit("check", "c.yaml", "--set", "train.epochs=3", cwd=tmp_path)
    assert proc.returncode == 2 and "where: c.yaml" in proc.stderr, proc.stderr


def test_the_config_page_lists_the_allowed_values_of_choice_fields():
    page = render_docs()
    assert "| field | default | allowed | meaning |" in page
    row = next(line for line in page.splitlines() if line.startswith("| `train.optimizer.name`"))
    assert "`sgd`, `adam`, `adamw`, `rmsprop`" in row
    row = next(line for line in page.splitlines() if line.startswith("| `data.preprocess.missing`"))
    assert "`median`, `mean`, `constant`" in row
    row = next(line for line in page.splitlines() if line.startswith("| `model.activation`"))
    assert "`gelu`" in row
    row = next(line for line in page.splitlines() if line.startswith("| `train.batch_size`"))
    assert "`auto`, an integer" in row
    # the page in the repository is this one (tests/test_config.py checks it is fresh)
    assert page == (ROOT / "docs" / "config.md").read_text()
