"""Small fits: what a run costs outside its epochs, and netfit's estimator against scikit-learn's
MLPClassifier in a 3-fold cross-validation (issue 23).

1. Imports, measured apart (a fresh interpreter each): `import netfit`, `import netfit.estimators`.
2. A 1,000-row table (20 numeric columns, 2 classes, generated), warm (one fit first):
   - `netfit.fit(...)` at its defaults, and again with `evaluate.report_html: false` (the report
     built later by `netfit report RUN`), and `NetClassifier().fit(X, y)`;
   - per fit: wall seconds, the epochs' seconds (history.csv's `seconds`), and the rest: the
     fixed cost of preparing, the run folder, checkpoints, calibration, the test evaluation and
     the report. Goal: the rest under 0.3 s for the API without the report and for the estimator.
3. scikit-learn's digits (1,797 rows), `cross_val_score(..., cv=3)` with `NetClassifier()` and with
   `MLPClassifier()` (both at their defaults, alternating over `--rounds`), mean accuracy beside
   the time. Goal: netfit within 2x of MLPClassifier's time.

    .venv/bin/python benchmarks/small_fits.py [--rounds 3] [--threads 2] [--ensemble 1]

`--ensemble K` gives the estimators `ensemble=K` (`model.ensemble`; default: netfit's, 4).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd


def import_seconds(module: str, repeats: int = 3) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
               for _ in range(repeats))


def api_fit(x, y, report: bool) -> tuple[float, float]:
    import netfit

    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        run = netfit.fit({"evaluate": {"report_html": report}}, data=(x, y), output_dir=out, quiet=True)
        total = time.perf_counter() - t
        epochs = float(pd.read_csv(run.path / "history.csv")["seconds"].sum())
    return total, epochs


def estimator_fit(x, y, ensemble: int | None = None) -> tuple[float, float]:
    from netfit.estimators import NetClassifier

    t = time.perf_counter()
    est = NetClassifier(random_state=0, ensemble=ensemble).fit(x, y)
    return time.perf_counter() - t, float(est.history_["seconds"].sum())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ensemble", type=int, help="the estimators' ensemble (default: netfit's)")
    args = ap.parse_args()
    import torch
    from sklearn.datasets import load_digits, make_classification
    from sklearn.model_selection import cross_val_score
    from sklearn.neural_network import MLPClassifier

    from netfit.estimators import NetClassifier

    torch.set_num_threads(args.threads)
    print(f"imports (fresh interpreter, best of 3): netfit {import_seconds('netfit'):.2f} s, "
          f"netfit.estimators {import_seconds('netfit.estimators'):.2f} s\n")
    x, y = make_classification(n_samples=1000, n_features=20, random_state=0)
    contenders = {"netfit.fit (report.html)": lambda: api_fit(x, y, True),
                  "netfit.fit (no report.html)": lambda: api_fit(x, y, False),
                  "NetClassifier().fit": lambda: estimator_fit(x, y, args.ensemble)}
    for fn in contenders.values():
        fn()  # warm: first-call costs (lazy imports, allocators) are not a small fit's
    seen: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, fn in contenders.items():
            seen[name].append(fn())
    print("1,000-row table, warm; medians over rounds\n")
    print(f"| fit | wall s | epochs s | rest s |\n|---|---|---|---|")
    rest = {}
    for name, pairs in seen.items():
        total, epochs = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
        rest[name] = statistics.median(p[0] - p[1] for p in pairs)
        print(f"| {name} | {total:.3f} | {epochs:.3f} | {rest[name]:.3f} |")
    verdicts = [f"rest of {name} {rest[name]:.3f} s (goal < 0.3) {'PASS' if rest[name] < 0.3 else 'FAIL'}"
                for name in ("netfit.fit (no report.html)", "NetClassifier().fit")]
    xd, yd = load_digits(return_X_y=True)
    times: dict[str, list[float]] = {"NetClassifier": [], "MLPClassifier": []}
    scores = {}
    for _ in range(args.rounds):
        for name, est in (("NetClassifier", NetClassifier(random_state=0, ensemble=args.ensemble)),
                          ("MLPClassifier", MLPClassifier(random_state=0))):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # MLPClassifier's ConvergenceWarning at its 200 iterations
                t = time.perf_counter()
                scores[name] = cross_val_score(est, xd, yd, cv=3).mean()
                times[name].append(time.perf_counter() - t)
    print("\ndigits, cross_val_score(cv=3), medians over rounds\n\n| estimator | seconds | mean accuracy |\n|---|---|---|")
    for name in times:
        print(f"| {name} | {statistics.median(times[name]):.2f} | {scores[name]:.4f} |")
    ratio = statistics.median(times["NetClassifier"]) / statistics.median(times["MLPClassifier"])
    verdicts.append(f"digits 3-fold: NetClassifier / MLPClassifier time {ratio:.2f} (goal <= 2) {'PASS' if ratio <= 2 else 'FAIL'}")
    print("\n" + "\n".join(f"- {v}" for v in verdicts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
