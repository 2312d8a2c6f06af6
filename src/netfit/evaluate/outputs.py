"""The test split's predictions, kept in the run folder so reports rebuild without retraining.

`test_predictions.csv` holds one row per test row: `y_true` and `prediction` (class labels, or
values in target units) and, for classification, one `proba_<class>` column per class in the
order of `report.json`'s `test.classes` (the same names `netfit predict` writes). Floats are
written so that they read back bit for bit (`load_test_outputs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from netfit.errors import RunError
from netfit.io import atomic_write

FILENAME = "test_predictions.csv"


@dataclass
class Predictions:
    """Test predictions as the plots need them.

    y: class indices (classification; -1 for a label not seen in training) or true values (regression), shape (n,).
    output: probabilities (n, K) for classification, predicted values (n,) for regression.
    """

    task: str
    y: np.ndarray
    output: np.ndarray
    classes: list


def save_test_outputs(run_dir: Path, task: str, y_true: np.ndarray, output: np.ndarray, pre: Any,
                      unseen: np.ndarray | None = None) -> Path:
    """Write test_predictions.csv; `y_true` holds class indices or values in target units.

    `unseen` (`Split.unseen`): the label text of rows whose label was not seen in training (y_true -1);
    they are written with that label, which no prediction matches.
    """
    if task == "regression":
        frame = pd.DataFrame({"y_true": np.asarray(y_true, np.float64), "prediction": np.asarray(output, np.float64)})
    else:
        # labels as exact strings, so a numeric class label reads back as the same label; one string
        # per class, looked up by code (a str() per row held ~150 MB more on 300,000 test rows)
        names = np.array([str(c) for c in pre.decode_target(np.arange(len(pre.classes)))], dtype=object)
        truth = names[np.maximum(np.asarray(y_true), 0)]
        if unseen is not None:
            truth[np.asarray(y_true) < 0] = unseen[np.asarray(y_true) < 0]
        columns = {"y_true": pd.Series(truth, dtype=object), "prediction": pd.Series(names[output.argmax(1)], dtype=object)}
        columns.update({f"proba_{c}": np.asarray(output[:, k], np.float64) for k, c in enumerate(pre.classes)})
        frame = pd.DataFrame(columns)
    # no float_format: pandas writes each float64 as its shortest round-trip repr, so metrics computed
    # from this file equal report.json's (float32 outputs widen to float64 exactly first); written to
    # the file in chunks of rows, never as one string
    return atomic_write(run_dir / FILENAME, lambda tmp: frame.to_csv(tmp, index=False))


# floats read back bit for bit: pandas 3 parses them exactly by default (and deprecates the option);
# pandas 2's default parser can be off in the last digit
EXACT_FLOATS: dict = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}


def load_test_outputs(run_dir: Path, task: str, classes: list | None, unseen: list[str] | None = None) -> Predictions | None:
    """Read test_predictions.csv back; None when the run has none (an older run, no test split).

    Labels listed in `unseen` (report.json's `test.unseen_labels`: not seen in training) read as -1."""
    path = Path(run_dir) / FILENAME
    if not path.is_file():
        return None
    if task == "regression":
        frame = pd.read_csv(path, **EXACT_FLOATS)
        return Predictions(task, frame["y_true"].to_numpy(float), frame["prediction"].to_numpy(float), [])
    frame = pd.read_csv(path, dtype={"y_true": str, "prediction": str}, **EXACT_FLOATS)
    known = {str(c): k for k, c in enumerate(classes or [])}
    columns = [f"proba_{c}" for c in classes or []]
    index = {**{str(label): -1 for label in unseen or ()}, **known}
    unknown = sorted(set(frame["y_true"]) - set(index))
    if unknown or not set(columns) <= set(frame.columns):
        raise RunError("test predictions do not match the report's classes", where=str(path),
                       expected=f"labels and proba_ columns for {', '.join(known)}",
                       found=f"labels {', '.join(unknown[:5])}" if unknown else "other proba_ columns",
                       hint="the run folder mixes files of different runs; retrain to rebuild it")
    y = frame["y_true"].map(index).to_numpy(np.int64)
    return Predictions(task, y, frame[columns].to_numpy(float), list(classes))
