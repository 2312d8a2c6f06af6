"""The training loop: sample a mini-batch, forward, loss, backward, step; validate; stop.

Speed is the product here. Data lives on the device as tensors; a batch is an index slice of
a seeded permutation; the running loss stays on the device and is read (one host sync) only
every `log_every` seconds and at the epoch end. The non-finite-loss check rides on those reads.
The speed switches (precision, compile, channels-last, host-held data) are set up once before
the loop, in `netfit.train.speed`; the step itself is `netfit.train.step`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from netfit.config import TrainConfig
from netfit.config.train import AUTO_STEPS, MAX_AUTO_EPOCHS
from netfit.errors import ConfigError
from netfit.train import distributed, speed
from netfit.train.callbacks import CallbackList, StepSampler, StopTraining
from netfit.train.diagnostics import Diagnostics, findings, sample_every
from netfit.train.checkpoint import Checkpoints, Parts, Position, TrainState, restore, weights_copy
from netfit.train.distributed import Dist
from netfit.train.interrupt import StopFlag
from netfit.train.losses import LossFn
from netfit.train.optim import Schedule, build_optimizer
from netfit.train.recover import roll_back, snapshot
from netfit.train.step import Step, some_rows_weigh_zero
from netfit.train.stopping import EarlyStopping, converged, diverged
from netfit.train.tensors import Streamed, Tensors, batches, epoch_rows, in_target_units, predict_tensors


@dataclass
class Objective:
    """What training minimises and validation reports: the loss, the task, the (scale, shift) from
    the model's standardized output to target units (regression, `target_units`), and your own
    metrics {name: fn(output, target)}, which see regression values in the target's units."""

    loss_fn: LossFn
    task: str
    target_units: tuple[float, float] = (1.0, 0.0)
    metrics: dict | None = None


@dataclass
class Environment:
    """Where the loop runs: the shuffling seed, callbacks, checkpointer, stop flag and DDP place.

    The DDP decisions live here, so the loop reads the same in one process and under torchrun:
    ranks meet only at the epoch end, where they read the loss and agree on stopping together.
    """

    seed: int
    callbacks: CallbackList = field(default_factory=lambda: CallbackList([]))
    checkpoints: Checkpoints | None = None  # its `resume` payload, when set, is continued exactly
    stop: StopFlag = field(default_factory=StopFlag)  # the Ctrl-C/SIGTERM flag
    dist: Dist = field(default_factory=Dist)

    @property
    def saving(self) -> Checkpoints | None:
        """Every rank may resume; only rank 0 writes."""
        return self.checkpoints if self.dist.is_main else None

    @property
    def reads_mid_epoch(self) -> bool:
        """One process reads its loss and clock at log points; DDP ranks only at the epoch end."""
        return not self.dist.enabled

    def mid_epoch_limits(self, cfg: TrainConfig) -> tuple[float, float | None]:
        """(log_every, max_time) checked inside an epoch; under DDP neither: ranks read at the epoch end, together."""
        return (cfg.log_every, cfg.max_time) if self.reads_mid_epoch else (math.inf, None)

    def halt_after_step(self) -> bool:
        """A signal stops one process after this step; DDP ranks go on to the epoch end, where they agree."""
        return self.stop.requested and self.reads_mid_epoch

    def agree_on_stop(self, state: TrainState, epoch: int) -> None:
        """Under DDP every rank follows rank 0 (time limit, pruning, signals), or the others would hang."""
        if self.reads_mid_epoch:
            return
        if state.stop_reason is None and self.stop.requested:
            state.stop_reason, state.stop_message = "interrupted", f"stopped by {self.stop.name} after epoch {epoch}"
        state.stop_reason, state.stop_message = distributed.follow_main((state.stop_reason, state.stop_message), self.dist)

    def drop_checkpoints_after(self, step: int) -> None:
        """After a rollback: a later resume must not land in the abandoned attempt."""
        if self.saving is not None:
            self.saving.drop_after(step)

    def save(self, parts: Parts, state: TrainState, generator: torch.Generator, position: Position,
             best: bool = False) -> None:
        """A checkpoint (rank 0 only), announced to the callbacks; mid-epoch when `state.batch` is set."""
        path = self.saving.save(parts, state, generator, position, best=best)
        where = {"epoch": state.epoch + 1, "batch": state.batch} if state.batch else {"epoch": state.epoch}
        self.callbacks.on_checkpoint({**where, "step": state.step, "path": str(path)})


@dataclass
class LoopResult:
    state: TrainState
    best_weights: dict[str, torch.Tensor]
    diagnostics: dict | None = None  # training health as plain data (report.json's `diagnostics`); rank 0 only


