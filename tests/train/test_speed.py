"""The speed switches (train.precision, compile, channels_last, data_on_device): each trains real
small models to the same result as the plain path, and user mistakes exit 2 with a message."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

import netfit
from netfit.config import load_config
from netfit.model import build_model
from netfit.train.checkpoint import Checkpoints, Parts, TrainState, load_checkpoint, restore
from netfit.train.loop import Environment, Objective, fit_loop
from netfit.train.losses import build_loss
from netfit.train.optim import Schedule, build_optimizer
from netfit.train.tensors import Tensors

ROOT = Path(__file__).resolve().parents[2]
QUICK = {"evaluate__bootstrap": 0, "evaluate__baselines": False, "evaluate__report_html": False}
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def digits_mlp(out: Path, **overrides) -> netfit.Run:
    return netfit.fit(ROOT / "examples" / "digits_mlp.yaml", output_dir=str(out), train__epochs=12, **QUICK, **overrides)


def accuracy(run: netfit.Run) -> float:
    return run.metrics["accuracy"]["value"]


@pytest.fixture(scope="module")
def fp32_run(tmp_path_factory):
    return digits_mlp(tmp_path_factory.mktemp("fp32"))


def test_bf16_trains_to_the_fp32_accuracy(fp32_run, tmp_path):
    run = digits_mlp(tmp_path, train__precision="bf16")
    assert abs(accuracy(run) - accuracy(fp32_run)) <= 0.03
    assert load_file(str(run.path / "model.safetensors"))["body.0.weight"].dtype == torch.float32  # weights stay fp32


@pytest.mark.slow  # the first torch.compile in a process takes 20-40 s on this 2-core CPU
def test_compile_trains_to_the_same_accuracy_and_reports_compile_seconds(fp32_run, tmp_path):
    started = time.perf_counter()
    run = digits_mlp(tmp_path, train__compile=True)
    elapsed = time.perf_counter() - started
    assert abs(accuracy(run) - accuracy(fp32_run)) <= 0.02
    report = json.loads((run.path / "report.json").read_text())
    # the probe compile runs before the training clock starts (a cold cache: ~20 s here), so
    # compile_seconds may exceed train_seconds; it never exceeds the whole run
    assert 0 < report["compile_seconds"] < elapsed
    assert "compile_seconds" in pd.read_csv(run.path / "history.csv").columns
    # the saved model is the plain module's: no `_orig_mod.` prefix
    assert load_file(str(run.path / "model.safetensors")).keys() == load_file(str(fp32_run.path / "model.safetensors")).keys()
    assert json.loads((fp32_run.path / "report.json").read_text())["compile_seconds"] is None


def cli_train(tmp_path: Path, *sets: str, env: dict | None = None) -> subprocess.CompletedProcess:
    args = ["train", str(ROOT / "examples" / "digits_mlp.yaml"), "--set", f"output_dir={tmp_path}", "--set",
            "train.epochs=1", *[a for s in sets for a in ("--set", s)]]
    return subprocess.run([sys.executable, "-m", "netfit", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


@pytest.mark.skipif(torch.cuda.is_available(), reason="fp16 is allowed on CUDA")
def test_fp16_on_cpu_exits_2_with_a_hint(tmp_path):
    done = cli_train(tmp_path, "train.precision=fp16")
    assert done.returncode == 2, done.stderr
    assert "fp16 precision needs a CUDA device" in done.stderr and "bf16" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CPU compiler check")
def test_compile_without_a_cxx_compiler_exits_2_with_a_hint(tmp_path):
    done = cli_train(tmp_path, "train.compile=true", env={"CXX": str(tmp_path / "no-such-g++")})
    assert done.returncode == 2, done.stderr
    assert "torch.compile cannot compile" in done.stderr and "train.compile: false" in done.stderr
    assert "Traceback" not in done.stderr


def test_precision_accepts_the_number_32():
    assert load_config({"train": {"precision": 32}}, require_data=False).train.precision == "32"


# ---------------------------------------------------------------- host-held data
def small_digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return torch.tensor(x[:400] / 16.0, dtype=torch.float32), torch.tensor(y[:400])


def fit_small(model, cfg, x, y):
    loss_fn = build_loss(cfg, "multiclass", y.numpy(), list(range(10)), torch.device("cpu"))
    val = Tensors([x[:100]], y[:100])
    return fit_loop(model, Tensors([x], y), val, cfg, Objective(loss_fn, "multiclass"), Environment(seed=5))


def test_host_held_data_trains_bit_identically_to_data_on_the_device():
    """data_on_device: false on CPU runs the copy-each-batch path (the copy is a no-op here)."""
    x, y = small_digits()
    raw = {"train": {"epochs": 2, "batch_size": 32, "early_stopping": None, "convergence": None},
           "model": {"hidden": [32], "dropout": 0.2, "ensemble": 1}}  # dropout: the torch RNG stream must match too
    torch.manual_seed(0)
    cfg = load_config(raw, require_data=False)
    a = build_model(cfg.model, 64, [], 10)
    b = copy.deepcopy(a)
    torch.manual_seed(1)
    ra = fit_small(a, cfg.train, x, y)
    torch.manual_seed(1)
    rb = fit_small(b, cfg.train.model_copy(update={"data_on_device": False}), x, y)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    assert ra.state.history[-1]["val_loss"] == rb.state.history[-1]["val_loss"]


# ---------------------------------------------------------------- channels-last
def digits_cnn(out: Path, **overrides) -> netfit.Run:
    return netfit.fit(ROOT / "examples" / "digits_cnn.yaml", output_dir=str(out), train__epochs=8,
                      train__checkpoint__every_epochs=1, train__checkpoint__min_seconds=0, **QUICK, **overrides)


def test_channels_last_cnn_trains_alike_and_saves_plain_weights(tmp_path):
    plain = digits_cnn(tmp_path / "plain", train__channels_last=False)
    fast = digits_cnn(tmp_path / "fast", train__channels_last=True)
    assert abs(accuracy(fast) - accuracy(plain)) <= 0.02
    # the loop trained in channels-last: the checkpoint keeps the conv weights' strides
    (ckpt,) = sorted((fast.path / "checkpoints").glob("step-*.pt"))[-1:]
    conv = load_checkpoint(ckpt)["model"]["blocks.2.0.weight"]  # 32 in-channels, so the two formats differ
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    # a fresh load predicts the test split as the trained model did (test_predictions.csv)
    from netfit.data import prepare
    from netfit.runfolder import load_model
    from netfit.train.tensors import predict_split

    loaded = load_model(fast.path)
    assert all(p.is_contiguous() for p in loaded.model.parameters())
    prepared = prepare(loaded.config.data, loaded.config.seed)
    proba = predict_split(loaded.model, prepared.splits["test"], loaded.task, loaded.preprocessor, loaded.device,
                          calibration=loaded.calibration)  # the saved probabilities are calibrated
    saved = pd.read_csv(fast.path / "test_predictions.csv").filter(like="proba_").to_numpy()
    np.testing.assert_allclose(proba, saved, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- fp16 loss scaling
def test_grad_scaler_state_is_checkpointed_and_old_checkpoints_load(tmp_path):
    cfg = load_config({"train": {"checkpoint": {"keep": 5}}, "model": {"ensemble": 1}}, require_data=False)
    model = build_model(cfg.model, 4, [], 2)

    def parts(scaler):
        opt = build_optimizer(cfg.train.optimizer, model)
        return Parts(model, opt, Schedule(cfg.train.schedule, opt, 1e-3, 2, 2), model.state_dict(), scaler)

    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    scaler.load_state_dict({**scaler.state_dict(), "_growth_tracker": 7})
    path = Checkpoints(tmp_path, cfg.train.checkpoint).save(parts(scaler), TrainState(step=1), torch.Generator(),
                                                            position=None)
    payload = load_checkpoint(path)
    fresh = torch.amp.GradScaler("cpu")
    restore(payload, parts(fresh), None, torch.Generator())
    assert fresh.state_dict() == scaler.state_dict()
    del payload["scaler"]  # a checkpoint from before loss scaling was saved
    older = torch.amp.GradScaler("cpu")
    restore(payload, parts(older), None, torch.Generator())
    assert older.state_dict() == torch.amp.GradScaler("cpu").state_dict()


@CUDA
def test_fp16_on_cuda_trains_and_resumes_bit_identically(tmp_path):
    config = {"data": {"source": "sklearn:digits"}, "model": {"hidden": [64], "dropout": 0.0},
              "train": {"epochs": 4, "precision": "fp16", "schedule": {"name": "constant"}, "early_stopping": None,
                        "convergence": None}}
    whole = netfit.fit(config, output_dir=str(tmp_path / "whole"), **QUICK)
    assert accuracy(whole) > 0.8
    # the same run stopped after 2 epochs (its last checkpoint holds the GradScaler), then resumed to 4
    part = netfit.fit(config, output_dir=str(tmp_path / "part"), train__epochs=2, **QUICK)
    (part.path / "model.safetensors").unlink()
    resumed = netfit.fit(resume=part.path, train__epochs=4, **QUICK)
    a, b = load_file(str(whole.path / "model.safetensors")), load_file(str(resumed.path / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
