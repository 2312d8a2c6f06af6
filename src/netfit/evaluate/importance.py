"""Which columns matter: permutation importance on the test split, grouped back to the source columns.

After the test metrics are taken, each source column's inputs are shuffled across the test rows
(its one-hot block, missing-value indicator or embedding codes together; an image, sequence or
text input as one group) and the model predicts again; the importance is how much worse the
main metric gets (accuracy for classification, RMSE for regression). Each column is shuffled
`repeats` times and each row's score averaged over them; the interval is a percentile bootstrap
over the test rows, paired with the unshuffled scores. A column whose interval reaches 0 shows
no evidence of mattering to this model (flagged). Above `max_rows` test rows a seeded sample of
them is scored (stated in the result), so the cost stays bounded: groups x repeats predictions.

    found = permutation_importance(predict, test_split, y_true, "binary", preprocessor, seed=0)
    found["columns"][0]  # {"column": "x1", "drop": 0.21, "ci_low": 0.17, "ci_high": 0.25, "flat": False}
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from netfit.data.prepared import Split
from netfit.evaluate.bootstrap import batched, bootstrap_ci

REPEATS = 5
MAX_ROWS = 5000


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
                           confidence: float = 0.95, max_rows: int = MAX_ROWS) -> dict[str, Any]:
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
    base = _row_scores(predict(split), y_true, task)
    found = []
    for name, idx in column_groups(pre).items():
        shuffled = np.mean([_row_scores(predict(_shuffled(split, idx, rng.permutation(len(split)))), y_true, task)
                            for _ in range(repeats)], axis=0)
        found.append({"column": name, **_drop(metric, base, shuffled, resamples, confidence, seed)})
    found.sort(key=lambda c: -c["drop"])
    return {"metric": metric, "repeats": repeats, "rows": len(split), "sampled_from": rows if rows > max_rows else None,
            "confidence": confidence if resamples else None, "columns": found}


def _row_scores(output: np.ndarray, y: np.ndarray, task: str) -> np.ndarray:
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