def steps_per_epoch(n: int, cfg: TrainConfig) -> int:
    return math.ceil(math.ceil(n / cfg.batch_size) / cfg.accumulate)


def with_step_budget(cfg: TrainConfig, n: int) -> TrainConfig:
    """`cfg` whose `epochs` is a number for `n` training rows an epoch: `auto` as many as `steps`
    optimizer steps take (at most MAX_AUTO_EPOCHS); a number, capped by `steps` when set."""
    if cfg.epochs != "auto" and cfg.steps is None:
        return cfg
    enough = math.ceil((cfg.steps or AUTO_STEPS) / steps_per_epoch(n, cfg))
    epochs = min(enough, MAX_AUTO_EPOCHS) if cfg.epochs == "auto" else min(cfg.epochs, enough)
    return cfg.model_copy(update={"epochs": max(1, epochs)})


KIND_PATIENCE = 100  # validations without improvement before a series or image run stops (docs/defaults.md)


def kind_budget(cfg: TrainConfig, spec: dict | None, val_rows: int = 0, classes: int = 0) -> TrainConfig:
    """On numeric sequences (series) and images (`spec` is `input_spec(preprocessor)`), the training
    budget the series and image ablations chose for the fields `cfg` leaves unset: `epochs: auto` (a
    budget in optimizer steps: 2,000, at most 1,000 epochs; a 40-row series set gets 1,000 steps, not
    200) and early-stopping patience 100 (at one step an epoch, patience 10 stopped before the network
    had learnt anything; on 140 face images, 3 steps an epoch, it stopped at 0.978 test accuracy
    where the budget reached 0.989). Tables and text keep `epochs` and patience as configured.

    A validation split of fewer rows (`val_rows`) than classes cannot tell the classes apart (PigCVP:
    21 rows for 52 classes; stopping on its loss kept a network of 0.07 test accuracy, where the
    whole budget reached 0.48): early stopping is then off, the whole budget trains and the last
    weights are kept, as Wang et al. (2017) train their FCN. Set either field to keep yours."""
    if spec is None or spec.get("kind") not in ("sequence", "image"):
        return cfg
    update: dict = {}
    if "epochs" not in cfg.model_fields_set:
        update["epochs"] = "auto"
    stopping = cfg.early_stopping
    if stopping is not None and "early_stopping" not in cfg.model_fields_set and 0 < val_rows < classes:
        update["early_stopping"] = None
    elif stopping is not None and "patience" not in stopping.model_fields_set:
        update["early_stopping"] = stopping.model_copy(update={"patience": KIND_PATIENCE})
    return cfg.model_copy(update=update) if update else cfg


