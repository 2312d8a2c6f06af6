"""Does the network beat its baselines? A paired bootstrap of the difference on every test metric.

The network and a baseline are scored on the same bootstrap resamples of the test rows (the same
seeded index matrix, `bootstrap_ci`), and the interval is taken of the per-resample difference
network - baseline. Pairing removes the variance the two models share (which test rows happen to
be hard), so the interval of the difference is much narrower than two unpaired intervals suggest.

    diffs = paired_differences("binary", y, net_proba, linear_proba, resamples=1000, seed=0)
    verdict("accuracy", diffs["accuracy"], "linear")["text"]
    # 'better than the linear model by 0.021 [0.008, 0.035] accuracy'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from netfit.evaluate.bootstrap import batched, bootstrap_ci, classification_resample_fns, regression_resample_fns
from netfit.evaluate.metrics import METRIC_NAMES, _as_labels, _as_proba, _as_values

LOWER_IS_BETTER = frozenset({"log_loss", "mae", "rmse"})

# what each baseline is, in one sentence (report.html and the docs)
EXPLAINED = {
    "dummy": "predicts without looking at the features: the training split's class frequencies (classification) "
             "or its mean (regression). A network that does not beat it learned nothing.",
    "linear": "a logistic regression (classification) or ridge regression (regression) fitted on the same "
              "preprocessed training features. A network that does not beat it gains nothing from being non-linear.",
}


def main_metric(task: str, monitor: str | None = None) -> str:
    """The metric the verdict is on: the test counterpart of the early-stopping monitor when it is one
    of netfit's metrics (`val_rmse` -> rmse), else accuracy (classification) or RMSE (regression)."""
    name = monitor[4:] if monitor and monitor.startswith("val_") else None
    if name in METRIC_NAMES[task] and name != "loss":
        return name
    return "rmse" if task == "regression" else "accuracy"


def paired_differences(task: str, y_true: Any, output: Any, baseline_output: Any, classes: list | None = None, *,
                       resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> dict[str, dict[str, Any]]:
    """network - baseline on every metric defined for both: {name: {"value", "ci_low", "ci_high"}}.

    `output` and `baseline_output` are class probabilities (n, K) or predictions, as for
    `evaluate_predictions`; the interval is the percentile bootstrap of the per-resample difference
    on resamples shared by both models. `resamples=0` gives the differences without intervals.
    """
    if task == "regression":
        y = _as_values(y_true)
        a, b = _as_values(output), _as_values(baseline_output)
        fns_a, fns_b = regression_resample_fns(y, a), regression_resample_fns(y, b)
    else:
        K = len(classes) if classes else np.asarray(output).shape[1]
        y = _as_labels(y_true, K)
        a, b = _as_proba(output, K), _as_proba(baseline_output, K)
        fns_a, fns_b = classification_resample_fns(y, a), classification_resample_fns(y, b)
    every_row = np.arange(len(y))[None, :]  # the kernels on all rows at once: the point values
    point = {n: float(fns_a[n](every_row)[0] - fns_b[n](every_row)[0]) for n in fns_a}
    names = [n for n in fns_a if np.isfinite(point[n])]  # defined for both models (AUC needs two classes)
    fns = {n: batched(lambda idx, n=n: fns_a[n](idx) - fns_b[n](idx)) for n in names}
    intervals = bootstrap_ci(fns, len(y), resamples=resamples, confidence=confidence, seed=seed) if resamples else {}
    out = {}
    for n in names:
        iv = intervals.get(n)
        finite = iv is not None and iv.used > 0
        out[n] = {"value": point[n], "ci_low": float(iv.low) if finite else None,
                  "ci_high": float(iv.high) if finite else None}
    return out


def verdict(metric: str, difference: dict[str, Any] | None, baseline: str) -> dict[str, Any]:
    """Three-way verdict on one metric from the paired difference network - baseline:
    `better` (the whole interval on the better side of 0), `worse` (the whole interval on the
    worse side), `no better` (the interval includes 0); `no interval` without bootstrap."""
    what = f"the {baseline} model"
    if difference is None:
        return {"metric": metric, "baseline": baseline, "outcome": "not compared",
                "text": f"not compared with {what} on {metric}: {metric} is undefined for one of them"}
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0  # the gain: positive when the network is better
    gain = sign * difference["value"]
    base = {"metric": metric, "baseline": baseline, "difference": difference["value"],
            "ci_low": difference.get("ci_low"), "ci_high": difference.get("ci_high")}
    if difference.get("ci_low") is None:
        return {**base, "outcome": "no interval",
                "text": f"{'ahead of' if gain > 0 else 'not ahead of'} {what} by {gain:+.4g} {metric} "
                        "(no interval: evaluate.bootstrap is 0, so this may be noise)"}
    low, high = sorted((sign * difference["ci_low"], sign * difference["ci_high"]))
    interval = f"{abs(gain):.4g} [{low:.4g}, {high:.4g}] {metric}" + (" (lower is better)" if sign < 0 else "")
    if low > 0:
        return {**base, "outcome": "better", "text": f"better than {what} by {interval}"}
    if high < 0:
        worse = f"{abs(gain):.4g} [{-high:.4g}, {-low:.4g}] {metric}" + (" (lower is better)" if sign < 0 else "")
        return {**base, "outcome": "worse", "text": f"worse than {what} by {worse}"}
    return {**base, "outcome": "no better",
            "text": f"no better than {what}: the difference {gain:+.4g} [{low:+.4g}, {high:+.4g}] {metric} includes 0"}


def verdicts(report: dict[str, Any], task: str, monitor: str | None) -> dict[str, Any] | None:
    """report.json's `verdict`: the main metric and one verdict per baseline (a baseline that could
    not be fitted says so)."""
    base = report.get("baselines")
    if not base or not report.get("test"):
        return None
    metric = main_metric(task, monitor)
    out: dict[str, Any] = {"metric": metric, "against": {}}
    for name in sorted(base, key=lambda b: b != "linear"):  # the linear model first: the harder bar
        block = base[name]
        if block is None:
            out["against"][name] = {"metric": metric, "baseline": name, "outcome": "not fitted",
                                    "text": f"not compared with the {name} model: it could not be fitted "
                                            "(the training split holds one class)"}
            continue
        out["against"][name] = verdict(metric, (block.get("difference") or {}).get(metric), name)
    return out
