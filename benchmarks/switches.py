"""Seconds per training epoch with each speed switch off and on, side by side in one run.

netfit through its public API (`netfit.fit`, the real loop) on the synthetic table of
loop_overhead.py (MLP 64-256-256-10, Adam) and on synthetic 3x32x32 images (a small CNN):
- precision 32 vs bf16 (and fp16 on CUDA), MLP;
- train.compile off vs on, MLP, at batch 256 and 4096; compile seconds are reported apart, not
  in the epoch figures; goal (issue 23): compiled <= 0.9x eager at batch 256, else the sweep below
  explains why not;
- channels_last off vs on, CNN;
- on CUDA only: data_on_device true vs false (batches copied from pinned host memory), MLP.
Each setting runs `--epochs` epochs after one warm-up epoch (where compiling happens); the
figure is the median over `--rounds` alternating rounds, so drift on the machine hits all alike.

The compile sweep (`--compile-sweep`, on by default on CPU): a hand-written step (fused Adam) eager
against the same step through torch.compile, microseconds per step, for MLP widths 8 / 256 / 1024
at batch 256 and 4096: the compiled step's fixed cost (the width-8 row, where there is almost no
arithmetic to save) against what fusing saves on larger tensors.

    .venv/bin/python benchmarks/switches.py [--rows 60000] [--images 8000] [--epochs 3] [--rounds 2]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

import netfit
from loop_overhead import HIDDEN, epoch_timer, synthetic

RESULTS = Path(__file__).resolve().parent / "results"
QUIET = {"evaluate": {"baselines": False, "bootstrap": 0, "report_html": False}}


def images(rows: int, seed: int = 0):
    """3x32x32 images whose class is the brightest of 10 fixed patterns plus noise."""
    rng = np.random.default_rng(seed)
    patterns = rng.standard_normal((10, 3 * 32 * 32), dtype=np.float32)
    y = rng.integers(0, 10, rows)
    x = patterns[y] * 0.5 + rng.standard_normal((rows, 3 * 32 * 32), dtype=np.float32)
    return x, y


def compile_sweep(threads: int, rows: int = 30_000) -> list[str]:
    """Microseconds per optimizer step, eager against torch.compile(model), plain loops on a
    synthetic table; the best of two alternating rounds of 3 epochs after a warm-up epoch each."""
    import time

    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, y = torch.randn(rows, 64), torch.randint(0, 10, (rows,))

    def per_step(width: int, batch: int, compiled: bool) -> float:
        model = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10))
        net = torch.compile(model) if compiled else model
        opt = torch.optim.Adam(model.parameters(), 1e-3, fused=True)
        steps, times = rows // batch, []
        for _ in range(4):
            perm, t0 = torch.randperm(rows), time.perf_counter()
            for lo in range(0, steps * batch, batch):
                idx = perm[lo:lo + batch]
                nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
            times.append((time.perf_counter() - t0) / steps * 1e6)
        return statistics.median(times[1:])

    lines = ["", "Compile sweep: microseconds per step, MLP 64-w-w-10, fused Adam, plain loops (best of 2 rounds)", "",
             "| width | batch | eager us/step | compiled us/step | compiled - eager | ratio |", "|---|---|---|---|---|---|"]
    for width, batch in ((8, 256), (256, 256), (1024, 256), (256, 4096), (1024, 4096)):
        eager = min(per_step(width, batch, False) for _ in range(2))
        comp = min(per_step(width, batch, True) for _ in range(2))
        lines.append(f"| {width} | {batch} | {eager:.0f} | {comp:.0f} | {comp - eager:+.0f} | {comp / eager:.3f} |")
    return lines


def epoch_seconds(x, y, model: dict, data: dict, train: dict, epochs: int) -> tuple[list[float], float]:
    """Seconds of each epoch after the first, and the run's compile_seconds (0 when not compiled)."""
    times: list[float] = []
    config = {"data": {"split": {"train": 1.0, "val": 0.0, "test": 0.0}, "preprocess": {"numeric": "none"}, **data},
              "model": model, **QUIET,
              "train": {"epochs": epochs + 1, "batch_size": 256, "optimizer": {"name": "adam", "lr": 1e-3},
                        "schedule": {"name": "constant"}, "early_stopping": None, "convergence": None, **train}}
    with tempfile.TemporaryDirectory() as out:
        run = netfit.fit(config, data=(x, y), output_dir=out, callbacks=[epoch_timer(times)])
        compiled = run.report.get("compile_seconds") or 0.0
    return times[1:], compiled


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=60_000, help="table rows (MLP)")
    ap.add_argument("--images", type=int, default=8_000, help="images (CNN)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-compile-sweep", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    table, pictures = synthetic(args.rows), images(args.images)
    mlp = {"type": "mlp", "hidden": list(HIDDEN), "dropout": 0.0, "init": "default", "numeric_embedding": "none", "ensemble": 1}
    cnn = {"type": "cnn", "channels": [32, 64], "hidden": [64], "dropout": 0.0}
    image_data = {"image_shape": [32, 32, 3]}  # the 3,072 pixel columns, as H, W, C
    # (group, setting) -> (data, model, data config, train switches); the first of a group is its baseline
    settings = {
        ("precision", "32"): (table, mlp, {}, {}),
        ("precision", "bf16"): (table, mlp, {}, {"precision": "bf16"}),
        ("compile", "off"): (table, mlp, {}, {}),
        ("compile", "on"): (table, mlp, {}, {"compile": True}),
        ("compile, batch 4096", "off"): (table, mlp, {}, {"batch_size": 4096}),
        ("compile, batch 4096", "on"): (table, mlp, {}, {"batch_size": 4096, "compile": True}),
        ("channels_last (CNN)", "off"): (pictures, cnn, image_data, {"channels_last": False}),
        ("channels_last (CNN)", "on"): (pictures, cnn, image_data, {"channels_last": True}),
    }
    if cuda:
        settings[("precision", "fp16")] = (table, mlp, {}, {"precision": "fp16"})
        settings[("data_on_device", "true")] = (table, mlp, {}, {"data_on_device": True})
        settings[("data_on_device", "false")] = (table, mlp, {}, {"data_on_device": False})
    times: dict = {key: [] for key in settings}
    compile_seconds: list[float] = []
    for _ in range(args.rounds):
        for key, ((x, y), model, data, train) in settings.items():
            seconds, compiled = epoch_seconds(x, y, model, data, {"threads": args.threads, **train}, args.epochs)
            times[key] += seconds
            if compiled:
                compile_seconds.append(compiled)
    device = torch.cuda.get_device_name(0) if cuda else f"{platform.processor() or platform.machine()} CPU"
    lines = [f"# speed switches, {datetime.now():%Y-%m-%d %H:%M}",
             f"device: {device}, {args.threads} threads, torch {torch.__version__}, python {platform.python_version()}",
             f"MLP 64-{'-'.join(map(str, HIDDEN))}-10 on {args.rows} x 64; CNN [32, 64] on {args.images} 3x32x32 images; "
             f"Adam, batch 256; median of {args.epochs} epochs x {args.rounds} rounds after a warm-up epoch", "",
             "| switch | setting | s/epoch | ratio to the first |", "|---|---|---|---|"]
    base = {}
    for (group, setting), values in times.items():
        sec = statistics.median(values)
        base.setdefault(group, sec)
        lines.append(f"| {group} | {setting} | {sec:.4f} | {sec / base[group]:.3f} |")
    lines += ["", f"- compile seconds (first epoch, reported apart): {', '.join(f'{s:.1f}' for s in compile_seconds)}"]
    ratio = statistics.median(times[("compile", "on")]) / statistics.median(times[("compile", "off")])
    lines.append(f"- compile on / off at batch 256: {ratio:.3f} (goal <= 0.9) {'PASS' if ratio <= 0.9 else 'FAIL'}"
                 + ("" if ratio <= 0.9 or cuda else ": see the compile sweep for why not on this CPU"))
    if not cuda and not args.no_compile_sweep:
        lines += compile_sweep(args.threads)
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "switches.md").write_text(text)


if __name__ == "__main__":
    main()