def fit_loop(model: nn.Module, train: Tensors | Streamed, val: Tensors | None, cfg: TrainConfig,
             objective: Objective, env: Environment, pretrained: frozenset[str] = frozenset()) -> LoopResult:
    """Train `model` in place until a stopping criterion holds; return the state and best weights.

    A resume payload on `env.checkpoints` is continued exactly (mid-epoch too). `pretrained`:
    parameters loaded by `init_from` (they learn at `cfg.pretrained_lr`).

    Example:
        >>> fit_loop(model, Tensors([x], y), None, cfg, Objective(loss_fn, "multiclass"), Environment(seed=0))  # doctest: +SKIP
    """
    data_device = train.device if isinstance(train, Streamed) else train.y.device
    device = speed.model_device(model, data_device)
    net, timer, channels_last = _network(model, cfg, device, env.dist)
    # the rows an epoch trains on: all, less a last batch too short for batch norm
    n = epoch_rows(len(train), cfg.batch_size, model, env.dist)
    cfg = with_step_budget(cfg, n)
    parts = _parts(model, cfg, pretrained, device, n)
    step = Step(net, parts, cfg, objective.loss_fn, device, data_device, env.dist)
    step.may_skip = some_rows_weigh_zero(train, objective.loss_fn)
    stopper = EarlyStopping(cfg.early_stopping) if cfg.early_stopping and val is not None else None
    generator = torch.Generator(device=data_device).manual_seed(env.seed)  # shuffling has its own stream
    state, position = TrainState(best_epoch=0), Position()
    if env.checkpoints is not None and env.checkpoints.resume is not None:
        state, position = restore(env.checkpoints.resume, parts, stopper, generator)
    good = snapshot(parts, state) if cfg.divergence.policy == "recover" else None  # the rollback point
    health = _diagnostics(model, cfg, n, env.dist)
    callbacks = CallbackList([*env.callbacks.callbacks, health]) if health is not None else env.callbacks
    saving, sampler = env.saving, StepSampler(callbacks.callbacks, state.step)
    B, K = cfg.batch_size, cfg.accumulate
    log_every, time_limit = env.mid_epoch_limits(cfg)
    start = time.perf_counter() - state.seconds  # a resumed run keeps counting its earlier seconds
    callbacks.on_train_begin({"epochs": cfg.epochs, "steps_per_epoch": math.ceil(n / B), "samples": n})

    while state.stop_reason is None:
        epoch = state.epoch + 1
        callbacks.on_epoch_begin({"epoch": epoch})
        model.train()
        t0 = time.perf_counter()
        position = _epoch_position(state, position, generator, device)
        # the epoch's summed step losses and their count (skipped steps have none), kept on resume
        running, seen, last_read, reason = position.running, position.steps, t0, None
        seen = state.batch if seen is None else seen  # a checkpoint from before `steps`: one step a batch
        group_rows, skipped = 0, state.skipped_steps
        if timer is not None:
            timer.start(t0)
        for i, (xs, y, w, share) in enumerate(batches(train, generator, B, state.batch, env.dist, n), start=state.batch):
            # this micro-batch's rows, all ranks together (a rank holds only its slice)
            rows = min(n, (i + 1) * B) - i * B if env.dist.enabled else len(y)
            step.backward(xs, y, w, share, rows)
            group_rows += rows
            now = time.perf_counter()
            if timer is not None:
                timer.step(now)
            if (i + 1) % K == 0 or (i + 1) * B >= n:  # the step's last micro-batch, or the epoch's
                loss, group_rows = step.finish(group_rows), 0  # the step's gradients, over its own rows
                if state.step == sampler.due:  # sampled in-step hooks: one integer comparison when unused
                    sampler.sample(parts, epoch, i + 1, loss)
                step.update(loss)
                state.step += 1
                if loss is None:  # every row of the step weighs 0: skipped, counted, not a loss to follow
                    state.skipped_steps += 1
                else:
                    running += loss
                    seen += 1
                # plain Python checks: a signal flag and integer/clock comparisons, no tensor read
                halt = env.halt_after_step()
                if halt or (saving is not None and saving.due(state.step, now)):
                    position.steps = seen
                    _save_mid_epoch(env, parts, state, generator, position, i + 1, now - start)
                    if halt:
                        state.stop_reason = "interrupted"
                        state.stop_message = f"stopped by {env.stop.name} at epoch {epoch}, batch {i + 1}"
                        break
                if seen and now - last_read >= log_every:  # the only host sync inside the epoch
                    mean = running.item() / seen
                    reason = diverged(mean, state.best_train_loss, cfg.divergence)
                    if reason:
                        break
                    callbacks.on_log({"epoch": epoch, "batch": i + 1, "train_loss": mean})
                    last_read = now
            if time_limit is not None and now - start >= time_limit:
                state.stop_reason, state.stop_message = "max_time", _time_is_up(cfg)
                break
        if state.stop_reason == "interrupted":
            break

        train_loss = distributed.mean_over_ranks(running, seen, env.dist)
        reason = reason or diverged(train_loss, state.best_train_loss, cfg.divergence)
        if reason:
            state = _roll_back_or_stop(good, parts, stopper, state, reason, cfg)
            if state.stop_reason is None:  # retrying from the last good epoch: forget what came after it
                sampler.reset(state.step)
                env.drop_checkpoints_after(state.step)
            continue
        train_seconds = time.perf_counter() - t0
        if timer is not None:  # compiling happens in this process's first epoch only
            state.compile_seconds, timer = state.compile_seconds + timer.seconds(), None
        state.epoch, state.batch = epoch, 0
        row = {"epoch": epoch, "train_loss": train_loss, "lr": parts.schedule.epoch_lr(),  # the rate it trained with
               "skipped_steps": state.skipped_steps - skipped}
        parts.schedule.after_epoch()
        improved = False
        if val is not None and len(val) and (epoch % cfg.val_every == 0 or epoch == cfg.epochs):
            row.update(validate(model, val, objective, cfg))
            improved = _after_validation(row, state, stopper, parts.schedule, callbacks, cfg.monitored[0])
        improved = _keep_best(parts, state, train_loss, improved, stopper is None)
        row.update({"recoveries": len(state.recoveries), "seconds": time.perf_counter() - t0,
                    "samples_per_s": n / max(train_seconds, 1e-9)})
        _record_epoch(row, state, stopper, cfg, start)
        env.agree_on_stop(state, epoch)
        if saving is not None and saving.due_at_epoch_end(epoch, final=state.stop_reason is not None):
            env.save(parts, state, generator, Position(), best=improved)
        if good is not None:
            good = snapshot(parts, state)
        callbacks.on_epoch_end(dict(row))

    state.seconds = time.perf_counter() - start
    if state.stop_reason != "interrupted":  # an interrupted run keeps its weights as checkpointed
        _restore_best(model, state, parts.best_weights, _restores_best(stopper, cfg, env.dist))
    if channels_last:  # hand back the model in the usual format
        model.to(memory_format=torch.contiguous_format)
    report = _health_report(health, state, cfg) if env.dist.is_main else None
    callbacks.on_train_end({"stop_reason": state.stop_reason, "message": state.stop_message, "epochs": state.epoch,
                            "findings": (report or {}).get("findings", [])})
    return LoopResult(state, parts.best_weights, report)


