"""The training loop: sample a mini-batch, forward, loss, backward, step; validate; stop.

Speed is the product here. Data lives on the device as tensors; a batch is an index slice of
a seeded permutation; the running loss stays on the device and is read (one host sync) only
every `log_every` seconds and at the epoch end. The non-finite-loss check rides on those reads.
The speed switches (precision, compile, channels-last, host-held data) are set up once before
the loop, in `netfit.train.speed`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
from torch import nn

from netfit.config import TrainConfig
from netfit.errors import ConfigError
from netfit.train import distributed, speed
from netfit.train.callbacks import CallbackList, StopTraining
from netfit.train.checkpoint import Checkpoints, Position, TrainState, restore
from netfit.train.distributed import Dist
from netfit.train.interrupt import StopFlag
from netfit.train.losses import LossFn
from netfit.train.optim import Schedule, build_optimizer
from netfit.train.recover import roll_back, snapshot
from netfit.train.stopping import EarlyStopping, converged, diverged, metric_mode


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
    """Training rows too many to hold in memory, read in shuffled blocks (`netfit.data.stream`)."""

    stream: Any  # TrainStream: len() rows, blocks(seed, batch_size) -> preprocessed Splits
    convert: Callable[[Any], Tensors]  # a block -> tensors on the device
    device: torch.device

    def __len__(self) -> int:
        return len(self.stream)


Batch = tuple[list[torch.Tensor], torch.Tensor, "torch.Tensor | None", float]


def batches(train: Tensors | Streamed, generator: torch.Generator, size: int, start: int, dist: Dist) -> Iterator[Batch]:
    """One epoch's mini-batches from batch `start` on: (inputs, target, weights, loss share).

    In-memory rows: index slices of a seeded permutation, drawn now (from `generator`); under DDP
    each rank takes its rows of every global batch, its loss weighted by its share. Streamed rows:
    the stream's shuffled blocks for a seed drawn now, sliced in order; earlier batches of a resumed
    epoch are read again and skipped.
    """
    if isinstance(train, Streamed):
        seed = int(torch.randint(0, 2**62, (), generator=generator, device=generator.device))
        return _streamed_batches(train, seed, size, start)
    return _tensor_batches(train, torch.randperm(len(train), device=train.y.device, generator=generator), size, start, dist)


def _tensor_batches(train: Tensors, perm: torch.Tensor, size: int, start: int, dist: Dist) -> Iterator[Batch]:
    for lo in range(start * size, len(train), size):
        idx = perm[lo:lo + size]
        share = 1.0
        if dist.enabled:
            mine = distributed.shard(idx, dist)
            share, idx = distributed.loss_scale(len(mine), len(idx), dist), mine
        yield [x[idx] for x in train.inputs], train.y[idx], train.w[idx] if train.w is not None else None, share


def _streamed_batches(train: Streamed, seed: int, size: int, start: int) -> Iterator[Batch]:
    i = 0
    for block in train.stream.blocks(seed, size):
        count = math.ceil(len(block) / size)
        if i + count <= start:  # a resumed epoch: these batches were trained on before the stop
            i += count
            continue
        t = train.convert(block)
        for lo in range(0, len(t), size):
            if i >= start:
                yield [x[lo:lo + size] for x in t.inputs], t.y[lo:lo + size], t.w[lo:lo + size] if t.w is not None else None, 1.0
            i += 1


@dataclass
class LoopResult:
    state: TrainState
    best_weights: dict[str, torch.Tensor]


def steps_per_epoch(n: int, cfg: TrainConfig) -> int:
    return math.ceil(math.ceil(n / cfg.batch_size) / cfg.accumulate)


def fit_loop(model: nn.Module, train: Tensors, val: Tensors | None, cfg: TrainConfig, *, task: str,
             loss_fn: LossFn, seed: int, target_scale: float = 1.0, callbacks: CallbackList | None = None,
             checkpoints: Checkpoints | None = None, stop: StopFlag | None = None, metrics: dict | None = None,
             pretrained: frozenset[str] = frozenset(), dist: Dist | None = None) -> LoopResult:
    """Train `model` in place until a stopping criterion holds; return the state and best weights.

    `checkpoints` saves training state as configured and, when its `resume` payload is set,
    continues from it exactly (mid-epoch too). `stop` is the Ctrl-C/SIGTERM flag.
    `metrics`: your own validation metrics {name: fn(output, target)}; `pretrained`: names of
    parameters loaded by `init_from` (they learn at `cfg.pretrained_lr`). `dist`: this process's
    place in a torchrun job; each rank trains on its slice of every global batch under DDP.
    """
    callbacks = callbacks or CallbackList([])
    stop = stop or StopFlag()
    dist = dist or Dist()
    data_device = train.device if isinstance(train, Streamed) else train.y.device
    device = speed.model_device(model, data_device)
    channels_last = speed.use_channels_last(cfg.channels_last, model, device)
    if channels_last:  # convolutions follow the weights' format, so each batch converts in the first one
        model.to(memory_format=torch.channels_last)
    net = distributed.wrap(model, dist)  # DDP all-reduces gradients in backward; `model` keeps the state
    timer = None
    if cfg.compile:  # `net` is the compiled wrapper; `model` keeps the plain state dict
        net, probe_seconds = speed.compile_model(net, device)
        timer = speed.CompileTimer(probe_seconds)
    amp, scaler = speed.autocast(cfg.precision, device), speed.grad_scaler(cfg.precision, device)
    # host-held data (or data_on_device: false): each gathered batch is copied to the device
    fetch = speed.batch_copier(device) if data_device != device or cfg.data_on_device is False else None
    saving = checkpoints if dist.is_main else None  # every rank may resume; only rank 0 writes
    optimizer = build_optimizer(cfg.optimizer, model, pretrained, cfg.pretrained_lr)
    schedule = Schedule(cfg.schedule, optimizer, cfg.optimizer.lr, cfg.epochs, steps_per_epoch(len(train), cfg))
    stopper = EarlyStopping(cfg.early_stopping) if cfg.early_stopping and val is not None else None
    generator = torch.Generator(device=data_device).manual_seed(seed)  # shuffling has its own stream
    l1_params = [p for p in model.parameters() if p.ndim > 1 and p.requires_grad] if cfg.l1 > 0 else []
    state, position = TrainState(best_epoch=0), Position()
    # the initial weights are the fallback when the loss diverges before any epoch completes
    parts = {"model": model, "optimizer": optimizer, "schedule": schedule,
             "best_weights": {k: v.detach().clone() for k, v in model.state_dict().items()}, "scaler": scaler}
    if checkpoints is not None and checkpoints.resume is not None:
        state, parts["best_weights"], position = restore(checkpoints.resume, parts, stopper, generator)
    good = snapshot(parts, state) if cfg.divergence.policy == "recover" else None  # the rollback point
    n, B, K = len(train), cfg.batch_size, cfg.accumulate
    start = time.perf_counter() - state.seconds  # a resumed run keeps counting its earlier seconds
    callbacks.on_train_begin({"epochs": cfg.epochs, "steps_per_epoch": math.ceil(n / B), "samples": n})

    while state.stop_reason is None:
        epoch = state.epoch + 1
        callbacks.on_epoch_begin({"epoch": epoch})
        model.train()
        t0 = time.perf_counter()
        if state.batch:  # resumed mid-epoch: regenerate the same permutation, keep the running loss
            generator.set_state(position.epoch_rng)
        else:  # summed batch losses stay on the device, read only at log points
            position = Position(generator.get_state(), torch.zeros((), device=device))
        running = position.running
        seen_batches, last_read, reason = state.batch, t0, None
        if timer is not None:
            timer.start(t0)
        for i, (xs, y, w, share) in enumerate(batches(train, generator, B, state.batch, dist), start=state.batch):
            lo = i * B
            if fetch is not None:
                xs, y, w = [fetch(x) for x in xs], fetch(y), (fetch(w) if w is not None else None)
            with amp:  # autocast at bf16/fp16; a do-nothing context at 32
                out = net(*xs)
            # the loss in float32 (a no-op at 32); an empty slice (a global tail smaller than the
            # world) still joins the gradient all-reduce
            loss = loss_fn(out.float(), y, w) if len(y) else out.sum() * 0
            if l1_params:
                loss = loss + cfg.l1 * sum(p.abs().sum() for p in l1_params)
            scaled = loss * share if dist.enabled else loss
            scaled = scaled / K if K > 1 else scaled
            (scaler.scale(scaled) if scaler is not None else scaled).backward()
            running += loss.detach()
            seen_batches += 1
            now = time.perf_counter()
            if timer is not None:
                timer.step(now)
            if (i + 1) % K == 0 or lo + B >= n:
                if scaler is not None and (cfg.grad_clip is not None or cfg.grad_clip_value is not None):
                    scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
                if cfg.grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip, foreach=True)
                if cfg.grad_clip_value is not None:
                    nn.utils.clip_grad_value_(model.parameters(), cfg.grad_clip_value, foreach=True)
                if scaler is not None:  # skips the step when fp16 gradients overflowed, then adapts the scale
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                schedule.after_step()
                state.step += 1
                # plain Python checks: a signal flag and integer/clock comparisons, no tensor read
                # under DDP a signal is honoured at the epoch end, where all ranks agree on it
                halt = stop.requested and not dist.enabled
                if halt or (saving is not None and saving.due(state.step, now)):
                    _save_mid_epoch(saving, parts, state, generator, position, i + 1, now - start, callbacks)
                    if halt:
                        state.stop_reason = "interrupted"
                        state.stop_message = f"stopped by {stop.name} at epoch {epoch}, batch {i + 1}"
                        break
            # the only host sync inside the epoch; under DDP ranks read at the epoch end instead, together
            if not dist.enabled and now - last_read >= cfg.log_every:
                mean = running.item() / seen_batches
                reason = diverged(mean, state.best_train_loss, cfg.divergence)
                if reason:
                    break
                callbacks.on_log({"epoch": epoch, "batch": i + 1, "train_loss": mean})
                last_read = now
            if cfg.max_time is not None and not dist.enabled and now - start >= cfg.max_time:
                state.stop_reason = "max_time"
                state.stop_message = f"the time limit of {cfg.max_time:g} s was reached"
                break
        if state.stop_reason == "interrupted":
            break

        train_loss = distributed.mean_over_ranks(running, seen_batches, dist)
        reason = reason or diverged(train_loss, state.best_train_loss, cfg.divergence)
        if reason:
            rolled = roll_back(good, parts, stopper, state, reason, cfg.divergence) if good is not None else None
            if rolled is None:
                tried = f" (after {len(state.recoveries)} recoveries)" if state.recoveries else ""
                state.stop_reason, state.stop_message = "diverged", reason + tried
                break
            state = rolled  # retry from the last good epoch with a lower learning rate
            if saving is not None:
                saving.drop_after(state.step)
            continue
        train_seconds = time.perf_counter() - t0
        if timer is not None:  # compiling happens in this process's first epoch only
            state.compile_seconds += timer.seconds()
            timer = None
        state.epoch, state.batch = epoch, 0
        schedule.after_epoch()
        row = {"epoch": epoch, "train_loss": train_loss, "lr": optimizer.param_groups[0]["lr"]}
        improved = False
        if val is not None and len(val) and (epoch % cfg.val_every == 0 or epoch == cfg.epochs):
            row.update(validate(model, val, loss_fn, task, cfg, target_scale, metrics))
            try:
                callbacks.on_validation_end(dict(row))
            except StopTraining as halt:  # a callback ends training at this boundary (e.g. pruning)
                state.stop_reason, state.stop_message = halt.reason, halt.message
            if stopper is not None:
                improved = stopper.update(_monitored(row, stopper.cfg.monitor), epoch)
                if stopper.should_stop and state.stop_reason is None:
                    state.stop_reason = "early_stopping"
                    state.stop_message = (f"{stopper.cfg.monitor} did not improve for {stopper.cfg.patience} "
                                          f"validations (best {stopper.best:.4g} at epoch {stopper.best_epoch})")
            mon = stopper.cfg.monitor if stopper else "val_loss"
            schedule.after_validation(_monitored(row, mon), metric_mode(mon))
        if state.best_train_loss is None or train_loss < state.best_train_loss:
            state.best_train_loss = train_loss
            improved = improved or stopper is None
        if improved:  # keep the best weights: restored at the end, and the fallback on divergence
            parts["best_weights"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
            state.best_epoch = epoch
        seconds = time.perf_counter() - t0
        row.update({"recoveries": len(state.recoveries), "seconds": seconds, "samples_per_s": n / max(train_seconds, 1e-9)})
        if cfg.compile:
            row["compile_seconds"] = state.compile_seconds
        state.history.append(row)
        state.seconds = time.perf_counter() - start
        state.stopper = stopper.state_dict() if stopper else {}
        if state.stop_reason is None:
            state.stop_reason, state.stop_message = _stop_after_epoch(state, cfg, start)
        if dist.enabled:  # every rank follows rank 0 (time limit, pruning, signals), or the others would hang
            if state.stop_reason is None and stop.requested:
                state.stop_reason, state.stop_message = "interrupted", f"stopped by {stop.name} after epoch {epoch}"
            state.stop_reason, state.stop_message = distributed.follow_main((state.stop_reason, state.stop_message), dist)
        if saving is not None and saving.due_at_epoch_end(epoch, final=state.stop_reason is not None):
            path = saving.save(parts, state, generator, Position(), best=improved)
            callbacks.on_checkpoint({"epoch": epoch, "step": state.step, "path": str(path)})
        if good is not None:
            good = snapshot(parts, state)
        callbacks.on_epoch_end(dict(row))

    state.seconds = time.perf_counter() - start
    if state.stop_reason != "interrupted":  # an interrupted run keeps its weights as checkpointed
        _restore_best(model, state, parts["best_weights"], stopper is not None and cfg.early_stopping.restore_best)
    if channels_last:  # hand back the model in the usual format
        model.to(memory_format=torch.contiguous_format)
    callbacks.on_train_end({"stop_reason": state.stop_reason, "message": state.stop_message, "epochs": state.epoch})
    return LoopResult(state, parts["best_weights"])


def _save_mid_epoch(checkpoints: Checkpoints | None, parts: dict, state: TrainState, generator: torch.Generator,
                    position: Position, batch: int, seconds: float, callbacks: CallbackList) -> None:
    """A checkpoint after `batch` batches of the current epoch (due, or asked for by a signal)."""
    if checkpoints is None:
        return
    state.batch, state.seconds = batch, seconds
    path = checkpoints.save(parts, state, generator, position)
    callbacks.on_checkpoint({"epoch": state.epoch + 1, "batch": batch, "step": state.step, "path": str(path)})


def _stop_after_epoch(state: TrainState, cfg: TrainConfig, start: float) -> tuple[str | None, str]:
    if state.epoch >= cfg.epochs:
        return "max_epochs", f"reached the maximum of {cfg.epochs} epochs"
    if converged([r["train_loss"] for r in state.history], cfg.convergence):
        return "converged", (f"the train loss changed by less than {cfg.convergence.tol:g} (relative) "
                             f"over {cfg.convergence.window} epochs")
    if cfg.max_time is not None and time.perf_counter() - start >= cfg.max_time:
        return "max_time", f"the time limit of {cfg.max_time:g} s was reached"
    return None, ""


def _restore_best(model: nn.Module, state: TrainState, best: dict, restore: bool) -> None:
    """Early stopping with restore_best, or a diverged run: go back to the best weights."""
    if restore or state.stop_reason == "diverged":
        model.load_state_dict(best)  # state.best_epoch already names the epoch they come from
    else:
        state.best_epoch = state.epoch  # the final weights are the last epoch's


def _monitored(row: dict[str, float], monitor: str) -> float:
    if monitor not in row:
        raise ConfigError("early stopping monitors a metric that is not logged", where="train.early_stopping.monitor",
                          expected=", ".join(k for k in row if k not in ("epoch", "lr")), found=monitor,
                          hint="pick one of the logged metrics")
    return row[monitor]


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


def validate(model: nn.Module, data: Tensors, loss_fn: LossFn, task: str, cfg: TrainConfig,
             target_scale: float, custom: dict | None = None) -> dict[str, float]:
    """Validation loss and the cheap monitored metrics, computed on the device; one read at the end.

    Runs at `cfg.eval_batch_size` and `cfg.precision`."""
    out = predict_tensors(model, data.inputs, cfg.eval_batch_size, cfg.precision)
    y, w = data.y.to(out.device), (data.w.to(out.device) if data.w is not None else None)  # no-ops unless host-held
    with torch.inference_mode():
        metrics = {"val_loss": loss_fn(out, y, w)}
        if task == "multiclass":
            metrics["val_accuracy"] = (out.argmax(1) == y).float().mean()
        elif task == "binary":
            metrics["val_accuracy"] = ((out.squeeze(1) > 0).long() == y).float().mean()
        else:
            err = (out.squeeze(1) - y) * target_scale  # in the target's own units
            metrics["val_rmse"] = err.square().mean().sqrt()
            metrics["val_mae"] = err.abs().mean()
        if custom:
            from netfit.plugins import score_metrics

            metrics.update({f"val_{k}": v for k, v in score_metrics(custom, out, y).items()})
        values = torch.stack(list(metrics.values())).tolist()  # one host sync for all of them
    return dict(zip(metrics, values))
