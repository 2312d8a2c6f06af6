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


def build_loss(cfg: TrainConfig, task: str, y_train: np.ndarray, classes: list, device: torch.device,
               y_weighted: bool = False) -> LossFn:
    """A function (output, target, sample_weight | None) -> scalar mean loss.

    `y_weighted`: the training rows carry sample weights (a custom loss must then accept them).
    """
    name = resolve_loss(cfg, task)
    if ":" in name:
        from netfit.plugins import custom_loss

        return custom_loss(name, has_weights=y_weighted)
    cw = class_weights(cfg, y_train, classes) if task != "regression" else None
    cw = cw.to(device) if cw is not None else None
    if name == "cross_entropy":
        def rows(out, y, reduction):
            return F.cross_entropy(out, y, weight=cw, label_smoothing=cfg.label_smoothing, reduction=reduction)
    elif name == "bce":
        pw = torch.tensor([cfg.pos_weight], device=device) if cfg.pos_weight else None
        if cw is not None:  # balanced bce: weight positives by w1/w0
            pw = (cw[1] / cw[0]).reshape(1) * (pw if pw is not None else 1)

        def rows(out, y, reduction):
            return F.binary_cross_entropy_with_logits(out.squeeze(1), y.to(out.dtype), pos_weight=pw, reduction=reduction)
    elif name == "mse":
        def rows(out, y, reduction):
            return F.mse_loss(out.squeeze(1), y, reduction=reduction)
    elif name == "mae":
        def rows(out, y, reduction):
            return F.l1_loss(out.squeeze(1), y, reduction=reduction)
    else:  # huber
        def rows(out, y, reduction):
            return F.huber_loss(out.squeeze(1), y, delta=cfg.huber_delta, reduction=reduction)

    def loss(out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        if w is None:  # torch's fused mean: one kernel fewer per step than none + mean
            return rows(out, y, "mean")
        return (rows(out, y, "none") * w).sum() / w.sum()

    return loss