def _diagnostics(model: nn.Module, cfg: TrainConfig, n: int, dist: Dist) -> Diagnostics | None:
    """The training-health callback (`train.diagnostics`), on rank 0 only: the ranks' gradients are
    the same after the all-reduce, so one rank watching is enough and the others pay nothing."""
    if cfg.diagnostics == "off" or not dist.is_main:
        return None
    every = sample_every(cfg.diagnostics, cfg.epochs * steps_per_epoch(n, cfg))
    return Diagnostics(model, cfg.diagnostics, every, cfg.grad_clip, cfg.grad_clip_value, activations=not cfg.compile)


def _health_report(health: Diagnostics | None, state: TrainState, cfg: TrainConfig) -> dict:
    """report.json's `diagnostics`: the sampled series (none when off) and the findings."""
    summary = health.summary() if health is not None else None
    found = findings(summary, state.history, state.stop_reason, *cfg.monitored, recoveries=len(state.recoveries))
    return {**(summary or {"mode": "off"}), "findings": found}


def _network(model: nn.Module, cfg: TrainConfig, device: torch.device, dist: Dist):
    """The module the step calls, the compile timer (None unless `train.compile`) and whether the
    model trains in channels-last format.

    DDP wraps the model under torchrun (it all-reduces gradients in backward); torch.compile
    wraps that. `model` keeps the plain state dict either way."""
    channels_last = speed.use_channels_last(cfg.channels_last, model, device)
    if channels_last:  # convolutions follow the weights' format, so each batch converts in the first one
        model.to(memory_format=torch.channels_last)
    net = distributed.wrap(model, dist)
    if not cfg.compile:
        return net, None, channels_last
    net, probe_seconds = speed.compile_model(net, device)
    return net, speed.CompileTimer(probe_seconds), channels_last


def _parts(model: nn.Module, cfg: TrainConfig, pretrained: frozenset[str], device: torch.device, n: int) -> Parts:
    """The optimizer, its schedule and the fp16 scaler for `model`; the initial weights are the
    best so far (the fallback when the loss diverges before any epoch completes)."""
    optimizer = build_optimizer(cfg.optimizer, model, pretrained, cfg.pretrained_lr)
    schedule = Schedule(cfg.schedule, optimizer, cfg.optimizer.lr, cfg.epochs, steps_per_epoch(n, cfg), cfg.monitored[1])
    return Parts(model, optimizer, schedule, weights_copy(model), speed.grad_scaler(cfg.precision, device))


def _epoch_position(state: TrainState, position: Position, generator: torch.Generator, device: torch.device) -> Position:
    """Where the epoch starts: resumed mid-epoch, the same permutation again and the running loss
    kept; else a fresh start, the summed batch losses on the device (read only at log points)."""
    if state.batch:
        generator.set_state(position.epoch_rng)
        return position
    return Position(generator.get_state(), torch.zeros((), device=device), 0)


def _after_validation(row: dict[str, float], state: TrainState, stopper: EarlyStopping | None, schedule: Schedule,
                      callbacks: CallbackList, monitor: str) -> bool:
    """Callbacks, early stopping and a plateau schedule see the validation (both follow `monitor`
    in its one direction, `TrainConfig.monitored`); True on a new best."""
    improved = False
    try:
        callbacks.on_validation_end(dict(row))
    except StopTraining as halt:  # a callback ends training at this boundary (e.g. pruning)
        state.stop_reason, state.stop_message = halt.reason, halt.message
    if stopper is not None:
        improved = stopper.update(_monitored(row, monitor), row["epoch"])
        if stopper.should_stop and state.stop_reason is None:
            state.stop_reason, state.stop_message = "early_stopping", stopper.stop_message()
    schedule.after_validation(_monitored(row, monitor))
    return improved


