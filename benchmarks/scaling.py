"""How cost grows: epoch time and peak memory (RSS) against rows and width.

Each point runs in a fresh subprocess (so peak RSS is its own): netfit.fit on a synthetic
table of R rows x 64 features, MLP of two hidden layers of width W, one warm-up epoch plus two
timed ones. Epoch time should grow linearly with rows; peak RSS for in-memory data should stay
under 2x the data size plus the model and optimizer state, over a baseline taken after imports,
a 1,000-row warm-up run (which loads the libraries a run uses) and the data arrays themselves.

    .venv/bin/python benchmarks/scaling.py [--rows 10000 100000 1000000] [--width 256 1024]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, statistics, sys, tempfile, time
import numpy as np, torch, netfit
rows, width = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(2)
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
rng = np.random.default_rng(0)
times = []
class T(netfit.Callback):
    def on_epoch_begin(self, logs): self.t0 = time.perf_counter()
    def on_epoch_end(self, logs): times.append(time.perf_counter() - self.t0)
cfg = {"data": {"split": {"train": 1.0, "val": 0.0, "test": 0.0}, "preprocess": {"numeric": "none"}},
       "model": {"hidden": [width, width], "dropout": 0.0, "numeric_embedding": "none", "ensemble": 1},
       "train": {"epochs": 3, "batch_size": 256, "early_stopping": None, "convergence": None,
                 "optimizer": {"name": "adam", "weight_decay": 0.0}, "schedule": {"name": "constant"}},
       "evaluate": {"baselines": False, "bootstrap": 0}}
def table(n):
    x = rng.standard_normal((n, 64), dtype=np.float32)
    return x, (x[:, :10].argmax(1)).astype(np.int64)
with tempfile.TemporaryDirectory() as out:
    # the baseline: after imports and a 1,000-row run that loads every module and library a run uses
    netfit.fit(cfg, data=table(1000), output_dir=out, quiet=True)
    x, y = table(rows)
    base = rss_mb()  # the data itself is counted apart (data_mb)
    times.clear()
    netfit.fit(cfg, data=(x, y), output_dir=out, callbacks=[T()], quiet=True)
params = 64 * width + width * width + width * 10 + 2 * width + 10
print(json.dumps({"rows": rows, "width": width, "epoch_s": statistics.median(times[1:]),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "baseline_mb": base, "data_mb": x.nbytes / 2**20 + y.nbytes / 2**20,
                  "model_state_mb": params * 4 * 4 / 2**20}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--width", type=int, nargs="+", default=[256, 1024])
    args = ap.parse_args()
    print("| rows | width | s/epoch | s per 1M rows | peak RSS growth MB | data MB | goal MB | growth / data | verdict |")
    print("|---|---|---|---|---|---|---|---|---|")
    for width in args.width:
        for rows in args.rows:
            out = subprocess.run([sys.executable, "-c", CHILD, str(rows), str(width)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            growth = r["peak_rss_mb"] - r["baseline_mb"]
            # the pipeline holds the cleaned table, each split's table and the preprocessed arrays
            goal = 2 * r["data_mb"] + r["model_state_mb"]
            print(f"| {rows} | {width} | {r['epoch_s']:.3f} | {r['epoch_s'] / rows * 1e6:.2f} | {growth:.0f} | "
                  f"{r['data_mb']:.0f} | {goal:.0f} | {growth / r['data_mb']:.1f} | {'PASS' if growth <= goal + 16 else 'FAIL'} |")

if __name__ == "__main__":
    main()
