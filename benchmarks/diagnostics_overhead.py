"""What training-health diagnostics cost a training step: `train.diagnostics` off, full and auto.

The real loop (`fit_loop`) on a synthetic table, in ONE process, the three modes alternating
over several rounds so drift on the machine hits each alike. Per mode: the median seconds per
optimizer step over the rounds. From them:

- r = (full - off) / off: what sampling one step costs, in plain steps (full samples every step);
- r / N: the expected overhead of `auto` (one sample every N steps), which N's rule keeps < 3%;
- (auto - off) / off: the measured overhead of `auto`, the median over the paired rounds, beside
  a control pair (off against off) that shows the noise floor: where the control moves by a few
  percent, so does this figure, and r / N is the figure to trust. Time is the process's CPU time (one
thread): on a shared machine wall time mostly measures the neighbours.

Two models: a tiny MLP at batch 32 (the worst case: a plain step is cheapest, so a sample costs
the most plain steps) and the MLP of benchmarks/loop_overhead.py at batch 256.

    .venv/bin/python benchmarks/diagnostics_overhead.py [--rounds 5] [--steps 600] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from netfit.config import load_config
from netfit.model import build_model
from netfit.train.diagnostics import AUTO_MIN_EVERY
from netfit.train.loop import Environment, Objective, fit_loop
from netfit.train.losses import build_loss
from netfit.train.tensors import Tensors

CASES = {"tiny MLP 64-32-10, batch 32": ([32], 32), "MLP 64-256-256-10, batch 256": ([256, 256], 256)}


def seconds_per_step(hidden: list[int], batch: int, mode: str, steps: int, x: torch.Tensor, y: torch.Tensor) -> float:
    cfg = load_config({"model": {"hidden": hidden, "dropout": 0.0, "numeric_embedding": "none", "ensemble": 1},
                       "train": {"epochs": max(1, steps * batch // len(y)), "batch_size": batch, "diagnostics": mode,
                                 "optimizer": {"name": "adam", "lr": 1e-3}, "schedule": {"name": "constant"},
                                 "early_stopping": None, "convergence": None}}, require_data=False)
    torch.manual_seed(0)
    model = build_model(cfg.model, x.shape[1], [], 10)
    loss_fn = build_loss(cfg.train, "multiclass", y.numpy(), list(range(10)), torch.device("cpu"))
    t0 = time.process_time()  # CPU seconds: on a shared machine, wall time mostly measures the neighbours
    result = fit_loop(model, Tensors([x], y), None, cfg.train, Objective(loss_fn, "multiclass"), Environment(seed=0))
    return (time.process_time() - t0) / result.state.step


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=600, help="optimizer steps per run (a multiple of N is fairest)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    for name, (hidden, batch) in CASES.items():
        rows = 20 * batch  # 20 steps an epoch
        x = torch.from_numpy(rng.standard_normal((rows, 64), dtype=np.float32))
        y = torch.from_numpy(rng.integers(0, 10, rows))
        seconds_per_step(hidden, batch, "off", 40, x, y)  # warm-up
        times: dict[str, list[float]] = {"off": [], "full": [], "auto": [], "off again": []}
        for _ in range(args.rounds):  # alternating: off, full, auto, off again, off, full, ...
            for mode in times:
                times[mode].append(seconds_per_step(hidden, batch, mode.split()[0], args.steps, x, y))
        off = statistics.median(times["off"])
        # paired: each round's ratio to the plain run beside it, then the median over the rounds
        r = statistics.median(f / o - 1 for f, o in zip(times["full"], times["off"]))
        auto = [a / o - 1 for a, o in zip(times["auto"], times["off"])]
        control = [a / o - 1 for a, o in zip(times["off again"], times["off"])]  # the noise floor: off against off
        print(f"{name}: plain step {off * 1e6:.0f} us; a sampled step costs r = {r:.2f} plain steps more; "
              f"auto (N >= {AUTO_MIN_EVERY}): expected r/N {r / AUTO_MIN_EVERY:.2%} "
              f"(goal < 3%: {'PASS' if r / AUTO_MIN_EVERY < 0.03 else 'FAIL'}; N's floor for 3%: {r / 0.03:.0f}); "
              f"measured auto vs off, median of {len(auto)} pairs: {statistics.median(auto):+.2%} "
              f"(pairs from {min(auto):+.1%} to {max(auto):+.1%}); control, off vs off: {statistics.median(control):+.2%} "
              f"(pairs from {min(control):+.1%} to {max(control):+.1%})")


if __name__ == "__main__":
    main()
