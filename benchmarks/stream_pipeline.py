"""The streamed data pipeline alone: read, clean, encode and shuffle one epoch of a Parquet folder
under `data.memory_budget`, without training, with and without the read-ahead thread.

    OMP_NUM_THREADS=2 PYTHONPATH=src .venv/bin/python benchmarks/stream_pipeline.py

Set beside `streaming.py`'s in-memory training throughput, it bounds what overlapping reading and
training can give on a machine with few cores (benchmarks/README.md, issue 23).
"""
import tempfile
import time
from pathlib import Path

import torch

from netfit.config import load_config
from netfit.data.synthetic import write_linear_parquet
from netfit.data.stream import prepare_stream
tmp = Path(tempfile.mkdtemp()); folder = tmp / "big"
write_linear_parquet(folder, 1_000_000)
cfg = load_config({"data": {"source": str(folder), "target": "y", "memory_budget": "100MB"},
                   "model": {"hidden": [32], "numeric_embedding": "none", "ensemble": 1},
                   "train": {"epochs": 1, "batch_size": 1024, "threads": 2, "early_stopping": None, "convergence": None}})
torch.set_num_threads(2)
p = prepare_stream(cfg.data, cfg.seed)
stream = p.stream
print(f"{len(stream):,} training rows of {1_000_000:,}, budget 100 MB")
for ra in (False, True):
    t = time.perf_counter(); rows = 0
    for block in stream.blocks(1, 1024, read_ahead=ra):
        rows += len(block)
    dt = time.perf_counter() - t
    print(f"read + encode + shuffle, read_ahead={ra}: {rows:,} rows in {dt:.2f} s = {rows / dt:,.0f} rows/s")
