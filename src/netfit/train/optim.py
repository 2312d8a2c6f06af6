"""Builders for the optimizer and the learning-rate schedule."""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from netfit.config import OptimizerConfig, ScheduleConfig


def build_optimizer(cfg: OptimizerConfig, model: nn.Module, pretrained: frozenset[str] = frozenset(),
                    pretrained_lr: float | None = None) -> torch.optim.Optimizer:
    """The configured optimizer; weight decay skips biases and norm parameters (the usual practice).

    Frozen parameters (requires_grad False) are left out. Parameters named in `pretrained`
    (loaded by `train.init_from`) learn at `pretrained_lr` when it is set.
    SGD, Adam and AdamW use torch's fused kernels (one kernel over all parameters, on CPU and
    CUDA), RMSprop the `foreach` implementation: no Python loop per tensor in the step.
    """
    split = bool(pretrained) and pretrained_lr is not None
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    own = [p for n, p in trainable if not (split and n in pretrained)]
    loaded = [p for n, p in trainable if split and n in pretrained]
    groups = _decay_groups(own, cfg.lr, cfg.weight_decay) + _decay_groups(loaded, pretrained_lr, cfg.weight_decay)
    groups = [g for g in groups if g["params"]]
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0, fused=True)
    if cfg.name == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, fused=True)
    if cfg.name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, fused=True)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=cfg.lr, momentum=cfg.momentum, eps=cfg.eps, foreach=True)
    raise AssertionError(f"unknown optimizer {cfg.name}")  # the schema admits only the names above


def _decay_groups(params: list, lr: float | None, weight_decay: float) -> list[dict]:
    """Matrices decay, vectors (biases, norm scales) do not."""
    return [{"params": [p for p in params if p.ndim > 1], "weight_decay": weight_decay, "lr": lr},
            {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0, "lr": lr}]


class Schedule:
    """One interface over torch's schedulers: `after_step()`, `after_epoch()`, `after_validation(value)`.

    Per-step schedules (cosine with warmup, one_cycle) advance every optimizer step; step and
    exponential advance per epoch; reduce_on_plateau follows the monitored validation value, which
    improves downwards (`mode` "min") or upwards ("max"), as `metric_mode` says for the monitor.
    """

    def __init__(self, cfg: ScheduleConfig, optimizer: torch.optim.Optimizer, lr: float, epochs: int, steps_per_epoch: int,
                 mode: str = "min"):
        self.name = cfg.name
        self.total = total = max(1, epochs * steps_per_epoch)  # the steps a per-step schedule is planned for
        if cfg.name == "cosine":
            warmup = int(cfg.warmup_epochs * steps_per_epoch)
            floor = cfg.min_lr / lr
            self.torch = torch.optim.lr_scheduler.LambdaLR(optimizer, _cosine(total, warmup, floor))
        elif cfg.name == "one_cycle":
            self.torch = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.max_lr or 10 * lr, total_steps=total + 1)
        elif cfg.name == "step":
            self.torch = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
        elif cfg.name == "exponential":
            self.torch = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.gamma)
        elif cfg.name == "reduce_on_plateau":
            self.torch = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode=mode, factor=cfg.factor, patience=cfg.patience, min_lr=cfg.min_lr
            )
        else:  # constant
            self.torch = None
        self.per_step = cfg.name in ("cosine", "one_cycle")
        self.optimizer = optimizer
        self.last_step_lr: float | None = None  # per-step schedules: the rate the latest step used

    def after_step(self) -> None:
        if self.per_step:
            self.last_step_lr = self.optimizer.param_groups[0]["lr"]  # before it advances
            if self.name == "one_cycle" and self.torch.last_epoch >= self.total:
                return  # past its planned end (epochs lowered on resume) one_cycle holds its last rate, as cosine its floor
            self.torch.step()

    def epoch_lr(self) -> float:
        """The rate the epoch just trained with, read before `after_epoch()`: per-epoch schedules
        hold one rate an epoch; a per-step one gives its last step's (history.csv's `lr`)."""
        if self.per_step and self.last_step_lr is not None:
            return self.last_step_lr
        return self.optimizer.param_groups[0]["lr"]

    def after_epoch(self) -> None:
        if self.name in ("step", "exponential"):
            self.torch.step()

    def after_validation(self, value: float) -> None:
        if self.name == "reduce_on_plateau":
            self.torch.step(value)

    def state_dict(self) -> dict:
        if self.torch is None:
            return {}
        state = self.torch.state_dict()
        if self.per_step:  # a checkpoint right after an epoch's last step still logs that step's rate
            state["netfit_last_step_lr"] = self.last_step_lr
            state["netfit_total_steps"] = self.total
        return state

    def load_state_dict(self, state: dict) -> None:
        if self.torch is None:
            return
        state = dict(state)
        self.last_step_lr = state.pop("netfit_last_step_lr", None)  # None in older checkpoints
        planned = state.pop("netfit_total_steps", state.get("total_steps", 1) - 1 if self.name == "one_cycle" else None)
        if not self.per_step or planned in (None, self.total):
            self.torch.load_state_dict(state)  # the same plan: continued exactly
            return
        self._replan(state)

    def _replan(self, state: dict) -> None:
        """Resumed with another total (`train.epochs` changed): the schedule is rebuilt for this run's
        total. Its position (steps taken) comes from the checkpoint; the rates from the next step on,
        that one included, are those of a run planned for the new total from the start."""
        if self.name == "one_cycle":  # the phases' ends are the plan: keep this run's, not the checkpoint's
            own = self.torch.state_dict()
            state.update({k: own[k] for k in ("total_steps", "_schedule_phases")})
            state["last_epoch"] = min(state["last_epoch"], self.total)  # already past a shorter plan: at its end
        self.torch.load_state_dict(state)  # cosine's plan is its factor function, never in the state
        with warnings.catch_warnings():  # get_lr() outside step() warns; the next step's rate is wanted here
            warnings.filterwarnings("ignore", message="To get the last learning rate")
            rates = self.torch.get_lr()  # one_cycle: also sets the step's momentum
        for group, rate in zip(self.optimizer.param_groups, rates, strict=True):
            group["lr"] = rate
        self.torch._last_lr = [g["lr"] for g in self.optimizer.param_groups]


def _cosine(total: int, warmup: int, floor: float):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor
