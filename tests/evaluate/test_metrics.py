"""Test metrics: point values equal scikit-learn's, the vectorised bootstrap kernels equal
scikit-learn on every resample checked, and the report block is JSON-safe."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from netfit.errors import ConfigError, DataError
from netfit.evaluate import bootstrap, metrics as m
from netfit.evaluate.bootstrap import batched, bootstrap_ci, classification_resample_fns, regression_resample_fns
from netfit.evaluate.metrics import classification_metrics, evaluate_predictions, regression_metrics

TOL = 1e-12


def _fitted(loader, model, test_size=0.15):
    """A real model's test predictions: (y_test, output) on a seeded, stratified split."""
    X, y = loader(return_X_y=True)
    stratify = None if model.__class__ is Ridge else y
    x_tr, x_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, random_state=0, stratify=stratify)
    scaler = StandardScaler().fit(x_tr)
    with threadpool_limits(1, user_api="blas"):  # tiny fits: BLAS threads only add overhead
        model.fit(scaler.transform(x_tr), y_tr)
        x_te = scaler.transform(x_te)
        out = model.predict(x_te) if model.__class__ is Ridge else model.predict_proba(x_te).astype(np.float32)
    return y_te, out


@pytest.fixture(scope="module")
def digits():
    return _fitted(load_digits, LogisticRegression(max_iter=1000))


@pytest.fixture(scope="module")
def cancer():
    return _fitted(load_breast_cancer, LogisticRegression(max_iter=1000), test_size=0.3)


@pytest.fixture(scope="module")
def diabetes():
    return _fitted(load_diabetes, Ridge(alpha=1.0), test_size=0.3)


def _normalised(p):
    p = np.asarray(p, dtype=np.float64)
    return p / p.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------- point values
