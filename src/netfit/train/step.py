"""The training step: forward, loss, backward per micro-batch; clip and step per accumulated batch.

Everything a step needs is decided once, when the `Step` is built: the autocast context (a
do-nothing one at precision 32), the fp16 GradScaler or None, the batch copy for host-held data,
the L1 parameters. Inside a step there are only `is None` checks and integer comparisons; the
loss is returned detached and unread (no host sync).
"""

from __future__ import annotations

import torch
from torch import nn

from netfit.config import TrainConfig
from netfit.train import speed
from netfit.train.checkpoint import Parts
from netfit.train.losses import LossFn


class Step:
    """One training step over `net` (the model, or its DDP/compiled wrapper) and the loop's parts.

    Args:
        net: the module the forward calls; `parts.model` keeps the state.
        parts: model, optimizer, schedule and the fp16 scaler (None otherwise).
        cfg: `train` (precision, l1, accumulate, grad_clip, grad_clip_value, data_on_device).
        loss_fn: the task's loss.
        device: where the model is; `data_device`: where the training tensors are.
    """

    def __init__(self, net: nn.Module, parts: Parts, cfg: TrainConfig, loss_fn: LossFn, device: torch.device,
                 data_device: torch.device) -> None:
        self.net, self.model, self.loss_fn = net, parts.model, loss_fn
        self.optimizer, self.schedule, self.scaler = parts.optimizer, parts.schedule, parts.scaler
        self.amp = speed.autocast(cfg.precision, device)
        # host-held data (or data_on_device: false): each gathered batch is copied to the device
        copy = data_device != device or cfg.data_on_device is False
        self.fetch = speed.batch_copier(device) if copy else None
        self.l1 = cfg.l1
        self.l1_params = [p for p in self.model.parameters() if p.ndim > 1 and p.requires_grad] if cfg.l1 > 0 else []
        self.accumulate = cfg.accumulate
        self.clip_norm, self.clip_value = cfg.grad_clip, cfg.grad_clip_value
        self.unscale = self.scaler is not None and (self.clip_norm is not None or self.clip_value is not None)

    def backward(self, xs: list[torch.Tensor], y: torch.Tensor, w: torch.Tensor | None, share: float) -> torch.Tensor:
        """Forward and backward of one micro-batch; its loss comes back detached, on the device."""
        if self.fetch is not None:
            xs, y, w = [self.fetch(x) for x in xs], self.fetch(y), (self.fetch(w) if w is not None else None)
        with self.amp:  # autocast at bf16/fp16; a do-nothing context at 32
            out = self.net(*xs)
        # the loss in float32 (a no-op at 32); an empty slice (a global tail smaller than the
        # world) still joins the gradient all-reduce
        loss = self.loss_fn(out.float(), y, w) if len(y) else out.sum() * 0
        if self.l1_params:
            loss = loss + self.l1 * sum(p.abs().sum() for p in self.l1_params)
        scaled = loss * share if share != 1.0 else loss  # DDP: weighted by this rank's share of the global batch
        scaled = scaled / self.accumulate if self.accumulate > 1 else scaled
        (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
        return loss.detach()

    def update(self) -> None:
        """The optimizer step on the accumulated gradients: clip, step, clear them, advance the schedule."""
        if self.unscale:  # clip the true gradients, not the scaled ones
            self.scaler.unscale_(self.optimizer)
        if self.clip_norm is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_norm, foreach=True)
        if self.clip_value is not None:
            nn.utils.clip_grad_value_(self.model.parameters(), self.clip_value, foreach=True)
        if self.scaler is not None:  # skips the step when fp16 gradients overflowed, then adapts the scale
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.schedule.after_step()
