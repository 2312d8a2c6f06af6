"""The fitted state of one feature column: learned from its training values, stored as JSON by the `Preprocessor`.

    col = numeric_column("age", np.array([30.0, np.nan, 50.0]), PreprocessConfig())   # fill 40, standardized
    col = categorical_column("city", pd.Series({"a": 3, "b": 1}), False, PreprocessConfig())
    col.codes(pd.Series(["b", "z", None]))                                            # 2, 0 (unknown), 0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from netfit.config import PreprocessConfig
from netfit.data.values import category_strings


@dataclass
class NumericColumn:
    """Fitted state of a numeric column: x -> (x or fill - center) / scale."""

    name: str
    fill: float
    center: float
    scale: float
    indicator: bool  # add a 0/1 "was missing" column
    low: float | None = None  # the training range (runs saved before it was kept: None)
    high: float | None = None


@dataclass
class BooleanColumn:
    """Fitted state of a boolean column: 0/1, missing -> fill (the training mode)."""

    name: str
    fill: float


@dataclass
class CategoricalColumn:
    """Fitted state of a categorical column (categories as strings, sorted)."""

    name: str
    categories: list[str]
    onehot: bool
    missing_category: bool  # missing values have a category of their own, after the others
    fill: str | None  # category used for missing values (missing: most_frequent), else None

    @property
    def width(self) -> int:
        """One-hot columns, or embedding size (codes incl. 0 for unknown)."""
        n = len(self.categories) + int(self.missing_category)
        return n if self.onehot else n + 1

    def codes(self, s: pd.Series) -> np.ndarray:
        """1..K for training categories, K+1 for missing (own category), 0 for unknown."""
        text = category_strings(s)
        if self.fill is not None:
            text = text.fillna(self.fill)
        codes = pd.Index(self.categories, dtype=object).get_indexer(text) + 1
        if self.missing_category:
            codes[text.isna().to_numpy()] = len(self.categories) + 1
        return codes.astype(np.int64)


def numeric_column(name: str, values: np.ndarray, cfg: PreprocessConfig) -> NumericColumn:
    """A numeric column from its training values (float64, NaN for missing)."""
    seen = values[~np.isnan(values)]
    if seen.size == 0 or cfg.missing == "constant":
        fill = cfg.fill_value
    else:
        fill = np.median(seen) if cfg.missing == "median" else np.mean(seen)
    center, scale = scaling(seen, cfg.numeric)
    indicator = cfg.missing_indicator and seen.size < values.size
    low, high = (float(seen.min()), float(seen.max())) if seen.size else (None, None)
    return NumericColumn(name, float(fill), center, scale, bool(indicator), low, high)


def boolean_column(name: str, values: np.ndarray) -> BooleanColumn:
    """A boolean column from its training values (1.0/0.0, NaN for missing)."""
    seen = values[~np.isnan(values)]
    # the mode; ties go to 1 (True), an all-missing column to 0
    return BooleanColumn(name, float(seen.size > 0 and seen.mean() >= 0.5))


def categorical_column(name: str, counts: pd.Series, has_missing: bool, cfg: PreprocessConfig) -> CategoricalColumn:
    """A categorical column from its training counts (category -> rows) and whether a value was missing."""
    categories = sorted(counts.index)
    mode = cfg.categorical
    onehot = mode == "onehot" or (mode == "auto" and len(categories) <= cfg.max_onehot)
    if cfg.missing_categorical == "most_frequent" and len(categories) > 0:
        # most frequent; ties go to the first in sorted order, so the result is deterministic
        top = counts[counts == counts.max()].index
        return CategoricalColumn(name, categories, onehot, False, min(top))
    return CategoricalColumn(name, categories, onehot, has_missing, None)


def scaling(values: np.ndarray, method: str) -> tuple[float, float]:
    """(center, scale) for a method; a zero or undefined scale becomes 1 (no division by 0)."""
    if values.size == 0 or method == "none":
        return 0.0, 1.0
    if method == "standardize":
        with np.errstate(over="ignore"):  # values near float64's limit: an infinite spread, which becomes 1 below
            center, scale = values.mean(), values.std()
    elif method == "minmax":
        center, scale = values.min(), values.max() - values.min()
    else:  # robust: median and interquartile range
        q25, center, q75 = np.percentile(values, [25, 50, 75])
        # a column mostly at one value (IQR 0: counts, sparse pixels) falls back to half its range
        scale = q75 - q25 if q75 > q25 else (values.max() - values.min()) / 2
    return usable_scaling(center, scale)


def usable_scaling(center: float, scale: float) -> tuple[float, float]:
    """A zero or undefined scale becomes 1 and an undefined center 0: no division by 0."""
    if not np.isfinite(scale) or scale == 0:
        scale = 1.0
    return float(center) if np.isfinite(center) else 0.0, float(scale)
