"""Shared wording for the data stage: its warning category and the pieces of its error messages.

Every module of the data stage warns through `warn`, so `prepare` can collect those warnings
into the run's data summary (and still let them reach the user, printed like errors: see
`netfit.errors.NetfitWarning`).
"""

from __future__ import annotations

import difflib
from typing import Iterable

from netfit.errors import NetfitWarning, emit, short_list


class DataWarning(NetfitWarning):
    """Something in the data worth knowing that does not stop the run (dropped columns, leakage)."""


def warn(message: str, *, where: str | None = None, hint: str | None = None) -> None:
    """Emit a `DataWarning` (what, where, how to change it) pointing at the caller's caller."""
    emit(DataWarning(message, where=where, hint=hint), stacklevel=3)


def row_where(source: str, column: str, position: int) -> str:
    """`data.csv: column 'age', row 5 (line 6)`: a place people can find in their file.

    Rows count data rows from 1; CSV files also get the line number (the header is line 1).
    """
    row = position + 1
    line = f" (line {row + 1})" if source.lower().endswith(".csv") else ""
    return f"{source}: column {column!r}, row {row}{line}"


def rows_where(source: str, column: str, positions: Iterable[int], limit: int = 5) -> str:
    """`new.csv: column 'color', rows 3, 5 (lines 4, 6)`: the first `limit` of several rows, as `row_where`."""
    positions = list(positions)
    if len(positions) == 1:
        return row_where(source, column, positions[0])
    rows = [p + 1 for p in positions]
    lines = f" (lines {', '.join(str(r + 1) for r in rows[:limit])})" if source.lower().endswith(".csv") else ""
    return f"{source}: column {column!r}, rows {short_list(rows, limit)}{lines}"


def closest_hint(name: str, options: Iterable[str], field: str) -> str:
    """A hint that names the closest valid column for a typo, else lists the options."""
    options = [str(o) for o in options]
    # compare without case and surrounding spaces: "Price " should find "price"
    folded = {o.strip().lower(): o for o in options}
    match = difflib.get_close_matches(str(name).strip().lower(), list(folded), n=1, cutoff=0.6)
    if match:
        return f"did you mean {folded[match[0]]!r}? set {field} to it"
    return f"set {field} to one of: {short_list(options)}"


def quote_list(names: Iterable[str], limit: int = 8) -> str:
    """`'a', 'b', 'c'`: column names quoted, shortened when long."""
    return short_list([repr(str(n)) for n in names], limit)
