"""The learning-rate range test and the batch-size finder on real data and real models."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import netfit
from netfit.config import load_config
from netfit.data import prepare
from netfit.model import build_model, output_size
from netfit.train.losses import build_loss
from netfit.train.tensors import to_tensors
from netfit.train.finders import find_batch_size, find_lr

DIGITS = {"data": {"source": "sklearn:digits"}, "model": {"hidden": [64], "ensemble": 1}}


@pytest.fixture(scope="module")
def digits_parts():
    cfg = load_config(DIGITS)
    prepared = prepare(cfg.data, 0, need_test=False)
    pre, task = prepared.preprocessor, prepared.task
    torch.manual_seed(0)
    model = build_model(cfg.model, pre.n_num, pre.cat_cardinalities, output_size(task, len(pre.classes)))
    train = to_tensors(prepared.splits["train"], torch.device("cpu"), task)
    loss_fn = build_loss(cfg.train, task, prepared.splits["train"].y, pre.classes, torch.device("cpu"))
    return cfg, model, train, loss_fn


def test_lr_range_test_picks_a_sane_rate_and_leaves_model_and_rng_untouched(digits_parts):
    cfg, model, train, loss_fn = digits_parts
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    finding = find_lr(model, train, loss_fn, cfg.train, steps=150)
    assert 1e-4 <= finding.lr <= 1e-1, finding
    assert finding.method and len(finding.lrs) == len(finding.losses) >= 20
    assert finding.lrs == sorted(finding.lrs)  # an exponential sweep upwards
    assert min(finding.losses) < finding.losses[0]  # the loss fell somewhere along the sweep
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())


def test_batch_finder_on_cpu_picks_a_measured_power_of_two(digits_parts):
    cfg, model, train, loss_fn = digits_parts
    finding = find_batch_size(model, train, loss_fn, cfg.train)
    assert finding.batch_size in finding.measured
    assert finding.batch_size & (finding.batch_size - 1) == 0 and 16 <= finding.batch_size <= len(train) // 8
    assert all(v > 0 for v in finding.measured.values()) and "throughput knee" in finding.method


@pytest.mark.slow
def test_lr_auto_reaches_the_digits_accuracy(tmp_path):
    run = netfit.fit("examples/digits_mlp.yaml", output_dir=str(tmp_path), train__optimizer__lr="auto",
                     evaluate__bootstrap=0, evaluate__baselines=False)
    found = run.report["finders"]["lr"]
    assert run.config.train.optimizer.lr == pytest.approx(found["lr"])  # config.yaml holds the found value
    assert len(found["lrs"]) == len(found["losses"]) > 20
    assert run.metrics["accuracy"]["value"] >= 0.96, (found["lr"], run.metrics)


def test_batch_size_auto_is_recorded_and_used(tmp_path):
    run = netfit.fit({"data": {"source": "sklearn:iris"}, "train": {"epochs": 3, "batch_size": "auto"}},
                     output_dir=str(tmp_path), evaluate__bootstrap=0, evaluate__baselines=False)
    found = run.report["finders"]["batch_size"]
    assert run.config.train.batch_size == found["batch_size"] == 16  # iris: 105 rows, a 16 cap
    assert "lr" not in run.report["finders"]


def test_find_lr_command_prints_the_curve_and_the_rate(tmp_path):
    (tmp_path / "c.yaml").write_text("data: {source: 'sklearn:iris'}\nmodel: {hidden: [16]}\n")
    proc = subprocess.run([sys.executable, "-m", "netfit", "find-lr", "c.yaml"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "smoothed loss" in proc.stdout
    rate = float(proc.stdout.strip().splitlines()[-1].split()[1])
    assert 1e-6 < rate < 10


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batch_finder_on_gpu_picks_the_largest_batch_within_the_memory_budget(digits_parts):
    from netfit.train.finders import MEMORY_BUDGET

    cfg, model, train, loss_fn = digits_parts
    device = torch.device("cuda")
    train_gpu = type(train)([x.to(device) for x in train.inputs], train.y.to(device))
    finding = find_batch_size(model.to(device), train_gpu, loss_fn, cfg.train)
    model.to("cpu")
    budget = MEMORY_BUDGET * torch.cuda.get_device_properties(device).total_memory
    assert finding.measured[finding.batch_size] <= budget
    assert finding.batch_size == max(finding.measured)  # digits is tiny: every candidate fits
