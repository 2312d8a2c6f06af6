"""Training state: everything needed to continue a run, saved atomically and loaded safely.

A checkpoint file is a short header (magic line, sha256 of the body) followed by a `torch.save`
body holding only tensors and plain Python values. Loading checks the digest first (a truncated
or bit-flipped file is refused before it is parsed), then uses `torch.load(weights_only=True)`:
a checkpoint file can never execute code.

Files are `checkpoints/step-<step>.pt`; the newest `keep` and the best epoch's are kept.
"""

from __future__ import annotations

import hashlib
import io
import random
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from netfit.config import CheckpointConfig
from netfit.errors import NetfitWarning, RunError, emit
from netfit.io import atomic_write

if TYPE_CHECKING:  # annotations only
    from netfit.train.optim import Schedule

MAGIC = b"NETFIT-CHECKPOINT 1\n"
NAME = re.compile(r"^step-(\d+)\.pt$")


class CheckpointWarning(NetfitWarning):
    """A checkpoint was skipped (corrupt or unreadable) and an older one is used."""


@dataclass
class TrainState:
    """The one training-state object: counters, history, stopper state and the best weights."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken
    batch: int = 0  # batches done inside epoch `epoch + 1` (0 at an epoch boundary)
    history: list[dict[str, float]] = field(default_factory=list)
    stopper: dict[str, Any] = field(default_factory=dict)
    best_train_loss: float | None = None
    best_epoch: int | None = None
    stop_reason: str | None = None
    stop_message: str = ""
    seconds: float = 0.0
    lr_scale: float = 1.0  # product of the divergence recoveries' learning-rate factors
    recoveries: list[dict[str, Any]] = field(default_factory=list)
    best_checkpoint: str | None = None  # file name of the best epoch's checkpoint (never pruned)
    resumed: list[dict[str, Any]] = field(default_factory=list)
    compile_seconds: float = 0.0  # torch.compile's share of `seconds` (train.compile)
    skipped_steps: int = 0  # steps not taken: all their rows weigh 0 (sample weight x class weight)


@dataclass
class Parts:
    """The objects whose state a checkpoint holds beside the counters: what resume and a
    divergence rollback load back into, in place."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    best_weights: dict[str, torch.Tensor]  # restored at the end, and the fallback on divergence
    scaler: torch.amp.GradScaler | None = None  # fp16 loss scaling; None at 32 and bf16

    def keep_best(self) -> None:
        """The model's current weights become the best ones (copies: later steps cannot change them)."""
        self.best_weights = weights_copy(self.model)


def weights_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@dataclass
class Position:
    """Where inside an epoch a checkpoint was taken: the shuffling state at the epoch's start
    (to regenerate its permutation) and the running loss so far (kept on the device)."""

    epoch_rng: torch.Tensor | None = None
    running: torch.Tensor | None = None
    steps: int | None = None  # the steps whose losses `running` sums (skipped steps have none)


# ---------------------------------------------------------------- RNG states
def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """Every RNG the run uses, as tensors and plain values (loadable with weights_only=True)."""
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generator": generator.get_state(),
        "numpy": _numpy_state(),
        "python": {"version": version, "internal": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
    }


def set_rng_state(rng: dict[str, Any], generator: torch.Generator) -> None:
    """Restore what `rng_state` saved."""
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    generator.set_state(rng["generator"])
    n = rng["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = rng["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["internal"].tolist()), p["gauss"]))


def _numpy_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached": float(cached)}


