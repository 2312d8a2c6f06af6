"""Test metrics with seeded bootstrap confidence intervals, as report.json holds them.

Point values come from scikit-learn's metric functions. The intervals come from a percentile
bootstrap that draws the (resamples, n) index matrix once and scores every metric on it; the
per-resample metrics are computed by vectorised numpy kernels (confusion counts, rank sums),
because calling scikit-learn 1,000 times per metric takes seconds. Tests check each kernel
against scikit-learn on individual resamples.

Example:
    >>> block = evaluate_predictions("binary", y_test, proba, ["no", "yes"], resamples=1000,
    ...                              confidence=0.95, seed=0)  # doctest: +SKIP
    >>> block["metrics"]["accuracy"]  # doctest: +SKIP
    {'value': 0.93, 'ci_low': 0.9, 'ci_high': 0.96, 'resamples_used': 1000}
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any, Callable, NamedTuple

import numpy as np
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

TASKS = ("binary", "multiclass", "regression")
METRIC_NAMES = {
    "binary": ("accuracy", "balanced_accuracy", "f1_macro", "log_loss", "roc_auc", "pr_auc"),
    "multiclass": ("accuracy", "balanced_accuracy", "f1_macro", "log_loss", "roc_auc"),
    "regression": ("mae", "rmse", "r2"),
}
# Index-matrix elements scored at a time: 1000 resamples of up to 2,000 rows go in one draw;
# larger test sets are drawn in blocks of resamples from the same stream (same indices), which
# keeps the kernels' working memory near 75 MB however large the test split.
_CHUNK_ELEMENTS = 2_000_000


class Interval(NamedTuple):
    """A percentile bootstrap interval and how many resamples defined the metric."""

    low: float
    high: float
    used: int


# ---------------------------------------------------------------- point values
def classification_metrics(y_true: Any, proba: Any, classes: list, *, sample_weight: Any = None) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro F1, log loss, ROC AUC, PR AUC, per-class scores and
    the confusion matrix, all from scikit-learn.

    Args:
        y_true: class indices 0..K-1, shape (n,).
        proba: class probabilities, shape (n, K); for K == 2 also (n,) or (n, 1) holding P(class 1).
        classes: the K class labels, in index order (used to name `per_class` entries).
        sample_weight: optional row weights, passed to every scikit-learn metric.

    Returns:
        A dict of floats; `roc_auc` is None unless every class occurs in `y_true` (binary: both);
        `pr_auc` (binary only, average precision of class 1) is None without a positive.
        `per_class` maps `str(label)` to precision/recall/f1/support; `confusion_matrix` is a
        list of rows (true class) of counts per predicted class.

    Example:
        >>> classification_metrics([0, 1, 1], [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], ["a", "b"])["accuracy"]
        0.6666666666666666
    """
    y, p = _as_labels(y_true, len(classes)), _as_proba(proba, len(classes))
    _check_lengths(y, p)
    K, w = len(classes), sample_weight
    pred = p.argmax(axis=1)
    labels = list(range(K))
    present = np.bincount(y, minlength=K) > 0
    out: dict[str, Any] = {
        "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
        "balanced_accuracy": _balanced_accuracy_score(y, pred, w),
        "f1_macro": skm.f1_score(y, pred, average="macro", sample_weight=w, zero_division=0),
        # labels=range(K): a small test set may lack a class the model still scores
        "log_loss": skm.log_loss(y, p, labels=labels, sample_weight=w),
        "roc_auc": None,
    }
    if K == 2:
        if present.all():
            out["roc_auc"] = skm.roc_auc_score(y, p[:, 1], sample_weight=w)
        out["pr_auc"] = skm.average_precision_score(y, p[:, 1], sample_weight=w) if present[1] else None
    elif present.all():  # one-vs-rest needs every class among the true labels
        out["roc_auc"] = skm.roc_auc_score(y, p, multi_class="ovr", average="macro", labels=labels, sample_weight=w)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y, pred, labels=labels, sample_weight=w, zero_division=0)
    out["per_class"] = {
        str(label): {"precision": precision[k], "recall": recall[k], "f1": f1[k], "support": support[k]}
        for k, label in enumerate(classes)
    }
    out["confusion_matrix"] = skm.confusion_matrix(y, pred, labels=labels, sample_weight=w)
    return to_plain(out)


