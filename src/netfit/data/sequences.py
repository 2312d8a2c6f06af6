"""Sequences: one variable-length series per row, normalised per feature, padded with lengths.

A cell holds an array (T,) or (T, F) (from a `.npz` of shape (N, T[, F]), trimmed to its
`lengths`), or text from a CSV: `[0.1, 0.5, 0.2]`, `[[1, 2], [3, 4]]` or `0.1 0.5 0.2`. Each
feature is standardised with the mean and std of every training step; padding is 0 (the
training mean) and is masked by the models through `lengths`::

    enc = SequenceEncoder("sequence", max_len=None, too_long="truncate").fit(train_df)
    x, lengths = enc.transform(val_df)            # (N, max_len, F) float32, (N,) int64
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from netfit.data.messages import row_where, warn
from netfit.errors import DataError

SEQUENCE_COLUMN = "sequence"  # the column sequence arrays are loaded into


@dataclass
class SequenceEncoder:
    """Fitted sequence state: features per step, max_len, and per-feature mean and std."""

    column: str
    max_len: int | None
    too_long: str  # "truncate" | "error"
    n_features: int = 0
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)

    def fit(self, df: pd.DataFrame, where: str = "train split") -> "SequenceEncoder":
        cells = self._parse(df[self.column], where, fitting=True)
        if self.max_len is None:
            self.max_len = max(len(c) for c in cells)
        steps = np.concatenate(cells).astype(np.float64)
        self.mean = steps.mean(axis=0).tolist()
        self.std = [s if s > 1e-8 else 1.0 for s in steps.std(axis=0).tolist()]
        return self

    def lengths(self, df: pd.DataFrame, where: str = "data") -> np.ndarray:
        """Each row's number of steps, before any cut to max_len."""
        return np.array([len(c) for c in self._parse(df[self.column], where)], dtype=np.int64)

    def transform(self, df: pd.DataFrame, where: str = "data") -> tuple[np.ndarray, np.ndarray]:
        cells = self._parse(df[self.column], where)
        lengths = np.array([len(c) for c in cells], dtype=np.int64)
        lengths = clip_lengths(lengths, self.max_len, self.too_long, where, self.column, "data.max_len")
        x = np.zeros((len(cells), self.max_len, self.n_features), dtype=np.float32)
        mean, std = np.float32(self.mean), np.float32(self.std)
        for i, (cell, n) in enumerate(zip(cells, lengths)):
            x[i, :n] = (cell[:n] - mean) / std
        return x, lengths

    @property
    def columns(self) -> list[str]:
        """The table columns this encoder reads."""
        return [self.column]

    @property
    def spec(self) -> dict[str, Any]:
        return {"kind": "sequence", "shape": [self.max_len, self.n_features]}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "sequence", **asdict(self)}

    def _parse(self, column: pd.Series, where: str, fitting: bool = False) -> list[np.ndarray]:
        cells = [_as_steps(v, row_where(where, self.column, i)) for i, v in enumerate(column)]
        if fitting and cells:
            self.n_features = cells[0].shape[1]
        for i, c in enumerate(cells):
            if len(c) == 0:
                raise DataError("empty sequence", where=row_where(where, self.column, i),
                                expected="at least one step", found="no steps",
                                hint="drop rows without a sequence, or give them at least one step")
            if c.shape[1] != self.n_features:
                raise DataError("sequence has the wrong number of features", where=row_where(where, self.column, i),
                                expected=f"{self.n_features} feature(s) per step, like the training data",
                                found=f"{c.shape[1]}", hint="give every step the same features, in the same order")
        return cells


def _as_steps(value: Any, where: str) -> np.ndarray:
    """One cell as a float32 array (T, F); text cells are parsed as JSON lists or spaced numbers."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text.startswith("[") else [float(t) for t in text.replace(",", " ").split()]
        except ValueError:
            raise DataError("cannot read sequence", where=where, expected="a list like [0.1, 0.5] or [[1, 2], [3, 4]]",
                            found=repr(text[:60]), hint="write sequences as JSON lists of numbers") from None
    elif value is None or (np.isscalar(value) and pd.isna(value)):
        value = []
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (ValueError, TypeError):
        raise DataError("cannot read sequence", where=where, expected="numbers, the same count per step",
                        found=repr(value)[:60], hint="every step needs the same number of features") from None
    if arr.size == 0:
        return np.zeros((0, 0), np.float32)  # reported as an empty sequence by the caller
    arr = arr.reshape(len(arr), -1) if arr.ndim else arr.reshape(1, 1)
    if arr.ndim != 2 or not np.isfinite(arr).all():
        raise DataError("sequence holds missing or infinite values" if arr.ndim == 2 else "sequence has too many dimensions",
                        where=where, expected="finite numbers, shape (steps,) or (steps, features)",
                        found=f"shape {arr.shape}", hint="fill the gaps, or drop that row")
    return arr


def clip_lengths(lengths: np.ndarray, max_len: int, too_long: str, where: str, column: str, field_name: str) -> np.ndarray:
    """Lengths capped at max_len; longer rows are truncated (a warning with the count) or an error."""
    over = lengths > max_len
    if not over.any():
        return lengths
    n, pos = int(over.sum()), int(np.argmax(over))
    if too_long == "error":
        raise DataError("too long", where=row_where(where, column, pos), expected=f"at most {max_len} steps ({field_name})",
                        found=f"{int(lengths[pos])} steps; {n} row(s) are longer",
                        hint=f"raise {field_name}, or set data.too_long: truncate to cut them")
    warn(f"{n} row(s) of column {column!r} are longer than {field_name} = {max_len} and were truncated "
         f"(longest {int(lengths.max())})", where=row_where(where, column, pos),
         hint=f"raise {field_name} to keep them whole, or set data.too_long: error to stop instead")
    return np.minimum(lengths, max_len)
