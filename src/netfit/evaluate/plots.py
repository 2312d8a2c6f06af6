"""The report's plots: matplotlib (Agg) figures returned as inline PNG data URIs.

matplotlib is imported inside `_figure`, so importing this module (and the CLI) stays fast.
Colours are the Okabe-Ito palette, distinguishable with the common colour-vision deficiencies;
matrices use viridis (perceptually uniform, readable in grey).

Example:
    >>> uri = learning_curves(history_frame, "val_loss", best_epoch=12)  # doctest: +SKIP
    >>> uri[:22]  # doctest: +SKIP
    'data:image/png;base64,'
"""

from __future__ import annotations

import base64
import io
import warnings
from typing import Any

import numpy as np

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
MAX_CURVES = 10  # one-vs-rest curves beyond ten classes are unreadable; the largest classes are shown


def _figure(width: float = 5.6, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display, no GUI toolkit: same output everywhere
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    ax.set_prop_cycle(color=OKABE_ITO)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _legend(ax, **kw) -> None:
    """A legend when something is labelled (a curve-less plot, e.g. one class, has nothing to list)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kw)


def to_data_uri(fig) -> str:
    """Render and close a figure; return it as a `data:image/png;base64,...` URI."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    with warnings.catch_warnings():  # a label in a script the font lacks (CJK column names) draws as boxes: no alarm
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        fig.tight_layout()
        # no Software metadata: it carries a URL, and the report holds none
        fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def learning_curves(history: Any, monitor: str | None, best_epoch: int | None) -> str:
    """Train and validation loss per epoch, the best epoch marked by a dashed line."""
    fig, ax = _figure()
    for col in ("train_loss", "val_loss"):
        if col in history:
            ax.plot(history["epoch"], history[col], label=col, marker="." if len(history) < 30 else None)
    _mark_best(ax, best_epoch)
    ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    _legend(ax)
    return to_data_uri(fig)


def metric_curve(history: Any, column: str, best_epoch: int | None) -> str:
    """One logged column (the monitored metric, the learning rate) per epoch."""
    fig, ax = _figure(5.6, 3.0)
    ax.plot(history["epoch"], history[column], color=OKABE_ITO[2 if column == "lr" else 1])
    _mark_best(ax, best_epoch)
    ax.set(xlabel="epoch", ylabel=column, title=column)
    if column == "lr" and (history[column] > 0).all() and history[column].max() / history[column].min() > 100:
        ax.set_yscale("log")
    return to_data_uri(fig)


def _mark_best(ax, best_epoch: int | None) -> None:
    if best_epoch:
        ax.axvline(best_epoch, color="#555555", linestyle="--", linewidth=1, label=f"best epoch {best_epoch}")


def _one_vs_rest(y: np.ndarray, proba: np.ndarray, classes: list) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, is_class, score) per curve: class 1 for binary, the largest classes for more."""
    if len(classes) == 2:
        return [(str(classes[1]), y == 1, proba[:, 1])]
    order = np.argsort(-np.bincount(y, minlength=len(classes)), kind="stable")[:MAX_CURVES]
    return [(str(classes[k]), y == k, proba[:, k]) for k in sorted(order) if (y == k).any() and (y != k).any()]


def _style(i: int) -> str:
    """Solid for the palette's first round, dashed after: colours repeat beyond eight curves."""
    return "-" if i < len(OKABE_ITO) else "--"


