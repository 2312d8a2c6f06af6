"""Slices on real small runs: the level where the labels are noise is flagged, the others are not."""

from __future__ import annotations

import numpy as np
import pytest
import pandas as pd

import netfit

QUICK = {"evaluate": {"bootstrap": 300, "report_html": False, "baselines": False}}


def test_the_level_whose_labels_are_noise_is_flagged_worse_and_the_others_are_not(tmp_path):
    rng = np.random.default_rng(0)
    n = 2400
    frame = pd.DataFrame({"x": rng.normal(size=n), "noise": rng.normal(size=n),
                          "group": rng.choice(["a", "b", "c", "d"], n),
                          "city": rng.choice([f"city{i}" for i in range(60)], n)})  # embedded: too few rows a level
    label = (frame["x"] > 0).astype(int)
    frame["target"] = np.where(frame["group"] == "d", rng.integers(0, 2, n), label)  # group d: a coin flip
    run = netfit.fit({"model": {"hidden": [32]}, "train": {"epochs": 15}, **QUICK}, data=frame,
                     output_dir=str(tmp_path), quiet=True)
    found = run.report["slices"]
    by_group = {s["slice"]: s for s in found["slices"] if s["column"] == "group"}
    assert set(by_group) == {"a", "b", "c", "d"}
    assert by_group["d"]["worse"] and by_group["d"]["value"] < 0.7 < found["overall"], by_group["d"]
    assert not any(by_group[k]["worse"] for k in "abc"), by_group
    assert all(s["ci_low"] <= s["value"] <= s["ci_high"] for s in found["slices"])
    assert sum(s["n"] for s in by_group.values()) == run.report["split_sizes"]["test"]
    # the numeric quartiles of x and noise: none is worse (the group is spread evenly over them)
    quartiles = [s for s in found["slices"] if s["column"] in ("x", "noise")]
    assert len(quartiles) == 8 and not any(s["worse"] for s in quartiles), quartiles
    assert not [s for s in found["slices"] if s["column"] == "city"]  # no level reaches 20 test rows


def test_the_report_and_the_model_card_show_the_slices(tmp_path):
    from netfit.evaluate.model_card import write_model_card
    from netfit.evaluate.report import write_report

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=600), "kind": rng.choice(["p", "q"], 600)})
    frame["target"] = 2 * frame["a"] + np.where(frame["kind"] == "q", 3 * rng.normal(size=600), 0)
    run = netfit.fit({"train": {"epochs": 10}, **QUICK}, data=frame, output_dir=str(tmp_path), quiet=True)
    found = run.report["slices"]
    assert found["metric"] == "rmse"
    kinds = {s["slice"]: s for s in found["slices"] if s["column"] == "kind"}
    assert kinds["q"]["worse"] and not kinds["p"]["worse"] and kinds["q"]["value"] > kinds["p"]["value"]
    html = write_report(run.path).read_text()
    assert '<section id="slices">' in html and "kind = q" in html and "test metric per slice" in html
    card = write_model_card(run.path).read_text()
    assert "## Slices" in card and "kind = q" in card


def test_the_welch_test_matches_scipy_and_a_slice_all_right_raises_no_raw_warning():
    import warnings

    from scipy import stats

    from netfit.evaluate.slices import _welch

    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 2, 40).astype(float), rng.integers(0, 2, 300).astype(float)
    for alt in ("less", "greater"):
        assert _welch(a, b, alt) == pytest.approx(stats.ttest_ind(a, b, equal_var=False, alternative=alt).pvalue, rel=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's ttest_ind warns here ("catastrophic cancellation")
        p = _welch(np.ones(40), b, "less")
    assert 0.99 < p <= 1.0
