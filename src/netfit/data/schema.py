"""Schema: which column plays which role, what type each feature is, what the task is; cleaning.

Roles come from the config (`target`, `features`, `ignore`, `weight_column`, split columns);
feature types are inferred (numeric / categorical / boolean) unless `data.types` declares them.
Columns that look like row ids or dates carry no signal a network can use, so they are dropped
with a warning unless declared::

    schema = build_schema(df, cfg, where="data.csv")
    df = coerce_frame(df, schema, "data.csv")          # numbers as float, +/-inf as missing
    df, dropped = clean_rows(df, schema, drop_duplicates=False)
    task, classes = infer_task(df[schema.target], cfg.task, "data.csv")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from netfit.config import DataConfig
from netfit.data.arrays import array_columns, resolve_kind, with_digests
from netfit.data.images import IMAGE_COLUMN
from netfit.data.messages import closest_hint, quote_list, warn
from netfit.data.values import boolean_values, class_labels, finite_floats, numeric_values, weight_values
from netfit.errors import DataError, short_list

# an integer target with more distinct values than this is treated as a quantity (regression)
MAX_INTEGER_CLASSES = 20
_DATE_PATTERN = r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})([ T]\d{1,2}:\d{2}.*)?\s*$"
_DROP_REASONS = {"id": "looks like a row id (every value unique, not numeric)", "date": "holds dates"}


@dataclass
class Schema:
    """Column roles and feature types of a table.

    target: the column to predict. types: feature -> "numeric" | "categorical" | "boolean",
    in table order. weight: the sample-weight column or None. dropped: column -> why it is
    not used. split_columns: group/order/split columns kept only to split rows.
    """

    target: str
    types: dict[str, str]
    weight: str | None = None
    dropped: dict[str, str] = field(default_factory=dict)
    split_columns: list[str] = field(default_factory=list)
    arrays: list[str] = field(default_factory=list)  # columns read by an image/sequence/text encoder
    kind: str = "table"  # "table" | "image" | "sequence" | "text" (netfit.data.arrays)

    @property
    def features(self) -> list[str]:
        return list(self.types)

    @property
    def used_columns(self) -> list[str]:
        """Every column that matters: features, target, weight and split columns."""
        extra = [self.weight] if self.weight else []
        return self.features + [self.target] + extra + self.split_columns


# ---------------------------------------------------------------- roles and types
def build_schema(df: pd.DataFrame, cfg: DataConfig, where: str, splitting: bool = True) -> Schema:
    """Resolve column roles and feature types for `df` (the table to split, or the train source).

    Args:
        df: the loaded table. cfg: the data config. where: the source, for messages.
        splitting: False for separate sources, whose split columns are not needed.

    Raises:
        DataError: a named column is missing, or no feature column is left.
    """
    target = cfg.target_name()
    _require_columns(df, [target], where, "target column", "data.target")
    split_columns = [c for c in (cfg.split.group_column, cfg.split.order_column, cfg.split.column, cfg.split.id_column) if c]
    split_columns = split_columns if splitting else []  # separate sources are not split
    weight = [cfg.weight_column] if cfg.weight_column else []
    _require_columns(df, weight, where, "weight column", "data.weight_column")
    _require_columns(df, split_columns, where, "split column", "data.split")
    _require_columns(df, cfg.ignore, where, "ignored column", "data.ignore")
    _require_columns(df, [c for c in cfg.types if c != target], where, "typed column", "data.types")
    reserved = {target, *weight, *split_columns, *cfg.ignore}
    kind = resolve_kind(cfg, where, df)
    arrays = array_columns(df, cfg, kind, reserved, where)
    if kind == "image" and arrays != [IMAGE_COLUMN]:  # flat pixel columns: no tabular features beside them
        return Schema(target, {}, cfg.weight_column, {c: "ignored (data.ignore)" for c in cfg.ignore},
                      split_columns, arrays, kind)
    reserved |= set(arrays)
    if kind == "image" and "file" in df.columns:  # an image folder's file names are not features
        reserved.add("file")
    if cfg.features is not None:
        _require_columns(df, cfg.features, where, "feature column", "data.features")
        clash = [c for c in cfg.features if c in reserved]
        if clash:
            raise DataError("a feature column has another role", where=f"{where}: data.features",
                            found=quote_list(clash), hint="remove it from data.features (it is the target, "
                                                          "the weight, a split column or ignored)")
    candidates = cfg.features if cfg.features is not None else [c for c in df.columns if c not in reserved]
    types, dropped = _feature_types(df, candidates, cfg, where, allow_none=bool(arrays))
    dropped.update({c: "ignored (data.ignore)" for c in cfg.ignore})
    return Schema(target, types, cfg.weight_column, dropped, split_columns, arrays, kind)


def _feature_types(df: pd.DataFrame, candidates: list[str], cfg: DataConfig, where: str,
                   allow_none: bool = False) -> tuple[dict, dict]:
    types, dropped = {}, {}
    for col in candidates:
        kind = cfg.types.get(col) or infer_type(df[col])
        if kind in _DROP_REASONS:
            if cfg.features is not None:  # listed by the user: keep it, as categories
                kind = "categorical"
            else:
                dropped[col] = _DROP_REASONS[kind]
                warn(f"column {col!r} dropped: it {_DROP_REASONS[kind]}", where=where,
                     hint=f"list it in data.features or data.types to keep it")
                continue
        types[col] = kind
    if not types and not allow_none:
        raise DataError("no feature columns left", where=where,
                        found=f"dropped: {short_list(f'{c} ({r})' for c, r in dropped.items())}"
                        if dropped else "no columns besides the target",
                        hint="add feature columns, or declare kept ones in data.features / data.types")
    return types, dropped


def infer_type(s: pd.Series) -> str:
    """"numeric" | "categorical" | "boolean" | "id" | "date" for one column.

    Text columns are numeric when at least 90% of their values read as numbers (the rest is
    then reported as an error: usually a stray marker such as "?" in a numeric column).
    """
    if ptypes.is_bool_dtype(s):
        return "boolean"
    if ptypes.is_datetime64_any_dtype(s) or isinstance(s.dtype, pd.PeriodDtype):
        return "date"
    if ptypes.is_numeric_dtype(s):
        return "numeric"
    values = s.dropna()
    if len(values) == 0:
        return "categorical"
    if ptypes.is_object_dtype(values) and values.map(type).isin([bool, np.bool_]).all():
        return "boolean"  # a CSV boolean column with gaps reads as objects True/False/NaN
    if pd.to_numeric(values, errors="coerce").notna().mean() >= 0.9:
        return "numeric"
    if _looks_like_dates(values):
        return "date"
    if len(s) > 1 and len(values) == len(s) and values.is_unique:
        return "id"
    return "categorical"


def _looks_like_dates(values: pd.Series) -> bool:
    text = values.astype(str)
    if not text.str.match(_DATE_PATTERN).all():
        return False
    return bool(pd.to_datetime(text, errors="coerce", format="mixed").notna().all())


def _require_columns(df: pd.DataFrame, names: list[str], where: str, what: str, field_name: str) -> None:
    missing = [n for n in names if n not in df.columns]
    if not missing:
        return
    raise DataError(f"{what}{'s' * (len(missing) > 1)} not found",
                    where=f"{where}: column{'s' * (len(missing) > 1)} {quote_list(missing)}",
                    expected=f"{field_name} to name columns of the data",
                    found=f"columns {quote_list(df.columns)}",
                    hint=closest_hint(missing[0], df.columns, field_name))


# ---------------------------------------------------------------- values
def coerce_frame(df: pd.DataFrame, schema: Schema, where: str, require_target: bool = True) -> pd.DataFrame:
    """Numbers as floats, booleans as float64 (missing and +/-inf as NaN); check every value fits its type.

    Float columns without +/-inf are kept as they are (float32 stays float32); others become float64.

    Raises:
        DataError: a needed column is missing, a numeric or boolean column holds text, a weight
            is missing or negative. Messages name the column, the row and the value.
    """
    needed = schema.features + ([schema.target] if require_target else [])
    _require_columns(df, needed + ([schema.weight] if schema.weight else []), where, "column", "the data")
    changes = {}
    for col, kind in schema.types.items():
        if kind == "numeric" and not finite_floats(df[col]):
            changes[col] = numeric_values(df[col], col, where)
        elif kind == "boolean":
            changes[col] = boolean_values(df[col], col, where)
    target = df.get(schema.target)
    if target is not None and ptypes.is_numeric_dtype(target) and not ptypes.is_bool_dtype(target) \
            and not finite_floats(target):
        changes[schema.target] = numeric_values(target, schema.target, where)  # +/-inf as missing
    if schema.weight:
        changes[schema.weight] = weight_values(df[schema.weight], schema.weight, where)
    return df.assign(**changes)


# ---------------------------------------------------------------- rows
def clean_rows(df: pd.DataFrame, schema: Schema, drop_duplicates: bool) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop rows with a missing target and (optionally) exact duplicates; count each.

    Duplicates compare the columns that matter (features, target, weight, split columns), so
    an id column does not hide them. The result is re-indexed 0..n-1.
    """
    keep = df[schema.target].notna().to_numpy()
    counts = {"missing_target": int((~keep).sum())}
    if counts["missing_target"]:  # a boolean selection copies every column, even when it keeps them all
        df = df[keep]
    if drop_duplicates:
        dup = with_digests(df, schema.arrays).duplicated(subset=schema.used_columns + schema.arrays).to_numpy()
        counts["duplicates"] = int(dup.sum())
        df = df[~dup]
    return df.reset_index(drop=True), counts


