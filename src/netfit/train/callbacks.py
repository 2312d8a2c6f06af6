"""A flat callback base with no-op hooks. The progress display uses it too: one mechanism.

Hooks run at epoch and log-interval boundaries only, never inside the optimizer step.
"""

from __future__ import annotations

from typing import Any


class StopTraining(Exception):
    """Raise from `on_validation_end` to end training cleanly after this epoch (e.g. a pruned trial).

    The loop records `reason` as the run's stop reason and `message` as its explanation.

    Example:
        >>> class StopAt90(Callback):
        ...     def on_validation_end(self, logs):
        ...         if logs["val_accuracy"] >= 0.9:
        ...             raise StopTraining("target_reached", "val_accuracy reached 0.9")
    """

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason, self.message = reason, message or reason


class Callback:
    """Subclass and override the hooks you need; each receives a plain `logs` dict.

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_epoch_end(self, logs):
        ...         print(logs["epoch"], logs["train_loss"])
    """

    def on_train_begin(self, logs: dict[str, Any]) -> None: ...
    def on_epoch_begin(self, logs: dict[str, Any]) -> None: ...
    def on_log(self, logs: dict[str, Any]) -> None: ...
    def on_validation_end(self, logs: dict[str, Any]) -> None: ...
    def on_epoch_end(self, logs: dict[str, Any]) -> None: ...
    def on_checkpoint(self, logs: dict[str, Any]) -> None: ...
    def on_train_end(self, logs: dict[str, Any]) -> None: ...
    def on_report(self, report: dict[str, Any]) -> None:
        """After the test evaluation: report.json's content (report.json and report.html are written)."""


class CallbackList:
    def __init__(self, callbacks: list[Callback]) -> None:
        self.callbacks = list(callbacks)

    def __getattr__(self, hook: str):
        def call(logs: dict[str, Any]) -> None:
            for cb in self.callbacks:
                getattr(cb, hook)(logs)

        return call
