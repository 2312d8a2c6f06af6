"""Baselines: a dummy and a linear model on real data, scored like the network."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from netfit.evaluate.baselines import baselines


def _split(loader, stratify=True):
    """Standardized float32 features, as the data stage hands them over."""
    X, y = loader(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0,
                                              stratify=y if stratify else None)
    scaler = StandardScaler().fit(x_tr)
    return scaler.transform(x_tr).astype(np.float32), y_tr, scaler.transform(x_te).astype(np.float32), y_te


@pytest.fixture(scope="module")
def digits():
    return _split(load_digits)


@pytest.fixture(scope="module")
def digits_baselines(digits):
    x_tr, y_tr, x_te, y_te = digits
    return baselines("multiclass", x_tr, y_tr, x_te, y_te, list(range(10)), seed=0, resamples=300, confidence=0.95)


def test_digits_dummy_is_chance_and_linear_is_strong(digits_baselines):
    dummy, linear = digits_baselines["dummy"]["metrics"], digits_baselines["linear"]["metrics"]
    assert dummy["accuracy"]["value"] == pytest.approx(0.1, abs=0.015)
    assert linear["accuracy"]["value"] >= 0.9
    assert linear["accuracy"]["ci_low"] > dummy["accuracy"]["ci_high"]
    assert digits_baselines["dummy"]["model"] == "DummyClassifier(strategy='prior')"
    json.dumps(digits_baselines, allow_nan=False)


def test_dummy_probabilities_are_the_training_priors(digits, digits_baselines):
    _, y_tr, _, y_te = digits
    priors = np.bincount(y_tr, minlength=10) / len(y_tr)
    expected = skm.log_loss(y_te, np.tile(priors, (len(y_te), 1)), labels=range(10))
    assert digits_baselines["dummy"]["metrics"]["log_loss"]["value"] == pytest.approx(expected, abs=1e-12)


def test_baselines_share_the_bootstrap_seed(digits_baselines):
    assert digits_baselines["dummy"]["bootstrap"] == digits_baselines["linear"]["bootstrap"]


def test_class_absent_from_training_keeps_columns_aligned(digits):
    x_tr, y_tr, x_te, y_te = digits
    keep = y_tr != 4
    out = baselines("multiclass", x_tr[keep], y_tr[keep], x_te, y_te, list(range(10)), seed=0, resamples=50,
                    confidence=0.95)
    linear = out["linear"]
    # class 4 is never predicted, yet every other class keeps its own column and recall
    assert linear["per_class"]["4"]["recall"] == 0.0
    assert min(linear["per_class"][str(k)]["recall"] for k in range(10) if k != 4) > 0.8
    assert linear["metrics"]["roc_auc"]["value"] is not None  # every class is still in the test set
    json.dumps(out, allow_nan=False)


def test_one_training_class_has_no_linear_baseline(digits):
    x_tr, y_tr, x_te, y_te = digits
    mask = np.isin(y_te, [0, 1])
    out = baselines("binary", x_tr[y_tr == 0], y_tr[y_tr == 0], x_te[mask], y_te[mask], [0, 1], seed=0,
                    resamples=20, confidence=0.95)
    assert out["linear"] is None
    assert out["dummy"]["metrics"]["accuracy"]["value"] == pytest.approx(np.mean(y_te[mask] == 0))


def test_binary_baselines():
    x_tr, y_tr, x_te, y_te = _split(load_breast_cancer)
    out = baselines("binary", x_tr, y_tr, x_te, y_te, ["malignant", "benign"], seed=0, resamples=100,
                    confidence=0.95)
    assert out["dummy"]["metrics"]["roc_auc"]["value"] == 0.5  # constant scores rank nothing
    assert out["linear"]["metrics"]["roc_auc"]["value"] > 0.95


def test_diabetes_ridge_beats_the_mean():
    x_tr, y_tr, x_te, y_te = _split(load_diabetes, stratify=False)
    out = baselines("regression", x_tr, y_tr.astype(np.float32), x_te, y_te.astype(np.float32), None, seed=0,
                    resamples=200, confidence=0.95)
    assert out["linear"]["metrics"]["r2"]["value"] > 0.3
    assert out["dummy"]["metrics"]["r2"]["value"] < 0.01
    mean_mae = skm.mean_absolute_error(y_te, np.full(len(y_te), y_tr.mean()))
    assert out["dummy"]["metrics"]["mae"]["value"] == pytest.approx(mean_mae, rel=1e-6)
    assert out["linear"]["model"] == "Ridge(alpha=1.0)" and out["linear"]["per_class"] is None