def _balanced_accuracy_score(y: np.ndarray, pred: np.ndarray, w: Any) -> float:
    with warnings.catch_warnings():
        # a predicted class absent from y_true is left out of the mean recall, as it should be;
        # per_class already shows its zero support, so scikit-learn's warning adds nothing
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return skm.balanced_accuracy_score(y, pred, sample_weight=w)


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, Any]:
    """MAE, RMSE and R^2 from scikit-learn, in the units of `y_true`.

    Example:
        >>> regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])["mae"]
        0.3333333333333333
    """
    y, pred = _as_values(y_true), _as_values(y_pred)
    _check_lengths(y, pred)
    # R^2 is undefined for a constant target; scikit-learn would report 0 or 1 by convention
    r2 = skm.r2_score(y, pred) if len(y) > 1 and np.ptp(y) > 0 else None
    return to_plain({"mae": skm.mean_absolute_error(y, pred),
                     "rmse": skm.root_mean_squared_error(y, pred), "r2": r2})


# ---------------------------------------------------------------- bootstrap
def batched(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Mark a metric as vectorised: it takes the (resamples, n) index matrix and returns one
    value per row (NaN where the metric is undefined) instead of being called row by row."""

    @functools.wraps(fn)
    def scored(idx: np.ndarray) -> np.ndarray:
        return fn(idx)

    scored.batched = True  # type: ignore[attr-defined]
    return scored


def bootstrap_ci(
    metric_fns: dict[str, Callable[[np.ndarray], Any]],
    n: int,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Interval]:
    """Percentile bootstrap intervals for several metrics of the same n rows.

    The resample indices are drawn once (`rng.integers(0, n, (resamples, n))` from a seeded
    numpy Generator) and every metric is scored on the same resamples, so intervals of
    different metrics and of different models (same seed, same n) are paired.

    Args:
        metric_fns: name -> `fn(idx) -> float` scoring the rows `idx` (one resample), or a
            `batched` fn scoring the whole index matrix at once. A resample where the metric
            is undefined (fn returns None/NaN or raises ValueError, e.g. AUC of one class)
            is skipped.
        n: number of rows.
        resamples: number of bootstrap resamples (>= 1).
        confidence: interval level in (0, 1).
        seed: seed of the resample draw.

    Returns:
        name -> Interval(low, high, used): `used` counts the resamples that defined the metric;
        low and high are NaN when none did.

    Example:
        >>> hits = np.array([1, 0, 1, 1], dtype=float)
        >>> bootstrap_ci({"accuracy": lambda idx: hits[idx].mean()}, 4, resamples=200)["accuracy"].used
        200
    """
    if n < 1 or resamples < 1:
        raise ValueError(f"bootstrap needs n >= 1 and resamples >= 1, got n={n}, resamples={resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    values = {name: np.full(resamples, np.nan) for name in metric_fns}
    rng = np.random.default_rng(seed)
    block = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, resamples, block):
        # drawing row blocks in sequence yields the same indices as one (resamples, n) draw
        idx = rng.integers(0, n, (min(block, resamples - start), n))
        for name, fn in metric_fns.items():
            values[name][start:start + len(idx)] = _score_block(fn, idx)
    return {name: _percentile_interval(v, confidence) for name, v in values.items()}


def _score_block(fn: Callable[[np.ndarray], Any], idx: np.ndarray) -> np.ndarray:
    """One metric on every resample of a block: in one call if vectorised, else row by row."""
    if getattr(fn, "batched", False):
        return np.asarray(fn(idx), dtype=float)
    out = np.full(len(idx), np.nan)
    with warnings.catch_warnings():
        # undefined resamples are expected and skipped; one warning each would flood the log
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        for r, rows in enumerate(idx):
            try:
                value = fn(rows)
            except ValueError:
                continue
            out[r] = np.nan if value is None else value
    return out


def _percentile_interval(values: np.ndarray, confidence: float) -> Interval:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return Interval(math.nan, math.nan, 0)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return Interval(float(low), float(high), len(finite))


# ---------------------------------------------------------------- the report block
def evaluate_predictions(
    task: str,
    y_true: Any,
    output: Any,
    classes: list | None,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """The test-metrics block of report.json: point values with bootstrap intervals.

    Args:
        task: "binary", "multiclass" or "regression".
        y_true: class indices 0..K-1, or target values in original units.
        output: class probabilities (n, K) (binary also (n,)), or predictions in original units.
        classes: the class labels in index order (ignored for regression).
        resamples: bootstrap resamples; 0 leaves the intervals out (None).
        confidence: interval level.
        seed: seed of the resample draw; baselines use the same one, so intervals are paired.

    Returns:
        `{"metrics": {name: {"value", "ci_low", "ci_high", "resamples_used"}}, "per_class",
        "confusion_matrix", "classes", "n", "bootstrap": {"resamples", "confidence", "seed"}}`,
        plain JSON-safe values (NaN becomes None; the classification-only keys are None for
        regression).

    Example:
        >>> evaluate_predictions("regression", [1.0, 2.0, 3.0], [1.1, 1.9, 3.2], None,
        ...                      resamples=0)["metrics"]["mae"]["ci_low"] is None
        True
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if resamples < 0:
        raise ValueError(f"resamples must be >= 0, got {resamples}")
    if task == "regression":
        y, pred = _as_values(y_true), _as_values(output)
        point, extra = regression_metrics(y, pred), {"per_class": None, "confusion_matrix": None, "classes": None}
        fns = regression_resample_fns(y, pred)
    else:
        if not classes or (task == "binary") != (len(classes) == 2):
            raise ValueError(f"task {task!r} does not match {len(classes or ())} classes (binary means exactly 2)")
        y, p = _as_labels(y_true, len(classes)), _as_proba(output, len(classes))
        point = classification_metrics(y, p, classes)
        extra = {key: point.pop(key) for key in ("per_class", "confusion_matrix")}
        extra["classes"] = to_plain(list(classes))
        fns = classification_resample_fns(y, p)
    # a metric undefined on the whole test set (AUC with a class missing) gets no interval
    fns = {name: fn for name, fn in fns.items() if point.get(name) is not None}
    intervals = bootstrap_ci(fns, len(y), resamples=resamples, confidence=confidence, seed=seed) if resamples else {}
    metrics = {name: _metric_entry(point[name], intervals.get(name)) for name in METRIC_NAMES[task]}
    return to_plain({"metrics": metrics, **extra, "n": len(y),
                     "bootstrap": {"resamples": resamples, "confidence": confidence, "seed": seed}})


def _metric_entry(value: float | None, interval: Interval | None) -> dict[str, Any]:
    if interval is None:
        return {"value": value, "ci_low": None, "ci_high": None, "resamples_used": None}
    return {"value": value, "ci_low": interval.low, "ci_high": interval.high, "resamples_used": interval.used}


def to_plain(value: Any) -> Any:
    """Numpy scalars and arrays to Python numbers and lists; non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [to_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------- vectorised resample metrics
def classification_resample_fns(y_true: np.ndarray, proba: np.ndarray) -> dict[str, Callable]:
    """Batched per-resample versions of the classification metrics (same names as the point
    values). Each equals scikit-learn's function on the resampled rows, NaN where undefined."""
    y, p = np.asarray(y_true, dtype=np.int64), np.asarray(proba, dtype=np.float64)
    n, K = p.shape
    codes = y * K + p.argmax(axis=1)  # one code per (true, predicted) cell of the confusion matrix
    eps = np.finfo(np.float64).eps  # scikit-learn's log_loss clips to [eps, 1 - eps] of the dtype
    row_loss = -np.log(np.clip(p[np.arange(n), y], eps, 1 - eps))
    confusions = _shared_per_block(lambda idx: _confusions(codes, idx, K))
    counts = _shared_per_block(lambda idx: _row_counts(idx, n))
    fns = {
        "accuracy": batched(lambda idx: _accuracy(confusions(idx))),
        "balanced_accuracy": batched(lambda idx: _balanced_accuracy(confusions(idx))),
        "f1_macro": batched(lambda idx: _f1_macro(confusions(idx))),
        "log_loss": batched(lambda idx: row_loss[idx].mean(axis=1)),
    }
    if K == 2:
        ranks = _Ranking(p[:, 1], y == 1)
        fns["roc_auc"] = batched(lambda idx: ranks.roc_auc(counts(idx)))
        fns["pr_auc"] = batched(lambda idx: ranks.average_precision(counts(idx)))
    else:
        one_vs_rest = [_Ranking(p[:, k], y == k) for k in range(K)]
        fns["roc_auc"] = batched(lambda idx: _macro_roc_auc(one_vs_rest, counts(idx)))
    return fns


def regression_resample_fns(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Callable]:
    """Batched per-resample MAE, RMSE and R^2 (NaN where the resampled target is constant)."""
    y = np.asarray(y_true, dtype=np.float64)
    err = y - np.asarray(y_pred, dtype=np.float64)
    abs_err, sq_err = np.abs(err), err**2

    def r2(idx: np.ndarray) -> np.ndarray:
        yr = y[idx]
        total = ((yr - yr.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total > 0, 1 - sq_err[idx].sum(axis=1) / total, np.nan)

    return {
        "mae": batched(lambda idx: abs_err[idx].mean(axis=1)),
        "rmse": batched(lambda idx: np.sqrt(sq_err[idx].mean(axis=1))),
        "r2": batched(r2),
    }


def _shared_per_block(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Remember fn's result for the last index block, so metrics scored on the same block
    (bootstrap_ci passes one array to all of them) count it once."""
    last: list[Any] = [None, None]  # holding the block keeps its id from being reused

    def shared(idx: np.ndarray) -> np.ndarray:
        if last[0] is not idx:
            last[:] = [idx, fn(idx)]
        return last[1]

    return shared


def _confusions(codes: np.ndarray, idx: np.ndarray, K: int) -> np.ndarray:
    """(R, K, K) confusion counts, one matrix per resample, from a single bincount."""
    R = len(idx)
    offset = (np.arange(R) * K * K)[:, None]  # gives every resample its own K*K bins
    return np.bincount((codes[idx] + offset).ravel(), minlength=R * K * K).reshape(R, K, K)


def _row_counts(idx: np.ndarray, n: int) -> np.ndarray:
    """(n, R): how often each row was drawn in each resample.

    Rows first, so the ranking kernels' gathers and cumulative sums run along axis 0 over
    contiguous memory (several times faster than resamples first on 20,000 rows).
    """
    R = len(idx)
    return np.bincount((idx * R + np.arange(R)[:, None]).ravel(), minlength=n * R).reshape(n, R)


def _accuracy(cm: np.ndarray) -> np.ndarray:
    return np.trace(cm, axis1=1, axis2=2) / cm.sum(axis=(1, 2))


def _balanced_accuracy(cm: np.ndarray) -> np.ndarray:
    """Mean recall over the classes present among the true labels (as scikit-learn does)."""
    true = cm.sum(axis=2)
    recall = np.diagonal(cm, axis1=1, axis2=2) / np.maximum(true, 1)
    return (recall * (true > 0)).sum(axis=1) / (true > 0).sum(axis=1)


def _f1_macro(cm: np.ndarray) -> np.ndarray:
    """Mean F1 over the classes present among true or predicted labels (scikit-learn's labels)."""
    denom = cm.sum(axis=2) + cm.sum(axis=1)  # true + predicted counts per class
    f1 = 2 * np.diagonal(cm, axis1=1, axis2=2) / np.maximum(denom, 1)
    return (f1 * (denom > 0)).sum(axis=1) / (denom > 0).sum(axis=1)


class _Ranking:
    """One score column split into positive and negative rows, each sorted once.

    For every positive row it precomputes how many negatives score strictly lower (`neg_lo`)
    or lower-or-equal (`neg_hi`), and how many positives score strictly lower (`pos_lo`), as
    positions in the sorted lists. A resample's draw counts then give both curves by cumulative
    sums and gathers, ties included, without a loop over thresholds.
    """

    def __init__(self, score: np.ndarray, positive: np.ndarray) -> None:
        pos_rows, neg_rows = np.flatnonzero(positive), np.flatnonzero(~positive)
        self.pos_rows = pos_rows[np.argsort(score[pos_rows], kind="stable")]
        self.neg_rows = neg_rows[np.argsort(score[neg_rows], kind="stable")]
        pos_scores, neg_scores = score[self.pos_rows], score[self.neg_rows]
        self.neg_lo = np.searchsorted(neg_scores, pos_scores, side="left")
        self.neg_hi = np.searchsorted(neg_scores, pos_scores, side="right")
        self.pos_lo = np.searchsorted(pos_scores, pos_scores, side="left")

    def roc_auc(self, counts: np.ndarray) -> np.ndarray:
        """Mann-Whitney AUC, P(score_pos > score_neg) + 0.5 P(tie); NaN with one class."""
        drawn_pos = counts[self.pos_rows]
        neg_below = _cumulative(counts[self.neg_rows])
        # 2 x (negatives strictly below + half the tied ones), integer so exact until the division
        twice_u = (drawn_pos * (neg_below[self.neg_lo] + neg_below[self.neg_hi])).sum(axis=0)
        pairs = drawn_pos.sum(axis=0) * neg_below[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(pairs > 0, twice_u / (2 * pairs), np.nan)

    def average_precision(self, counts: np.ndarray) -> np.ndarray:
        """Mean over drawn positives of the precision at their score; NaN without positives."""
        drawn_pos = counts[self.pos_rows]
        pos_below, neg_below = _cumulative(drawn_pos), _cumulative(counts[self.neg_rows])
        n_pos = pos_below[-1]
        tp = n_pos - pos_below[self.pos_lo]  # positives scoring at least this positive's score
        fp = neg_below[-1] - neg_below[self.neg_lo]
        precision = tp / np.maximum(tp + fp, 1)  # tp + fp is 0 only where nothing was drawn
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(n_pos > 0, (drawn_pos * precision).sum(axis=0) / n_pos, np.nan)


def _cumulative(counts: np.ndarray) -> np.ndarray:
    """Exclusive cumulative sums along rows: entry j counts rows before j; the last, all rows."""
    out = np.zeros((len(counts) + 1, counts.shape[1]), dtype=counts.dtype)
    np.cumsum(counts, axis=0, out=out[1:])
    return out


def _macro_roc_auc(rankings: list[_Ranking], counts: np.ndarray) -> np.ndarray:
    """One-vs-rest macro AUC; NaN (like scikit-learn's error) when a class is not drawn."""
    return np.mean([r.roc_auc(counts) for r in rankings], axis=0)


# ---------------------------------------------------------------- input checks
def _as_labels(y_true: Any, K: int) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1 or not len(y):
        raise ValueError(f"y_true must be a non-empty 1-D array of class indices, got shape {y.shape}")
    if K < 2:
        raise ValueError(f"classification needs at least 2 classes, got {K}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= K:
        raise ValueError(f"y_true must hold class indices 0..{K - 1}, got values {np.unique(y)[:10]}")
    return y.astype(np.int64)


def _as_proba(proba: Any, K: int) -> np.ndarray:
    """Float64 (n, K) probabilities whose rows sum to 1."""
    p = np.asarray(proba, dtype=np.float64)
    if K == 2 and (p.ndim == 1 or (p.ndim == 2 and p.shape[1] == 1)):
        p = np.column_stack([1 - p.ravel(), p.ravel()])  # P(class 1) alone
    if p.ndim != 2 or p.shape[1] != K:
        raise ValueError(f"probabilities must have shape (n, {K}), got {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any() or (p.sum(axis=1) <= 0).any():
        raise ValueError("probabilities must be finite, non-negative, with a positive sum per row")
    # float32 softmax rows sum to 1 only within ~1e-7, beyond scikit-learn's tolerance
    return p / p.sum(axis=1, keepdims=True)


def _as_values(values: Any) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1 or not len(v):
        raise ValueError(f"regression targets and predictions must be non-empty 1-D arrays, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("regression targets and predictions must be finite")
    return v


def _check_lengths(a: np.ndarray, b: np.ndarray) -> None:
    if len(a) != len(b):
        raise ValueError(f"y_true has {len(a)} rows but the predictions have {len(b)}")
