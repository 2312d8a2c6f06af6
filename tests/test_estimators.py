"""scikit-learn estimators: conventions checked by scikit-learn itself, and real scores."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_digits, load_iris
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from netfit import NetClassifier, NetRegressor

# tiny models train fastest on one thread (two threads on a busy 2-core machine are far slower)
ONE_THREAD = {"train": {"threads": 1}, "evaluate": {"bootstrap": 0}}
SMALL = dict(hidden=(32,), epochs=40, patience=5, lr=1e-2, random_state=0, config=ONE_THREAD)

# Checks that cannot hold for a network trained by mini-batch SGD with early stopping, and why.
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data":
        "a weight of 2 scales a row's loss, while a repeated row is drawn twice per epoch and may land in "
        "the early-stopping split: the two trainings follow different paths, so the models differ",
}
REGRESSOR_FAILURES = {
    "check_methods_subset_invariance":
        "the network computes in float32: a row's output differs in the last bits (~2e-7) between batch "
        "sizes, above the check's 1e-7 tolerance (classes and probabilities pass)",
}


CLASSIFIER_FAILURES = {
    "check_methods_subset_invariance":
        "the same float32 logit differences between batch sizes (~2e-7); temperature scaling divides the "
        "logits by T, and an under-confident small net gets T < 1 (0.39 for SMALL on 30 make_blobs rows), "
        "which scales them above the check's 1e-7 tolerance in predict_proba (classes pass)",
}


def expected_failures(estimator):
    return {**EXPECTED_FAILURES, **(REGRESSOR_FAILURES if isinstance(estimator, NetRegressor) else CLASSIFIER_FAILURES)}


@pytest.mark.slow
@parametrize_with_checks([NetClassifier(**SMALL), NetRegressor(**SMALL)], expected_failed_checks=expected_failures)
def test_sklearn_conventions(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # data warnings on the checks' odd little data sets
        check(estimator)


@pytest.mark.slow
def test_pipeline_cross_validated_on_digits_reaches_095():
    X, y = load_digits(return_X_y=True)
    clf = make_pipeline(StandardScaler(), NetClassifier(hidden=(128,), random_state=0, config=ONE_THREAD))
    # shuffled folds: digits is ordered by writer, so unshuffled folds test on unseen writers (~0.93)
    scores = cross_val_score(clf, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0))
    assert scores.mean() >= 0.95, scores


def test_learned_attributes_and_probabilities_on_iris(tmp_path):
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = NetClassifier(**{**SMALL, "output_dir": str(tmp_path)}).fit(X, labels)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"] and clf.n_features_in_ == 4
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert (clf.predict(X) == clf.classes_[proba.argmax(1)]).all()
    assert clf.score(X, labels) >= 0.9
    sets = clf.predict_set(X)  # conformal sets, columns in the order of classes_
    np.testing.assert_array_equal(sets, proba >= clf.model_.conformal["threshold"])
    assert clf.run_.path.parent == tmp_path and (clf.run_.path / "model.safetensors").is_file()
    assert list(clf.history_["epoch"]) == list(range(1, len(clf.history_) + 1))


def test_without_output_dir_nothing_is_left_behind(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    X, y = load_iris(return_X_y=True)
    clf = NetClassifier(**SMALL).fit(X, y)
    assert clf.run_ is None and list(tmp_path.iterdir()) == []
    assert clf.score(X, y) >= 0.9  # predicts from memory


def test_grid_search_over_estimator_and_config_parameters():
    X, y = load_diabetes(return_X_y=True)
    grid = GridSearchCV(NetRegressor(**SMALL), {"hidden": [(16,), (64,)], "lr": [1e-2, 3e-3]}, cv=2)
    grid.fit(X, y)
    assert grid.best_score_ > 0.3 and set(grid.best_params_) == {"hidden", "lr"}


def test_sample_weight_favours_the_weighted_class():
    X, y = load_iris(return_X_y=True)
    X, y = X[y > 0], y[y > 0]  # versicolor vs virginica overlap: weights move the boundary
    heavy = np.where(y == 1, 20.0, 1.0)
    plain = NetClassifier(**SMALL).fit(X, y)
    weighted = NetClassifier(**SMALL).fit(X, y, sample_weight=heavy)
    assert (weighted.predict(X) == 1).sum() > (plain.predict(X) == 1).sum()


def test_predicting_before_fit_or_with_other_columns_is_refused():
    from sklearn.exceptions import NotFittedError

    X, y = load_iris(return_X_y=True)
    with pytest.raises(NotFittedError):
        NetClassifier().predict(X)
    clf = NetClassifier(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match="3 features, but NetClassifier is expecting 4"):
        clf.predict(X[:, :3])


def test_sample_weight_with_many_zeros_still_trains():
    """Half the weights 0 at batch 4: steps whose rows all weigh 0 are skipped, the rest train."""
    X, y = load_iris(return_X_y=True)
    X, y = X[y < 2], y[y < 2]  # setosa vs versicolor: separable
    weights = np.where(np.arange(len(y)) % 2 == 0, 1.0, 0.0)
    clf = NetClassifier(**{**SMALL, "batch_size": 4}).fit(X, y, sample_weight=weights)
    assert len(clf.history_) > 0 and clf.score(X, y) > 0.9


def test_sample_weight_that_is_negative_is_a_data_error_naming_column_and_row():
    from netfit.errors import DataError

    X, y = load_iris(return_X_y=True)
    weights = np.ones(len(y))
    weights[7] = -1.0
    with pytest.raises(DataError, match="invalid sample weight") as e:
        NetClassifier(**SMALL).fit(X, y, sample_weight=weights)
    assert "sample_weight" in str(e.value) and "-1" in str(e.value)


def test_an_estimator_whose_run_trained_no_epoch_raises():
    from netfit.errors import NetfitError

    X, y = load_iris(return_X_y=True)
    config = {**ONE_THREAD, "train": {"threads": 1, "divergence": {"policy": "stop"}}}
    clf = NetClassifier(**{**SMALL, "optimizer": "sgd", "lr": 1e12, "config": config})
    with pytest.raises(NetfitError, match="trained no epoch"):
        clf.fit(X, y)
    assert not hasattr(clf, "model_")


def test_verbose_without_output_dir_names_no_folder_and_writes_no_report(tmp_path, capsys):
    """The temporary run folder is removed after fit: printing its path or a report in it would mislead."""
    X, y = load_iris(return_X_y=True)
    NetClassifier(**{**SMALL, "epochs": 3, "verbose": 1}).fit(X, y)
    out = capsys.readouterr().out
    assert "epoch 1/3" in out  # verbose still shows training
    assert "report" not in out and "run folder" not in out and "netfit-estimator-" not in out, out
    clf = NetClassifier(**{**SMALL, "epochs": 3, "verbose": 1, "output_dir": str(tmp_path)}).fit(X, y)
    assert f"report: {clf.run_.path / 'report.html'}" in capsys.readouterr().out
    assert (clf.run_.path / "report.html").is_file()  # asked for with output_dir: written


def newcomer_frame(n: int = 240, seed: int = 0) -> tuple:
    """A DataFrame as people have them: a text category and missing values in both column kinds."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"age": rng.normal(40, 10, n), "color": rng.choice(["red", "green", "blue"], n),
                      "size": rng.normal(0, 1, n)})
    y = np.where((X["age"] > 40) ^ (X["color"] == "red"), "yes", "no")
    X.loc[::9, "age"] = np.nan
    X.loc[::11, "color"] = None
    return X, y


