"""Shared fixtures: small real runs trained once per session and reused by many tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# tests train real models; two threads is this machine's size and keeps timings stable
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="session")
def digits_run(runs_dir):
    """The demo config on digits, trained once for the whole session."""
    import netfit

    return netfit.fit(ROOT / "examples" / "digits_mlp.yaml", output_dir=str(runs_dir), evaluate__bootstrap=200)
