"""Finders for `train.optimizer.lr: auto` and `train.batch_size: auto`.

- Learning rate: a range test. Train from the initial weights for a few hundred steps while the
  rate grows exponentially from `min_lr` to `max_lr`; smooth the loss (bias-corrected moving
  average) and pick the rate where the smoothed loss falls fastest (steepest descent per log
  rate), never above a tenth of the rate with the lowest loss.
- Batch size: on a GPU, the largest power of two whose training step fits the memory budget;
  on a CPU, the throughput knee: the smallest batch reaching 80% of the best samples/s.

Both leave the model's weights and the global RNG exactly as they found them, so a run with a
found value trains like a run given that value.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from netfit.config import Config, TrainConfig
from netfit.train.optim import build_optimizer

LR_STEPS, MIN_LR, MAX_LR = 200, 1e-7, 10.0
SMOOTHING = 0.9  # moving-average factor of the range test's loss (about a 10-step window)
KNEE = 0.8  # a batch is "fast enough" at this fraction of the best throughput
MEMORY_BUDGET = 0.8  # fraction of the GPU's memory a training step may use


@dataclass
class LrFinding:
    """The range test's choice and its curve (rates and smoothed losses, for the report)."""

    lr: float
    method: str
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)


@dataclass
class BatchFinding:
    """The chosen batch size and what was measured for each candidate."""

    batch_size: int
    method: str
    measured: dict[int, float] = field(default_factory=dict)


