"""test_predictions.csv: the values the report's plots read back are the values evaluated."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from netfit.evaluate.outputs import load_test_outputs, save_test_outputs


def test_test_predictions_csv_round_trips_floats_exactly(tmp_path):
    rng = np.random.default_rng(0)
    y = 1.2e6 + rng.normal(0, 3, 200)  # a target near 1.2e6: 6 significant digits would round to tens
    out = (y + rng.normal(0, 2, 200)).astype(np.float32)  # model outputs come back as float32
    save_test_outputs(tmp_path, "regression", y, out, pre=None)
    back = load_test_outputs(tmp_path, "regression", None)
    np.testing.assert_array_equal(back.y, y)
    np.testing.assert_array_equal(back.output, out.astype(np.float64))
    assert np.mean(np.abs(back.y - back.output)) == np.mean(np.abs(y - out.astype(np.float64)))


def test_test_predictions_csv_round_trips_probabilities_exactly(tmp_path):
    rng = np.random.default_rng(1)
    proba = rng.dirichlet([1, 1, 1], 50).astype(np.float32)
    y = rng.integers(0, 3, 50)
    pre = SimpleNamespace(classes=[0, 1, 2], decode_target=lambda codes: np.asarray(codes))
    save_test_outputs(tmp_path, "multiclass", y, proba, pre)
    back = load_test_outputs(tmp_path, "multiclass", [0, 1, 2])
    np.testing.assert_array_equal(back.y, y)
    np.testing.assert_array_equal(back.output, proba.astype(np.float64))