def test_classifier_takes_a_dataframe_with_text_and_missing_values():
    X, y = newcomer_frame()
    clf = NetClassifier(**{**SMALL, "epochs": 60}).fit(X, y)
    assert list(clf.feature_names_in_) == ["age", "color", "size"] and clf.n_features_in_ == 3
    assert clf.model_.preprocessor.types["color"] == "categorical"
    assert clf.score(X, y) >= 0.85
    X_new, _ = newcomer_frame(20, seed=1)
    proba = clf.predict_proba(X_new)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(clf.predict(X_new)) <= {"no", "yes"}
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(X_new.rename(columns={"color": "colour"}))


def test_regressor_takes_a_dataframe_with_text_and_missing_values():
    X, _ = newcomer_frame()
    y = X["age"].fillna(40).to_numpy() / 10 + (X["color"] == "red") * 3.0
    reg = NetRegressor(**{**SMALL, "epochs": 60}).fit(X, y)
    assert reg.score(X, y) >= 0.8
    bounds = reg.predict_interval(X)
    q = reg.model_.conformal["quantile"]  # conformal intervals: prediction -/+ q
    np.testing.assert_allclose(bounds - reg.predict(X)[:, None], np.tile([-q, q], (len(X), 1)), rtol=1e-6)


def test_the_ensemble_parameter_sets_the_members_and_none_keeps_netfits_default():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    kw = dict(hidden=(16,), epochs=3, random_state=0, config={"evaluate": {"bootstrap": 0}})
    one, default = NetClassifier(ensemble=1, **kw).fit(X, y), NetClassifier(**kw).fit(X, y)
    assert one.model_.config.model.ensemble == 1 and one.model_.model.k == 1
    assert default.model_.config.model.ensemble == 4 and default.model_.model.k == 4
    assert NetClassifier().get_params()["ensemble"] is None  # scikit-learn's clone and grid search see it
