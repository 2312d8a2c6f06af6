"""train.refit: the second fit on training + validation rows, on real small runs."""

from __future__ import annotations

import math

import pytest
import yaml

import netfit
from netfit.errors import ConfigError

QUICK = {"bootstrap": 0, "baselines": False, "report_html": False, "importance": False, "slices": False}


def test_a_refit_trains_on_train_and_val_for_the_steps_to_the_best_epoch_and_calibrates_on_held_out_rows(tmp_path):
    cfg = {"data": {"source": "sklearn:breast_cancer", "split": {"calibration": 0.4}},
           "model": {"hidden": [32]}, "train": {"epochs": 30, "batch_size": 32, "refit": True,
                                                 "early_stopping": {"patience": 5}},
           "evaluate": QUICK}
    run = netfit.fit(cfg, output_dir=str(tmp_path / "refit"), quiet=True)
    plain = netfit.fit({**cfg, "train": {**cfg["train"], "refit": False}}, output_dir=str(tmp_path / "plain"), quiet=True)
    r, p = run.report, plain.report
    sizes = r["split_sizes"]
    refit = r["refit"]
    # the first fit is the plain run, step for step; the refit reads its best epoch's step count
    assert (r["best_epoch"], r["steps"]) == (p["best_epoch"], p["steps"])
    steps_per_epoch = math.ceil(sizes["train"] / 32)
    assert refit["budget_steps"] == steps_per_epoch * r["best_epoch"]
    assert refit["rows"] == sizes["train"] + sizes["val"] and refit["from_best_epoch"] == r["best_epoch"]
    # the budget is kept in whole epochs of the larger split: rounded up to the epoch that reaches it
    per_epoch = math.ceil(refit["rows"] / 32)
    assert refit["epochs"] == math.ceil(refit["budget_steps"] / per_epoch) and refit["steps"] == refit["epochs"] * per_epoch
    # calibration and conformal were fitted on the held-out calibration rows, not the validation rows
    assert r["conformal"]["n"] == sizes["calibration"] > 0
    assert run.metrics["accuracy"]["value"] > 0.9
    # the saved model is the refit one: its predictions differ from the plain run's
    x = netfit.data.load_table("sklearn:breast_cancer", netfit.config.DataConfig()).drop(columns="target").iloc[:50]
    assert not (run.predict_proba(x) == plain.predict_proba(x)).all()
    assert yaml.safe_load((run.path / "config.yaml").read_text())["train"]["refit"] is True


def test_a_refit_with_calibration_on_and_no_calibration_split_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="calibration") as e:
        netfit.fit({"data": {"source": "sklearn:iris"}, "train": {"refit": True}}, output_dir=str(tmp_path), quiet=True)
    assert e.value.where == "train.refit" and "data.split.calibration" in str(e.value)
    assert not any(tmp_path.iterdir())  # refused before a run folder was made
    # with both turned off, no calibration split is needed
    run = netfit.fit({"data": {"source": "sklearn:iris"}, "train": {"refit": True, "epochs": 5},
                      "evaluate": {**QUICK, "calibration": "none", "conformal": None}},
                     output_dir=str(tmp_path), quiet=True)
    assert run.report["refit"]["rows"] == run.report["split_sizes"]["train"] + run.report["split_sizes"]["val"]
    assert run.report["calibration"] is None and run.report["conformal"] is None
