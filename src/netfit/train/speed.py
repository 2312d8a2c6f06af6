"""The performance switches of `train`: precision, torch.compile, channels-last, host-held data.

Each is decided once, before the loop. Inside a step they cost a `with` on a context prepared
here (a do-nothing one at precision 32) and a few `is None` checks; nothing is looked up per step.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from typing import Callable

import torch
from torch import nn

from netfit.errors import ConfigError

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def model_device(model: nn.Module, default: torch.device) -> torch.device:
    """The device the model's weights are on (`default` for a model without parameters)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else default


# ---------------------------------------------------------------- precision
def check_precision(precision: str, device: torch.device) -> None:
    """fp16 needs CUDA: on CPU its autocast is slow and loss scaling is CUDA's; bf16 is the CPU choice."""
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("fp16 precision needs a CUDA device", where="train.precision", expected="a CUDA device",
                          found=f"training on {device.type}", hint="use `train.precision: bf16` (or 32) on CPU")


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context the forward pass runs in: autocast for bf16/fp16, a do-nothing one at 32.

    The returned object is entered once per batch; both kinds may be re-entered one after another.

    Example:
        >>> amp = autocast("bf16", torch.device("cpu"))
        >>> with amp:
        ...     out = torch.nn.Linear(2, 2)(torch.ones(1, 2))
        >>> out.dtype
        torch.bfloat16
    """
    check_precision(precision, device)
    if precision == "32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=AUTOCAST_DTYPES[precision])


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """Loss scaling for fp16 (its gradients underflow without it); None for 32 and bf16."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None


# ---------------------------------------------------------------- channels-last
def use_channels_last(setting: str | bool, model: nn.Module, device: torch.device) -> bool:
    """Whether to train a 2-D CNN in channels-last format (`auto`: on CUDA, where it pays off)."""
    if setting is False or not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        return False
    return setting is True or device.type == "cuda"


# ---------------------------------------------------------------- host-held data
def data_device(nbytes: int, device: torch.device, setting: str | bool) -> torch.device:
    """Where a split of `nbytes` lives: on the training device, or in host memory (`train.data_on_device`)."""
    if setting is False:
        return torch.device("cpu")
    if setting is True or device.type != "cuda":
        return device
    free, _ = torch.cuda.mem_get_info(device)
    return device if nbytes <= free / 2 else torch.device("cpu")  # the other half: model, activations


def batch_copier(device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """How a batch gathered in host memory reaches the device.

    On CUDA the gathered batch is pinned, then copied without blocking, so the copy overlaps the
    previous step's kernels. Pinning the gathered batch (not the split: a gather from a pinned
    tensor is not pinned) keeps this simple and safe: PyTorch's caching host allocator does not
    reuse the pinned block until the copy that reads it has finished.
    """
    if device.type == "cuda":
        return lambda t: t.pin_memory().to(device, non_blocking=True)
    return lambda t: t.to(device)  # a no-op on CPU; the path still runs (data_on_device: false)


# ---------------------------------------------------------------- torch.compile
def compile_model(net: nn.Module, device: torch.device) -> tuple[nn.Module, float]:
    """`net` through torch.compile, and the seconds a tiny probe compile took.

    torch.compile compiles lazily, on the first batch. The probe compiles a one-line function
    first, so a missing toolchain (no C++ compiler on CPU, no Triton on CUDA) is a ConfigError
    before training starts; a failure in the model's own compile is then a real bug and keeps
    its traceback. The wrapper shares `net`'s parameters; state dicts are taken from `net`.
    """
    from torch._dynamo.exc import BackendCompilerFailed
    from torch._inductor import exc

    missing = tuple(getattr(exc, name) for name in ("InvalidCxxCompiler", "CppCompileError", "TritonMissing",
                                                    "GPUTooOldForTriton") if hasattr(exc, name))
    t0 = time.perf_counter()
    try:
        torch.compile(lambda x: x * 2 + 1)(torch.ones(2, device=device))
    except BackendCompilerFailed as e:
        if not isinstance(e.inner_exception, missing):
            raise
        tool = "a C++ compiler (g++ or clang++; or set CXX)" if device.type == "cpu" else "Triton and a supported GPU"
        raise ConfigError("torch.compile cannot compile on this machine", where="train.compile",
                          expected=f"{tool} for torch.compile on {device.type}",
                          found=f"{type(e.inner_exception).__name__}: {str(e.inner_exception).splitlines()[0][:200]}",
                          hint=f"install {tool}, or set `train.compile: false`") from None
    return torch.compile(net), time.perf_counter() - t0


class CompileTimer:
    """compile_seconds: the probe plus the extra time of this process's first epoch's compiling steps.

    torch.compile works during the first batch (and again for the shorter last batch), so each
    step of the first epoch is timed from the clock reads the loop makes anyway; the time a step
    takes above the epoch's median step is counted as compiling.
    """

    def __init__(self, probe_seconds: float) -> None:
        self.probe_seconds = probe_seconds
        self.steps: list[float] = []
        self.last: float | None = None

    def start(self, now: float) -> None:
        self.last = now

    def step(self, now: float) -> None:
        self.steps.append(now - self.last)
        self.last = now

    def seconds(self) -> float:
        median = statistics.median(self.steps) if self.steps else 0.0
        return self.probe_seconds + sum(max(0.0, s - median) for s in self.steps)

