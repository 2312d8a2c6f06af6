"""The training step: forward, loss, backward per micro-batch; clip and step per accumulated batch.

Everything a step needs is decided once, when the `Step` is built: the autocast context (a
do-nothing one at precision 32), the fp16 GradScaler or None, the batch copy for host-held data,
the L1 parameters. Inside a step there are only `is None` checks and integer comparisons; the
loss is returned detached and unread (no host sync). The one exception: where some training rows
weigh 0, each step reads whether its weight sum is 0 (such a step is skipped, not taken).

The loss of a step is sum(w * c_y * l) / sum(w * c_y) over all its rows, every accumulated
micro-batch and every DDP rank (w: sample weight, c_y: class weight, 1 without).
"""

from __future__ import annotations

import torch
from torch import nn

from netfit.config import TrainConfig
from netfit.errors import DataError
from netfit.train import distributed, speed
from netfit.train.checkpoint import Parts
from netfit.train.distributed import Dist
from netfit.train.losses import Loss, LossFn
from netfit.train.tensors import Streamed, Tensors


class Step:
    """One training step over `net` (the model, or its DDP/compiled wrapper) and the loop's parts.

    Args:
        net: the module the forward calls; `parts.model` keeps the state.
        parts: model, optimizer, schedule and the fp16 scaler (None otherwise).
        cfg: `train` (precision, l1, accumulate, grad_clip, grad_clip_value, data_on_device).
        loss_fn: the task's loss.
        device: where the model is; `data_device`: where the training tensors are.
        dist: this process's place in a DDP job (a plain process by default).
    """

    def __init__(self, net: nn.Module, parts: Parts, cfg: TrainConfig, loss_fn: LossFn, device: torch.device,
                 data_device: torch.device, dist: Dist = Dist()) -> None:
        self.net, self.model, self.loss_fn = net, parts.model, loss_fn
        self.optimizer, self.schedule, self.scaler = parts.optimizer, parts.schedule, parts.scaler
        self.amp = speed.autocast(cfg.precision, device)
        # host-held data (or data_on_device: false): each gathered batch is copied to the device
        copy = data_device != device or cfg.data_on_device is False
        self.fetch = speed.batch_copier(device) if copy else None
        self.l1 = cfg.l1
        self.l1_params = [p for p in self.model.parameters() if p.ndim > 1 and p.requires_grad] if cfg.l1 > 0 else []
        self.accumulate, self.dist, self.world = cfg.accumulate, dist, dist.world_size
        self.nominal = cfg.batch_size * cfg.accumulate  # a step's rows when no group is short
        self.per_row = 1.0 / self.nominal
        # a `Loss` splits into numerator and denominator; a custom loss is a mean over its rows
        self.weighs = isinstance(loss_fn, Loss)
        self.may_skip = False  # set by the loop when some training rows weigh 0
        self.pending, self.den = 0, 0  # the step so far: its loss (numerator) and weight sum
        self.clip_norm, self.clip_value = cfg.grad_clip, cfg.grad_clip_value
        self.unscale = self.scaler is not None and (self.clip_norm is not None or self.clip_value is not None)

    def backward(self, xs: list[torch.Tensor], y: torch.Tensor, w: torch.Tensor | None, share: float, rows: int) -> None:
        """Forward and backward of one micro-batch of `rows` rows (all ranks together).

        The step's loss is sum(w * c_y * l) / sum(w * c_y) over all its micro-batches: the
        gradients are summed here against the step's nominal rows (batch_size * accumulate) and
        put over the step's true denominator in `finish`, so nothing is read on the host.
        """
        if self.fetch is not None:
            xs, y, w = [self.fetch(x) for x in xs], self.fetch(y), (self.fetch(w) if w is not None else None)
        with self.amp:  # autocast at bf16/fp16; a do-nothing context at 32
            out = self.net(*xs).float()  # the loss in float32 (a no-op at 32)
        if self.weighs and (w is not None or self.loss_fn.class_weight is not None):
            self._weighted_backward(out, y, w)
            return
        # every row weighs 1: the mean, as torch computes it; an empty slice (a global tail
        # smaller than the world) still joins the gradient all-reduce
        loss = self.loss_fn(out, y, w) if len(y) else out.sum() * 0
        if self.l1_params:
            loss = loss + self.l1 * sum(p.abs().sum() for p in self.l1_params)
        # DDP: weighted by this rank's share of the global batch; accumulating: by the micro-batch's rows
        factor = share if self.accumulate == 1 else share * rows * self.per_row
        self._backward(loss * factor if factor != 1.0 else loss)
        self.pending = loss.detach() if self.accumulate == 1 else self.pending + loss.detach() * rows

    def _weighted_backward(self, out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None) -> None:
        num, den = self.loss_fn.total(out, y, w) if len(y) else (out.sum() * 0, out.new_zeros(()))
        self._backward(num * (self.world * self.per_row))  # DDP averages the ranks' gradients
        self.pending, self.den = self.pending + num.detach(), self.den + den

    def _backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def finish(self, rows: int) -> torch.Tensor | None:
        """The step's gradients over its `rows` rows' denominator, as the step's loss defines them.
        Returns the step's loss (detached, on the device), or None when the step is to be
        skipped: all its rows weigh 0, so it has neither a gradient nor a loss to follow."""
        pending, den, self.pending, self.den = self.pending, self.den, 0, 0
        if not isinstance(den, torch.Tensor) and den == 0:  # every row weighs 1
            if self.accumulate > 1:
                if rows != self.nominal and (grads := self._grads()):  # a short last group: over its own rows
                    torch._foreach_mul_(grads, self.nominal / rows)
                pending = pending / rows
            return pending
        den = distributed.sum_over_ranks(den, self.dist)
        if self.may_skip and not bool(den > 0):  # one read, only where the data has rows of weight 0
            return None
        if grads := self._grads():
            torch._foreach_div_(grads, den * self.per_row)
        loss = pending * self.world / den  # this rank's part of the step's loss; the ranks' mean is the whole
        if self.l1_params:  # the penalty once per step, on the true gradients' scale
            penalty = self.l1 * sum(p.abs().sum() for p in self.l1_params)
            self._backward(penalty)
            loss = loss + penalty.detach()
        return loss

    def _grads(self) -> list[torch.Tensor]:
        return [p.grad for p in self.model.parameters() if p.grad is not None]

    def update(self, loss: torch.Tensor | None) -> None:
        """The optimizer step on the finished gradients: clip, step, clear them, advance the
        schedule; a skipped step (`loss` None) only clears them and advances the schedule."""
        if loss is None:
            self.optimizer.zero_grad(set_to_none=True)
            self.schedule.after_step()  # the schedule keeps to its planned steps
            return
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


def some_rows_weigh_zero(train: Tensors | Streamed, loss_fn: LossFn) -> bool:
    """Whether a step can have weight sum 0 (it is then skipped): one read, before training.
    Training rows that all weigh 0 are a DataError; streamed rows are not seen up front."""
    if not isinstance(loss_fn, Loss):
        return False
    if isinstance(train, Streamed):  # a read per step only where its rows are weighted
        return True
    r = loss_fn.weigh(train.y, train.w)
    if r is None:
        return False
    total, zeros = torch.stack([r.sum(), (r == 0).sum()]).tolist()
    if total <= 0:
        raise DataError("every training row has weight 0", where="data.weight_column / train.class_weight",
                        expected="some rows with sample weight x class weight > 0", found=f"{len(train)} rows, all 0",
                        hint="give some training rows a positive weight")
    return zeros > 0
