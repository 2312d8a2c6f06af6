"""Test metrics with seeded bootstrap confidence intervals, as report.json holds them.

Point values come from scikit-learn's metric functions; the intervals come from the percentile
bootstrap and the vectorised resample kernels of `netfit.evaluate.bootstrap`.

Example:
    >>> block = evaluate_predictions("binary", y_test, proba, ["no", "yes"], resamples=1000,
    ...                              confidence=0.95, seed=0)  # doctest: +SKIP
    >>> block["metrics"]["accuracy"]  # doctest: +SKIP
    {'value': 0.93, 'ci_low': 0.9, 'ci_high': 0.96, 'resamples_used': 1000}
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn import metrics as skm

from netfit.data.messages import warn
from netfit.errors import ConfigError, DataError, short_list
from netfit.evaluate.bootstrap import Interval, bootstrap_ci, classification_resample_fns, regression_resample_fns

TASKS = ("binary", "multiclass", "regression")
METRIC_NAMES = {
    "binary": ("accuracy", "balanced_accuracy", "f1_macro", "log_loss", "roc_auc", "pr_auc"),
    "multiclass": ("accuracy", "balanced_accuracy", "f1_macro", "log_loss", "roc_auc"),
    "regression": ("mae", "rmse", "r2"),
}


# ---------------------------------------------------------------- point values
def classification_metrics(y_true: Any, proba: Any, classes: list, *, sample_weight: Any = None) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro F1, log loss, ROC AUC, PR AUC, per-class scores and
    the confusion matrix, all from scikit-learn.

    Args:
        y_true: class indices 0..K-1, shape (n,); -1 for a label not seen in training (no class of
            the model's can match it).
        proba: class probabilities, shape (n, K); for K == 2 also (n,) or (n, 1) holding P(class 1).
        classes: the K class labels, in index order (used to name `per_class` entries).
        sample_weight: optional row weights, passed to every scikit-learn metric.

    Returns:
        A dict of floats; `roc_auc` is None unless every class occurs in `y_true` (binary: both);
        `pr_auc` (binary only, average precision of class 1) is None without a positive.
        `per_class` maps `str(label)` to precision/recall/f1/support; `confusion_matrix` is a
        list of rows (true class) of counts per predicted class.

        Rows labelled -1 count as wrong: accuracy, balanced accuracy, macro F1 and log loss score
        them as scikit-learn scores the labels with the unseen ones as one class of their own that the
        model gives probability 0 (`_with_unseen_class`); they are false positives of the class
        predicted in `per_class`. ROC AUC, PR AUC and the confusion matrix (which rank or count the
        model's classes) are over the other rows.

    Example:
        >>> classification_metrics([0, 1, 1], [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], ["a", "b"])["accuracy"]
        0.6666666666666666
    """
    y, p = _as_labels(y_true, len(classes)), _as_proba(proba, len(classes))
    _check_lengths(y, p)
    K, w = len(classes), sample_weight
    pred = p.argmax(axis=1)
    labels = list(range(K))
    own, p_own = _with_unseen_class(y, p)
    out: dict[str, Any] = {
        "accuracy": skm.accuracy_score(own, pred, sample_weight=w),
        "balanced_accuracy": _balanced_accuracy_score(own, pred, w),
        "f1_macro": skm.f1_score(own, pred, average="macro", sample_weight=w, zero_division=0),
        # labels=range(K): a small test set may lack a class the model still scores
        "log_loss": skm.log_loss(own, p_own, labels=list(range(p_own.shape[1])), sample_weight=w),
        "roc_auc": None,
    }
    known = y >= 0  # the rankings are of the model's classes: rows of an unseen label have no score column
    yk, pk, wk = y[known], p[known], None if w is None else np.asarray(w)[known]
    present = np.bincount(yk, minlength=K) > 0
    if K == 2:
        if present.all():
            out["roc_auc"] = skm.roc_auc_score(yk, pk[:, 1], sample_weight=wk)
        out["pr_auc"] = skm.average_precision_score(yk, pk[:, 1], sample_weight=wk) if present[1] else None
    elif present.all():  # one-vs-rest needs every class among the true labels
        out["roc_auc"] = skm.roc_auc_score(yk, pk, multi_class="ovr", average="macro", labels=labels, sample_weight=wk)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        own, pred, labels=labels, sample_weight=w, zero_division=0)
    out["per_class"] = {
        str(label): {"precision": precision[k], "recall": recall[k], "f1": f1[k], "support": support[k]}
        for k, label in enumerate(classes)
    }
    with warnings.catch_warnings():  # one known class: a 1x1 matrix is the right answer, not a problem to warn of
        warnings.filterwarnings("ignore", message="A single label was found", category=UserWarning)
        out["confusion_matrix"] = skm.confusion_matrix(own, pred, labels=labels, sample_weight=w)  # rows of unseen labels left out
    return to_plain(out)


