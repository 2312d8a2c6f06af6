"""scikit-learn estimators: `NetClassifier` and `NetRegressor` run netfit's pipeline inside `fit`.

They follow scikit-learn's conventions: `__init__` only stores parameters, `fit` returns self,
learned attributes end in `_`, and they work in `Pipeline`, `cross_val_score` and `GridSearchCV`::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    clf = make_pipeline(StandardScaler(), NetClassifier(hidden=(128,), random_state=0))
    clf.fit(X, y).score(X_test, y_test)

X is a numeric array (checked as scikit-learn does: no NaN, no text), or a pandas DataFrame, which
goes through netfit's own preprocessing as a table does: text columns become categories, missing
values are imputed, the column types inferred (or set with `config={"data": {"types": ...}}`).

Each `fit` holds out `validation_fraction` of the rows (stratified) for early stopping and writes
a run folder: under `output_dir` when given (kept with its report.html, and opened as `run_`),
else in a temporary folder, without a report, that is deleted once the model is loaded into
memory (`run_` is then None; `verbose` then names no path).
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_consistent_length, check_is_fitted, column_or_1d, validate_data

from netfit.config.data import DEFAULT_TARGET

TARGET, WEIGHT = DEFAULT_TARGET, "sample_weight"


class _NetEstimator(BaseEstimator):
    """Parameters and the fit shared by both estimators (the public classes add the task)."""

    _task = "regression"

    def __init__(self, hidden=(256, 128), activation="relu", dropout=0.1, epochs=200, batch_size=64, lr=1e-3,
                 weight_decay=1e-4, optimizer="adamw", patience=10, validation_fraction=0.1, random_state=None,
                 verbose=0, config=None, output_dir=None, ensemble=None):
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.verbose = verbose
        self.config = config
        self.output_dir = output_dir
        self.ensemble = ensemble

    def _validate(self, X, y, y_numeric: bool = False):
        """(X, y) checked: an array as scikit-learn checks it (float64, finite); a DataFrame as it is,
        its names and width recorded (`feature_names_in_`, `n_features_in_`) and its values left to
        netfit's preprocessing (text categories, missing values)."""
        self._columns = list(X.columns) if isinstance(X, pd.DataFrame) else None
        if self._columns is None:
            return validate_data(self, X, y, dtype=np.float64, y_numeric=y_numeric, ensure_min_samples=2)
        validate_data(self, X, skip_check_array=True)
        y = column_or_1d(check_array(y, ensure_2d=False, dtype=np.float64 if y_numeric else None, input_name="y"))
        check_consistent_length(X, y)
        if len(X) < 2:
            raise ValueError(f"Found array with {len(X)} sample(s) while a minimum of 2 is required.")
        return X, y

    def _fit(self, X, y, sample_weight, task: str):
        from netfit.api import Run
        from netfit.run import train_run
        from netfit.runfolder import load_model

        frame = _frame(X, y, sample_weight)
        # an array's columns are all numeric, every row kept; a DataFrame's types are netfit's to infer
        types = {c: "numeric" for c in _columns(X.shape[1])} if self._columns is None else None
        workdir = self.output_dir or tempfile.mkdtemp(prefix="netfit-estimator-")
        try:
            run = train_run(self._config(types, task, sample_weight is not None, workdir), frame,
                            quiet=not self.verbose, temporary=not self.output_dir)
            _check_trained(run.report)
            self.model_ = load_model(run.path)
            self.history_ = run.history
        finally:
            if not self.output_dir:  # the model now lives in memory; the temporary folder can go
                shutil.rmtree(workdir, ignore_errors=True)
        self.run_ = Run(run.path) if self.output_dir else None
        return self

    def _config(self, types: dict[str, str] | None, task: str, weighted: bool, workdir: str) -> Any:
        """The estimator's parameters over `config` (a dict, YAML path or Config) as one resolved config;
        `types` (an array's columns) replaces data.types, None keeps the config's."""
        from netfit.config import load_config

        base = load_config(self.config, require_data=False).to_dict()
        val = self.validation_fraction
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        overrides = {
            "seed": seed, "output_dir": workdir, "name": type(self).__name__,
            "data.types": base["data"]["types"] if types is None else types,
            "data.task": task, "data.target": TARGET, "data.weight_column": WEIGHT if weighted else None,
            "data.split": {**base["data"]["split"], "train": 1 - val, "val": val, "test": 0.0},
            "model.hidden": list(self.hidden), "model.activation": self.activation, "model.dropout": self.dropout,
            "train.epochs": self.epochs, "train.batch_size": self.batch_size,
            "train.optimizer": {**base["train"]["optimizer"], "name": self.optimizer, "lr": self.lr,
                                "weight_decay": self.weight_decay},
            "evaluate.baselines": False,
            "evaluate.importance": False,
            "evaluate.report_html": bool(self.output_dir),  # a report only where it is kept
        }
        if self.ensemble is not None:
            overrides["model.ensemble"] = self.ensemble
        if not self.output_dir:  # the temporary run folder is deleted after fit: no resume could read a
            # checkpoint, and one per epoch was a quarter of a small fit (digits 3-fold: 4.8 s -> 3.7 s)
            overrides["train.checkpoint"] = {**base["train"]["checkpoint"], "every_epochs": None, "every_steps": None,
                                             "every_minutes": None}
        if val > 0 and self.patience:
            overrides["train.early_stopping"] = {**(base["train"]["early_stopping"] or {}), "patience": self.patience}
        else:  # no validation rows: nothing to stop on
            overrides["train.early_stopping"] = None
        return load_config(base, overrides, require_data=False)

    def _output(self, X) -> np.ndarray:
        return self._output_and_split(X)[0]

    def _output_and_split(self, X):
        """The model's output and the preprocessed rows (the normalized conformal spread reads them)."""
        from netfit.predict import predict_output

        check_is_fitted(self)
        if self._columns is None:
            X = validate_data(self, X, reset=False, dtype=np.float64)
            return predict_output(self.model_, pd.DataFrame(X, columns=_columns(X.shape[1])))
        X = validate_data(self, X, reset=False, skip_check_array=True)  # the names and width of fit
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=self._columns)
        return predict_output(self.model_, frame.set_axis([str(c) for c in self._columns], axis=1))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


