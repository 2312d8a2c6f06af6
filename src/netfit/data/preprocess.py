"""Preprocessing fitted on the training split only, stored as JSON, reused for val, test and predict.

Features become two arrays: `x_num` (float32: scaled numbers, booleans as 0/1, one-hot blocks,
missing indicators, in that order) and `x_cat` (int64 codes for embedded categorical columns:
1..K for the training categories, 0 for unknown). Class labels are sorted and encoded 0..K-1.
A regression target is standardized with the training mean and standard deviation (an MLP
trains much better on a unit-scale target); `decode_target` maps outputs back to the original
units, so metrics should be computed on decoded values::

    pre = Preprocessor(schema.types, target="y", task="regression").fit(train_df)
    split = pre.transform(val_df)
    state = pre.to_dict()                                   # JSON-safe, round-trips exactly
    same = Preprocessor.from_dict(json.loads(json.dumps(state)))
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Callable

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from netfit.config import PreprocessConfig
from netfit.data.arrays import encoder_from_dict
from netfit.data.columns import (BooleanColumn, CategoricalColumn, NumericColumn, boolean_column, categorical_column,
                                 numeric_column, scaling)
from netfit.data.prepared import Split
from netfit.data.messages import DataWarning, quote_list, row_where, rows_where, warn
from netfit.data.values import (boolean_values, category_strings, class_labels, normalise_labels, numeric_values,
                                weight_values)
from netfit.errors import DataError, RunError, short_list

STATE_VERSION = 1


TRANSFORM_SLICE_ROWS = 32_768  # rows transformed at a time (a bound on the float64 working memory)


class Preprocessor:
    """Imputation, scaling and encoding learned from the training split.

    Args:
        types: feature column -> "numeric" | "categorical" | "boolean".
        target: the target column (None: features only).
        task: "binary" | "multiclass" | "regression".
        cfg: `data.preprocess`.
        weight_column: the sample-weight column, or None.
        scale_target: standardize a regression target (decode with `decode_target`).

    Example:
        >>> pre = Preprocessor({"a": "numeric"}, "y", "binary").fit(pd.DataFrame({"a": [1., 2, 3], "y": [0, 1, 0]}))
        >>> pre.transform(pd.DataFrame({"a": [2.0], "y": [1]})).x_num
        array([[0.]], dtype=float32)
    """

    def __init__(self, types: dict[str, str], target: str | None = None, task: str = "regression",
                 cfg: PreprocessConfig | None = None, weight_column: str | None = None, scale_target: bool = True):
        self.types = dict(types)
        self.target = target
        self.task = task
        self.cfg = cfg or PreprocessConfig()
        self.weight_column = weight_column
        self.scale_target = scale_target
        # fitted state (set by fit or from_dict)
        self.numeric: list[NumericColumn] = []
        self.booleans: list[BooleanColumn] = []
        self.categoricals: list[CategoricalColumn] = []
        self.dropped: dict[str, str] = {}
        self.classes: list[Any] = []
        self.target_mean = 0.0
        self.target_std = 1.0
        self.known_columns: list[str] = []
        self.fitted = False
        # an image/sequence/text encoder (netfit.data.arrays), set before fit; None for tables
        self.array: Any = None

    # ------------------------------------------------------------ fit
    def fit(self, df: pd.DataFrame, classes: list[Any] | None = None, where: str = "train split",
            constant: list[str] | None = None) -> "Preprocessor":
        """Learn every statistic from `df` (the training split) and return self.

        Args:
            df: training rows. classes: every class label of the data set (default: those in df).
            where: names the data in messages.
            constant: the columns with a single value in the training split, when known from more
                rows than `df` holds (streaming); default: found in df.
        """
        self._require(df, [*self.types, *self._array_columns, *([self.target] if self.target else [])], where)
        self.dropped = self._constant_columns(df, where, constant) if self.cfg.drop_constant else {}
        kept = [c for c in self.types if c not in self.dropped]
        if self.array is not None:
            self.array.fit(df, where)
        elif not kept:
            raise DataError("no feature columns left", where=where,
                            found=f"every feature is constant in the training split: {quote_list(self.types)}",
                            hint="check the data, or set data.preprocess.drop_constant: false")
        self.numeric = [numeric_column(c, numeric_values(df[c], c, where).to_numpy(), self.cfg)
                        for c in kept if self.types[c] == "numeric"]
        self.booleans = [boolean_column(c, boolean_values(df[c], c, where).to_numpy())
                         for c in kept if self.types[c] == "boolean"]
        self.categoricals = [self._fit_categorical(df[c]) for c in kept if self.types[c] == "categorical"]
        if self.target:
            self._fit_target(df[self.target], classes)
        self.known_columns = [str(c) for c in df.columns]
        self.fitted = True
        return self

    def fit_stream(self, sample: pd.DataFrame, stats: Any, classes: list[Any] | None, where: str) -> "Preprocessor":
        """Fit from one streaming pass over a training split too large to hold in memory.

        `stats` (`netfit.data.stats.TrainStats`) holds exact counts, means, spreads, extremes and
        category counts of every training row; `sample`, a seeded sample of those rows, gives what
        needs the values themselves: medians and quartiles (`missing: median`, `numeric: robust`).
        """
        self.fit(sample, classes, where, constant=stats.constant_columns())
        for col in self.numeric:
            moments = stats.numeric[col.name]
            if self.cfg.missing == "mean" and moments.n:
                col.fill = moments.mean
            if self.cfg.numeric in ("standardize", "minmax"):
                col.center, col.scale = moments.scaling(self.cfg.numeric)
            col.indicator = self.cfg.missing_indicator and moments.missing > 0
        for col in self.booleans:
            seen, true = stats.booleans[col.name]
            col.fill = float(seen > 0 and true / seen >= 0.5)
        self.categoricals = [categorical_column(c.name, stats.categories[c.name], stats.category_missing[c.name], self.cfg)
                             for c in self.categoricals]
        if self.task == "regression" and self.scale_target and stats.target.n:
            self.target_mean, self.target_std = stats.target.scaling("standardize")
        return self

    def _constant_columns(self, df: pd.DataFrame, where: str, constant: list[str] | None = None) -> dict[str, str]:
        if constant is None:
            constant = [c for c in self.types if df[c].nunique(dropna=False) <= 1]
        if constant:
            warn(f"{len(constant)} column(s) dropped: a single value in the training split: {quote_list(constant)}",
                 where=where, hint="set data.preprocess.drop_constant: false to keep them")
        return {c: "constant in the training split" for c in constant}

    def _fit_categorical(self, s: pd.Series) -> CategoricalColumn:
        text = category_strings(s)
        return categorical_column(str(s.name), text.value_counts(), bool(text.isna().any()), self.cfg)

    def _fit_target(self, y: pd.Series, classes: list[Any] | None) -> None:
        if self.task == "regression":
            values = numeric_values(y, self.target, "train split").to_numpy()
            values = values[~np.isnan(values)]
            if self.scale_target and values.size:
                self.target_mean, self.target_std = scaling(values, "standardize")
            return
        self.classes = list(classes) if classes is not None else class_labels(y)

    # ------------------------------------------------------------ transform
    def transform(self, df: pd.DataFrame, require_target: bool = True, where: str = "data",
                  unseen_labels: str = "error") -> Split:
        """Encode rows with the fitted state: a `Split` (rows = 0..n-1 of df).

        Args:
            df: rows with at least `input_columns` (and the target when require_target).
            require_target: True (train/val/test): y and w are encoded and the target must be
                present; False (predict): y and w are None, target and weight columns are ignored.
            where: names the data in messages (a file name).
            unseen_labels: a class label not seen in training is an "error", or ("mark", the test
                split) class index -1, its text kept in `Split.unseen`.

        Raises:
            DataError: a needed column is missing, text in a numeric column, an unknown class label.
        """
        if not self.fitted:
            raise RunError("preprocessor is not fitted", hint="call fit(train_df) first, or load a saved run")
        self._require(df, self.input_columns + self._array_columns + ([self.target] if require_target and self.target else []), where)
        extra = [c for c in df.columns if c not in self.known_columns]
        if extra:
            warn(f"columns not seen in training are ignored: {quote_list(extra)}", where=where)
        for col in self.categoricals:
            self._warn_unseen(df, col, where)
        x_num = self._x_num(df, where)
        y = self._encode_target(df[self.target], where, unseen_labels) if require_target and self.target else None
        w = None
        if require_target and self.weight_column is not None and self.weight_column in df.columns:
            w = weight_values(df[self.weight_column], self.weight_column, where).to_numpy(np.float32)
        x_array, lengths = self.array.transform(df, where) if self.array is not None else (None, None)
        _check_finite(x_num, self.feature_names, where)
        split = Split(x_num, self._codes_block(df), y, w, np.arange(len(df), dtype=np.int64), x_array, lengths)
        if y is not None and self.task != "regression" and (y < 0).any():
            split.unseen = np.where(y < 0, category_strings(df[self.target]).to_numpy(dtype=object), None)
        return split

    @property
    def numbers_only(self) -> bool:
        """Every input is a numeric column without a missing indicator, and rows have no weight:
        `transform_numbers` encodes such rows from arrays alone."""
        return (self.fitted and self.array is None and not self.booleans and not self.categoricals
                and self.weight_column is None and not any(c.indicator for c in self.numeric))

    def transform_numbers(self, x: np.ndarray, y: np.ndarray, where: str = "data") -> Split:
        """`transform` of a table of numbers (`numbers_only`) given as arrays, without pandas: a
        streamed epoch encodes its rows again each epoch, on a thread beside training.

        `x`: (n, len(numeric)) float64, the numeric columns in `numeric` order, NaN for missing and
        +/-inf; `y`: the target's values (numbers, or labels as objects), none missing. Same result as
        `transform` on those rows.
        """
        with np.errstate(over="ignore"):  # beyond float32: inf, which the finiteness check names
            x_num = self._scaled(x).astype(np.float32)
        _check_finite(x_num, self.feature_names, where)
        y_codes = self._encode_target(pd.Series(y, name=self.target), where)
        return Split(x_num, np.zeros((len(x), 0), np.int64), y_codes, None, np.arange(len(x), dtype=np.int64))

    def _x_num(self, df: pd.DataFrame, where: str) -> np.ndarray:
        """Numeric, one-hot and indicator columns as one float32 matrix.

        Computed in float64, in slices of TRANSFORM_SLICE_ROWS rows written into the float32 result, so a
        large table needs its float32 result plus one slice in float64, not float64 copies of
        all of it. Slices only when no value can be an error (numbers in numeric columns, no
        boolean columns): an error names the row, counted in the whole table.
        """
        numeric = df.dtypes[[c.name for c in self.numeric]]
        safe = not self.booleans and all(ptypes.is_numeric_dtype(t) and not ptypes.is_bool_dtype(t) for t in numeric)
        step = TRANSFORM_SLICE_ROWS if safe else max(len(df), 1)
        out = None
        for lo in range(0, max(len(df), 1), step):
            part = df.iloc[lo:lo + step] if step < len(df) else df
            blocks = [b for b in (self._numeric_block(part, where), *self._onehot_blocks(part), self._indicator_block(part))
                      if b.shape[1]]
            block = np.hstack(blocks) if len(blocks) > 1 else blocks[0] if blocks else np.zeros((len(part), 0))
            with np.errstate(over="ignore"):  # beyond float32: inf, which the caller's finiteness check names
                if step >= len(df):
                    return block.astype(np.float32)
                if out is None:
                    out = np.empty((len(df), block.shape[1]), np.float32)
                out[lo:lo + len(part)] = block
        return out

    def _numeric_block(self, df: pd.DataFrame, where: str) -> np.ndarray:
        columns = [self._numeric_matrix(df, where)]
        columns += [boolean_values(df[c.name], c.name, where).to_numpy()[:, None] for c in self.booleans]
        x = np.hstack(columns) if len(columns) > 1 else columns[0]  # a fresh array: changed in place below
        return self._scaled(x)

    def _scaled(self, x: np.ndarray) -> np.ndarray:
        """The numeric (then boolean) columns of x, float64, filled, centred, scaled and clipped in place."""
        fill = np.array([c.fill for c in self.numeric] + [c.fill for c in self.booleans])
        center = np.array([c.center for c in self.numeric] + [0.0] * len(self.booleans))
        scale = np.array([c.scale for c in self.numeric] + [1.0] * len(self.booleans))
        np.copyto(x, np.broadcast_to(fill, x.shape), where=np.isnan(x))
        x -= center  # in place: a large split needs one float64 copy of its numbers, not four
        x /= scale
        if self.cfg.clip is not None and self.cfg.numeric != "none" and self.numeric:  # scaled numbers only (not booleans)
            m = len(self.numeric)
            x[:, :m] /= np.sqrt(1.0 + np.square(x[:, :m] / self.cfg.clip))
        return x

    def _numeric_matrix(self, df: pd.DataFrame, where: str) -> np.ndarray:
        """The numeric columns as one float64 matrix, NaN for missing and +/-inf."""
        block = df[[c.name for c in self.numeric]]
        if all(ptypes.is_numeric_dtype(t) and not ptypes.is_bool_dtype(t) for t in block.dtypes):
            x = block.to_numpy(dtype="float64", na_value=np.nan, copy=True)  # the common case: one copy, no checks
            x[np.isinf(x)] = np.nan
            return x
        columns = [numeric_values(block[c], c, where).to_numpy() for c in block.columns]
        return np.stack(columns, axis=1) if columns else np.zeros((len(df), 0))

    def _onehot_blocks(self, df: pd.DataFrame) -> list[np.ndarray]:
        blocks = []
        for col in self.categoricals:
            if col.onehot:
                codes = col.codes(df[col.name])
                block = np.zeros((len(df), col.width + 1))
                block[np.arange(len(df)), codes] = 1.0
                blocks.append(block[:, 1:])  # code 0 (unknown) has no column: an all-zero row
        return blocks

    def _codes_block(self, df: pd.DataFrame) -> np.ndarray:
        embedded = [c for c in self.categoricals if not c.onehot]
        if not embedded:
            return np.zeros((len(df), 0), dtype=np.int64)
        return np.stack([c.codes(df[c.name]) for c in embedded], axis=1)

    def _indicator_block(self, df: pd.DataFrame) -> np.ndarray:
        flagged = [c.name for c in self.numeric if c.indicator]
        if not flagged:
            return np.zeros((len(df), 0))
        # numeric_values already ran on these columns, so text cannot reach this point
        return np.stack([numeric_values(df[c], c, "data").isna().to_numpy(float) for c in flagged], axis=1)

    def row_warnings(self, df: pd.DataFrame, where: str = "data",
                     lengths: np.ndarray | None = None) -> list[list[dict[str, Any]]]:
        """Per row of `df` (already accepted by `transform`), what the saved preprocessing did to it that
        its sender may want to know, as warning records (`NetfitWarning.to_dict`): a missing value filled
        in, a category not seen in training, a number outside the training range (the model
        extrapolates), a text or sequence cut to `data.max_len`. `netfit serve` answers them per row.
        `lengths`: the transformed split's lengths (capped at max_len); only rows at the cap are read again."""
        notes: list[list[dict[str, Any]]] = [[] for _ in range(len(df))]

        def note(rows: np.ndarray, column: str, message: str | Callable[[int], str], hint: str) -> None:
            for r in np.flatnonzero(rows):
                text = message(r) if callable(message) else message
                notes[r].append(DataWarning(text, where=f"{where}: column {column!r}", hint=hint).to_dict())

        for c in self.numeric:
            values = numeric_values(df[c.name], c.name, where).to_numpy()
            note(np.isnan(values), c.name, f"missing value filled in with {c.fill:g} (from the training split)",
                 "send the value when it is known")
            if c.low is not None:
                outside = (values < c.low) | (values > c.high)
                note(outside, c.name, lambda r, v=values, c=c: f"{v[r]:g} is outside the training range "
                     f"[{c.low:g}, {c.high:g}]: the model extrapolates", "check the value; if such values are real, "
                     "retrain with rows that hold them")
        for c in self.booleans:
            missing = boolean_values(df[c.name], c.name, where).isna().to_numpy()
            note(missing, c.name, f"missing value filled in with {bool(c.fill)} (the training mode)",
                 "send the value when it is known")
        for c in self.categoricals:
            text = category_strings(df[c.name])
            if c.fill is not None:
                note(text.isna().to_numpy(), c.name, f"missing value filled in with {c.fill!r} (the training mode)",
                     "send the value when it is known")
            note(_unseen(df, c), c.name, lambda r, t=text: f"category {t.iloc[r]!r} not seen in training: encoded as "
                 "unknown", f"the training categories: {quote_list(c.categories)}")
        read_lengths = getattr(self.array, "lengths", None)
        if read_lengths is not None and self.array.max_len is not None:
            cap, unit = self.array.max_len, "tokens" if self.array.spec["kind"] == "text" else "steps"
            # only a row at the cap can have been cut: the others need not be tokenized or parsed again
            at_cap = np.arange(len(df)) if lengths is None else np.flatnonzero(np.asarray(lengths) >= cap)
            counts = np.zeros(len(df), dtype=np.int64)
            if len(at_cap):
                counts[at_cap] = read_lengths(df.iloc[at_cap], where)
            note(counts > cap, self.array.column, lambda r: f"{counts[r]} {unit} cut to the first {cap} (data.max_len)",
                 "retrain with a larger data.max_len to read longer inputs whole")
        return notes

    def unseen_categories(self, df: pd.DataFrame) -> dict[str, int]:
        """Per categorical column, how many rows hold a category not seen in training."""
        counts = {col.name: int(_unseen(df, col).sum()) for col in self.categoricals}
        return {name: n for name, n in counts.items() if n}

    def _warn_unseen(self, df: pd.DataFrame, col: CategoricalColumn, where: str) -> None:
        unseen = _unseen(df, col)
        if not unseen.any():
            return
        values = sorted(category_strings(df[col.name])[unseen].unique())
        rows = np.flatnonzero(unseen)
        warn(f"column {col.name!r}: {len(rows)} row(s) hold categories not seen in training: {quote_list(values)}; "
             f"encoded as unknown (none of the training categories)", where=rows_where(where, col.name, rows),
             hint=f"if one is another spelling of a training category ({quote_list(col.categories)}), correct it "
                  "in the data; to learn a new category, retrain with rows that hold it")

    def label_codes(self, y: pd.Series) -> np.ndarray:
        """Class indices of labels; -1 for a label that is not one of the training classes."""
        labels = normalise_labels(y)
        if self.classes and labels.dtype.kind in "if" and all(type(c) in (int, float) for c in self.classes):
            # numbers against numbers: a sorted search instead of a lookup per label as a Python object
            # (a streamed epoch encodes every training row again; 1 and 1.0 match either way)
            classes, values = np.array(self.classes, dtype=np.float64), labels.to_numpy(np.float64)
            order = np.argsort(classes)
            found = order[np.minimum(np.searchsorted(classes[order], values), len(classes) - 1)]
            return np.where(classes[found] == values, found, -1)
        return pd.Index(self.classes, dtype=object).get_indexer(labels.astype(object))

    def _encode_target(self, y: pd.Series, where: str, unseen_labels: str = "error") -> np.ndarray:
        values = numeric_values(y, self.target, where).to_numpy() if self.task == "regression" else None
        missing = np.isnan(values) if values is not None else y.isna().to_numpy()
        if missing.any():
            raise DataError("missing target value", where=row_where(where, self.target, int(np.argmax(missing))),
                            hint="drop rows without a label, or predict them instead of evaluating on them")
        if values is not None:
            with np.errstate(over="ignore"):  # beyond float32: inf, named by _check_finite below
                scaled = ((values - self.target_mean) / self.target_std).astype(np.float32)
            _check_finite(scaled[:, None], [self.target], where)
            return scaled
        codes = self.label_codes(y)
        if (codes < 0).any() and unseen_labels != "mark":
            pos = int(np.argmax(codes < 0))
            raise DataError("class label not seen in training", where=row_where(where, self.target, pos),
                            expected=f"one of {short_list(repr(c) for c in self.classes)}", found=repr(y.iloc[pos]),
                            hint="a model can only be scored on the classes it was trained on")
        return codes.astype(np.int64)

    def decode_target(self, y: np.ndarray) -> np.ndarray:
        """Model outputs back to labels: class indices (or scores, argmax) -> labels; scaled -> units."""
        y = np.asarray(y)
        if self.task == "regression":
            return y.astype(np.float64) * self.target_std + self.target_mean
        if y.ndim == 2:
            y = y.argmax(axis=1)
        return np.asarray(self.classes)[y.astype(np.int64)]

    # ------------------------------------------------------------ description
    @property
    def input_columns(self) -> list[str]:
        """The columns a table must hold to be transformed (features kept after fitting)."""
        return [c for c in self.types if c not in self.dropped]

    @property
    def n_num(self) -> int:
        """Width of x_num."""
        return len(self.feature_names)

    @property
    def cat_cardinalities(self) -> list[int]:
        """Codes per embedded column (including 0 for unknown), in x_cat's column order."""
        return [c.width for c in self.categoricals if not c.onehot]

    @property
    def feature_names(self) -> list[str]:
        """Names of x_num's columns: `col`, `col=category`, `col=<missing>`, `col__missing`."""
        names = [c.name for c in self.numeric] + [c.name for c in self.booleans]
        for col in self.categoricals:
            if col.onehot:
                names += [f"{col.name}={v}" for v in col.categories] + [f"{col.name}=<missing>"] * col.missing_category
        return names + [f"{c.name}__missing" for c in self.numeric if c.indicator]

    @property
    def cat_names(self) -> list[str]:
        """Names of x_cat's columns."""
        return [c.name for c in self.categoricals if not c.onehot]

    # ------------------------------------------------------------ state
    def to_dict(self) -> dict[str, Any]:
        """The whole state as JSON-safe values (no pickle); `from_dict` restores it exactly."""
        return {
            "version": STATE_VERSION,
            "types": dict(self.types), "target": self.target, "task": self.task,
            "weight_column": self.weight_column, "scale_target": self.scale_target,
            "config": self.cfg.model_dump(mode="json"),
            "numeric": [asdict(c) for c in self.numeric],
            "booleans": [asdict(c) for c in self.booleans],
            "categoricals": [asdict(c) for c in self.categoricals],
            "dropped": dict(self.dropped), "classes": list(self.classes),
            "target_mean": float(self.target_mean), "target_std": float(self.target_std),
            "known_columns": list(self.known_columns), "fitted": self.fitted,
            "array": self.array.to_dict() if self.array is not None else None,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> "Preprocessor":
        """Rebuild a fitted preprocessor from `to_dict()` output."""
        if state.get("version") != STATE_VERSION:
            raise RunError("unsupported preprocessing state", where="model.json: preprocess.version",
                           expected=str(STATE_VERSION), found=repr(state.get("version")),
                           hint="load the run with the netfit version that wrote it")
        pre = cls(state["types"], state["target"], state["task"], PreprocessConfig.model_validate(state["config"]),
                  state["weight_column"], state["scale_target"])
        pre.numeric = [NumericColumn(**c) for c in state["numeric"]]
        pre.booleans = [BooleanColumn(**c) for c in state["booleans"]]
        pre.categoricals = [CategoricalColumn(**c) for c in state["categoricals"]]
        pre.dropped, pre.classes = dict(state["dropped"]), list(state["classes"])
        pre.target_mean, pre.target_std = state["target_mean"], state["target_std"]
        pre.known_columns, pre.fitted = list(state["known_columns"]), state["fitted"]
        pre.array = encoder_from_dict(state.get("array"))
        return pre

    # ------------------------------------------------------------ helpers
    @property
    def _array_columns(self) -> list[str]:
        return list(self.array.columns) if self.array is not None else []

    def _require(self, df: pd.DataFrame, names: list[str], where: str) -> None:
        missing = [c for c in names if c not in df.columns]
        if missing:
            raise DataError("input columns missing", where=f"{where}: columns {quote_list(missing)}",
                            expected=f"the model's input columns {quote_list(self.input_columns or names)}"
                                     + (f" and the target {self.target!r}" if self.target in missing else ""),
                            found=f"columns {quote_list(df.columns)}",
                            hint="give the table the same columns as the training data (extra columns are ignored)")


def _check_finite(x: np.ndarray, names: list[str], where: str) -> None:
    """Values the model would see as NaN/inf (beyond float32 after scaling) are an error."""
    bad = ~np.isfinite(x)
    if bad.any():
        rows, cols = np.nonzero(bad)
        columns = list(dict.fromkeys(names[c] for c in cols))
        raise DataError("values are not finite after preprocessing", where=row_where(where, columns[0], int(rows[0])),
                        found=f"{bad.sum()} value(s) overflow float32 in column(s) {quote_list(columns)}, "
                              f"rows {short_list(sorted(set(int(r) + 1 for r in rows)))}",
                        hint="rescale those columns (e.g. log or divide by a constant) or clear the outliers")


def input_spec(pre: Any) -> dict[str, Any] | None:
    """The image/sequence/text input the model reads (kind, shape, vocab size), None for tables."""
    return pre.array.spec if getattr(pre, "array", None) is not None else None


def _unseen(df: pd.DataFrame, col: CategoricalColumn) -> np.ndarray:
    """Rows of df whose value in a categorical column is not one of its training categories (missing is not)."""
    if col.name not in df.columns:
        return np.zeros(len(df), dtype=bool)
    text = category_strings(df[col.name])
    return (text.notna() & ~text.isin(col.categories)).to_numpy()
