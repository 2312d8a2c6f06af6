"""Ctrl-C and SIGTERM: finish the current step, checkpoint, report, exit 130/143.

The handler only sets a flag; the loop reads it after each optimizer step (a plain Python bool,
no tensor read). A second signal restores the default handling and raises KeyboardInterrupt
at once, without waiting for the step or writing anything.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopFlag:
    """Set by the signal handler; `requested` is what the loop checks."""

    def __init__(self) -> None:
        self.requested = False
        self.signum: int | None = None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "a stop request"

    @property
    def exit_code(self) -> int:
        """The shell convention: 128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + (self.signum or signal.SIGINT)


@contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    """Install the handlers for the duration of training (main thread only) and restore the old ones."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():  # signal.signal only works there
        yield flag
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}

    def handle(signum, frame) -> None:
        if flag.requested:  # the second signal: stop now
            _restore(previous)
            raise KeyboardInterrupt
        flag.requested, flag.signum = True, signum

    for s in SIGNALS:
        signal.signal(s, handle)
    try:
        yield flag
    finally:
        _restore(previous)


def _restore(previous: dict) -> None:
    for s, handler in previous.items():
        signal.signal(s, handler if handler is not None else signal.SIG_DFL)
