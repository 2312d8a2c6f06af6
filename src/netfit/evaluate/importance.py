"""Which columns matter: permutation importance on the test split, grouped back to the source columns.

After the test metrics are taken, each source column's inputs are shuffled across the test rows
(its one-hot block, missing-value indicator or embedding codes together; an image, sequence or
text input as one group) and the model predicts again; the importance is how much worse the
main metric gets (accuracy for classification, RMSE for regression). Each column is shuffled
`repeats` times and each row's score averaged over them; the interval is a percentile bootstrap
over the test rows, paired with the unshuffled scores. A column whose interval reaches 0 shows
no evidence of mattering to this model (flagged). The cost is groups x repeats predictions of the
test rows: above `max_rows` rows, or when one prediction of them times the copies would take more
than `seconds` (0.5), a seeded sample of the rows is scored (at least 200; stated in the result as
`sampled_from`).

    found = permutation_importance(predict, test_split, y_true, "binary", preprocessor, seed=0)
    found["columns"][0]  # {"column": "x1", "drop": 0.21, "ci_low": 0.17, "ci_high": 0.25, "flat": False}
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import numpy as np

from netfit.data.prepared import Split
from netfit.evaluate.bootstrap import batched, bootstrap_ci

REPEATS = 3
MAX_ROWS = 5000
MIN_ROWS = 200  # the time guard samples no fewer test rows than this
SECONDS = 0.5  # about how long the shuffled predictions may take before rows are sampled
CHUNK_BYTES = 64 * 2**20  # inputs predicted in one call


def column_groups(pre: Any) -> dict[str, dict[str, list[int]]]:
    """Source column -> the indices of its inputs: {"num": x_num columns, "cat": x_cat columns}; an
    image, sequence or text input is one group, {"array": [0]}, named after its column."""
    groups: dict[str, dict[str, list[int]]] = {}
    i = 0

    def add(name: str, kind: str, index: int) -> None:
        groups.setdefault(name, {"num": [], "cat": [], "array": []})[kind].append(index)

    for col in [*pre.numeric, *pre.booleans]:
        add(col.name, "num", i)
        i += 1
    for col in pre.categoricals:
        if col.onehot:
            for _ in range(len(col.categories) + int(col.missing_category)):
                add(col.name, "num", i)
                i += 1
    for col in pre.numeric:
        if col.indicator:  # `col__missing` belongs to col
            add(col.name, "num", i)
            i += 1
    assert i == pre.n_num, (i, pre.n_num)
    for j, name in enumerate(pre.cat_names):
        add(name, "cat", j)
    for name in getattr(pre, "_array_columns", []):
        add(name, "array", 0)
    return groups


def permutation_importance(predict: Callable[[Split], np.ndarray], split: Split, y_true: np.ndarray, task: str,
                           pre: Any, *, repeats: int = REPEATS, seed: int = 0, resamples: int = 1000,
                           confidence: float = 0.95, max_rows: int = MAX_ROWS,
                           seconds: float = SECONDS) -> dict[str, Any]:
    """Importance of every source column, most important first (see the module doc).

    `predict(split)` gives class probabilities (n, K) or regression values in target units;
    `y_true` holds class indices (-1: a label unseen in training, always wrong) or target values.
    """
    rng = np.random.default_rng(seed)
    rows = len(split)
    if rows > max_rows:
        keep = np.sort(rng.choice(rows, max_rows, replace=False))
        split, y_true = split.subset(keep), np.asarray(y_true)[keep]
    metric = "rmse" if task == "regression" else "accuracy"
    started = time.perf_counter()
    base = row_scores(predict(split), y_true, task)
    groups = column_groups(pre)
    # the time guard: one prediction of the rows took `spent`; all copies would take about
    # `spent * copies`; above `seconds`, a seeded sample of the rows keeps the cost near it
    spent, copies = time.perf_counter() - started, len(groups) * repeats
    if spent * copies > seconds and len(split) > MIN_ROWS:
        fewer = max(MIN_ROWS, int(len(split) * seconds / (spent * copies)))
        if fewer < len(split):
            keep = np.sort(rng.choice(len(split), fewer, replace=False))
            split, y_true, base = split.subset(keep), np.asarray(y_true)[keep], base[keep]
    copies = [(name, _shuffled(split, idx, rng.permutation(len(split))))
              for name, idx in groups.items() for _ in range(repeats)]
    scores = _predict_copies(predict, [c for _, c in copies], y_true, task)
    found = []
    for g, name in enumerate(groups):
        shuffled = np.mean(scores[g * repeats:(g + 1) * repeats], axis=0)
        found.append({"column": name, **_drop(metric, base, shuffled, resamples, confidence, seed)})
    found.sort(key=lambda c: -c["drop"])
    return {"metric": metric, "repeats": repeats, "rows": len(split), "sampled_from": rows if len(split) < rows else None,
            "confidence": confidence if resamples else None, "columns": found}


def _predict_copies(predict: Callable[[Split], np.ndarray], copies: list[Split], y_true: np.ndarray, task: str,
                    budget: int = CHUNK_BYTES) -> list[np.ndarray]:
    """Per-row scores of every shuffled copy, predicted a few copies at a time (one call per chunk of
    at most `budget` bytes of inputs: hundreds of small predictions cost more than their rows)."""
    if not copies:
        return []
    first = copies[0]
    size = sum(a.nbytes for a in (first.x_num, first.x_cat, first.x_array, first.lengths) if a is not None)
    per_call = max(1, budget // max(size, 1))
    scores: list[np.ndarray] = []
    for start in range(0, len(copies), per_call):
        chunk = copies[start:start + per_call]
        output = np.asarray(predict(_concat(chunk)))
        scores.extend(row_scores(part, y_true, task) for part in np.split(output, len(chunk)))
    return scores


def _concat(splits: list[Split]) -> Split:
    """The rows of `splits` one after another (inputs only: labels and weights are not needed)."""
    def cat(name: str) -> np.ndarray | None:
        values = [getattr(s, name) for s in splits]
        return None if values[0] is None else np.concatenate(values)

    return Split(x_num=cat("x_num"), x_cat=cat("x_cat"), y=None, w=None, rows=cat("rows"),
                 x_array=cat("x_array"), lengths=cat("lengths"))


def row_scores(output: np.ndarray, y: np.ndarray, task: str) -> np.ndarray:
    """Per-row hits (classification: 1 when right) or squared errors (regression)."""
    if task == "regression":
        return (np.asarray(output, dtype=np.float64).ravel() - np.asarray(y, dtype=np.float64)) ** 2
    p = np.asarray(output)
    predicted = (p > 0.5).astype(np.int64).ravel() if p.ndim == 1 or p.shape[1] == 1 else p.argmax(axis=1)
    return (predicted == np.asarray(y)).astype(np.float64)


def _drop(metric: str, base: np.ndarray, shuffled: np.ndarray, resamples: int, confidence: float,
          seed: int) -> dict[str, Any]:
    """How much worse `metric` gets when the column is shuffled, with a paired bootstrap interval over rows."""
    if metric == "rmse":
        fn = batched(lambda idx: np.sqrt(shuffled[idx].mean(axis=1)) - np.sqrt(base[idx].mean(axis=1)))
    else:
        fn = batched(lambda idx: base[idx].mean(axis=1) - shuffled[idx].mean(axis=1))
    drop = float(fn(np.arange(len(base))[None, :])[0])
    if not resamples:
        return {"drop": drop, "ci_low": None, "ci_high": None, "flat": None}
    iv = bootstrap_ci({metric: fn}, len(base), resamples=resamples, confidence=confidence, seed=seed)[metric]
    return {"drop": drop, "ci_low": iv.low, "ci_high": iv.high, "flat": bool(iv.low <= 0)}


def _shuffled(split: Split, idx: dict[str, list[int]], order: np.ndarray) -> Split:
    """`split` with the inputs of one column group taken from the rows in `order`."""
    changes: dict[str, Any] = {}
    if idx["num"]:
        x = split.x_num.copy()
        x[:, idx["num"]] = split.x_num[order][:, idx["num"]]
        changes["x_num"] = x
    if idx["cat"]:
        x = split.x_cat.copy()
        x[:, idx["cat"]] = split.x_cat[order][:, idx["cat"]]
        changes["x_cat"] = x
    if idx["array"] and split.x_array is not None:
        changes["x_array"] = split.x_array[order]
        if split.lengths is not None:
            changes["lengths"] = split.lengths[order]
    return dataclasses.replace(split, **changes)
