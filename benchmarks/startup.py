"""CLI start-up: `netfit --help` and `netfit check` on a config with a schema error.

Both must answer in under 0.5 s: heavy libraries (torch, pandas, sklearn, matplotlib, optuna)
load only inside the commands that use them. Median of 7 runs of each, as subprocesses.

    .venv/bin/python benchmarks/startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NETFIT = str(Path(sys.executable).parent / "netfit")


def median_seconds(args: list[str], repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(args, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp) / "bad.yaml"
        bad.write_text("data: {source: 'sklearn:digits'}\ntrian: {epochs: 3}\n")
        rows = {
            "python -c pass (floor)": median_seconds([sys.executable, "-c", "pass"]),
            "netfit --help": median_seconds([NETFIT, "--help"]),
            "netfit check (schema error)": median_seconds([NETFIT, "check", str(bad)]),
        }
    for name, sec in rows.items():
        verdict = "" if "floor" in name else ("PASS" if sec < 0.5 else "FAIL")
        print(f"{name:32s} {sec:.3f} s  {verdict}")


if __name__ == "__main__":
    main()
