"""A flat callback base with no-op hooks. The progress display uses it too: one mechanism.

Hooks run at epoch and log-interval boundaries, never inside the optimizer step; the one
exception is `on_step_sampled`, which a callback asks for with `sample_every` (off by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # annotations only: `import netfit` stays free of torch (the CLI starts fast)
    import torch


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

    sample_every = 0  # > 0: `on_step_sampled` runs at every sample_every-th optimizer step

    def on_train_begin(self, logs: dict[str, Any]) -> None: ...
    def on_epoch_begin(self, logs: dict[str, Any]) -> None: ...
    def on_log(self, logs: dict[str, Any]) -> None: ...
    def on_validation_end(self, logs: dict[str, Any]) -> None: ...
    def on_epoch_end(self, logs: dict[str, Any]) -> None: ...
    def on_checkpoint(self, logs: dict[str, Any]) -> None: ...
    def on_train_end(self, logs: dict[str, Any]) -> None: ...

    def on_step_sampled(self, sample: StepSample) -> None:
        """Inside the step, every `sample_every` optimizer steps: after backward, before clipping and
        the optimizer step, so the parameters' `.grad` hold the step's gradients. Keep it cheap:
        each tensor read here (`.item()`, `.tolist()`) waits for the GPU.

        Example:
            >>> class GradNorm(Callback):
            ...     sample_every = 100
            ...     def on_step_sampled(self, sample):
            ...         norms = [p.grad.norm() for p in sample.model.parameters() if p.grad is not None]
            ...         print(sample.step, torch.stack(norms).norm().item() / sample.grad_scale)
        """

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


@dataclass
class StepSample:
    """What `on_step_sampled` sees: where in training, and the model whose `.grad` it may read."""

    epoch: int
    batch: int  # batches done in this epoch, this one included
    step: int  # the optimizer step about to be taken (1-based)
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    grad_scale: float  # the gradients are multiplied by this (fp16 loss scaling; 1.0 otherwise)
    loss: Optional[torch.Tensor] = None  # the step's loss, on its device (None: every row of the step weighed 0)


class StepSampler:
    """When the sampled in-step hooks are due. The loop compares `due` with its step count, one
    integer comparison per step; with no callback sampling, `due` is -1 and never matches."""

    def __init__(self, callbacks: list[Callback], step: int = 0) -> None:
        self.listeners = [cb for cb in callbacks if getattr(cb, "sample_every", 0) > 0]
        self.reset(step)

    def reset(self, step: int) -> None:
        """Plan the next sample after `step` optimizer steps (at the start, on resume, after a rollback)."""
        upcoming = [(step // cb.sample_every + 1) * cb.sample_every for cb in self.listeners]
        self.due = min(upcoming) - 1 if upcoming else -1  # steps taken when the next sample is due

    def sample(self, parts: Any, epoch: int, batch: int, loss: Optional[torch.Tensor] = None) -> None:
        """Call the callbacks due at this step with its gradients (`parts`: the loop's `Parts`) and loss."""
        scaler = parts.scaler  # reading the fp16 scale syncs; only here, on sampled steps
        sample = StepSample(epoch, batch, self.due + 1, parts.model, parts.optimizer,
                            float(scaler.get_scale()) if scaler is not None else 1.0, loss)
        for cb in self.listeners:
            if sample.step % cb.sample_every == 0:
                cb.on_step_sampled(sample)
        self.reset(sample.step)
