"""Shared data for the data-stage tests: a small mixed-type table, written where a test needs it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from netfit.config import DataConfig


def mixed_frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Every kind of column the data stage handles, with some gaps; `y` is a yes/no label."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n).astype(float)
    age[rng.random(n) < 0.1] = np.nan
    income = rng.normal(50_000, 15_000, n)
    city = rng.choice(["paris", "lyon", "nice", "lille"], n).astype(object)
    city[rng.random(n) < 0.05] = None
    return pd.DataFrame({
        "customer": [f"c{i:05d}" for i in range(n)],  # a row id: dropped
        "signup": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),  # dates: dropped
        "age": age,
        "income": income,
        "city": city,
        "member": rng.random(n) < 0.3,
        "plan": rng.choice([f"p{i}" for i in range(60)], n),  # above the one-hot cap: codes
        "y": np.where(income + rng.normal(0, 10_000, n) > 50_000, "yes", "no"),
    })


def data_config(**fields) -> DataConfig:
    """A DataConfig from keyword fields (nested sections as dicts)."""
    return DataConfig.model_validate(fields)


@pytest.fixture
def make_cfg():
    """`make_cfg(source=..., target=...)`: a DataConfig (tests import no helpers, only fixtures)."""
    return data_config


@pytest.fixture(scope="session")
def make_mixed():
    """`make_mixed(n, seed)`: a fresh mixed-type table."""
    return mixed_frame


@pytest.fixture
def mixed() -> pd.DataFrame:
    return mixed_frame()


@pytest.fixture
def mixed_csv(tmp_path, mixed) -> str:
    path = tmp_path / "customers.csv"
    mixed.to_csv(path, index=False)
    return str(path)