def _with_unseen_class(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels unseen in training (-1) as class K, and the probabilities with a column of 0 for it."""
    if not (y < 0).any():
        return y, p
    K = p.shape[1]
    return np.where(y < 0, K, y), np.column_stack([p, np.zeros(len(p))])


def _balanced_accuracy_score(y: np.ndarray, pred: np.ndarray, w: Any) -> float:
    with warnings.catch_warnings():
        # a predicted class absent from y_true is left out of the mean recall, as it should be;
        # per_class already shows its zero support, so scikit-learn's warning adds nothing
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        # one class in both: the mean recall of that one class, nothing to warn of
        warnings.filterwarnings("ignore", message="A single label was found", category=UserWarning)
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


# ---------------------------------------------------------------- the report block
# Fewer rows than this: a metric moves a lot with one row, and a percentile bootstrap interval
# covers less than it claims (with 4 rows all right it is [1, 1]); the rule of thumb of n >= 30
MIN_ROWS = 30


def warn_if_few_rows(n: int, what: str, where: str, hint: str, confidence: float | None) -> None:
    """A `DataWarning` when metrics rest on fewer than `MIN_ROWS` rows (`confidence`: None without intervals)."""
    if n >= MIN_ROWS:
        return
    subject = f"a {100 * confidence:g}% bootstrap interval" if confidence else "a metric"
    warn(f"only {n} {what}: {subject} from fewer than {MIN_ROWS} rows means little", where=where, hint=hint)


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
        y_true: class indices 0..K-1 (-1: a label not seen in training, scored as wrong, see
            `classification_metrics`), or target values in original units.
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

    Raises:
        DataError: labels, probabilities or predictions of the wrong shape, values or length,
            or classes that do not fit the task.
        ConfigError: an unknown task, or resamples/confidence out of range.

    Example:
        >>> evaluate_predictions("regression", [1.0, 2.0, 3.0], [1.1, 1.9, 3.2], None,
        ...                      resamples=0)["metrics"]["mae"]["ci_low"] is None
        True
    """
    if task not in TASKS:
        raise ConfigError("unknown task", where="task", expected=", ".join(TASKS), found=repr(task),
                          hint="pass the run's task (report.json holds it)")
    if resamples < 0:
        raise ConfigError("the number of bootstrap resamples must be >= 0", where="evaluate.bootstrap",
                          expected="resamples >= 0", found=f"resamples={resamples}",
                          hint="0 leaves the intervals out; 1000 is the default")
    if task == "regression":
        y, pred = _as_values(y_true), _as_values(output)
        point, extra = regression_metrics(y, pred), {"per_class": None, "confusion_matrix": None, "classes": None}
        fns = regression_resample_fns(y, pred)
    else:
        if not classes or (task == "binary") != (len(classes) == 2):
            raise DataError(f"task {task!r} does not match {len(classes or ())} classes", where="classes",
                            expected="binary: exactly 2 classes; multiclass: more than 2", found=short_list(classes or ["none"]),
                            hint="set data.task to match the target's classes, or leave it `auto`")
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


# ---------------------------------------------------------------- input checks
def _as_labels(y_true: Any, K: int) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1 or not len(y):
        raise DataError("the true labels must be a non-empty 1-D array of class indices", where="y_true",
                        expected="shape (n,)", found=f"shape {y.shape}")
    if K < 2:
        raise DataError("classification needs at least 2 classes", where="classes", expected="2 or more",
                        found=str(K), hint="a target with a single class cannot be classified; check the data")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < -1 or y.max() >= K:
        raise DataError("the true labels must be class indices", where="y_true",
                        expected=f"integers 0..{K - 1} (-1: a label not seen in training)",
                        found=f"values {np.unique(y)[:10]}", hint="encode labels by their position in `classes`")
    return y.astype(np.int64)


def _as_proba(proba: Any, K: int) -> np.ndarray:
    """Float64 (n, K) probabilities whose rows sum to 1."""
    p = np.asarray(proba, dtype=np.float64)
    if K == 2 and (p.ndim == 1 or (p.ndim == 2 and p.shape[1] == 1)):
        p = np.column_stack([1 - p.ravel(), p.ravel()])  # P(class 1) alone
    if p.ndim != 2 or p.shape[1] != K:
        raise DataError("the probabilities have the wrong shape", where="output", expected=f"shape (n, {K})",
                        found=f"shape {p.shape}", hint="pass one column of probabilities per class, in class order")
    if not np.isfinite(p).all() or (p < 0).any() or (p.sum(axis=1) <= 0).any():
        raise DataError("the probabilities are not valid", where="output",
                        expected="finite, non-negative values with a positive sum per row",
                        found="NaN, infinite or negative values, or a row summing to 0")
    # float32 softmax rows sum to 1 only within ~1e-7, beyond scikit-learn's tolerance
    return p / p.sum(axis=1, keepdims=True)


def _as_values(values: Any) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1 or not len(v):
        raise DataError("regression targets and predictions must be non-empty 1-D arrays",
                        expected="shape (n,) or (n, 1)", found=f"shape {v.shape}")
    if not np.isfinite(v).all():
        raise DataError("regression targets and predictions must be finite", found="NaN or infinite values",
                        hint="a diverged model predicts NaN; check the run's training curve")
    return v


def _check_lengths(a: np.ndarray, b: np.ndarray) -> None:
    if len(a) != len(b):
        raise DataError("the true values and the predictions differ in length", expected=f"{len(a)} predictions",
                        found=f"{len(b)}", hint="score the predictions of exactly these rows")