# ---------------------------------------------------------------- files
def save_checkpoint(path: Path, payload: dict[str, Any]) -> Path:
    """Write `payload` atomically with a sha256 header (truncation and bit flips are detected)."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    body = buf.getvalue()
    header = MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n"
    return atomic_write(path, lambda tmp: tmp.write_bytes(header + body))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint without running code; a corrupt or foreign file is a RunError."""
    if not path.is_file():
        raise RunError("checkpoint not found", where=str(path), hint="pass a run folder that has checkpoints/step-*.pt")
    data = path.read_bytes()
    digest_end = len(MAGIC) + 65
    if not data.startswith(MAGIC) or len(data) < digest_end:
        raise _unreadable(path, "no netfit checkpoint header (a foreign or truncated file)")
    expected, body = data[len(MAGIC):digest_end - 1].decode("ascii", "replace"), data[digest_end:]
    if hashlib.sha256(body).hexdigest() != expected:
        raise _unreadable(path, f"sha256 mismatch: the file is truncated or corrupt ({len(data)} bytes)")
    try:
        return torch.load(io.BytesIO(body), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a refused or damaged body; all mean the same to the user
        raise _unreadable(path, f"{type(e).__name__}: {str(e)[:200]}") from None


def _unreadable(path: Path, found: str) -> RunError:
    return RunError("checkpoint cannot be read (corrupt, truncated or not a netfit checkpoint)", where=str(path),
                    found=found, hint="an older checkpoint is used when there is one; otherwise start a new run")


def list_checkpoints(folder: Path) -> list[Path]:
    """Checkpoint files in `folder`, newest (highest step) first."""
    found = [(int(m.group(1)), p) for p in folder.glob("step-*.pt") if (m := NAME.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def latest_valid(folder: Path) -> tuple[Path, dict[str, Any], list[dict[str, str]]]:
    """The newest checkpoint that reads back intact, and the problems of newer ones it skipped
    (each also reported as a `CheckpointWarning`)."""
    problems = []
    for path in list_checkpoints(folder):
        try:
            payload = load_checkpoint(path)
        except RunError as e:
            problems.append({"file": path.name, "problem": e.found})
            emit(CheckpointWarning(f"skipping checkpoint ({e.found}); trying an older one", where=str(path)),
                          stacklevel=2)
            continue
        return path, payload, problems
    raise RunError("no valid checkpoint to resume from", where=str(folder),
                   problems=[f"{p['file']}: {p['problem']}" for p in problems] or ["no step-*.pt files"],
                   hint="start a new run (`netfit train CONFIG` without --resume)")


# ---------------------------------------------------------------- the loop's checkpointer
class Checkpoints:
    """Decides when to save (cheap integer and clock checks) and writes, prunes and reports files.

    Args:
        folder: the run's checkpoints/ folder.
        cfg: `train.checkpoint`.
        meta: plain values stored in every checkpoint (e.g. the data fingerprint checked on resume).
        resume: a loaded checkpoint payload to continue from, or None.
    """

    def __init__(self, folder: Path, cfg: CheckpointConfig, meta: dict[str, Any] | None = None,
                 resume: dict[str, Any] | None = None) -> None:
        self.folder, self.cfg, self.meta, self.resume = Path(folder), cfg, dict(meta or {}), resume
        self.last_save = time.perf_counter()

    def due(self, step: int, now: float) -> bool:
        """A mid-epoch checkpoint is due after this optimizer step (no tensor is read)."""
        if self.cfg.every_steps and step % self.cfg.every_steps == 0:
            return True
        return bool(self.cfg.every_minutes) and now - self.last_save >= 60 * self.cfg.every_minutes

    def due_at_epoch_end(self, epoch: int, final: bool) -> bool:
        """At the run's last epoch, or every `every_epochs` once `min_seconds` passed since the last save."""
        if final:
            return True
        return (bool(self.cfg.every_epochs and epoch % self.cfg.every_epochs == 0)
                and time.perf_counter() - self.last_save >= self.cfg.min_seconds)

    def save(self, parts: Parts, state: TrainState, generator: torch.Generator, position: Position,
             best: bool = False) -> Path:
        """Write one checkpoint of the loop's parts and state; `best` marks it as the best epoch's,
        kept when older ones are pruned."""
        path = self.folder / f"step-{state.step:09d}.pt"
        if best:
            state.best_checkpoint = path.name
        payload = {
            "model": parts.model.state_dict(),
            "optimizer": parts.optimizer.state_dict(),
            "schedule": parts.schedule.state_dict(),
            "best_weights": parts.best_weights,
            "scaler": parts.scaler.state_dict() if parts.scaler is not None else {},
            "state": asdict(state),
            "rng": rng_state(generator),
            "position": asdict(position) if state.batch else {},
            "meta": self.meta,
        }
        save_checkpoint(path, payload)
        self.last_save = time.perf_counter()
        self.prune(state.best_checkpoint)
        return path

    def prune(self, best: str | None) -> None:
        """Delete all but the newest `keep` checkpoints and the best one."""
        for path in list_checkpoints(self.folder)[self.cfg.keep:]:
            if path.name != best:
                path.unlink(missing_ok=True)

    def drop_after(self, step: int) -> None:
        """Delete checkpoints newer than `step`: a divergence rollback abandoned them, and a later
        resume must not pick them up."""
        for path in list_checkpoints(self.folder):
            if int(NAME.match(path.name).group(1)) > step:
                path.unlink(missing_ok=True)

    def clean_temp_files(self) -> None:
        """Remove temp files a killed write left behind (they never replaced a checkpoint)."""
        for tmp in self.folder.glob(".step-*.tmp"):
            tmp.unlink(missing_ok=True)


def restore(payload: dict[str, Any], parts: Parts, stopper: Any, generator: torch.Generator) -> tuple[TrainState, Position]:
    """Load a checkpoint into the loop's parts (best weights included); return (state, position)."""
    parts.model.load_state_dict(payload["model"])
    parts.optimizer.load_state_dict(payload["optimizer"])  # moves its state to the parameters' device
    parts.schedule.load_state_dict(payload["schedule"])
    if parts.scaler is not None and payload.get("scaler"):  # older checkpoints and bf16/32 runs have none
        parts.scaler.load_state_dict(payload["scaler"])
    state = TrainState(**payload["state"])
    if stopper is not None and state.stopper:
        stopper.load_state_dict(state.stopper)
    set_rng_state(payload["rng"], generator)
    target = next(parts.model.parameters()).device
    parts.best_weights = {k: v.to(target) for k, v in payload["best_weights"].items()}
    position = Position(**payload["position"])
    if position.running is not None:
        position.running = position.running.to(target)
    return state, position