class NetClassifier(ClassifierMixin, _NetEstimator):
    """A neural-network classifier trained by netfit (early stopping on a held-out fraction).

    Args:
        hidden: units of each hidden layer. activation, dropout: as in `model:`.
        epochs, batch_size, lr, weight_decay, optimizer: as in `train:`.
        patience: validations without improvement before stopping (0: no early stopping).
        validation_fraction: rows held out for early stopping (0: none).
        random_state: seed for the split, the initial weights and shuffling (None: a fresh one).
        verbose: show training progress. config: a dict, YAML path or `Config` for every other
            field (the parameters above take precedence). output_dir: keep the run folder there.
        ensemble: members of the TabM-mini ensemble (`model.ensemble`); None: netfit's default (4).
            1 trains one network, in less than half the time (digits 3-fold: 6.9 s against 16.3 s).

    Example:
        >>> from sklearn.datasets import load_iris
        >>> X, y = load_iris(return_X_y=True)
        >>> NetClassifier(hidden=(32,), random_state=0).fit(X, y).score(X, y) > 0.9  # doctest: +SKIP
        True
    """

    def fit(self, X, y, sample_weight=None):
        """Train on X (an array or a DataFrame, n_samples x n_features) and labels y; returns self."""
        X, y = self._validate(X, y)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        weights = _weights(sample_weight, X)
        weighted = self.classes_ if weights is None else np.unique(y[weights > 0])
        if len(weighted) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes in y (with non-zero sample_weight); "
                             f"found 1 class: {weighted[0]!r}")
        task = "binary" if len(self.classes_) == 2 else "multiclass"
        return self._fit(X, codes, weights, task)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), columns in the order of `classes_`."""
        proba = self._output(X)
        # netfit's classes are the codes 0..K-1 it was trained on, in sorted order
        order = np.asarray(self.model_.classes, dtype=np.int64)
        out = np.zeros((len(proba), len(self.classes_)), dtype=np.float64)
        out[:, order] = proba
        return out

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row."""
        proba = self.predict_proba(X)  # checks that the estimator is fitted
        return self.classes_[proba.argmax(axis=1)]

    def predict_set(self, X) -> np.ndarray:
        """Conformal prediction sets: booleans (n_samples, n_classes), True where the class (in the
        order of `classes_`) is in the row's set (LAC, fitted on the validation rows; see
        docs/calibration.md)."""
        from netfit.evaluate.calibration import prediction_sets

        proba = self.predict_proba(X)
        return prediction_sets(proba, _conformal(self.model_))


