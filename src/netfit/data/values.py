"""Values: a column's cells as the numbers, booleans, weights, labels or category strings the stage works with.

The leaf every step of the data stage shares (schema, split, preprocessing, streaming), so none of
them imports another for a conversion::

    numeric_values(pd.Series(["1", "2.5", None]), "x", "data.csv")    # 1.0, 2.5, NaN
    category_strings(pd.Series([3.0, 4.5, None]))                     # "3", "4.5", NaN
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from netfit.data.messages import row_where
from netfit.errors import DataError, short_list

_BOOL_WORDS = {"true": 1.0, "t": 1.0, "yes": 1.0, "y": 1.0, "1": 1.0, "1.0": 1.0,
               "false": 0.0, "f": 0.0, "no": 0.0, "n": 0.0, "0": 0.0, "0.0": 0.0}


def finite_floats(s: pd.Series) -> bool:
    """A float column without +/-inf is already what coercion makes of it: kept as it is, float32
    included (widening a large float32 table to float64 would double its memory)."""
    return s.dtype in (np.float32, np.float64) and not np.isinf(s.to_numpy()).any()


def numeric_values(s: pd.Series, column: str, where: str) -> pd.Series:
    """A column as float64; +/-inf become NaN; text or booleans are an error naming column, rows and value."""
    _refuse_booleans(s, column, where)
    if ptypes.is_numeric_dtype(s):
        values = s.to_numpy(dtype="float64", na_value=np.nan)
    else:
        parsed = pd.to_numeric(s, errors="coerce")
        bad = (s.notna() & parsed.isna()).to_numpy()
        if bad.any():
            pos = int(np.argmax(bad))
            raise DataError("numeric column holds text", where=row_where(where, column, pos),
                            expected="a number (or an empty cell for missing)", found=repr(s.iloc[pos]),
                            hint=f"if the column is categorical, declare it: `types: {{{column}: categorical}}` "
                                 f"under data:; otherwise fix or clear that value")
        values = parsed.to_numpy(dtype="float64", na_value=np.nan)
    values = np.where(np.isinf(values), np.nan, values)
    return pd.Series(values, index=s.index, name=s.name)


def _refuse_booleans(s: pd.Series, column: str, where: str) -> None:
    """True/False is not a number (numpy and pandas would read it as 1/0): a boolean column, or
    Python booleans among the numbers of an object column, in a numeric column is an error."""
    if ptypes.is_bool_dtype(s):
        mask = s.notna().to_numpy()  # pandas' nullable boolean may hold missing values
    elif ptypes.is_object_dtype(s):
        mask = s.map(type).isin([bool, np.bool_]).to_numpy()
    else:
        return
    if not mask.any():
        return
    rows = np.flatnonzero(mask)
    raise DataError("numeric column holds booleans", where=row_where(where, column, int(rows[0])),
                    expected="a number (or an empty cell for missing); true/false is not one",
                    found=f"{bool(s.iloc[rows[0]])} in {len(rows)} row{'s' * (len(rows) > 1)}: "
                          f"row{'s' * (len(rows) > 1)} {short_list(rows + 1)}",
                    hint=f"pass numbers (1/0, if that is what true/false stand for); a yes/no column is declared "
                         f"`types: {{{column}: boolean}}` under data:")


def boolean_values(s: pd.Series, column: str, where: str) -> pd.Series:
    """True/False, yes/no, 1/0 (any case) as 1.0/0.0; missing as NaN; anything else is an error."""
    if ptypes.is_bool_dtype(s):
        return s.astype("float64")
    missing = s.isna().to_numpy()
    words = s.astype(str).str.strip().str.lower().map(_BOOL_WORDS)
    mapped = np.array(words.to_numpy(dtype="float64", na_value=np.nan))  # a writable copy (pandas may hand out views)
    mapped[missing] = np.nan
    bad = ~missing & np.isnan(mapped)
    if bad.any():
        pos = int(np.argmax(bad))
        raise DataError("boolean column holds other values", where=row_where(where, column, pos),
                        expected="true/false, yes/no or 1/0", found=repr(s.iloc[pos]),
                        hint=f"declare it categorical: `types: {{{column}: categorical}}` under data:")
    return pd.Series(mapped, index=s.index, name=s.name)


def weight_values(s: pd.Series, column: str, where: str) -> pd.Series:
    """Sample weights: numbers >= 0, none missing."""
    values = numeric_values(s, column, where)
    bad = (values.isna() | (values < 0)).to_numpy()
    if bad.any():
        pos = int(np.argmax(bad))
        raise DataError("invalid sample weight", where=row_where(where, column, pos),
                        expected="a finite number >= 0", found=repr(s.iloc[pos]),
                        hint="fix that weight, or give every row weight 1 by removing data.weight_column")
    return values


def normalise_labels(y: pd.Series) -> pd.Series:
    """Class labels in one comparable form: bools, ints (integral numbers), floats or strings."""
    if ptypes.is_bool_dtype(y):
        return y.astype(bool)
    if ptypes.is_numeric_dtype(y):
        values = y.to_numpy(dtype="float64", na_value=np.nan)
        # integral values as ints (classes 0, 1 rather than 0.0, 1.0); 2**53 keeps floats exact
        integral = np.isfinite(values).all() and (values == np.round(values)).all()
        integral = integral and np.abs(values).max(initial=0) < 2**53
        return pd.Series(values.astype(np.int64) if integral else values, index=y.index, name=y.name)
    if ptypes.is_object_dtype(y) and y.map(type).isin([bool, np.bool_]).all():
        return y.astype(bool)
    return y.astype(str).astype(object)


def class_labels(y: pd.Series) -> list[Any]:
    """Sorted distinct labels as plain Python values (JSON-safe)."""
    labels = normalise_labels(y.dropna()).unique()
    return sorted(v.item() if isinstance(v, np.generic) else v for v in labels)


def category_strings(s: pd.Series) -> pd.Series:
    """Categories as strings, missing as NaN; integral numbers without `.0` (so 3 and 3.0 agree)."""
    missing = s.isna().to_numpy()
    if ptypes.is_numeric_dtype(s) and not ptypes.is_bool_dtype(s):
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        text = np.array(pd.Series(values, index=s.index).astype(str), dtype=object)
        integral = ~missing & np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2**62)
        text[integral] = pd.Series(values[integral].astype(np.int64)).astype(str).to_numpy(dtype=object)
    else:
        text = np.array(s.astype(str), dtype=object)  # a writable copy (pandas may hand out views)
    text[missing] = np.nan
    return pd.Series(text, index=s.index, name=s.name, dtype=object)
