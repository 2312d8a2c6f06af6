"""Data larger than memory: a Parquet folder streamed under `data.memory_budget` against the same
folder loaded whole (`split.method: hash`, so both train on the same rows), side by side.

Each mode runs in a fresh subprocess. Peak RSS growth is measured over the process's RSS after
imports and a small warm-up run (which loads every module and library a run uses); train
rows/s is netfit's own epoch throughput (validation excluded); prepare is everything before
the first epoch (reading, cleaning, splitting, fitting the preprocessing).

    .venv/bin/python benchmarks/streaming.py [--rows 2000000] [--budget 100MB] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from netfit.config import parse_bytes
from netfit.data.synthetic import write_linear_parquet

CHILD = r"""
import json, sys, time
import netfit
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
cfg, warm_up = json.loads(sys.argv[1]), sys.argv[2]
netfit.fit({**cfg, "data": {**cfg["data"], "source": warm_up, "memory_budget": "1MB"}}, quiet=True)
base = rss("VmRSS")
marks = {"start": time.perf_counter()}
class T(netfit.Callback):
    def on_train_begin(self, logs): marks["train"] = time.perf_counter()
run = netfit.fit(cfg, quiet=True, callbacks=[T()])
report = json.loads((run.path / "report.json").read_text())
print(json.dumps({"growth_mb": (rss("VmHWM") - base) / 1e6, "prepare_s": marks["train"] - marks["start"],
                  "samples_per_s": report["samples_per_s"], "accuracy": report["test"]["metrics"]["accuracy"]["value"],
                  "train_rows": report["split_sizes"]["train"]}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--budget", default="100MB")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=1024)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, warm = Path(tmp) / "big", Path(tmp) / "small"
        write_linear_parquet(folder, args.rows)
        write_linear_parquet(warm, 20_000, files=2, group=5_000)
        common = {"model": {"hidden": [32], "numeric_embedding": "none", "ensemble": 1}, "train": {"epochs": args.epochs, "batch_size": args.batch_size,
                                                       "early_stopping": None, "convergence": None},
                  "evaluate": {"bootstrap": 200, "report_html": False}, "output_dir": str(Path(tmp) / "runs")}
        print(f"{args.rows:,} rows x 16 features in {sum(f.stat().st_size for f in folder.iterdir()) / 1e6:.0f} MB of Parquet; "
              f"MLP 16-32-1, batch {args.batch_size}, {args.epochs} epochs, torch's threads (a streamed run leaves one core "
              "to its read-ahead thread)")
        results = {}
        print("| mode | prepare s | train rows/s | peak RSS growth MB | test accuracy |")
        print("|---|---|---|---|---|")
        for mode, data in (("streamed, budget " + args.budget, {"memory_budget": args.budget}),
                           ("in memory (hash split)", {"split": {"method": "hash"}})):
            cfg = {**common, "data": {"source": str(folder), "target": "y", **data}}
            done = subprocess.run([sys.executable, "-W", "ignore", "-c", CHILD, json.dumps(cfg), str(warm)],
                                  capture_output=True, text=True, check=True)
            r = results[mode.split()[0]] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"| {mode} | {r['prepare_s']:.1f} | {r['samples_per_s']:,.0f} | {r['growth_mb']:.0f} | {r['accuracy']:.4f} |")
        streamed, memory = results["streamed,"], results["in"]
        goal = 3 * parse_bytes(args.budget) / 1e6
        gap = abs(streamed["accuracy"] - memory["accuracy"])
        print(f"\n- streamed peak RSS growth {streamed['growth_mb']:.0f} MB (goal < 3x the budget, {goal:.0f} MB): "
              f"{'PASS' if streamed['growth_mb'] < goal else 'FAIL'}")
        print(f"- test accuracy streamed vs in memory: {gap:.4f} apart (goal < 0.01): {'PASS' if gap < 0.01 else 'FAIL'}")
        ratio = streamed["samples_per_s"] / memory["samples_per_s"]
        print(f"- streamed training throughput: {ratio:.2f}x in memory (goal >= 0.9x): {'PASS' if ratio >= 0.9 else 'FAIL'}")


if __name__ == "__main__":
    main()
