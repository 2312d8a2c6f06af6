"""A finished run as an object (`Run`), and its model applied to new data.

    >>> run = netfit.load("runs/digits-mlp-20261125-101500-ab12cd")  # doctest: +SKIP
    >>> run.predict(frame)  # doctest: +SKIP

The model and its preprocessing are read back by `netfit.runfolder.load_model`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netfit.errors import DataError, RunError, short_list

if TYPE_CHECKING:  # `import netfit` stays light: pandas, torch and the model code load on first use
    import numpy as np
    import pandas as pd

    from netfit.runfolder import LoadedModel

MODEL_FILES = ("model.json", "model.safetensors", "config.yaml")


class Run:
    """A finished run: its folder, metrics, history, and a model that predicts."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        missing = [f for f in MODEL_FILES if not (self.path / f).is_file()]
        if not self.path.is_dir() or missing:
            raise RunError("not a finished netfit run folder", where=str(self.path),
                           expected=", ".join(MODEL_FILES), found=f"missing {', '.join(missing)}" if self.path.is_dir() else "no such folder",
                           hint="pass the folder printed at the end of `netfit train` (under runs/)")
        self._model = None

    def __repr__(self) -> str:
        return f"Run('{self.path}')"

    @property
    def report(self) -> dict[str, Any]:
        path = self.path / "report.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    @property
    def metrics(self) -> dict[str, Any]:
        """Test metrics: {name: {"value", "ci_low", "ci_high"}}."""
        test = self.report.get("test") or {}
        return test.get("metrics", {})

    @property
    def history(self) -> "pd.DataFrame":
        import pandas as pd

        return pd.read_csv(self.path / "history.csv")

    @property
    def config(self):
        from netfit.config import load_config

        return load_config(self.path / "config.yaml", require_data=False, trained=True)

    def predict(self, data: Any, *, keep: "list[str] | tuple[str, ...]" = (), intervals: bool = True,
                min_confidence: float | None = None) -> "pd.DataFrame":
        """Predictions for a DataFrame, CSV/Parquet/.npz path or array: a DataFrame with `prediction`
        and, for classification, one `proba_<class>` column per class (temperature-scaled when the
        run calibrated); the input columns named in `keep` (an id, say) come first, row for row.

        `intervals` (when the run fitted split conformal, `evaluate.conformal`): regression adds
        `lower` and `upper`, classification a `set` column (the labels in the prediction set,
        joined by `|`; empty when no class reaches the threshold).

        `min_confidence` (classification): an `abstain` column, True where the top-class
        probability is below it (report.html's risk-coverage table says what each value keeps)."""
        return predict_frame(self._loaded(), data, keep, intervals, min_confidence)

    def predict_proba(self, data: Any) -> "np.ndarray":
        return predict_output(self._loaded(), data)[0]

    def evaluate(self, data: Any, *, resamples: int = 1000) -> dict[str, Any]:
        """Score labelled data with the saved preprocessing: metrics with bootstrap intervals
        (a `DataWarning` under 30 rows, where they mean little) and, when the run fitted split
        conformal, `conformal`: the coverage of its intervals or sets on these rows (Wilson
        interval), their mean width or size, per class or target decile."""
        return evaluate_data(self._loaded(), data, resamples=resamples)

    def _loaded(self) -> "LoadedModel":
        if self._model is None:
            from netfit.runfolder import load_model

            self._model = load_model(self.path)
        return self._model


def as_frame(data: Any, loaded: "LoadedModel", require_target: bool = False) -> "pd.DataFrame":
    """Accept a DataFrame, a CSV/Parquet/.npz path, or a 2-D array in the training column order.

    An array has the layout of the features the model was trained on, columns the preprocessing
    dropped (constant in training) included, so the X of `fit(data=(X, y))` predicts as it is; an
    array of only the kept columns is accepted too. An `.npz` to predict needs only its features
    array (`data.x_key`); to evaluate, its labels too.
    """
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, Path)):
        from netfit.data.sources import load_table

        return load_table(str(data), loaded.config.data, require_target=require_target)
    arr = np.asarray(data)
    trained = list(loaded.preprocessor.types)  # every feature column, in the training table's order
    layouts = {len(cols): cols for cols in (list(loaded.preprocessor.input_columns), trained)}
    if arr.ndim != 2 or arr.shape[1] not in layouts:
        raise DataError("array input has the wrong shape", where="array input",
                        expected=f"(rows, {len(trained)}): the training features {short_list(trained)}, in that order",
                        found=f"shape {arr.shape}", hint="pass the columns the model was trained on, or a DataFrame "
                                                        "with the training column names")
    return pd.DataFrame(arr, columns=layouts[arr.shape[1]])


