"""Tensor plumbing: the device, splits as tensors, their mini-batches, and model outputs back.

A split is moved to the device once (`to_tensors`); the loop then only slices it. In-memory
batches are index slices of a seeded permutation; streamed ones are slices of shuffled blocks.
This module sits below the workflow: `run`, `evaluate` and `tune` import it, never the reverse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np
import torch
from torch import nn

from netfit.errors import ConfigError
from netfit.train import distributed, speed
from netfit.train.distributed import Dist

if TYPE_CHECKING:  # annotations only
    from netfit.data import Split


@dataclass
class Tensors:
    """One split as tensors, on the device (or in host memory, see `train.data_on_device`):
    model inputs, target and optional sample weights."""

    inputs: list[torch.Tensor]
    y: torch.Tensor
    w: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Streamed:
    """Training rows too many to hold in memory, read in shuffled blocks (`netfit.data.shuffle.TrainStream`)."""

    stream: Any  # TrainStream: len() rows, blocks(seed, batch_size) -> preprocessed Splits
    convert: Callable[[Any], Tensors]  # a block -> tensors on the device
    device: torch.device

    def __len__(self) -> int:
        return len(self.stream)


Batch = tuple[list[torch.Tensor], torch.Tensor, "torch.Tensor | None", float]


def pick_device(name: str) -> torch.device:
    """`train.device` as a torch device (`auto`: CUDA when visible, else CPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("CUDA was requested but no CUDA device is available", where="train.device",
                          found="no GPU visible to torch", hint="use `device: auto` or `device: cpu`")
    return torch.device(name)


def to_tensors(split: Split, device: torch.device, task: str, on_device: str | bool = True) -> Tensors:
    """A split as device tensors, moved once; the loop then only slices them.

    `on_device` (`train.data_on_device`): False, or `auto` on CUDA when the split does not fit
    half the free GPU memory, leaves the tensors in host memory; the loop copies each batch."""
    arrays = [*split.inputs(), split.y, *([split.w] if split.w is not None else [])]
    device = speed.data_device(sum(a.nbytes for a in arrays), device, on_device)
    inputs = device_inputs(split, device)
    y_dtype = torch.float32 if task == "regression" else torch.int64
    y = torch.as_tensor(split.y, dtype=y_dtype, device=device)
    w = torch.as_tensor(split.w, dtype=torch.float32, device=device) if split.w is not None else None
    return Tensors(inputs, y, w)


def device_inputs(split: Split, device: torch.device) -> list[torch.Tensor]:
    """The model's inputs of a split on the device: float32 features, int64 codes/ids/lengths."""
    return [torch.as_tensor(a, device=device) for a in split.inputs()]


def target_units(pre: Any) -> tuple[float, float]:
    """(scale, shift) that map the model's standardized regression output back to target units:
    `output * scale + shift`; (1, 0) for classification."""
    return (float(pre.target_std), float(pre.target_mean)) if pre.task == "regression" else (1.0, 0.0)


def in_target_units(out: torch.Tensor, y: torch.Tensor, units: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Regression outputs and targets, standardized for training, in the target's own units again."""
    scale, shift = units
    return out * scale + shift, y * scale + shift


# ---------------------------------------------------------------- mini-batches
def epoch_rows(n: int, size: int, model: nn.Module, dist: Dist) -> int:
    """The rows an epoch trains on: all `n`, but under batch norm not a last batch so short that a
    process would normalise one row (or none): that batch is dropped, as `drop_last` would.

    Only then: a last batch of 1 row in one process, of fewer than 2 rows per process under DDP
    (its rows are dealt out one by one). The permutation changes each epoch, so no row is left out
    for good. Full batches that small are a ConfigError, as is a training split of one batch that small.
    """
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return n
    least = 2 * dist.world_size  # every process gets at least 2 rows of the batch
    per = f" ({dist.world_size} processes share each batch)" if dist.enabled else ""
    if size < least or n < least:
        raise ConfigError("batch norm needs at least 2 rows per batch in every process", where="model.norm: batch",
                          expected=f"train.batch_size and training rows of at least {least}{per}",
                          found=f"train.batch_size {size}, {n} training rows",
                          hint=f"raise train.batch_size to {least} or more, or use `model.norm: layer`")
    tail = n % size
    return n - tail if 0 < tail < least else n


def batches(train: Tensors | Streamed, generator: torch.Generator, size: int, start: int, dist: Dist,
            rows: int | None = None) -> Iterator[Batch]:
    """One epoch's mini-batches from batch `start` on: (inputs, target, weights, loss share).

    In-memory rows: index slices of a seeded permutation, drawn now (from `generator`); under DDP
    each rank takes its rows of every global batch, its loss weighted by its share. Streamed rows:
    the stream's shuffled blocks for a seed drawn now, sliced in order; earlier batches of a resumed
    epoch are read again and skipped. `rows` (`epoch_rows`, default all): the epoch ends there.
    """
    rows = len(train) if rows is None else rows
    if isinstance(train, Streamed):
        seed = int(torch.randint(0, 2**62, (), generator=generator, device=generator.device))
        return _streamed_batches(train, seed, size, start, math.ceil(rows / size))
    perm = torch.randperm(len(train), device=train.y.device, generator=generator)
    return _tensor_batches(train, perm[:rows], size, start, dist)


def _tensor_batches(train: Tensors, perm: torch.Tensor, size: int, start: int, dist: Dist) -> Iterator[Batch]:
    for lo in range(start * size, len(perm), size):
        idx, share = perm[lo:lo + size], 1.0
        if dist.enabled:  # this rank's rows of the global batch
            idx, share = distributed.rank_rows(idx, dist)
        yield [x[idx] for x in train.inputs], train.y[idx], train.w[idx] if train.w is not None else None, share


def _streamed_batches(train: Streamed, seed: int, size: int, start: int, limit: int) -> Iterator[Batch]:
    i = 0
    for block in train.stream.blocks(seed, size):
        if i >= limit:  # only the epoch's last batch can be dropped (`epoch_rows`): it is its last block's
            return
        count = math.ceil(len(block) / size)
        if i + count <= start:  # a resumed epoch: these batches were trained on before the stop
            i += count
            continue
        t = train.convert(block)
        for lo in range(0, len(t), size):
            if i >= limit:
                return
            if i >= start:
                yield [x[lo:lo + size] for x in t.inputs], t.y[lo:lo + size], t.w[lo:lo + size] if t.w is not None else None, 1.0
            i += 1


# ---------------------------------------------------------------- outputs
@torch.inference_mode()
def predict_tensors(model: nn.Module, inputs: list[torch.Tensor], batch_size: int, precision: str = "32") -> torch.Tensor:
    """Model outputs (float32) for all rows, in eval mode, with a large batch.

    Inputs held in host memory are copied to the model's device a batch at a time; `precision`
    bf16/fp16 runs the forward under autocast, as in training."""
    model.eval()
    n = len(inputs[0])
    device = speed.model_device(model, inputs[0].device)
    amp = speed.autocast(precision, device)
    outs = []
    for lo in range(0, max(n, 1), batch_size):  # zero rows still go through once: the output keeps its (0, n_out) shape
        with amp:
            outs.append(model(*[x[lo:lo + batch_size].to(device) for x in inputs]).float())
    return torch.cat(outs)


def calibrated_logits(out: torch.Tensor, calibration: dict[str, Any] | None) -> torch.Tensor:
    """Classifier logits after the run's calibration (model.json's `calibration`; None: as they are):
    `temperature` divides them by T, `vector` multiplies each logit by its scale and adds its bias
    (a binary model's one logit: Platt scaling)."""
    if not calibration:
        return out
    if calibration["method"] == "temperature":
        t = float(calibration["temperature"])
        return out if t == 1.0 else out.float() / t
    scale = torch.as_tensor(calibration["scale"], dtype=torch.float32, device=out.device)
    return out.float() * scale + torch.as_tensor(calibration["bias"], dtype=torch.float32, device=out.device)


def outputs_to_predictions(out: torch.Tensor, task: str, calibration: dict[str, Any] | None = None) -> np.ndarray:
    """Class probabilities (n, K) for classification, raw model output (n,) for regression.

    `calibration`: classifier logits go through it first (`calibrated_logits`; None: raw softmax)."""
    if task != "regression":
        out = calibrated_logits(out, calibration)
    if task == "multiclass":
        return torch.softmax(out.float(), dim=1).cpu().numpy()
    if task == "binary":
        p1 = torch.sigmoid(out.float().squeeze(1)).cpu().numpy()
        return np.stack([1 - p1, p1], axis=1)
    return out.float().squeeze(1).cpu().numpy()


def predict_split(model: torch.nn.Module, split: Split, task: str, pre: Any, device: torch.device,
                  batch_size: int = 4096, calibration: dict[str, Any] | None = None) -> np.ndarray:
    """Predictions for a split: class probabilities (logits through `calibration`), or
    regression values in target units."""
    out = outputs_to_predictions(predict_tensors(model, device_inputs(split, device), batch_size), task, calibration)
    return pre.decode_target(out) if task == "regression" else out
