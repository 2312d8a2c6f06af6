"""Baselines scored on the same split as the network, so every result says what the network adds.

A dummy predictor (class priors / training mean) and a linear model (logistic regression /
ridge) are fitted on the preprocessed training features and scored on the test split with
the same metrics and the same bootstrap seed as the network, so their intervals are paired.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from threadpoolctl import threadpool_limits

from netfit.evaluate.metrics import TASKS, evaluate_predictions
from netfit.evaluate.verdict import paired_differences

# Below this many training values a linear fit is a string of small matrix-vector products,
# where waking BLAS threads costs more than it saves: digits' logistic regression took 0.3-3.5 s
# with 2 BLAS threads on a busy 2-core machine and 0.05 s with one.
_ONE_BLAS_THREAD_BELOW = 2**20


def baselines(
    task: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    classes: list | None,
    *,
    seed: int = 0,
    resamples: int = 1000,
    confidence: float = 0.95,
    network_output: Any = None,
) -> dict[str, Any]:
    """Fit and score the dummy and linear baselines.

    Args:
        task: "binary", "multiclass" or "regression".
        x_train, x_test: preprocessed (standardized) 2-D feature arrays.
        y_train, y_test: class indices 0..K-1, or targets in original units.
        classes: class labels in index order (None for regression).
        seed: bootstrap seed (use the network's, so intervals are paired) and model seed.
        resamples, confidence: as in `evaluate_predictions`.
        network_output: the network's test output (probabilities or predictions); with it each
            block also holds `difference`: network - baseline per metric, with its paired
            bootstrap interval (`netfit.evaluate.verdict.paired_differences`).

    Returns:
        `{"dummy": block, "linear": block}`, each an `evaluate_predictions` block with a
        `"model"` entry naming the estimator; `"linear"` is None when the training split
        holds a single class (report.html and the terminal table show it as not fitted).

    Example:
        >>> out = baselines("multiclass", x_tr, y_tr, x_te, y_te, list(range(10)), seed=0,
        ...                 resamples=1000, confidence=0.95)  # doctest: +SKIP
        >>> out["linear"]["metrics"]["accuracy"]["value"]  # doctest: +SKIP
        0.96
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if task == "regression":
        models = {"dummy": ("DummyRegressor(strategy='mean')", DummyRegressor(strategy="mean")),
                  "linear": ("Ridge(alpha=1.0)", Ridge(alpha=1.0))}
    else:
        models = {
            # "prior" predicts the majority class and scores the class frequencies as probabilities
            "dummy": ("DummyClassifier(strategy='prior')", DummyClassifier(strategy="prior")),
            "linear": ("LogisticRegression(max_iter=1000)", LogisticRegression(max_iter=1000, random_state=seed)),
        }
    out: dict[str, Any] = {}
    for name, (described, model) in models.items():
        if task != "regression" and name == "linear" and len(np.unique(y_train)) < 2:
            out[name] = None  # a logistic regression cannot be fitted on one class
            continue
        output = _fit_predict(model, task, x_train, y_train, x_test, len(classes or ()))
        block = evaluate_predictions(task, y_test, output, classes, resamples=resamples,
                                     confidence=confidence, seed=seed)
        out[name] = {"model": described, **block}
        if network_output is not None:
            out[name]["difference"] = paired_differences(task, y_test, network_output, output, classes, seed=seed,
                                                         resamples=resamples, confidence=confidence)
    return out


def _fit_predict(model: Any, task: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                 K: int) -> np.ndarray:
    """Fit on train; predictions (regression) or (n, K) probabilities for the test rows."""
    blas_threads = 1 if np.size(x_train) < _ONE_BLAS_THREAD_BELOW else None
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        model.fit(x_train, y_train)
        return model.predict(x_test) if task == "regression" else _aligned_proba(model, x_test, K)


def _aligned_proba(model: Any, x: np.ndarray, K: int) -> np.ndarray:
    """predict_proba as an (n, K) matrix over class indices 0..K-1.

    The estimator only knows the classes seen in training (`classes_`); a class absent from
    the training split gets probability 0 in its column.
    """
    proba = np.zeros((x.shape[0], K))  # x may be sparse (text bag-of-words): no len()
    proba[:, np.asarray(model.classes_, dtype=np.int64)] = model.predict_proba(x)
    return proba



def flat_features(split: Any, vocab_size: int | None = None) -> Any:
    """Features for the linear baseline: numeric columns, codes of embedded columns, and the
    flattened image/sequence (with its lengths) or, for text, sparse bag-of-words counts."""
    x = split.x_num if not split.x_cat.shape[1] else np.hstack([split.x_num, split.x_cat.astype(np.float32)])
    if split.x_array is None:
        return x
    if vocab_size is None:
        extra = [split.x_array.reshape(len(split), -1)] + ([split.lengths[:, None]] if split.lengths is not None else [])
        return np.hstack([x, *extra]).astype(np.float32)
    from scipy import sparse

    rows = np.repeat(np.arange(len(split)), split.x_array.shape[1])
    ids = split.x_array.ravel()
    real = ids > 0  # <pad> is not a word
    counts = sparse.csr_matrix((np.ones(int(real.sum()), np.float32), (rows[real], ids[real])),
                               shape=(len(split), vocab_size))  # duplicate (row, id) pairs add up
    return sparse.hstack([sparse.csr_matrix(x), counts]).tocsr()
