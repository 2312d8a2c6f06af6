"""Seconds per training epoch with each speed switch off and on, side by side in one run.

netfit through its public API (`netfit.fit`, the real loop) on the synthetic table of
loop_overhead.py (MLP 64-256-256-10, Adam) and on synthetic 3x32x32 images (a small CNN):
- precision 32 vs bf16 (and fp16 on CUDA), MLP;
- train.compile off vs on, MLP; compile seconds are reported apart, not in the epoch figures;
- channels_last off vs on, CNN;
- on CUDA only: data_on_device true vs false (batches copied from pinned host memory), MLP.
Each setting runs `--epochs` epochs after one warm-up epoch (where compiling happens); the
figure is the median over `--rounds` alternating rounds, so drift on the machine hits all alike.

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
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "switches.md").write_text(text)


if __name__ == "__main__":
    main()