def roc_curves(y: np.ndarray, proba: np.ndarray, classes: list) -> str:
    """ROC curve (binary) or one-vs-rest curves per class, AUC in the legend."""
    from sklearn.metrics import auc, roc_curve

    fig, ax = _figure(5.0, 4.2)
    for i, (label, positive, score) in enumerate(_one_vs_rest(y, proba, classes)):
        fpr, tpr, _ = roc_curve(positive, score)
        ax.plot(fpr, tpr, linestyle=_style(i), label=f"{label} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], color="#999999", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC", xlim=(0, 1), ylim=(0, 1.01))
    _legend(ax, fontsize=7, loc="lower right")
    return to_data_uri(fig)


def pr_curves(y: np.ndarray, proba: np.ndarray, classes: list) -> str:
    """Precision-recall curve (binary) or one-vs-rest curves, average precision in the legend."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, ax = _figure(5.0, 4.2)
    for i, (label, positive, score) in enumerate(_one_vs_rest(y, proba, classes)):
        precision, recall, _ = precision_recall_curve(positive, score)
        ax.step(recall, precision, where="post", linestyle=_style(i), label=f"{label} (AP {average_precision_score(positive, score):.3f})")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall", xlim=(0, 1), ylim=(0, 1.01))
    _legend(ax, fontsize=7, loc="lower left")
    return to_data_uri(fig)


def reliability(y: np.ndarray, proba: np.ndarray, bins: int = 10) -> str:
    """Calibration: observed frequency against predicted probability in equal-width bins.

    Binary: P(class 1) against the fraction of class 1. More classes: the top-class confidence
    against accuracy. Bar widths are bins; the number of rows per bin is printed above each.
    """
    if proba.shape[1] == 2:
        score, hit, xlabel = proba[:, 1], (y == 1), "predicted P(positive)"
    else:
        score, hit, xlabel = proba.max(axis=1), proba.argmax(axis=1) == y, "confidence (top class)"
    centres, observed, counts = calibration_bins(score, hit, bins)
    fig, ax = _figure(5.0, 4.2)
    ax.bar(centres[counts > 0], observed[counts > 0], width=1 / bins, edgecolor="white", color=OKABE_ITO[0])
    for x, n, o in zip(centres, counts, observed):
        if n:
            ax.text(x, o + 0.01, str(n), ha="center", fontsize=7)
    ax.plot([0, 1], [0, 1], color=OKABE_ITO[3], linestyle="--", linewidth=1, label="perfect calibration")
    ax.set(xlabel=xlabel, ylabel="observed frequency", title="Reliability", xlim=(0, 1), ylim=(0, 1.08))
    _legend(ax, fontsize=8, loc="upper left")
    return to_data_uri(fig)


def reliability_before_after(before: dict[str, list], after: dict[str, list], label: str = "temperature-scaled") -> str:
    """Accuracy against mean top-class confidence per bin, before and after calibration (report.json's
    `calibration.reliability` bins; empty bins are skipped, marker area grows with the rows)."""
    fig, ax = _figure(5.0, 4.2)
    for (name, bins), colour, marker in ((("raw softmax", before), OKABE_ITO[1], "s"), ((label, after), OKABE_ITO[0], "o")):
        kept = [(c, a, n) for c, a, n in zip(bins["confidence"], bins["accuracy"], bins["count"]) if n]
        if kept:
            conf, acc, n = map(np.asarray, zip(*kept))
            ax.plot(conf, acc, color=colour, linewidth=1, alpha=0.7)
            ax.scatter(conf, acc, s=12 + 60 * n / n.max(), color=colour, marker=marker, label=name, zorder=3)
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1, label="perfect calibration")
    ax.set(xlabel="confidence (top-class probability, bin mean)", ylabel="accuracy in bin",
           title="Reliability before and after", xlim=(0, 1), ylim=(0, 1.02))
    _legend(ax, fontsize=8, loc="upper left")
    return to_data_uri(fig)


def risk_coverage(curve: list[dict[str, float]]) -> str:
    """Error rate among the kept rows against the share kept, most confident first."""
    fig, ax = _figure(5.0, 3.8)
    cov, risk = [c["coverage"] for c in curve], [c["risk"] for c in curve]
    ax.plot(cov, risk, marker=".", color=OKABE_ITO[2])
    ax.set(xlabel="coverage (share of rows answered, most confident first)", ylabel="error rate among answered",
           title="Risk-coverage", xlim=(0, 1.02), ylim=(0, max(max(risk, default=0) * 1.15, 0.01)))
    return to_data_uri(fig)


def calibration_bins(score: np.ndarray, hit: np.ndarray, bins: int = 10):
    """(bin centres, observed frequency, rows) over equal-width bins of [0, 1].

    A score on an inner edge belongs to the lower bin, as in scikit-learn's calibration_curve.
    """
    edges = np.linspace(0, 1, bins + 1)
    which = np.searchsorted(edges[1:-1], score)
    counts = np.bincount(which, minlength=bins)
    observed = np.bincount(which, weights=np.asarray(hit, dtype=float), minlength=bins) / np.maximum(counts, 1)
    return (edges[:-1] + edges[1:]) / 2, observed, counts


def predicted_vs_true(y: np.ndarray, pred: np.ndarray) -> str:
    """Regression scatter with the identity line."""
    fig, ax = _figure(4.8, 4.4)
    ax.scatter(y, pred, s=10, alpha=0.6, color=OKABE_ITO[0], edgecolors="none")
    lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], color=OKABE_ITO[3], linestyle="--", linewidth=1)
    ax.set(xlabel="true", ylabel="predicted", title="Predicted vs true")
    return to_data_uri(fig)


def residuals(y: np.ndarray, pred: np.ndarray) -> str:
    """Histogram of residuals (predicted minus true)."""
    fig, ax = _figure(5.0, 3.6)
    with np.errstate(over="ignore", invalid="ignore"):
        r = pred - y
        r = r[np.isfinite(r)]
        edges = np.linspace(r.min(), r.max(), min(40, max(10, len(r) // 5)) + 1) if len(r) else np.array([])
    if len(edges) and np.all(np.isfinite(edges)) and np.all(np.diff(edges) > 0):
        ax.hist(r, bins=edges, color=OKABE_ITO[2], edgecolor="white")
    else:  # no spread, or one float64 cannot resolve (huge values): a single bar
        ax.bar([float(np.median(r)) if len(r) else 0.0], [len(r)], color=OKABE_ITO[2], edgecolor="white")
    ax.axvline(0, color="#555555", linewidth=1)
    ax.set(xlabel="residual (predicted - true)", ylabel="rows", title="Residuals")
    return to_data_uri(fig)


def overlaid(series: dict[str, tuple[Any, Any]], ylabel: str, log: bool = False) -> str:
    """Several runs' curves on one axis: {label: (epochs, values)}."""
    fig, ax = _figure(6.0, 3.8)
    for label, (x, values) in series.items():
        ax.plot(x, values, label=label)
    ax.set(xlabel="epoch", ylabel=ylabel, title=ylabel)
    if log:
        ax.set_yscale("log")
    _legend(ax, fontsize=7)
    return to_data_uri(fig)


def layer_series(steps: list[int], series: dict[str, list[float | None]], ylabel: str, log: bool = True) -> str:
    """Per-layer values over the sampled optimizer steps (training health): {layer: values}, None as a gap."""
    fig, ax = _figure(5.6, 3.6)
    for i, (label, values) in enumerate(series.items()):
        y = np.array([np.nan if v is None or (log and v <= 0) else v for v in values], dtype=float)
        ax.plot(steps[:len(y)], y, label=label, linestyle=_style(i), marker="." if len(y) < 30 else None)
    ax.set(xlabel="optimizer step", ylabel=ylabel, title=ylabel)
    finite = [v for values in series.values() for v in values if v is not None and v > 0]
    if log and finite:
        ax.set_yscale("log")
    _legend(ax, fontsize=7)
    return to_data_uri(fig)


def optimisation_history(numbers: list[int], values: list[float], minimize: bool) -> str:
    """Each trial's value and the best so far."""
    fig, ax = _figure(5.6, 3.4)
    ax.scatter(numbers, values, s=14, color=OKABE_ITO[0], label="trial")
    best = np.minimum.accumulate(values) if minimize else np.maximum.accumulate(values)
    ax.step(numbers, best, where="post", color=OKABE_ITO[3], label="best so far")
    ax.set(xlabel="trial", ylabel="value", title="Optimisation history")
    _legend(ax, fontsize=8)
    return to_data_uri(fig)


def importances(values: dict[str, float]) -> str:
    """Horizontal bars of hyperparameter importances, largest on top."""
    items = sorted(values.items(), key=lambda kv: kv[1])
    fig, ax = _figure(5.6, 1.2 + 0.35 * len(items))
    ax.barh([k for k, _ in items], [v for _, v in items], color=OKABE_ITO[2])
    ax.set(xlabel="importance", title="Hyperparameter importances")
    return to_data_uri(fig)


def column_importances(columns: list[dict[str, Any]], metric: str, limit: int = 25) -> str:
    """Permutation importances with their intervals, largest on top; grey bars: no evidence (interval reaches 0)."""
    items = columns[:limit][::-1]
    fig, ax = _figure(5.6, 1.2 + 0.3 * len(items))
    names, drops = [c["column"] for c in items], [c["drop"] for c in items]
    colours = ["#999999" if c.get("flat") else OKABE_ITO[0] for c in items]
    low = [c["drop"] - c["ci_low"] if c.get("ci_low") is not None else 0 for c in items]
    high = [c["ci_high"] - c["drop"] if c.get("ci_high") is not None else 0 for c in items]
    ax.barh(names, drops, color=colours, xerr=[low, high], capsize=2)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set(xlabel=f"test {metric} lost when the column is shuffled", title="Permutation importance")
    return to_data_uri(fig)


def slice_metrics(found: list[dict[str, Any]], metric: str, overall: float, limit: int = 30) -> str:
    """The test metric per slice with its interval, against the whole test split's (dashed); slices
    flagged worse in orange."""
    items = found[:limit][::-1]
    fig, ax = _figure(5.6, 1.2 + 0.3 * len(items))
    names = [f"{s['column']} = {s['slice']}" for s in items]
    values = [s["value"] for s in items]
    low = [s["value"] - s["ci_low"] if s.get("ci_low") is not None else 0 for s in items]
    high = [s["ci_high"] - s["value"] if s.get("ci_high") is not None else 0 for s in items]
    colours = [OKABE_ITO[1] if s.get("worse") else OKABE_ITO[0] for s in items]
    ax.errorbar(values, range(len(items)), xerr=[low, high], fmt="none", ecolor="#666666", capsize=2)
    ax.scatter(values, range(len(items)), color=colours, zorder=3)
    ax.set_yticks(range(len(items)), names)
    ax.axvline(overall, color="black", linestyle="--", linewidth=0.8)
    ax.set(xlabel=f"test {metric} (dashed: all test rows)", title="Test metric per slice")
    return to_data_uri(fig)