class _Restored:
    """Run a probe and put the weights and global RNG back afterwards (the run starts unchanged)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def __enter__(self) -> None:
        self.weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.rng = torch.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None

    def __exit__(self, *exc: Any) -> None:
        self.model.load_state_dict(self.weights)
        torch.set_rng_state(self.rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)


def find_lr(model: nn.Module, train: Any, loss_fn: Any, cfg: TrainConfig, *, seed: int = 0,
            steps: int = LR_STEPS, min_lr: float = MIN_LR, max_lr: float = MAX_LR) -> LrFinding:
    """Learning-rate range test on the training split (`cfg.batch_size` must be a number).

    Example:
        >>> finding = find_lr(model, train_tensors, loss_fn, cfg.train)  # doctest: +SKIP
        >>> finding.lr, finding.method  # doctest: +SKIP
    """
    with _Restored(model):
        lrs, raw = _sweep(model, train, loss_fn, cfg, seed, steps, min_lr, max_lr)
    smooth = _smooth(raw)
    lr, method = _pick_lr(np.asarray(lrs), smooth)
    return LrFinding(lr, method, [float(v) for v in lrs], [float(v) for v in smooth])


def _sweep(model, train, loss_fn, cfg: TrainConfig, seed: int, steps: int, min_lr: float, max_lr: float):
    """Exponentially growing rate, one optimizer step each; stops early once the loss explodes."""
    optimizer = build_optimizer(cfg.optimizer.model_copy(update={"lr": min_lr}), model)
    gamma = (max_lr / min_lr) ** (1 / max(steps - 1, 1))
    generator = torch.Generator(device=train.y.device).manual_seed(seed)
    losses = torch.empty(steps, device=train.y.device)  # on the device; read in chunks, not per step
    n, B = len(train), int(cfg.batch_size)
    perm, pos, done, best = torch.randperm(n, device=train.y.device, generator=generator), 0, 0, float("inf")
    model.train()
    for i in range(steps):
        if pos >= n:
            perm, pos = torch.randperm(n, device=train.y.device, generator=generator), 0
        idx = perm[pos:pos + B]
        pos += B
        for group in optimizer.param_groups:
            group["lr"] = min_lr * gamma**i
        loss = loss_fn(model(*[x[idx] for x in train.inputs]), train.y[idx], train.w[idx] if train.w is not None else None)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses[i] = loss.detach()
        done = i + 1
        if done % 20 == 0:  # one host read per 20 steps: stop once the loss has blown up
            mean = losses[done - 20:done].mean().item()
            best = min(best, mean)
            if not np.isfinite(mean) or mean > 4 * best:
                break
    raw = losses[:done].cpu().numpy()
    return [min_lr * gamma**i for i in range(done)], raw


def _smooth(raw: np.ndarray) -> np.ndarray:
    """Bias-corrected exponential moving average; non-finite losses end the curve."""
    finite = np.isfinite(raw)
    raw = raw[: int(np.argmin(finite)) if not finite.all() else len(raw)]
    avg, out = 0.0, np.empty(len(raw))
    for i, value in enumerate(raw):
        avg = SMOOTHING * avg + (1 - SMOOTHING) * value
        out[i] = avg / (1 - SMOOTHING ** (i + 1))
    return out


def _pick_lr(lrs: np.ndarray, smooth: np.ndarray) -> tuple[float, str]:
    """Steepest descent of the smoothed loss before its minimum, capped at min-loss rate / 10."""
    if len(smooth) < 10:
        return float(lrs[0] if len(lrs) else MIN_LR), "too few finite losses: the smallest rate"
    lowest = int(np.argmin(smooth))
    cap = float(lrs[lowest]) / 10
    skip = len(smooth) // 10  # the first points carry the moving average's start-up noise
    if lowest - skip < 3:
        return cap, "a tenth of the rate with the lowest smoothed loss"
    slopes = np.gradient(smooth[skip: lowest + 1], np.log(lrs[skip: lowest + 1]))
    steepest = float(lrs[skip + int(np.argmin(slopes))])
    if steepest <= cap:
        return steepest, "steepest descent of the smoothed loss"
    return cap, "a tenth of the rate with the lowest smoothed loss"


def find_batch_size(model: nn.Module, train: Any, loss_fn: Any, cfg: TrainConfig) -> BatchFinding:
    """Largest batch that fits the GPU memory budget; on CPU the throughput knee.

    Candidates are powers of two from 16 up to an eighth of the training rows, so every epoch
    still has at least eight steps.
    """
    cap = max(16, len(train) // 8)
    sizes = [b for b in (2**k for k in range(4, 17)) if b <= cap] or [16]
    opt_cfg = cfg.optimizer.model_copy(update={"lr": 1e-3 if cfg.optimizer.lr == "auto" else cfg.optimizer.lr})
    with _Restored(model):
        optimizer = build_optimizer(opt_cfg, model)
        if train.y.device.type == "cuda":
            return _largest_fitting(model, optimizer, train, loss_fn, sizes)
        return _throughput_knee(model, optimizer, train, loss_fn, sizes)


def _step(model, optimizer, train, loss_fn, idx: torch.Tensor) -> None:
    loss = loss_fn(model(*[x[idx] for x in train.inputs]), train.y[idx], train.w[idx] if train.w is not None else None)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _throughput_knee(model, optimizer, train, loss_fn, sizes: list[int]) -> BatchFinding:
    model.train()
    measured = {}
    for b in sizes:
        idx = torch.arange(min(b, len(train)), device=train.y.device)
        _step(model, optimizer, train, loss_fn, idx)  # warm-up: allocator and kernels
        repeats = max(3, min(20, 2048 // b))
        t0 = time.perf_counter()
        for _ in range(repeats):
            _step(model, optimizer, train, loss_fn, idx)
        measured[b] = round(repeats * len(idx) / (time.perf_counter() - t0), 1)
    best = max(measured.values())
    chosen = next(b for b in sizes if measured[b] >= KNEE * best)
    return BatchFinding(chosen, f"CPU throughput knee: smallest batch with >= {KNEE:.0%} of the best samples/s", measured)


def _largest_fitting(model, optimizer, train, loss_fn, sizes: list[int]) -> BatchFinding:
    device = train.y.device
    budget = MEMORY_BUDGET * torch.cuda.get_device_properties(device).total_memory
    model.train()
    measured, chosen = {}, sizes[0]
    for b in sizes:
        torch.cuda.reset_peak_memory_stats(device)
        try:
            _step(model, optimizer, train, loss_fn, torch.arange(min(b, len(train)), device=device))
            torch.cuda.synchronize(device)
        except torch.cuda.OutOfMemoryError:  # the device said no: the previous size is the answer
            torch.cuda.empty_cache()
            break
        measured[b] = float(torch.cuda.max_memory_allocated(device))
        if measured[b] > budget:
            break
        chosen = b
    return BatchFinding(chosen, f"largest batch within {MEMORY_BUDGET:.0%} of GPU memory (peak bytes measured)", measured)


def resolve_auto(cfg: Config, model: nn.Module, train: Any, loss_fn: Any) -> tuple[Config, dict[str, Any]]:
    """Replace `auto` batch size and learning rate with found values; return the config and findings.

    The batch size is found first because the best learning rate depends on it.
    """
    tcfg, found = cfg.train, {}
    if tcfg.batch_size == "auto":
        batch = find_batch_size(model, train, loss_fn, tcfg)
        tcfg = tcfg.model_copy(update={"batch_size": batch.batch_size})
        found["batch_size"] = {**asdict(batch), "measured": {str(k): v for k, v in batch.measured.items()}}
    if tcfg.optimizer.lr == "auto":
        lr = find_lr(model, train, loss_fn, tcfg, seed=cfg.seed)
        tcfg = tcfg.model_copy(update={"optimizer": tcfg.optimizer.model_copy(update={"lr": lr.lr})})
        found["lr"] = asdict(lr)
    return (cfg.model_copy(update={"train": tcfg}) if found else cfg), found