def test_multiclass_point_values_equal_sklearn(digits):
    y, proba = digits
    p = _normalised(proba)
    pred = p.argmax(axis=1)
    got = classification_metrics(y, proba, list(range(10)))
    assert got["accuracy"] == skm.accuracy_score(y, pred)
    assert got["balanced_accuracy"] == skm.balanced_accuracy_score(y, pred)
    assert got["f1_macro"] == skm.f1_score(y, pred, average="macro")
    assert got["log_loss"] == skm.log_loss(y, p, labels=range(10))
    assert got["roc_auc"] == skm.roc_auc_score(y, p, multi_class="ovr", average="macro")
    assert "pr_auc" not in got
    assert got["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    precision, recall, f1, support = skm.precision_recall_fscore_support(y, pred, zero_division=0)
    assert [got["per_class"][str(k)]["f1"] for k in range(10)] == f1.tolist()
    assert [got["per_class"][str(k)]["support"] for k in range(10)] == support.tolist()
    assert got["accuracy"] > 0.9


def test_binary_point_values_equal_sklearn_and_accept_one_column(cancer):
    y, proba = cancer
    p = _normalised(proba)
    got = classification_metrics(y, proba, ["malignant", "benign"])
    assert got["roc_auc"] == skm.roc_auc_score(y, p[:, 1])
    assert got["pr_auc"] == skm.average_precision_score(y, p[:, 1])
    assert got["f1_macro"] == skm.f1_score(y, p.argmax(axis=1), average="macro")
    assert set(got["per_class"]) == {"malignant", "benign"}
    one_column = classification_metrics(y, p[:, 1], ["malignant", "benign"])
    assert {k: one_column[k] for k in m.METRIC_NAMES["binary"]} == pytest.approx(
        {k: got[k] for k in m.METRIC_NAMES["binary"]}, abs=TOL)
    assert one_column["confusion_matrix"] == got["confusion_matrix"]


def test_sample_weight_reaches_sklearn(cancer):
    y, proba = cancer
    p = _normalised(proba)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    got = classification_metrics(y, p, [0, 1], sample_weight=w)
    assert got["accuracy"] == skm.accuracy_score(y, p.argmax(axis=1), sample_weight=w)
    assert got["log_loss"] == skm.log_loss(y, p, sample_weight=w)
    assert got["roc_auc"] == skm.roc_auc_score(y, p[:, 1], sample_weight=w)


def test_regression_point_values_equal_sklearn(diabetes):
    y, pred = diabetes
    got = regression_metrics(y, pred)
    assert got["mae"] == skm.mean_absolute_error(y, pred)
    assert got["rmse"] == skm.root_mean_squared_error(y, pred)
    assert got["r2"] == skm.r2_score(y, pred)
    assert got["r2"] > 0.3


def test_test_set_missing_a_class_gives_no_auc_but_everything_else(digits):
    y, proba = digits
    keep = y != 3
    got = classification_metrics(y[keep], proba[keep], list(range(10)))
    assert got["roc_auc"] is None
    assert got["log_loss"] == skm.log_loss(y[keep], _normalised(proba[keep]), labels=range(10))
    assert got["per_class"]["3"]["support"] == 0
    block = evaluate_predictions("multiclass", y[keep], proba[keep], list(range(10)), resamples=100)
    assert block["metrics"]["roc_auc"] == {"value": None, "ci_low": None, "ci_high": None, "resamples_used": None}
    json.dumps(block, allow_nan=False)


def test_binary_test_set_of_one_class():
    y = np.zeros(20, dtype=np.int64)
    p = np.linspace(0.1, 0.9, 20)
    block = evaluate_predictions("binary", y, p, ["no", "yes"], resamples=50)
    assert block["metrics"]["roc_auc"]["value"] is None and block["metrics"]["pr_auc"]["value"] is None
    assert block["metrics"]["accuracy"]["value"] == 0.5
    json.dumps(block, allow_nan=False)


# ---------------------------------------------------------------- vectorised kernels vs sklearn
# scikit-learn warns about the classes a small resample lacks; those cases are the point here
pytestmark_oracle = pytest.mark.filterwarnings("ignore:y_pred contains classes", "ignore:A single label")


def _sklearn_on(rows, y, p):
    """scikit-learn's own values on one resample (None where it would raise or warn)."""
    yr, pr = y[rows], p[rows]
    pred = pr.argmax(axis=1)
    K = p.shape[1]
    out = {
        "accuracy": skm.accuracy_score(yr, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(yr, pred),
        "f1_macro": skm.f1_score(yr, pred, average="macro", zero_division=0),
        "log_loss": skm.log_loss(yr, pr, labels=range(K)),
    }
    complete = len(np.unique(yr)) == K
    if K == 2:
        out["roc_auc"] = skm.roc_auc_score(yr, pr[:, 1]) if complete else None
        out["pr_auc"] = skm.average_precision_score(yr, pr[:, 1]) if yr.any() else None
    else:
        out["roc_auc"] = skm.roc_auc_score(yr, pr, multi_class="ovr") if complete else None
    return out


def _assert_kernels_match(y, p, resamples=12, n_rows=None):
    idx = np.random.default_rng(1).integers(0, len(y), (resamples, n_rows or len(y)))
    fns = classification_resample_fns(y, p)
    ours = {name: fn(idx) for name, fn in fns.items()}
    for r, rows in enumerate(idx):
        for name, expected in _sklearn_on(rows, y, p).items():
            if expected is None:
                assert np.isnan(ours[name][r]), name
            else:
                assert abs(ours[name][r] - expected) <= TOL, (name, r, ours[name][r], expected)


@pytestmark_oracle
def test_multiclass_kernels_equal_sklearn_per_resample(digits):
    y, proba = digits
    _assert_kernels_match(y, _normalised(proba))


@pytestmark_oracle
def test_kernels_handle_tied_scores(digits, cancer):
    # rounded probabilities create ties, which AUC and average precision must treat as sklearn does
    for y, proba in (digits, cancer):
        _assert_kernels_match(y, _normalised(np.round(proba, 1) + 1e-3))


@pytestmark_oracle
def test_binary_kernels_equal_sklearn_per_resample(cancer):
    y, proba = cancer
    _assert_kernels_match(y, _normalised(proba))
    # small resamples often lack a class: the kernels must say undefined exactly when sklearn does
    _assert_kernels_match(y, _normalised(proba), resamples=40, n_rows=4)


def test_regression_kernels_equal_sklearn_per_resample(diabetes):
    y, pred = diabetes
    idx = np.random.default_rng(2).integers(0, len(y), (12, len(y)))
    fns = regression_resample_fns(y, pred)
    ours = {name: fn(idx) for name, fn in fns.items()}
    for r, rows in enumerate(idx):
        assert abs(ours["mae"][r] - skm.mean_absolute_error(y[rows], pred[rows])) <= TOL
        assert abs(ours["rmse"][r] - skm.root_mean_squared_error(y[rows], pred[rows])) <= TOL
        assert abs(ours["r2"][r] - skm.r2_score(y[rows], pred[rows])) <= TOL


@pytestmark_oracle
@settings(max_examples=60, deadline=None)
@given(st.integers(2, 4).flatmap(lambda K: st.tuples(
    st.just(K),
    st.lists(st.integers(0, K - 1), min_size=1, max_size=12),
    st.lists(st.lists(st.integers(1, 4), min_size=K, max_size=K), min_size=12, max_size=12),
)))
def test_kernels_equal_sklearn_on_small_random_sets(case):
    # tiny sets with absent classes and many ties are where counting kernels go wrong
    K, labels, weights = case
    y = np.array(labels)
    p = _normalised(np.array(weights[: len(y)], dtype=float))
    fns = classification_resample_fns(y, p)
    rows = np.arange(len(y))[None, :]
    for name, expected in _sklearn_on(rows[0], y, p).items():
        got = fns[name](rows)[0]
        assert (np.isnan(got) if expected is None else abs(got - expected) <= TOL), (name, got, expected)


@pytestmark_oracle
@pytest.mark.parametrize("name", ["digits", "cancer"])
def test_a_test_label_unseen_in_training_counts_as_wrong(name, request):
    """y = -1: a label the model was not trained on. Scored as scikit-learn scores the labels with it
    as a class of its own that no prediction matches; AUC and the confusion matrix over the other rows."""
    y, proba = request.getfixturevalue(name)
    p = _normalised(proba)
    K = p.shape[1]
    unseen = np.arange(len(y)) % 7 == 3
    y = np.where(unseen, -1, y)
    block = evaluate_predictions("binary" if K == 2 else "multiclass", y, proba, list(range(K)), resamples=0)
    values = {k: v["value"] for k, v in block["metrics"].items()}
    pred, own = p.argmax(axis=1), np.where(unseen, K, y)
    assert values["accuracy"] == pytest.approx(((pred == y) & ~unseen).mean(), abs=TOL)
    assert values["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(own, pred), abs=TOL)
    assert values["f1_macro"] == pytest.approx(skm.f1_score(own, pred, average="macro", zero_division=0), abs=TOL)
    with_unseen = np.column_stack([p, np.zeros(len(p))])
    assert values["log_loss"] == pytest.approx(skm.log_loss(own, with_unseen, labels=range(K + 1)), abs=1e-9)
    known = ~unseen
    auc = skm.roc_auc_score(y[known], p[known, 1]) if K == 2 else skm.roc_auc_score(y[known], p[known], multi_class="ovr")
    assert values["roc_auc"] == pytest.approx(auc, abs=TOL)
    assert np.sum(block["confusion_matrix"]) == known.sum() and block["n"] == len(y)
    assert [c["support"] for c in block["per_class"].values()] == np.bincount(y[known], minlength=K).tolist()
    # the bootstrap kernels score every resample as the point values do
    idx = np.random.default_rng(1).integers(0, len(y), (6, len(y)))
    fns = classification_resample_fns(y, p)
    for r, rows in enumerate(idx):
        point = classification_metrics(y[rows], p[rows], list(range(K)))
        for metric, fn in fns.items():
            expected = point[metric]
            got = fn(idx)[r]
            assert np.isnan(got) if expected is None else abs(got - expected) <= 1e-9, (metric, got, expected)


# ---------------------------------------------------------------- bootstrap
def test_index_matrix_is_drawn_once_and_shared():
    seen = []
    record = batched(lambda idx: seen.append(idx.copy()) or np.zeros(len(idx)))
    bootstrap_ci({"a": record, "b": record}, 7, resamples=5, seed=3)
    expected = np.random.default_rng(3).integers(0, 7, (5, 7))
    assert np.array_equal(seen[0], expected) and np.array_equal(seen[1], expected)


def test_block_draws_equal_one_draw(monkeypatch, digits):
    y, proba = digits
    fns = classification_resample_fns(y, _normalised(proba))
    whole = bootstrap_ci(fns, len(y), resamples=101, seed=5)
    monkeypatch.setattr(bootstrap, "_CHUNK_ELEMENTS", 7 * len(y))  # blocks of 7 resamples
    assert bootstrap_ci(fns, len(y), resamples=101, seed=5) == whole


def test_same_seed_same_intervals_and_other_seed_differs(digits):
    y, proba = digits
    a = evaluate_predictions("multiclass", y, proba, list(range(10)), resamples=200, seed=0)
    b = evaluate_predictions("multiclass", y, proba, list(range(10)), resamples=200, seed=0)
    c = evaluate_predictions("multiclass", y, proba, list(range(10)), resamples=200, seed=1)
    assert a == b
    assert a["metrics"]["log_loss"]["ci_low"] != c["metrics"]["log_loss"]["ci_low"]


def test_loop_and_batched_metrics_agree():
    hits = np.random.default_rng(0).random(150) < 0.8
    loop = bootstrap_ci({"acc": lambda idx: hits[idx].mean()}, 150, resamples=300)
    vector = bootstrap_ci({"acc": batched(lambda idx: hits[idx].mean(axis=1))}, 150, resamples=300)
    assert loop == vector


def test_intervals_contain_the_estimate_and_shrink_with_n():
    rng = np.random.default_rng(0)
    widths = []
    for n in (100, 1600):
        hits = (rng.random(n) < 0.8).astype(float)
        (low, high, used), = bootstrap_ci({"acc": lambda idx: hits[idx].mean()}, n, resamples=400).values()
        assert low <= hits.mean() <= high and used == 400
        widths.append(high - low)
    # the width falls like 1/sqrt(n): 16x the rows, about a quarter of the width
    assert 0.15 < widths[1] / widths[0] < 0.35


def test_undefined_resamples_are_skipped_and_counted():
    def odd_only(idx):
        if idx[0] % 2 == 0:
            raise ValueError("undefined here")
        return 1.0

    out = bootstrap_ci({"odd": odd_only, "never": lambda idx: None}, 10, resamples=200)
    assert 0 < out["odd"].used < 200 and out["odd"][:2] == (1.0, 1.0)
    assert out["never"].used == 0 and np.isnan(out["never"].low)


def test_bootstrap_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="confidence"):
        bootstrap_ci({}, 10, confidence=1.5)
    with pytest.raises(ConfigError, match="resamples"):
        bootstrap_ci({}, 10, resamples=0)


# ---------------------------------------------------------------- the report block
@pytest.mark.parametrize("case", ["digits", "cancer", "diabetes"])
def test_report_block_is_json_safe_and_intervals_hold_the_value(case, request):
    y, out = request.getfixturevalue(case)
    task = {"digits": "multiclass", "cancer": "binary", "diabetes": "regression"}[case]
    classes = {"digits": list(range(10)), "cancer": ["malignant", "benign"], "diabetes": None}[case]
    block = evaluate_predictions(task, y, out, classes, resamples=1000, confidence=0.9, seed=0)
    json.dumps(block, allow_nan=False)
    assert set(block["metrics"]) == set(m.METRIC_NAMES[task])
    assert block["n"] == len(y) and block["bootstrap"] == {"resamples": 1000, "confidence": 0.9, "seed": 0}
    for name, entry in block["metrics"].items():
        assert entry["ci_low"] <= entry["value"] <= entry["ci_high"], name
        assert entry["resamples_used"] == 1000
    if task == "regression":
        assert block["per_class"] is None and block["confusion_matrix"] is None
    else:
        assert np.sum(block["confusion_matrix"]) == len(y) and block["classes"] == classes


def test_no_resamples_means_no_intervals(diabetes):
    y, pred = diabetes
    block = evaluate_predictions("regression", y, pred, None, resamples=0)
    assert all(e["ci_low"] is None and e["ci_high"] is None for e in block["metrics"].values())
    assert block["metrics"]["r2"]["value"] == skm.r2_score(y, pred)


def test_wrong_inputs_are_named():
    with pytest.raises(ConfigError, match="task"):
        evaluate_predictions("ranking", [0, 1], [0.2, 0.8], [0, 1])
    with pytest.raises(DataError, match="3 classes"):
        evaluate_predictions("binary", [0, 1], [[0.2, 0.7, 0.1]] * 2, [0, 1, 2])
    with pytest.raises(DataError, match=r"shape \(n, 3\)"):
        classification_metrics([0, 1], [[0.2, 0.8]] * 2, [0, 1, 2])
    with pytest.raises(DataError, match="class indices"):
        classification_metrics([0, 5], [[0.2, 0.8]] * 2, [0, 1])
