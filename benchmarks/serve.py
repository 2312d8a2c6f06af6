"""`netfit serve` under load: a bounded load test on 127.0.0.1, for a table model and a CNN.

Trains two small runs on scikit-learn's bundled digits (an MLP on the 64 pixel columns, and the
CNN of examples/digits_cnn.yaml on the same columns read as 8x8 images, a few epochs each: the
figures are about serving, not accuracy), starts `netfit serve` on each in a subprocess, and
sends POST /predict requests of 1 row and of 100 rows from a fixed number of concurrent
clients (one httpx.AsyncClient, keep-alive connections). Prints throughput, p50/p99 latency
(client side, from send to the whole answer) and the error count (anything but 200, or a
transport error) per model and request size, and PASS/FAIL on zero errors; exit code 1 on FAIL.

    .venv/bin/python benchmarks/serve.py                   # 2,000 requests of 1 row and 2,000 of 100 rows, concurrency 8
    .venv/bin/python benchmarks/serve.py --quick           # 300 of each
    .venv/bin/python benchmarks/serve.py --requests 500 --concurrency 4 --threads 2 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import netfit

MODELS = {
    "table (MLP 64-64-10)": {"data": {"source": "sklearn:digits"}, "model": {"hidden": [64]}},
    "CNN (8x8 images)": {"data": {"source": "sklearn:digits", "image_shape": [8, 8]},
                         "model": {"type": "cnn", "channels": [32, 64], "kernel_size": 3, "hidden": [64]}},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run_path: Path, args: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "netfit", "serve", str(run_path), "--host", "127.0.0.1",
                             "--port", str(port), "--quiet", *args], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited: {proc.stderr.read().decode()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.3)
    proc.kill()
    sys.exit("the server did not start within 180 s")


def rows_for(url: str, n: int) -> list[dict]:
    """n digits rows with exactly the columns /schema asks for."""
    from sklearn.datasets import load_digits

    columns = [c["name"] for c in httpx.get(f"{url}/schema").json()["columns"]]
    frame = load_digits(as_frame=True).frame
    return [{c: float(frame[c].iloc[i % len(frame)]) for c in columns} for i in range(n)]


async def load(url: str, body: bytes, requests: int, concurrency: int) -> dict:
    latencies: list[float] = []
    errors = 0
    todo = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        async def one_client() -> None:
            nonlocal errors
            for _ in todo:
                t0 = time.perf_counter()
                try:
                    r = await client.post("/predict", content=body, headers={"content-type": "application/json"})
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok

        start = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    latencies.sort()
    return {"requests": requests, "seconds": seconds, "req_s": requests / seconds, "errors": errors,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests of each size, per model")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 100], help="rows per request")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    parser.add_argument("--threads", type=int, default=None, help="netfit serve --threads")
    parser.add_argument("--workers", type=int, default=1, help="netfit serve --workers")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs of each model")
    parser.add_argument("--quick", action="store_true", help="300 requests of each size")
    args = parser.parse_args()
    requests = 300 if args.quick else args.requests
    serve_args = [*(["--threads", str(args.threads)] if args.threads else []), "--workers", str(args.workers)]

    print(f"netfit serve load test: {requests} requests per size, concurrency {args.concurrency}, "
          f"serve {' '.join(serve_args) or '(defaults)'}, {os.cpu_count()} CPUs")
    print(f"{'model':22s} {'rows':>5s} {'requests':>8s} {'seconds':>8s} {'req/s':>8s} {'rows/s':>9s} "
          f"{'p50 ms':>7s} {'p99 ms':>7s} {'errors':>6s}")
    total_errors = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, config in MODELS.items():
            run = netfit.fit(config, output_dir=tmp, train__epochs=args.epochs, evaluate__bootstrap=0,
                             evaluate__baselines=False)
            proc, url = start_server(run.path, serve_args)
            try:
                for size in args.sizes:
                    body = json.dumps({"rows": rows_for(url, size)}).encode()
                    asyncio.run(load(url, body, min(50, requests), args.concurrency))  # warm-up, not counted
                    r = asyncio.run(load(url, body, requests, args.concurrency))
                    total_errors += r["errors"]
                    print(f"{name:22s} {size:5d} {r['requests']:8d} {r['seconds']:8.2f} {r['req_s']:8.1f} "
                          f"{r['req_s'] * size:9.0f} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f} {r['errors']:6d}",
                          flush=True)
            finally:
                proc.terminate()
                proc.wait(timeout=60)
    print(f"errors: {total_errors} -> {'PASS' if total_errors == 0 else 'FAIL'} (goal: zero errors)")
    sys.exit(0 if total_errors == 0 else 1)


if __name__ == "__main__":
    main()
