"""Errors for people: what was expected, what was found, where, and how to fix it.

Every user mistake raises a `NetfitError` subclass. The CLI prints it without a
traceback and exits with its `exit_code` (2 for user errors, 3 for a diverged run).
Bugs are ordinary exceptions and keep their traceback.
"""

from __future__ import annotations


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


def short_list(items, limit: int = 8) -> str:
    """`a, b, c, ... (+N more)`: a readable excerpt of a long list for messages."""
    items = [str(i) for i in items]
    head = ", ".join(items[:limit])
    return head + (f", ... (+{len(items) - limit} more)" if len(items) > limit else "")
