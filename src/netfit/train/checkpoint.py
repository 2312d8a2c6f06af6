"""Training state: everything needed to continue a run, saved atomically and loaded safely.

Checkpoints hold only tensors and plain Python values, so they load with
`torch.load(weights_only=True)`: a checkpoint file can never execute code.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from netfit.errors import RunError
from netfit.io import atomic_write


@dataclass
class TrainState:
    """The one training-state object: counters, history, stopper state and the best weights."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken
    history: list[dict[str, float]] = field(default_factory=list)
    stopper: dict[str, Any] = field(default_factory=dict)
    best_train_loss: float | None = None
    best_epoch: int | None = None
    stop_reason: str | None = None
    stop_message: str = ""
    seconds: float = 0.0


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generator": generator.get_state(),
        "numpy": _numpy_state(),
        "python": repr(random.getstate()),
    }


def _numpy_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached": float(cached)}


def save_checkpoint(path: Path, model, optimizer, schedule, state: TrainState, generator: torch.Generator,
                    best_weights: dict[str, torch.Tensor] | None) -> Path:
    payload = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "state": asdict(state),
        "rng": rng_state(generator),
        "best_weights": best_weights,
    }
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint without running code; a corrupt or foreign file is a RunError."""
    if not path.is_file():
        raise RunError("checkpoint not found", where=str(path), hint="pass a run folder that has checkpoints/last.pt")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a damaged file; all mean the same to the user
        raise RunError("checkpoint cannot be read (corrupt, truncated or not a netfit checkpoint)",
                       where=str(path), found=f"{type(e).__name__}: {str(e)[:200]}",
                       hint="start a new run, or restore the file from a backup") from None
