"""Plot helpers: the calibration bins agree with scikit-learn; figures are real PNG pictures."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from sklearn.calibration import calibration_curve

from netfit.evaluate import plots


def test_calibration_bins_match_scikit_learn():
    rng = np.random.default_rng(0)
    score = np.concatenate([rng.uniform(size=500), [0.0, 0.1, 0.5, 1.0]])  # edges included
    hit = rng.uniform(size=len(score)) < score
    centres, observed, counts = plots.calibration_bins(score, hit, bins=10)
    prob_true, _ = calibration_curve(hit, score, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(observed[counts > 0], prob_true)
    assert counts.sum() == len(score) and np.allclose(centres, np.arange(0.05, 1, 0.1))


def test_one_vs_rest_curves_for_a_missing_class_are_left_out():
    y = np.array([0, 0, 1, 1, 0, 1])  # class 2 never occurs: no curve for it
    proba = np.full((6, 3), 1 / 3)
    labels = [label for label, _, _ in plots._one_vs_rest(y, proba, ["a", "b", "c"])]
    assert labels == ["a", "b"]
    uri = plots.roc_curves(y, proba, ["a", "b", "c"])
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert image.format == "PNG" and image.size == (500, 420)
