"""Exact resume: a run killed (SIGKILL) or interrupted (SIGINT/SIGTERM) and resumed ends bit-identical
to the same run left alone, on CPU: the same weights, the same history (timing columns aside).

Each kill happens in a real subprocess at a deterministic point (see killer.py).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from safetensors.torch import load_file

import netfit
from netfit.config import DataConfig
from netfit.data import load_table

KILLER = Path(__file__).with_name("killer.py")
TIMING = ["seconds", "samples_per_s"]

# iris: 105 training rows in batches of 16 -> 7 steps per epoch; checkpoints at every epoch end
# (min_seconds 0: however short the epoch) and every 4 steps, so kills land both between and on
# mid-epoch checkpoints
BASE = {
    "data": {"source": "sklearn:iris"},
    # threads pinned: bit-identity holds for one thread count, and the in-process reference shares a
    # pytest process whose torch thread count earlier tests may have changed
    "train": {"epochs": 5, "batch_size": 16, "log_every": 1e-9, "checkpoint": {"every_steps": 4, "min_seconds": 0},
              "early_stopping": {"patience": 3}, "threads": 1},
    "evaluate": {"bootstrap": 0, "baselines": False},
}
MODELS = {
    "mlp": {"model": {"type": "mlp", "hidden": [16], "dropout": 0.2}},  # dropout: the torch RNG matters
    # a GRU on generated variable-length sequences; 105 training rows, so the kill points below
    # (7 steps per epoch) hold for it too
    "sequence": {"data": {"source": "synthetic:order", "split": {"train": 0.105, "val": 0.1, "test": 0.795}},
                 "model": {"type": "rnn", "cell": "gru", "units": 8, "num_layers": 1, "hidden": [8], "dropout": 0.2}},
    # iris as a Parquet folder larger than its memory budget: the training rows stream through the
    # shuffle buffer; the hash split puts 100 rows in train, so 7 steps per epoch again
    "streamed": {"data": {"memory_budget": "3KB"}, "model": {"type": "mlp", "hidden": [16], "dropout": 0.2}},
}
MODEL_PARAMS = [pytest.param(m, id=m) for m in MODELS]


def write_config(folder: Path, model: str, **train) -> Path:
    cfg = {**BASE, **MODELS[model], "output_dir": str(folder / "runs")}
    cfg["train"] = {**cfg["train"], **train}
    if model == "streamed":
        source = folder / "iris"
        source.mkdir(exist_ok=True)
        table = pa.Table.from_pandas(load_table("sklearn:iris", DataConfig()), preserve_index=False)
        pq.write_table(table, source / "iris.parquet", row_group_size=25)
        cfg["data"] = {**cfg["data"], "source": str(source)}
    path = folder / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_killer(config: Path, kill: dict | None = None, resume: Path | None = None, cli: bool = False):
    spec = {"config": str(config), "kill": kill, "resume": str(resume) if resume else None, "cli": cli}
    return subprocess.run([sys.executable, str(KILLER), json.dumps(spec)], capture_output=True, text=True, timeout=300)


def only_run(folder: Path) -> Path:
    (run,) = (folder / "runs").iterdir()
    return run


def assert_identical(run: Path, reference: Path) -> None:
    a, b = load_file(str(run / "model.safetensors")), load_file(str(reference / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k].numpy(), b[k].numpy()), k
    ha, hb = (pd.read_csv(p / "history.csv").drop(columns=TIMING) for p in (run, reference))
    pd.testing.assert_frame_equal(ha, hb, check_exact=True)


@pytest.fixture(scope="module", params=MODEL_PARAMS)
def reference(request, tmp_path_factory):
    """The uninterrupted run, trained in-process with the same config."""
    folder = tmp_path_factory.mktemp(f"ref-{request.param}")
    run = netfit.fit(write_config(folder, request.param))
    return request.param, run.path


# kill point -> (epochs done, batches done in the next) of the checkpoint the resume must start from
KILLS = {
    "mid-epoch, between checkpoints": ({"at": "log", "epoch": 2, "batch": 6}, (1, 5)),  # step 13; saved at 12
    "inside a checkpoint write (temp written, not renamed)": ({"at": "replace", "n": 4}, (1, 1)),  # 12 lost; 8
    "right after an epoch-end checkpoint": ({"at": "checkpoint", "step": 21}, (3, 0)),
}


@pytest.mark.slow
@pytest.mark.parametrize("kill", list(KILLS))
def test_sigkill_then_resume_is_bit_identical(reference, tmp_path, kill):
    model, ref = reference
    config = write_config(tmp_path, model)
    where, (epoch, batch) = KILLS[kill]
    killed = run_killer(config, where)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run = only_run(tmp_path)
    assert not (run / "model.safetensors").exists()
    resumed = run_killer(config, resume=run)
    assert resumed.returncode == 0, resumed.stderr
    assert_identical(run, ref)
    report = json.loads((run / "report.json").read_text())
    (resumed_at,) = report["resumed"]
    assert (resumed_at["epoch"], resumed_at["batch"]) == (epoch, batch), resumed_at
    assert not list((run / "checkpoints").glob(".*.tmp")), "a killed write's temp file was left behind"


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_signal_checkpoints_reports_and_exits_then_resumes_identically(reference, tmp_path, sig, code):
    model, ref = reference
    config = write_config(tmp_path, model)
    stopped = run_killer(config, {"at": "log", "epoch": 3, "batch": 2, "signal": sig}, cli=True)
    assert stopped.returncode == code, stopped.stderr
    assert "interrupted" in stopped.stderr and "--resume" in stopped.stderr and "Traceback" not in stopped.stderr
    run = only_run(tmp_path)
    report = json.loads((run / "report.json").read_text())
    assert report["stop_reason"] == "interrupted" and report["test"] is None
    assert "epoch 3, batch 3" in report["stop_message"]  # the step in flight was finished, then it stopped
    resumed = run_killer(config, resume=run, cli=True)
    assert resumed.returncode == 0, resumed.stderr
    assert_identical(run, ref)


@pytest.mark.slow
def test_a_run_killed_during_its_refit_resumes_to_the_same_model(tmp_path):
    """train.refit's second fit writes no checkpoint: the resume finds the first fit finished and
    redoes the refit from its start; the same seed gives the same weights."""
    refit = {"refit": True, "checkpoint": {"every_steps": None}}
    evaluate = {**BASE["evaluate"], "calibration": "none", "conformal": None}
    (tmp_path / "ref").mkdir()
    reference = netfit.fit({**yaml.safe_load(write_config(tmp_path / "ref", "mlp", **refit).read_text()),
                            "evaluate": evaluate})
    folder = tmp_path / "killed"
    folder.mkdir()
    config = write_config(folder, "mlp", **refit)
    config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), "evaluate": evaluate}))
    # (epoch 1, batch 3) comes twice: in the first fit, then in the refit, where the kill lands
    killed = run_killer(config, {"at": "log", "epoch": 1, "batch": 3, "occurrence": 2})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run = only_run(folder)
    assert not (run / "model.safetensors").exists()
    resumed = run_killer(config, resume=run)
    assert resumed.returncode == 0, resumed.stderr
    assert_identical(run, reference.path)
    report = json.loads((run / "report.json").read_text())
    assert report["refit"]["steps"] >= report["refit"]["budget_steps"] > 0  # whole epochs of train + val


def test_second_ctrl_c_stops_at_once(tmp_path):
    config = write_config(tmp_path, "mlp")
    stopped = run_killer(config, {"at": "log", "epoch": 1, "batch": 2, "signal": "SIGINT", "times": 2}, cli=True)
    assert stopped.returncode == 130, stopped.stderr
    assert "interrupted twice" in stopped.stderr and "Traceback" not in stopped.stderr
    assert not (only_run(tmp_path) / "report.json").exists()  # nothing more was written


def test_corrupt_checkpoints_fall_back_to_the_previous_valid_one(reference, tmp_path):
    model, ref = reference
    run = netfit.fit(write_config(tmp_path, model, checkpoint={"keep": 4, "every_steps": None, "min_seconds": 0})).path
    newest, second, third = sorted((run / "checkpoints").glob("step-*.pt"), reverse=True)[:3]
    newest.write_bytes(newest.read_bytes()[:1000])  # truncated
    data = bytearray(second.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    second.write_bytes(bytes(data))
    with pytest.warns(UserWarning) as caught:
        netfit.fit(resume=run)
    messages = " ".join(str(w.message) for w in caught)
    assert newest.name in messages and second.name in messages and "sha256 mismatch" in messages
    report = json.loads((run / "report.json").read_text())
    assert report["resumed"][-1]["checkpoint"] == third.name
    assert [s["file"] for s in report["resumed"][-1]["skipped"]] == [newest.name, second.name]
    assert (run / "checkpoints" / (newest.name + ".corrupt")).is_file()  # set aside, not deleted
    assert_identical(run, ref)


def test_changed_config_is_refused_listing_the_fields(tmp_path):
    config = write_config(tmp_path, "mlp", epochs=1)
    run = netfit.fit(config).path
    with pytest.raises(netfit.ConfigError) as e:
        netfit.fit(config, resume=run, train__optimizer__lr=0.5, model__hidden=[8], train__epochs=2)
    text = str(e.value)
    assert "differs from the one the run started with (2 fields)" in text
    assert "train.optimizer.lr: 0.001 -> 0.5" in text and "model.hidden: [16] -> [8]" in text
    assert "train.epochs" not in text.split("how to fix")[0]  # a safe change is not listed
    more = netfit.fit(config, resume=run, train__epochs=2)  # safe: train on for one more epoch
    assert list(more.history["epoch"]) == [1, 2] and more.path == run


def test_resume_of_a_folder_without_a_run(tmp_path):
    with pytest.raises(netfit.RunError, match="not a netfit run folder") as e:
        netfit.fit(resume=tmp_path)
    assert str(tmp_path) in str(e.value) and e.value.hint


def test_a_run_started_with_auto_lr_and_batch_size_resumes_with_its_resolved_values(tmp_path):
    config = write_config(tmp_path, "mlp", epochs=1, batch_size="auto", optimizer={"lr": "auto"})
    first = netfit.fit(config)
    found = first.config.train  # config.yaml holds the values the finders picked
    assert isinstance(found.batch_size, int) and isinstance(found.optimizer.lr, float)
    more = netfit.fit(config, resume=first.path, train__epochs=2)  # the config still says `auto`
    assert list(more.history["epoch"]) == [1, 2] and more.path == first.path
    assert (more.config.train.batch_size, more.config.train.optimizer.lr) == (found.batch_size, found.optimizer.lr)
    with pytest.raises(netfit.ConfigError) as e:  # any other change is still refused, and only it is listed
        netfit.fit(config, resume=first.path, model__hidden=[8])
    listed = str(e.value).split("how to fix")[0]
    assert "(1 field)" in listed and "model.hidden: [16] -> [8]" in listed and "-> 'auto'" not in listed


class StepRates(netfit.Callback):
    """The learning rate and momentum (AdamW's beta1, which one_cycle cycles) of every optimizer step."""

    sample_every = 1

    def __init__(self):
        self.rates = {}

    def on_step_sampled(self, sample):
        group = sample.optimizer.param_groups[0]
        self.rates[sample.step] = (group["lr"], group["betas"][0])


@pytest.mark.parametrize("schedule", ["one_cycle", "cosine"])
def test_a_per_step_schedule_resumed_with_more_epochs_follows_the_plan_of_the_new_total(tmp_path, schedule):
    """`train.epochs` is safe to change: a finished 2-epoch run (7 steps an epoch) resumed for 4 trains
    on, and every step after the resume point takes the rate of a run planned for 4 epochs from the start."""
    config = write_config(tmp_path, "mlp", epochs=2, schedule={"name": schedule}, early_stopping=None)
    first = netfit.fit(config)
    first_rates = first.history["lr"].tolist()
    resumed, planned = StepRates(), StepRates()
    more = netfit.fit(config, resume=first.path, train__epochs=4, callbacks=[resumed])
    assert list(more.history["epoch"]) == [1, 2, 3, 4] and more.report["stop_reason"] == "max_epochs"
    assert sorted(resumed.rates) == list(range(15, 29))  # steps 15 to 28
    netfit.fit(config, train__epochs=4, output_dir=str(tmp_path / "planned"), callbacks=[planned])
    assert resumed.rates == {step: rates for step, rates in planned.rates.items() if step > 14}
    assert more.history["lr"].tolist()[:2] == first_rates  # the first two epochs kept their own plan
