"""Faults end to end: divergence recovery, an unwritable run folder, and fuzzed tables for train and predict."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from safetensors.torch import load_file

import netfit
from netfit.errors import DataError, NetfitError

QUICK = {"evaluate": {"bootstrap": 0, "baselines": False}}


def test_divergence_recovers_with_a_lower_lr_and_ends_good(tmp_path):
    # lr 2.0 with momentum makes the MSE blow up in the first epoch; x0.01 gives a sane 0.02
    cfg = {"data": {"source": "sklearn:diabetes"}, "model": {"hidden": [16], "dropout": 0.0},
           "train": {"epochs": 30, "optimizer": {"name": "sgd", "lr": 2.0, "momentum": 0.9},
                     "schedule": {"name": "constant"}, "divergence": {"policy": "recover", "lr_factor": 0.01}},
           "evaluate": {"bootstrap": 0, "baselines": True}, "output_dir": str(tmp_path)}
    run = netfit.fit(cfg)
    report = run.report
    assert report["stop_reason"] != "diverged"
    (recovery,) = report["recoveries"]
    assert recovery["epoch"] == 1 and recovery["rolled_back_to_epoch"] == 0 and recovery["lr_scale"] == 0.01
    assert "loss became" in recovery["reason"]
    history = run.history
    assert (history["recoveries"] == 1).all() and np.allclose(history["lr"], 0.02)
    assert np.isfinite(history["train_loss"]).all()
    weights = load_file(str(run.path / "model.safetensors"))
    assert all(np.isfinite(w.numpy()).all() for w in weights.values())
    r2 = run.metrics["r2"]["value"]
    base = {k: v["metrics"]["r2"]["value"] for k, v in report["baselines"].items()}
    assert r2 > base["dummy"] + 0.1 and r2 >= base["linear"] - 0.05, (r2, base)


def test_divergence_gives_up_after_max_recoveries(tmp_path):
    cfg = {"data": {"source": "sklearn:diabetes"}, "model": {"hidden": [16], "dropout": 0.0},
           "train": {"epochs": 5, "optimizer": {"name": "sgd", "lr": 1.0e6, "momentum": 0.9},
                     "schedule": {"name": "constant"}, "divergence": {"lr_factor": 0.5, "max_recoveries": 2}},
           **QUICK, "output_dir": str(tmp_path)}
    cfg["train"]["checkpoint"] = {"every_steps": 1, "keep": 50}
    newest_on_disk = []

    class Watch(netfit.Callback):
        def on_checkpoint(self, logs):
            steps = [int(p.stem.split("-")[1]) for p in Path(logs["path"]).parent.glob("step-*.pt")]
            newest_on_disk.append((max(steps), logs["step"]))

    run = netfit.fit(cfg, callbacks=[Watch()])
    assert run.report["stop_reason"] == "diverged" and "after 2 recoveries" in run.report["stop_message"]
    # each rollback deletes the checkpoints of the steps it abandons: no file is ever newer than
    # the step just saved, so a resume cannot land in a diverged attempt
    assert newest_on_disk and all(newest == step for newest, step in newest_on_disk), newest_on_disk
    assert [r["lr_scale"] for r in run.report["recoveries"]] == [0.5, 0.25]


def test_run_folder_under_a_regular_file_fails_before_training(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(netfit.RunError, match="cannot create the run folder") as e:
        netfit.fit({"data": {"source": "sklearn:iris"}, **QUICK}, output_dir=str(tmp_path / "afile" / "runs"))
    assert "afile" in str(e.value) and "output_dir" in e.value.hint


# ---------------------------------------------------------------- fuzzed tables
CELLS = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                  st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["", " ", "a", "b", "é", "1e400"]))
NAMES = st.sampled_from(["a", "b", "é ü", "列", "", "y", "a"])  # repeats give duplicate column names


@st.composite
def tables(draw, with_target: bool = True) -> pd.DataFrame:
    rows = draw(st.integers(0, 25))
    names = draw(st.lists(NAMES, min_size=1, max_size=4))
    columns = {f"_{i}": draw(st.lists(CELLS, min_size=rows, max_size=rows)) for i in range(len(names))}
    frame = pd.DataFrame(columns)
    frame.columns = names
    if with_target:
        frame["target"] = draw(st.lists(st.one_of(st.sampled_from([0, 1, "x"]), st.floats(-1e300, 1e300), st.none()),
                                        min_size=rows, max_size=rows))
    return frame


FUZZ_CFG = {"model": {"hidden": [4], "dropout": 0.0}, "train": {"epochs": 1}, **QUICK}


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(frame=tables())
def test_arbitrary_tables_train_or_raise_data_error(tmp_path, frame):
    try:
        run = netfit.fit({**FUZZ_CFG, "data": {"target": "target"}}, data=frame, output_dir=str(tmp_path))
    except DataError:
        return
    assert run.report["stop_reason"] is not None


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"num": rng.normal(size=60), "cat": rng.choice(["p", "q", "r"], 60),
                          "target": rng.choice(["yes", "no"], 60)})
    return netfit.fit({**FUZZ_CFG, "data": {"target": "target"}}, data=frame,
                      output_dir=str(tmp_path_factory.mktemp("fuzz")))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=tables(with_target=False), rename=st.booleans())
def test_predict_on_arbitrary_tables_predicts_or_raises_netfit_error(mixed_run, frame, rename):
    if rename and frame.shape[1] >= 2:  # give the model's own column names to random contents
        frame.columns = ["num", "cat", *frame.columns[2:]]
    try:
        out = mixed_run.predict(frame)
    except NetfitError as e:
        assert str(e)
        return
    assert len(out) == len(frame)
    probs = out.filter(like="proba_").to_numpy()
    assert np.isfinite(probs).all() and np.allclose(probs.sum(axis=1), 1, atol=1e-5) if len(out) else True
    assert not any(math.isnan(p) for p in out.filter(like="proba_").to_numpy().ravel())


def test_inputs_overflowing_after_preprocessing_name_column_and_rows(tmp_path):
    frame = pd.DataFrame({"a": np.arange(40.0), "b": np.r_[np.ones(39), 1e300], "target": [0, 1] * 20})
    # mean and std overflow on 1e300 (the default robust scaling, median and quartiles, does not,
    # and the default smooth clipping bounds what it scales)
    scaled = {"target": "target", "preprocess": {"numeric": "standardize", "clip": None}}
    with pytest.raises(DataError, match="values are not finite after preprocessing") as e:
        netfit.fit({**FUZZ_CFG, "data": scaled}, data=frame, output_dir=str(tmp_path))
    text = str(e.value)
    assert "column 'b'" in text and "rows 1, 2" in text and "rescale" in text
    frame["b"], frame["target"] = 1.0, np.r_[np.arange(39.0), 1e300]  # a regression target as well
    with pytest.raises(DataError, match="values are not finite after preprocessing") as e:
        netfit.fit({**FUZZ_CFG, "data": scaled}, data=frame, output_dir=str(tmp_path))
    assert "column 'target'" in str(e.value)