# ---------------------------------------------------------------- task
def infer_task(y: pd.Series, declared: str, where: str, rows: int | None = None,
               kind: str = "table") -> tuple[str, list[Any]]:
    """The task and, for classification, the sorted class labels (JSON-safe Python values).

    `auto`: regression for a numeric target with fractional values, or (a table's) with more than
    20 distinct values; binary for two classes; multiclass otherwise. Text and boolean targets are
    classes. Integer labels of images and sequences (`kind`) are class codes however many (the UCR
    archive's PigCVP has 52), with a warning above 20. `y` is the training data's target (never a
    validation or test source's); `rows`, for messages, the rows it stands for when it holds only
    their distinct values (streaming).
    """
    column = f"{where}: column {y.name!r}"
    rows = len(y) if rows is None else rows
    numeric = ptypes.is_numeric_dtype(y) and not ptypes.is_bool_dtype(y)
    codes = kind in ("image", "sequence")  # arrays' integer labels: classes, not a quantity
    if declared == "regression" or (declared == "auto" and numeric and _looks_continuous(y, codes)):
        if not numeric:
            raise DataError("regression needs a numeric target", where=column, found=f"values like {y.iloc[0]!r}",
                            hint="set data.task to binary/multiclass (or auto), or choose a numeric target")
        if y.nunique() < 2:
            raise DataError("target has a single value", where=column, found=f"only {y.iloc[0]!r} in {rows} rows",
                            hint="check that data.target names the column to predict")
        return "regression", []
    classes = class_labels(y)
    if len(classes) < 2:
        raise DataError("target has a single class", where=column, found=f"only {classes[0]!r} in {rows} rows",
                        hint="a classifier needs at least two classes; check data.target, or the rows kept")
    if declared == "binary" and len(classes) != 2:
        raise DataError("binary task needs exactly two classes", where=column,
                        found=f"{len(classes)} classes: {short_list(classes)}",
                        hint="set data.task to multiclass (or auto)")
    task = declared if declared != "auto" else ("binary" if len(classes) == 2 else "multiclass")
    if codes and declared == "auto" and numeric and len(classes) > MAX_INTEGER_CLASSES:  # a table's: regression
        warn(f"the integer target of this {kind} data is read as {len(classes)} classes (a table's would be a quantity)",
             where=column, hint="set data.task: regression if it is a quantity to predict")
    return task, classes


def _looks_continuous(y: pd.Series, codes: bool = False) -> bool:
    """Fractional values, or (unless integers are class `codes`) more than MAX_INTEGER_CLASSES distinct ones."""
    values = y.to_numpy(dtype="float64", na_value=np.nan)
    values = values[~np.isnan(values)]
    return bool((values != np.round(values)).any() or (not codes and len(np.unique(values)) > MAX_INTEGER_CLASSES))