def _save_mid_epoch(env: Environment, parts: Parts, state: TrainState, generator: torch.Generator,
                    position: Position, batch: int, seconds: float) -> None:
    """A checkpoint after `batch` batches of the current epoch (due, or asked for by a signal)."""
    if env.saving is not None:
        state.batch, state.seconds = batch, seconds
        env.save(parts, state, generator, position)


def _roll_back_or_stop(good, parts: Parts, stopper: EarlyStopping | None, state: TrainState, reason: str,
                       cfg: TrainConfig) -> TrainState:
    """The loss diverged: the last good state with a lower learning rate, or `state` stopped as
    diverged when there is none (policy `stop`, or the recoveries are used up)."""
    rolled = roll_back(good, parts, stopper, state, reason, cfg.divergence) if good is not None else None
    if rolled is not None:
        return rolled
    tried = f" (after {len(state.recoveries)} recoveries)" if state.recoveries else ""
    state.stop_reason, state.stop_message = "diverged", reason + tried
    return state


def _keep_best(parts: Parts, state: TrainState, train_loss: float, improved: bool, no_stopper: bool) -> bool:
    """Keep the best weights (restored at the end, and the fallback on divergence); True when this
    epoch's are: a new best validation, or without early stopping a new best train loss."""
    if state.best_train_loss is None or train_loss < state.best_train_loss:
        state.best_train_loss = train_loss
        improved = improved or no_stopper
    if improved:
        parts.keep_best()
        state.best_epoch = state.epoch
    return improved


def _record_epoch(row: dict[str, float], state: TrainState, stopper: EarlyStopping | None, cfg: TrainConfig,
                  start: float) -> None:
    """The epoch's history row and counters; then whether a stopping criterion now holds."""
    if cfg.compile:
        row["compile_seconds"] = state.compile_seconds
    state.history.append(row)
    state.seconds = time.perf_counter() - start
    state.stopper = stopper.state_dict() if stopper else {}
    if state.stop_reason is None:
        state.stop_reason, state.stop_message = _stop_after_epoch(state, cfg, start)


def _time_is_up(cfg: TrainConfig) -> str:
    return f"the time limit of {cfg.max_time:g} s was reached"


def _stop_after_epoch(state: TrainState, cfg: TrainConfig, start: float) -> tuple[str | None, str]:
    if state.epoch >= cfg.epochs:
        return "max_epochs", f"reached the maximum of {cfg.epochs} epochs"
    if converged([r["train_loss"] for r in state.history], cfg.convergence):
        return "converged", (f"the train loss changed by less than {cfg.convergence.tol:g} (relative) "
                             f"over {cfg.convergence.window} epochs")
    if cfg.max_time is not None and time.perf_counter() - start >= cfg.max_time:
        return "max_time", _time_is_up(cfg)
    return None, ""


def _restores_best(stopper: EarlyStopping | None, cfg: TrainConfig, dist: Dist) -> bool:
    """Early stopping with restore_best, unless its value was never finite (no epoch was best: keep the last)."""
    if stopper is None:
        return False
    if dist.is_main:
        stopper.warn_if_never_finite()
    return cfg.early_stopping.restore_best and not stopper.never_finite


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


def validate(model: nn.Module, data: Tensors, objective: Objective, cfg: TrainConfig) -> dict[str, float]:
    """Validation loss and the cheap monitored metrics, computed on the device; one read at the end.

    Runs at `cfg.eval_batch_size` and `cfg.precision`."""
    out = predict_tensors(model, data.inputs, cfg.eval_batch_size, cfg.precision)
    y, w = data.y.to(out.device), (data.w.to(out.device) if data.w is not None else None)  # no-ops unless host-held
    with torch.inference_mode():
        metrics = {"val_loss": objective.loss_fn(out, y, w)}
        if objective.task == "multiclass":
            metrics["val_accuracy"] = (out.argmax(1) == y).float().mean()
        elif objective.task == "binary":
            metrics["val_accuracy"] = ((out.squeeze(1) > 0).long() == y).float().mean()
        else:
            err = (out.squeeze(1) - y) * objective.target_units[0]  # in the target's own units
            metrics["val_rmse"] = err.square().mean().sqrt()
            metrics["val_mae"] = err.abs().mean()
        if objective.metrics:
            from netfit.plugins import score_metrics

            seen = in_target_units(out, y, objective.target_units) if objective.task == "regression" else (out, y)
            metrics.update({f"val_{k}": v for k, v in score_metrics(objective.metrics, *seen).items()})
        values = torch.stack(list(metrics.values())).tolist()  # one host sync for all of them
    return dict(zip(metrics, values))
