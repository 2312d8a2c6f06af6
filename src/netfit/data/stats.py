"""Statistics of the training rows of a streamed source, exact, merged one chunk at a time.

What `Preprocessor.fit_stream` learns from instead of the rows themselves: counts, means,
spreads and extremes of numbers, counts of booleans and of categories, missing values::

    stats = TrainStats(schema, task)
    for frame in training_chunks: stats.update(frame, "data/ (train split)")
    stats.numeric["x0"].scaling("standardize")     # (center, scale) as the in-memory fit computes them
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from netfit.data.columns import usable_scaling
from netfit.data.schema import Schema
from netfit.data.values import boolean_values, category_strings, numeric_values


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
    task: str
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
        if self.task == "regression":
            self.target.add(df[self.schema.target].to_numpy(dtype="float64"))

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
