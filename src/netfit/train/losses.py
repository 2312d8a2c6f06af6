"""Loss builder: `auto` from the task, class and sample weights, label smoothing, L1."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from netfit.config import TrainConfig
from netfit.errors import ConfigError

LossFn = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]

AUTO = {"multiclass": "cross_entropy", "binary": "bce", "regression": "mse"}
FOR_TASK = {"multiclass": {"cross_entropy"}, "binary": {"bce", "cross_entropy"}, "regression": {"mse", "mae", "huber"}}


def resolve_loss(cfg: TrainConfig, task: str) -> str:
    name = AUTO[task] if cfg.loss == "auto" else cfg.loss
    if ":" in name:  # your own loss by import path: its fit to the task is yours to judge
        return name
    if task == "binary" and name == "cross_entropy":
        name = "bce"  # a binary head has one logit; bce is cross-entropy for it
    if name not in FOR_TASK[task]:
        raise ConfigError(
            f"loss `{name}` does not fit a {task} task",
            where="train.loss",
            expected=" or ".join(sorted(FOR_TASK[task] | {"auto"})),
            found=name,
            hint="use `loss: auto`, or set data.task if the task was inferred wrongly",
        )
    return name


def class_weights(cfg: TrainConfig, y_train: np.ndarray, classes: list) -> torch.Tensor | None:
    """`balanced` (n / (K * count)) or an explicit mapping, as a tensor indexed by class code."""
    if cfg.class_weight is None:
        return None
    k = len(classes)
    if cfg.class_weight == "balanced":
        counts = np.bincount(y_train, minlength=k).astype(np.float64)
        return torch.tensor(len(y_train) / (k * np.maximum(counts, 1)), dtype=torch.float32)
    names = {str(c): i for i, c in enumerate(classes)}
    unknown = [c for c in cfg.class_weight if c not in names]
    if unknown:
        raise ConfigError("class_weight names unknown classes", where="train.class_weight",
                          expected=", ".join(names), found=", ".join(unknown), hint="use the class labels as they appear in the target column")
    w = torch.ones(k)
    for c, v in cfg.class_weight.items():
        w[names[c]] = v
    return w


class Loss:
    """The task's loss as netfit defines it: over rows with sample weight w (1 without a weight
    column) and class weight c_y (1 without), sum(w * c_y * l) / sum(w * c_y).

    Calling it gives that weighted mean; `total` gives its numerator and denominator separately,
    so an optimizer step can normalise by the weights of all its rows (every accumulated micro-batch).

    Example:
        >>> loss = build_loss(cfg.train, "multiclass", y, classes, device)  # doctest: +SKIP
        >>> loss(out, y, w)  # the weighted mean over these rows  # doctest: +SKIP
    """

    def __init__(self, rows: Callable[[torch.Tensor, torch.Tensor, str], torch.Tensor],
                 class_weight: torch.Tensor | None) -> None:
        self.rows, self.class_weight = rows, class_weight

    def weigh(self, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor | None:
        """Each row's weight w * c_y, or None when every row weighs 1."""
        c = self.class_weight[y] if self.class_weight is not None else None
        if c is None:
            return w
        return c if w is None else w * c

    def total(self, out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | int]:
        """(sum(w * c_y * l), sum(w * c_y)) over these rows; the count of rows when none is weighted."""
        r = self.weigh(y, w)
        if r is None:
            return self._rows(out, y, "sum"), len(y)
        return (self._rows(out, y, "none") * r).sum(), r.sum()

    def __call__(self, out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        r = self.weigh(y, w)
        if r is None:  # torch's fused mean: one kernel fewer per step than none + mean
            return self._rows(out, y, "mean")
        return (self._rows(out, y, "none") * r).sum() / r.sum()

    def _rows(self, out: torch.Tensor, y: torch.Tensor, reduction: str) -> torch.Tensor:
        """The per-row loss (reduced); an ensemble's (B, k, n_out) output counts the mean of its members."""
        if out.ndim < 3:
            return self.rows(out, y, reduction)
        B, k = out.shape[:2]
        per_row = self.rows(out.flatten(0, 1), y.repeat_interleave(k), "none").view(B, k).mean(dim=1)
        return per_row if reduction == "none" else per_row.sum() if reduction == "sum" else per_row.mean()


def build_loss(cfg: TrainConfig, task: str, y_train: np.ndarray, classes: list, device: torch.device,
               y_weighted: bool = False) -> LossFn:
    """A `Loss` (output, target, sample_weight | None) -> scalar weighted mean loss; a custom
    loss (`module:function`) is the user's function as it is.

    `y_weighted`: the training rows carry sample weights (a custom loss must then accept them).
    """
    name = resolve_loss(cfg, task)
    if ":" in name:
        from netfit.plugins import custom_loss

        return custom_loss(name, has_weights=y_weighted)
    cw = class_weights(cfg, y_train, classes) if task != "regression" else None
    cw = cw.to(device) if cw is not None else None
    smoothing = cfg.label_smoothing
    if name == "cross_entropy":
        # class weights are row weights c_y (see `Loss`), not torch's `weight=`: with label
        # smoothing torch weights every class's share of a row, and normalises differently
        def rows(out, y, reduction):
            return F.cross_entropy(out, y, label_smoothing=smoothing, reduction=reduction)
    elif name == "bce":
        pw = torch.tensor([cfg.pos_weight], device=device) if cfg.pos_weight else None

        def rows(out, y, reduction):
            target = y.to(out.dtype)
            if smoothing:  # binary label smoothing: y(1 - e) + e/2
                target = target * (1 - smoothing) + smoothing / 2
            return F.binary_cross_entropy_with_logits(out.squeeze(1), target, pos_weight=pw, reduction=reduction)
    elif name == "mse":
        def rows(out, y, reduction):
            return F.mse_loss(out.squeeze(1), y, reduction=reduction)
    elif name == "mae":
        def rows(out, y, reduction):
            return F.l1_loss(out.squeeze(1), y, reduction=reduction)
    else:  # huber
        def rows(out, y, reduction):
            return F.huber_loss(out.squeeze(1), y, delta=cfg.huber_delta, reduction=reduction)
    return Loss(rows, cw)