def predict_output(loaded: "LoadedModel", data: Any, require_target: bool = False, where: str | None = None):
    """(output, split): class probabilities (n, K) or regression values in target units."""
    from netfit.train.tensors import predict_split

    frame = as_frame(data, loaded, require_target)
    where = where or (str(data) if isinstance(data, (str, Path)) else "data")  # errors name the file
    split = loaded.preprocessor.transform(frame, require_target=require_target, where=where)
    bs = loaded.config.train.eval_batch_size
    return predict_split(loaded.model, split, loaded.task, loaded.preprocessor, loaded.device, bs,
                         loaded.calibration), split


def check_min_confidence(loaded: "LoadedModel", min_confidence: float | None) -> None:
    """A DataError unless `min_confidence` is None, or a probability asked of a classifier."""
    if min_confidence is not None and (loaded.task == "regression" or not 0 <= min_confidence <= 1):
        raise DataError("min_confidence needs a classifier and a probability", where="min_confidence",
                        expected="a value in [0, 1] for a classification run",
                        found=f"{min_confidence} for a {loaded.task} run",
                        hint="leave it out for regression (use the conformal lower/upper), or pass e.g. 0.8")


def predict_frame(loaded: "LoadedModel", data: Any, keep: "list[str] | tuple[str, ...]" = (),
                  intervals: bool = True, min_confidence: float | None = None) -> "pd.DataFrame":
    from netfit.evaluate import calibration

    check_min_confidence(loaded, min_confidence)
    where = str(data) if isinstance(data, (str, Path)) else "data"
    given = as_frame(data, loaded)
    missing = [c for c in keep if c not in given.columns]
    if missing:
        from netfit.data.messages import closest_hint

        raise DataError("a column to keep is not in the data", where=where,
                        expected=f"the column(s) {short_list(list(keep))}", found=f"no column {missing[0]!r}",
                        hint=closest_hint(missing[0], given.columns, "--keep"))
    output, split = predict_output(loaded, given, where=where)
    frame = given[list(keep)].reset_index(drop=True)
    conformal = loaded.conformal if intervals else None
    if loaded.task == "regression":
        frame["prediction"] = output
        if conformal:
            frame["lower"], frame["upper"] = calibration.intervals(output, conformal, split.x_num)
        return frame
    frame["prediction"] = loaded.preprocessor.decode_target(output.argmax(1))
    for k, c in enumerate(loaded.classes):
        frame[f"proba_{c}"] = output[:, k]
    if conformal:
        labels = [str(c) for c in loaded.classes]
        frame["set"] = ["|".join(c for c, inside in zip(labels, row) if inside)
                        for row in calibration.prediction_sets(output, conformal)]
    if min_confidence is not None:
        frame["abstain"] = output.max(axis=1) < min_confidence
    return frame


def evaluate_data(loaded: "LoadedModel", data: Any, *, resamples: int = 1000) -> dict[str, Any]:
    from netfit.evaluate.metrics import MIN_ROWS, evaluate_predictions, warn_if_few_rows

    output, split = predict_output(loaded, data, require_target=True)
    pre, confidence = loaded.preprocessor, loaded.config.evaluate.confidence
    y = pre.decode_target(split.y) if loaded.task == "regression" else split.y
    warn_if_few_rows(len(y), "labelled rows", str(data) if isinstance(data, (str, Path)) else "data",
                     f"score {MIN_ROWS} or more labelled rows", confidence if resamples else None)
    result = evaluate_predictions(loaded.task, y, output, loaded.classes, resamples=resamples,
                                  confidence=confidence, seed=loaded.config.seed)
    if loaded.conformal:  # do the run's intervals or sets still cover on these rows?
        from netfit.evaluate.calibration import coverage_report

        result["conformal"] = coverage_report(loaded.task, y, output, loaded.conformal, loaded.classes, confidence,
                                              x_num=split.x_num)
    return result
