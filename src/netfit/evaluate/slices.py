"""Where the model is worse: the main test metric per slice of the test rows.

Slices are the most frequent levels of each categorical column (at most `LEVELS`, each with at
least `MIN_ROWS` test rows) and the quartiles of the most important numeric columns (at most
`NUMERIC`, by permutation importance; the first numeric columns when importance was not run).
Each slice gets its accuracy (classification) or RMSE (regression) with a percentile bootstrap
interval, and a one-sided Welch t-test of its per-row scores (hits, or squared errors) against
the other test rows; a slice is flagged worse when its Holm-corrected p-value (Holm 1979, across
every slice of the run) is below 1 - confidence.

Levels and bins are read back from the preprocessed test split (one-hot blocks, embedding codes,
standardised values), so no raw column is kept beside the model's inputs.

    found = slices(test_split, y_true, output, "binary", preprocessor, importance=None)
    found["slices"][0]  # {"column": "city", "slice": "Paris", "n": 80, "value": 0.71, ..., "worse": True}
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from netfit.data.prepared import Split
from netfit.evaluate.bootstrap import batched, bootstrap_ci
from netfit.evaluate.importance import column_groups, row_scores

LEVELS = 5  # most frequent levels of a categorical column
NUMERIC = 3  # numeric columns binned
BINS = 4  # quartiles
MIN_ROWS = 20  # test rows a slice needs


def slices(split: Split, y_true: np.ndarray, output: np.ndarray, task: str, pre: Any, *,
           importance: dict[str, Any] | None = None, resamples: int = 1000, confidence: float = 0.95,
           seed: int = 0) -> dict[str, Any]:
    """The test metric per slice, most significant first within each column (see the module doc)."""
    scores = row_scores(output, y_true, task)
    metric = "rmse" if task == "regression" else "accuracy"
    groups = column_groups(pre)
    found: list[dict[str, Any]] = []
    for name, members in _categorical_members(split, pre, groups).items():
        found += [_slice(name, level, rows, scores, metric) for level, rows in members]
    for name, members in _numeric_members(split, pre, groups, importance).items():
        found += [_slice(name, label, rows, scores, metric) for label, rows in members]
    found = [s for s in found if s is not None]
    _holm(found, 1 - confidence)
    for i, s in enumerate(found):
        rows = s.pop("_rows")
        if resamples:
            values = scores[rows]
            fn = batched(lambda idx, v=values: _metric(v[idx], metric))
            iv = bootstrap_ci({metric: fn}, len(values), resamples=resamples, confidence=confidence, seed=seed + i)
            s["ci_low"], s["ci_high"] = iv[metric].low, iv[metric].high
    overall = float(_metric(scores[None, :], metric)[0])
    return {"metric": metric, "overall": overall, "confidence": confidence, "min_rows": MIN_ROWS,
            "test": "one-sided Welch t-test of the per-row scores against the other rows, Holm-corrected",
            "slices": found}


def _metric(values: np.ndarray, metric: str) -> np.ndarray:
    """Accuracy (mean hit) or RMSE (root mean squared error) of each row of a (resamples, n) array."""
    return np.sqrt(values.mean(axis=1)) if metric == "rmse" else values.mean(axis=1)


def _slice(column: str, label: str, rows: np.ndarray, scores: np.ndarray, metric: str) -> dict[str, Any] | None:
    inside = np.zeros(len(scores), dtype=bool)
    inside[rows] = True
    if inside.sum() < MIN_ROWS or (~inside).sum() < 2:
        return None
    a, b = scores[inside], scores[~inside]
    # worse: fewer hits (accuracy), larger squared errors (rmse)
    alternative = "greater" if metric == "rmse" else "less"
    if np.var(a) == 0 and np.var(b) == 0:  # no spread to test against: worse or not, exactly
        p = 0.0 if (a.mean() > b.mean() if metric == "rmse" else a.mean() < b.mean()) else 1.0
    else:
        p = _welch(a, b, alternative)
    value = float(_metric(a[None, :], metric)[0])
    return {"column": column, "slice": label, "n": int(inside.sum()), "value": value, "ci_low": None,
            "ci_high": None, "p": p if np.isfinite(p) else 1.0, "_rows": rows}


def _welch(a: np.ndarray, b: np.ndarray, alternative: str) -> float:
    """One-sided Welch t-test p-value, written out: scipy's `ttest_ind` warns of "catastrophic
    cancellation" when one side holds a single value (every row of a slice right), a case the test
    handles exactly (that side's variance is 0)."""
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (a.mean() - b.mean()) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return float(stats.t.sf(t, df) if alternative == "greater" else stats.t.cdf(t, df))


def _holm(found: list[dict[str, Any]], alpha: float) -> None:
    """Holm's step-down adjusted p-values (`p_holm`) and the `worse` flag, across every slice."""
    order = sorted(range(len(found)), key=lambda i: found[i]["p"])
    running, m = 0.0, len(found)
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * found[i]["p"]))
        found[i]["p_holm"] = running
        found[i]["worse"] = bool(running < alpha)


def _categorical_members(split: Split, pre: Any, groups: dict) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Per categorical column, its most frequent levels and the test rows of each."""
    out: dict[str, list[tuple[str, np.ndarray]]] = {}
    for col in pre.categoricals:
        labels = list(col.categories) + ["<missing>"] * int(col.missing_category)
        idx = groups[col.name]
        if col.onehot:
            block = split.x_num[:, idx["num"]]
            codes = np.where(block.max(axis=1) > 0.5, block.argmax(axis=1), -1)  # -1: unseen in training
        else:
            codes = split.x_cat[:, idx["cat"][0]].astype(np.int64) - 1  # 0 (unknown) becomes -1
        levels, counts = np.unique(codes[codes >= 0], return_counts=True)
        top = levels[np.argsort(-counts, kind="stable")][:LEVELS]
        out[col.name] = [(labels[k], np.flatnonzero(codes == k)) for k in top]
    return out


def _numeric_members(split: Split, pre: Any, groups: dict,
                     importance: dict[str, Any] | None) -> dict[str, list[tuple[str, np.ndarray]]]:
    """The quartiles of the most important numeric columns, labelled with their range in the column's units."""
    numeric = {c.name: c for c in pre.numeric}
    ranked = [c["column"] for c in (importance or {}).get("columns", []) if c["column"] in numeric]
    chosen = (ranked or list(numeric))[:NUMERIC]
    out: dict[str, list[tuple[str, np.ndarray]]] = {}
    for name in chosen:
        x = split.x_num[:, groups[name]["num"][0]].astype(np.float64)  # its value column (the indicator follows)
        edges = np.unique(np.quantile(x, np.linspace(0, 1, BINS + 1)))
        if len(edges) < 3:  # fewer than two distinct bins
            continue
        which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        col = numeric[name]
        out[name] = [(_range(edges[k], edges[k + 1], col, pre, last=k == len(edges) - 2), np.flatnonzero(which == k))
                     for k in range(len(edges) - 1)]
    return out


def _range(low: float, high: float, col: Any, pre: Any, last: bool) -> str:
    """A bin's range in the column's own units (the preprocessing undone)."""
    clip = getattr(pre.cfg, "clip", None)

    def original(v: float) -> float:
        if clip is not None:  # smooth clipping y = x / sqrt(1 + (x/c)^2), undone
            v = v / np.sqrt(max(1e-12, 1.0 - (v / clip) ** 2))
        return v * col.scale + col.center

    return f"[{original(low):.4g}, {original(high):.4g}{']' if last else ')'}"
