"""netfit's training loop against a hand-written raw PyTorch loop, side by side in one run.

Both train the same model (same initial weights), same optimizer, schedule, clipping and dropout,
on the same synthetic table, validation and progress off. Prints the median seconds per epoch
(after a warm-up epoch) and the ratio netfit / raw; the goal is <= 1.05.

    .venv/bin/python benchmarks/loop_overhead.py [--rows 60000] [--epochs 4] [--batch-size 256]
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import time

import torch
from torch import nn

from netfit.config import load_config
from netfit.model import build_model
from netfit.train.callbacks import Callback, CallbackList
from netfit.train.loop import Tensors, fit_loop, steps_per_epoch
from netfit.train.losses import build_loss
from netfit.train.optim import Schedule, build_optimizer


def synthetic(rows: int, features: int, classes: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, features, generator=g)
    w = torch.randn(features, classes, generator=g)
    return x, (x @ w).argmax(1)


def raw_loop(model: nn.Module, x, y, cfg, epochs: int) -> list[float]:
    """The oracle: what a careful engineer writes by hand over device tensors."""
    opt = build_optimizer(cfg.train.optimizer, model)
    sched = Schedule(cfg.train.schedule, opt, cfg.train.optimizer.lr, epochs, steps_per_epoch(len(y), cfg.train))
    gen = torch.Generator().manual_seed(0)
    n, B = len(y), cfg.train.batch_size
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, generator=gen)
        total = torch.zeros(())
        for lo in range(0, n, B):
            idx = perm[lo:lo + B]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            if cfg.train.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            sched.after_step()
            total += loss.detach()
        total.item()
        times.append(time.perf_counter() - t0)
    return times


class EpochTimer(Callback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_epoch_begin(self, logs):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, logs):
        self.times.append(time.perf_counter() - self.t0)


def netfit_loop(model: nn.Module, x, y, cfg, epochs: int) -> list[float]:
    timer = EpochTimer()
    cfg.train.epochs = epochs
    loss_fn = build_loss(cfg.train, "multiclass", y.numpy(), list(range(int(y.max()) + 1)), x.device)
    fit_loop(model, Tensors([x], y), None, cfg.train, task="multiclass", loss_fn=loss_fn, seed=0,
             callbacks=CallbackList([timer]))
    return timer.times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=60_000)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, nargs="+", default=[256, 4096])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x, y = synthetic(args.rows, 64, 10)
    print(f"{args.rows} x 64, 10 classes, MLP 64-256-256-10, adam, {args.threads} threads, "
          f"median of {args.epochs - 1} epochs after a warm-up")
    for bs in args.batch_size:
        cfg = load_config({"data": {"source": "sklearn:digits"}, "model": {"hidden": [256, 256], "dropout": 0.0},
                           "train": {"batch_size": bs, "optimizer": {"name": "adam"}, "schedule": {"name": "constant"},
                                     "early_stopping": None, "convergence": None, "log_every": 0.5}})
        torch.manual_seed(0)
        model = build_model(cfg.model, 64, [], 10)
        raw_model = copy.deepcopy(model)
        # interleave: raw, netfit, raw, netfit so drift on the machine hits both alike
        raw, ours = [], []
        for _ in range(2):
            raw += raw_loop(raw_model, x, y, cfg, math.ceil(args.epochs / 2) + 1)[1:]
            ours += netfit_loop(model, x, y, cfg, math.ceil(args.epochs / 2) + 1)[1:]
        r, o = statistics.median(raw), statistics.median(ours)
        goal = 1.05 if bs < 1024 else 1.02
        verdict = "PASS" if o / r <= goal else "FAIL"
        print(f"batch {bs:5d}: raw {r:.4f} s/epoch  netfit {o:.4f} s/epoch  ratio {o / r:.3f}  "
              f"(goal <= {goal}) {verdict}")


if __name__ == "__main__":
    main()
