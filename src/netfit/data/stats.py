"""Statistics of the training rows of a streamed source, exact, merged one chunk at a time.

What `Preprocessor.fit_stream` learns from instead of the rows themselves: counts, means,
spreads and extremes of numbers, counts of booleans and of categories, missing values; and,
over every row, what decides the task (`LabelTally`)::

    stats = TrainStats(schema)
    for frame in training_chunks: stats.update(frame, "data/ (train split)")
    stats.numeric["x0"].scaling("standardize")     # (center, scale) as the in-memory fit computes them
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from netfit.data.columns import usable_scaling
from netfit.data.schema import MAX_INTEGER_CLASSES, Schema, infer_task
from netfit.data.values import boolean_values, category_strings, normalise_labels, numeric_values


@dataclass
class Moments:
    """Count, mean, spread and extremes of a column's values, merged chunk by chunk (Chan et al.)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations from the mean
    lo: float = math.inf
    hi: float = -math.inf
    missing: int = 0

    def add(self, values: np.ndarray) -> None:
        seen = values[~np.isnan(values)]
        self.missing += len(values) - len(seen)
        if not len(seen):
            return
        n, mean = len(seen), float(seen.mean())
        m2 = float(np.square(seen - mean).sum())
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total
        self.lo, self.hi = min(self.lo, float(seen.min())), max(self.hi, float(seen.max()))

    def scaling(self, method: str) -> tuple[float, float]:
        """(center, scale) of `standardize` or `minmax`, as the in-memory fit computes them."""
        if not self.n:
            return 0.0, 1.0
        if method == "standardize":
            return usable_scaling(self.mean, math.sqrt(self.m2 / self.n))
        return usable_scaling(self.lo, self.hi - self.lo)

    def distinct(self) -> int:
        """0, 1 or 2 (meaning: more than one) distinct values, missing counted as one."""
        return (0 if not self.n else 1 if self.lo == self.hi else 2) + (self.missing > 0)


@dataclass
class TrainStats:
    """Exact statistics of the training rows, one chunk at a time."""

    schema: Schema
    numeric: dict[str, Moments] = field(default_factory=dict)
    booleans: dict[str, list[int]] = field(default_factory=dict)  # [seen, true]
    categories: dict[str, pd.Series] = field(default_factory=dict)  # category -> rows
    category_missing: dict[str, bool] = field(default_factory=dict)
    target: Moments = field(default_factory=Moments)
    missing: Counter = field(default_factory=Counter)
    rows: int = 0

    def update(self, df: pd.DataFrame, where: str) -> None:
        self.rows += len(df)
        for name, kind in self.schema.types.items():
            s = df[name]
            self.missing[name] += int(s.isna().sum())
            if kind == "numeric":
                self.numeric.setdefault(name, Moments()).add(numeric_values(s, name, where).to_numpy())
            elif kind == "boolean":
                values = boolean_values(s, name, where).to_numpy()
                counts = self.booleans.setdefault(name, [0, 0])
                counts[0] += int((~np.isnan(values)).sum())
                counts[1] += int(np.nansum(values))
            else:
                text = category_strings(s)
                old = self.categories.get(name, pd.Series(dtype="int64"))
                self.categories[name] = old.add(text.value_counts(), fill_value=0).astype("int64")
                self.category_missing[name] = self.category_missing.get(name, False) or bool(text.isna().any())
        target = df[self.schema.target]
        if ptypes.is_numeric_dtype(target) and not ptypes.is_bool_dtype(target):  # the task is known after the pass
            self.target.add(target.to_numpy(dtype="float64"))

    def constant_columns(self) -> list[str]:
        """Columns with a single value (missing counts as a value) in the training rows."""
        def distinct(name: str, kind: str) -> int:
            if kind == "numeric":
                return self.numeric[name].distinct()
            if kind == "boolean":
                seen, true = self.booleans[name]
                return int(true > 0) + int(seen > true) + int(self.missing[name] > 0)
            return len(self.categories[name]) + int(self.category_missing[name])
        return [name for name, kind in self.schema.types.items() if distinct(name, kind) <= 1]


@dataclass
class LabelTally:
    """The target of every row of a streamed source, kept as `infer_task` needs it to decide the
    task as the in-memory path does on the whole column: the distinct labels, and the training
    rows of each (the class balance).

    A numeric target that reads as a quantity (a fractional value, or more than
    MAX_INTEGER_CLASSES distinct values) under `task: auto` or `regression` keeps no more labels:
    its task is known, and a continuous target would otherwise keep a value per row.
    """

    declared: str  # data.task
    values: set = field(default_factory=set)
    train: Counter = field(default_factory=Counter)  # str(label) -> training rows
    rows: int = 0
    quantity: bool = False

    def add(self, y: pd.Series, train: np.ndarray) -> None:
        """The target of one chunk's cleaned rows; `train` marks those of the training split."""
        self.rows += len(y)
        if self.quantity:
            return
        labels = normalise_labels(y)
        self.values.update(labels.unique().tolist())
        self.train.update({str(k): int(n) for k, n in labels[train].value_counts().items()})
        numeric = ptypes.is_numeric_dtype(labels) and not ptypes.is_bool_dtype(labels)
        fractional = ptypes.is_float_dtype(labels)  # normalise_labels keeps floats only for fractional values
        if numeric and self.declared in ("auto", "regression") and (fractional or len(self.values) > MAX_INTEGER_CLASSES):
            self.quantity = True
            self.train.clear()

    def decide(self, name: str, where: str) -> tuple[str, list[Any]]:
        """(task, classes) as `infer_task` gives them for the whole target column `name`."""
        return infer_task(pd.Series(list(self.values), name=name), self.declared, where, rows=self.rows)
