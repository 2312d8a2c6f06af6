"""Errors and warnings for people: what was expected, what was found, where, and how to fix it.

Every user mistake raises a `NetfitError` subclass. The CLI prints it without a
traceback and exits with its `exit_code` (2 for user errors, 3 for a diverged run).
Bugs are ordinary exceptions and keep their traceback.

Something worth knowing that does not stop the run is a `NetfitWarning` (a `UserWarning`, so
`warnings.catch_warnings`, `-W` and `pytest.warns` see it). It prints like an error, as
`warning: what / where / how to change it`, once each, without Python's source path and line:
`show_warnings` puts that display in front of `warnings.showwarning` (`import netfit` does, for
netfit's warnings only; the CLI for every warning). netfit warns through `emit`, so a run records
its warnings in report.json (`collect_warnings`) even where a filter hides them.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Iterator


class NetfitError(Exception):
    """A problem the user can fix.

    Args:
        message: one line saying what went wrong.
        where: the file, field, column or row concerned.
        expected: what netfit expected there.
        found: what it found instead.
        hint: how to fix it.
        problems: several one-line problems reported together (config validation).

    Example:
        >>> raise DataError("target column not found", where="data.csv", expected="a column 'y'",
        ...                 found="columns a, b", hint="set data.target to one of a, b")
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        where: str | None = None,
        expected: str | None = None,
        found: str | None = None,
        hint: str | None = None,
        problems: list[str] | None = None,
    ) -> None:
        self.message = message
        self.where = where
        self.expected = expected
        self.found = found
        self.hint = hint
        self.problems = list(problems or [])
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [self.message]
        for label, value in (
            ("where", self.where),
            ("expected", self.expected),
            ("found", self.found),
        ):
            if value is not None:
                lines.append(f"  {label}: {value}")
        lines += [f"  - {p}" for p in self.problems]
        if self.hint:
            lines.append(f"  how to fix: {self.hint}")
        return "\n".join(lines)


class ConfigError(NetfitError):
    """The config (file, overrides or arguments) is invalid."""


class DataError(NetfitError):
    """The data cannot be read, split or preprocessed as configured."""


class RunError(NetfitError):
    """A run folder, model file or checkpoint is missing, corrupt or incompatible."""


class DivergenceError(NetfitError):
    """Training diverged (non-finite or exploding loss) and was stopped.

    `netfit train` raises it once the run folder is written (best weights, report), so the CLI
    exits 3; `netfit.fit` returns the `Run`, whose report says `stop_reason: diverged`.
    """

    exit_code = 3


class TrainingInterrupted(NetfitError):
    """Ctrl-C or SIGTERM stopped training after a checkpoint was written; resume continues it.

    `exit_code` follows the shell: 130 for SIGINT, 143 for SIGTERM.
    """

    def __init__(self, message: str, *, exit_code: int = 130, **details) -> None:
        super().__init__(message, **details)
        self.exit_code = exit_code


class NetfitWarning(UserWarning):
    """Something worth knowing that does not stop the run.

    Args:
        message: one line saying what happened (and what netfit did about it).
        where: the file, split, field or column concerned.
        hint: how to change it, when the user may want to.

    Example:
        >>> warnings.warn(NetfitWarning("1 column(s) dropped: 'c'", where="data.csv (train split)",
        ...                             hint="set data.preprocess.drop_constant: false to keep them"))
    """

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        self.message, self.where, self.hint = message, where, hint
        super().__init__(message)

    def __str__(self) -> str:
        lines = [self.message]
        if self.where:
            lines.append(f"  where: {self.where}")
        if self.hint:
            lines.append(f"  how to change it: {self.hint}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The entry of report.json's `warnings` list."""
        return {"category": type(self).__name__, "message": self.message, "where": self.where, "hint": self.hint}


class _WarningDisplay:
    """A `warnings.showwarning` that prints netfit's warnings (every warning, in the CLI) as
    `warning: ...`, once each; others go to the display it replaced."""

    def __init__(self, previous, every: bool) -> None:
        self.previous, self.every, self.shown = previous, every, set()

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:
        if not (self.every or issubclass(category, NetfitWarning)):
            return self.previous(message, category, filename, lineno, file, line)
        text = f"warning: {message}"
        if not issubclass(category, NetfitWarning):  # a library's warning: say whose, not its source line
            text += f"\n  from: {_package(filename)} ({category.__name__})"
        if text in self.shown:
            return None
        self.shown.add(text)
        try:
            print(text, file=file if file is not None else sys.stderr, flush=True)
        except OSError:  # stderr closed (a daemon): as Python's own display does, drop it
            pass
        return None


def _package(filename: str) -> str:
    parts = Path(filename).parts
    for i, part in enumerate(parts[:-1]):
        if part in ("site-packages", "dist-packages"):
            return parts[i + 1].removesuffix(".py")
    return Path(filename).name


def show_warnings(every: bool = False) -> None:
    """Print netfit's warnings like its errors (`every`: all warnings, for the CLI), once each.

    Wraps the current `warnings.showwarning`, which stays in charge of other libraries' warnings;
    calling it again only widens it to `every`. Warning filters apply as usual (`-W ignore::...`)."""
    current = warnings.showwarning
    if isinstance(current, _WarningDisplay):
        current.every = current.every or every
    else:
        warnings.showwarning = _WarningDisplay(current, every)


# the lists of the `collect_warnings` blocks around the current code (innermost last)
_collecting: ContextVar[tuple[list[NetfitWarning], ...]] = ContextVar("netfit_collecting", default=())


def emit(warning: NetfitWarning, stacklevel: int = 1) -> None:
    """Warn (`warnings.warn`, so filters apply to the display) and record it in every enclosing
    `collect_warnings` block, whatever the filters; `stacklevel` counts from the caller."""
    for caught in _collecting.get():
        if str(warning) not in map(str, caught):  # the same warning once (a streamed pass repeats them)
            caught.append(warning)
    warnings.warn(warning, stacklevel=stacklevel + 1)


@contextmanager
def collect_warnings() -> Iterator[list[NetfitWarning]]:
    """The warnings `emit`ted inside, each once, shown or not (a run's report lists them all)."""
    caught: list[NetfitWarning] = []
    token = _collecting.set((*_collecting.get(), caught))
    try:
        yield caught
    finally:
        _collecting.reset(token)


def short_list(items, limit: int = 8) -> str:
    """`a, b, c, ... (+N more)`: a readable excerpt of a long list for messages."""
    items = [str(i) for i in items]
    head = ", ".join(items[:limit])
    return head + (f", ... (+{len(items) - limit} more)" if len(items) > limit else "")
