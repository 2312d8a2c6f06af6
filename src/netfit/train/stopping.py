"""Stopping criteria: early stopping, convergence, divergence. Each keeps a small JSON-able state."""

from __future__ import annotations

import math

from netfit.config import ConvergenceConfig, DivergenceConfig, EarlyStoppingConfig, metric_mode
from netfit.errors import NetfitWarning, emit


class StoppingWarning(NetfitWarning):
    """Early stopping could not do its job (its monitored value was never finite)."""


class EarlyStopping:
    """Stop when `monitor` has not improved by `min_delta` for `patience` validations."""

    def __init__(self, cfg: EarlyStoppingConfig) -> None:
        self.cfg = cfg
        self.mode = metric_mode(cfg.monitor, cfg)  # known: the config refuses a monitor without one
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0

    def update(self, value: float, epoch: int) -> bool:
        """Record a validation; True when it is a new best."""
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return True
        self.wait += 1
        return False

    def _improved(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.cfg.min_delta
        return value > self.best + self.cfg.min_delta

    @property
    def should_stop(self) -> bool:
        return self.wait >= self.cfg.patience

    @property
    def never_finite(self) -> bool:
        """Validated, but the monitored value was never a finite number: there is no best epoch."""
        return self.best is None and self.wait > 0

    def stop_message(self) -> str:
        if self.never_finite:
            return (f"{self.cfg.monitor} was never finite in {self.wait} validations "
                    f"(patience {self.cfg.patience}); the last epoch's weights are kept")
        return (f"{self.cfg.monitor} did not improve for {self.cfg.patience} "
                f"validations (best {self.best:.4g} at epoch {self.best_epoch})")

    def warn_if_never_finite(self) -> None:
        """At the end of training: say so when there was no best (restore_best had nothing to restore)."""
        if self.never_finite:
            emit(StoppingWarning(
                f"early stopping: {self.cfg.monitor} was never finite in {self.wait} validations, so no epoch was "
                "best and the last epoch's weights are kept", where="train.early_stopping.monitor",
                hint="check the validation split (e.g. all its sample weights 0, or non-finite values)"), stacklevel=3)

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]


def converged(train_losses: list[float], cfg: ConvergenceConfig | None) -> bool:
    """True when the relative change of the train loss stayed under `tol` for `window` epochs."""
    if cfg is None or len(train_losses) <= cfg.window:
        return False
    recent = train_losses[-(cfg.window + 1):]
    changes = [abs(b - a) / max(abs(a), 1e-12) for a, b in zip(recent, recent[1:])]
    return max(changes) < cfg.tol


def diverged(loss: float, best: float | None, cfg: DivergenceConfig) -> str | None:
    """A reason string when the loss is non-finite or grew past `factor` times its best, else None."""
    if not math.isfinite(loss):
        return f"the training loss became {loss}"
    if best is not None and best > 0 and loss > cfg.factor * best:
        return f"the training loss grew to {loss:.4g}, more than {cfg.factor:g}x its best {best:.4g}"
    return None