class NetRegressor(RegressorMixin, _NetEstimator):
    """A neural-network regressor trained by netfit; same parameters as `NetClassifier`.

    Example:
        >>> from sklearn.datasets import load_diabetes
        >>> X, y = load_diabetes(return_X_y=True)
        >>> NetRegressor(hidden=(32,), random_state=0).fit(X, y).score(X, y) > 0.4  # doctest: +SKIP
        True
    """

    def fit(self, X, y, sample_weight=None):
        """Train on X (an array or a DataFrame, n_samples x n_features) and numeric targets y; returns self."""
        X, y = self._validate(X, y, y_numeric=True)
        return self._fit(X, y.astype(np.float64), _weights(sample_weight, X), "regression")

    def predict(self, X) -> np.ndarray:
        """Predicted values in the target's units."""
        return np.asarray(self._output(X), dtype=np.float64)

    def predict_interval(self, X) -> np.ndarray:
        """Conformal intervals (n_samples, 2): lower and upper, in the target's units (absolute or
        normalized residuals of the validation rows; see docs/calibration.md)."""
        from netfit.evaluate.calibration import intervals

        output, split = self._output_and_split(X)
        pred = np.asarray(output, dtype=np.float64)
        return np.stack(intervals(pred, _conformal(self.model_), split.x_num), axis=1)


def _conformal(loaded: Any) -> dict:
    if loaded.conformal is None:
        from netfit.errors import ConfigError

        raise ConfigError("this estimator fitted no conformal threshold", where="evaluate.conformal",
                          found="null, or no validation rows (validation_fraction: 0)",
                          hint="fit with a validation_fraction above 0 and evaluate.conformal left on")
    return loaded.conformal


def _check_trained(report: dict) -> None:
    """A run that completed no epoch (diverged at once, every attempt) has nothing to predict with."""
    if report.get("epochs_run", 0) > 0:
        return
    from netfit.errors import DivergenceError, RunError

    error = DivergenceError if report.get("stop_reason") == "diverged" else RunError
    raise error("the network trained no epoch, so the estimator is not fitted", where="fit",
                found=f"stop reason {report.get('stop_reason')}: {report.get('stop_message', '')}",
                hint="lower lr, check the inputs and sample_weight, or pass verbose=1 to watch the loss")


def _columns(n: int) -> list[str]:
    return [f"x{i}" for i in range(n)]


def _frame(X, y: np.ndarray, sample_weight: np.ndarray | None) -> pd.DataFrame:
    """The table netfit trains on: X's columns (x0, x1, ... for an array), the target, the weights."""
    if not isinstance(X, pd.DataFrame):
        frame = pd.DataFrame(X, columns=_columns(X.shape[1]))
    else:
        frame = X.set_axis([str(c) for c in X.columns], axis=1).reset_index(drop=True)
        taken = [c for c in (TARGET, WEIGHT) if c in frame.columns]
        if taken:
            from netfit.errors import DataError

            raise DataError("a column of X has a name the estimator gives y or sample_weight", where=f"X: column {taken[0]!r}",
                            expected=f"feature columns other than {TARGET!r} and {WEIGHT!r}", found=f"columns {list(X.columns)}",
                            hint="pass the labels as y (drop them from X), or rename that column")
    frame[TARGET] = y
    if sample_weight is not None:
        frame[WEIGHT] = sample_weight
    return frame


def _weights(sample_weight, X: np.ndarray) -> np.ndarray | None:
    from sklearn.utils.validation import _check_sample_weight

    return None if sample_weight is None else _check_sample_weight(sample_weight, X, dtype=np.float64)
