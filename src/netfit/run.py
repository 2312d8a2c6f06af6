"""The workflow of one run, top to bottom: data -> model -> train -> test once -> report.

What the run leaves on disk (the run folder) is written and read by `netfit.runfolder`; this
module decides the order of the steps and makes the one evaluation on the test split.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from netfit.config import Config, TrainConfig
from netfit.data import Prepared, prepare
from netfit.data.arrays import kind_for_model
from netfit.data.preprocess import input_spec
from netfit.errors import ConfigError, RunError, TrainingInterrupted, collect_warnings
from netfit.evaluate.baselines import baselines, flat_features
from netfit.evaluate.importance import permutation_importance
from netfit.evaluate.verdict import verdicts
from netfit.evaluate.calibration import (ON_CALIBRATION, ON_VALIDATION, calibration_report, coverage_report, fit_calibration,
                                        fit_conformal, log_loss_of, risk_coverage)
from netfit.evaluate.metrics import evaluate_predictions, warn_if_few_rows
from netfit.evaluate.model_card import write_model_card
from netfit.evaluate.outputs import save_test_outputs
from netfit.evaluate.report import write_report
from netfit.evaluate.slices import slices
from netfit.io import write_json, write_text
from netfit.model import count_parameters, model_for
from netfit.plugins import build_metrics
from netfit.predict import Run
from netfit.runfolder import (environment, fingerprint, make_run_dir, new_run_dir, open_checkpoints, save_model,
                              write_history)
from netfit.train.callbacks import Callback, CallbackList
from netfit.train.finetune import start_from
from netfit.train import distributed, speed
from netfit.train.interrupt import stop_on_signals
from netfit.train.loggers import build_loggers
from netfit.train.loop import Environment, Objective, fit_loop, kind_budget
from netfit.train.losses import build_loss
from netfit.train.progress import Progress
from netfit.train.tensors import (Streamed, Tensors, device_inputs, in_target_units, outputs_to_predictions, pick_device,
                                  predict_split, predict_tensors, target_units, to_tensors)
from netfit.train.finders import LrFinding, find_batch_size, find_lr, resolve_auto


def train_run(cfg: Config, data: Any = None, *, quiet: bool = False, callbacks: list[Callback] = (),
              run_dir: Path | None = None, need_test: bool = True, resume: str | Path | None = None,
              temporary: bool = False):
    """Run the whole pipeline for a resolved config; return the finished `Run`.

    `run_dir` places the run (tuning puts trials under `<tune_dir>/trials/<n>`); with
    `need_test=False` the test split is never loaded and report.json has no test metrics.
    `resume`: a run folder to continue from its newest valid checkpoint (config checked by the caller,
    see `netfit.resume.resume_config`). Ctrl-C/SIGTERM raise `TrainingInterrupted` after a checkpoint.
    The run's warnings print as they come and are listed in report.json (`warnings`).
    `temporary`: the caller deletes the run folder once done (an estimator without output_dir), so
    the progress display names no folder or report in it.
    """
    threads = torch.get_num_threads()
    with collect_warnings() as warned:
        try:
            return _train_run(cfg, data, warned, quiet, list(callbacks), run_dir, need_test, resume, temporary)
        finally:
            if not cfg.train.threads:  # a streamed run lent a core to its read-ahead thread: give it back
                torch.set_num_threads(threads)


def _train_run(cfg: Config, data: Any, warned: list, quiet: bool, callbacks: list[Callback], run_dir: Path | None,
               need_test: bool, resume: str | Path | None, temporary: bool):
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    dist = distributed.from_env()  # a torchrun job, or one process
    device = distributed.start(dist, cfg.train.device) if dist.enabled else pick_device(cfg.train.device)
    speed.check_precision(cfg.train.precision, device)  # before the data is read
    check_refit(cfg, dist.enabled)
    cfg = kind_for_model(cfg, data)  # a cnn, rnn or transformer reads a 3-D array as images or sequences
    prepared = prepare(cfg.data, cfg.seed, data=data, need_test=need_test)
    if prepared.stream is not None and not cfg.train.threads and device.type == "cpu":
        # the read-ahead thread reads and encodes the next block while torch trains: leave it a core
        # (2 cores, 2M rows: 919,000 rows/s with one torch thread against 711,000 with two)
        torch.set_num_threads(max(1, torch.get_num_threads() - 1))
    pre = prepared.preprocessor
    if cfg.train.refit and (prepared.stream is not None or not len(prepared.splits.get("val") or ())):
        raise ConfigError("train.refit needs validation rows held in memory", where="train.refit",
                          found="streamed data" if prepared.stream is not None else "no validation split",
                          hint="give data.split.val a share (the first fit early-stops on it), or set train.refit: false")
    cfg = cfg.model_copy(update={"train": kind_train_config(cfg.train, prepared)})
    model = model_for(cfg.model, pre, prepared.task).to(device)
    pretrained, init_summary = start_from(model, cfg.train)
    metrics = build_metrics(cfg.train.metrics)
    if resume is not None:
        run_dir = Path(resume)
    elif dist.is_main:  # only rank 0 writes files
        run_dir = new_run_dir(cfg) if run_dir is None else make_run_dir(Path(run_dir))
    checkpoints = None
    if dist.is_main and run_dir is not None:
        checkpoints = open_checkpoints(run_dir, cfg, prepared, resume is not None, quiet)
    distributed.barrier(dist)  # rank 0 has set corrupt checkpoints aside before the others read
    if not dist.is_main and resume is not None:
        checkpoints = open_checkpoints(run_dir, cfg, prepared, True, True, read_only=True)

    # the training split (a sample of it when it streams), on the device unless data_on_device says otherwise
    train = to_tensors(prepared.splits["train"], device, prepared.task, cfg.train.data_on_device)
    val_split = prepared.splits.get("val")
    val = to_tensors(val_split, device, prepared.task, cfg.train.data_on_device) if val_split is not None and len(val_split) else None
    check_finders(cfg, train, device)
    loss_fn = build_loss(cfg.train, prepared.task, prepared.splits["train"].y, pre.classes, device,
                         y_weighted=train.w is not None)
    cfg, finders = resolve_auto(cfg, model, train, loss_fn)  # `auto` lr / batch_size -> found values
    if prepared.stream is not None:
        train = streamed(prepared, device, dist)
    if dist.is_main:
        write_text(run_dir / "config.yaml", cfg.to_yaml())
        progress = Progress(quiet=quiet, run_dir=None if temporary else run_dir, n_params=count_parameters(model),
                            prepared=prepared)
        hooks = CallbackList([progress, *build_loggers(cfg, run_dir), *callbacks])
    else:  # the other ranks run your callbacks too, but draw and log nothing
        hooks = CallbackList(list(callbacks))
    with stop_on_signals() as stop:
        result = fit_loop(model, train, val, cfg.train, Objective(loss_fn, prepared.task, target_units(pre), metrics),
                          Environment(cfg.seed, hooks, checkpoints, stop, dist), pretrained)
    distributed.stop(dist)
    if not dist.is_main:
        return None
    state = result.state
    write_history(run_dir / "history.csv", state.history)
    if state.stop_reason == "interrupted":
        report_interrupted(run_dir, cfg, prepared, state, stop.exit_code)
    refitted = None
    if cfg.train.refit:
        model, refitted = refit(cfg, prepared, state, device, hooks, Objective(loss_fn, prepared.task, target_units(pre), metrics))
        exit_code = refitted.pop("_interrupted")
        if exit_code is not None:  # resume redoes the refit from its start (the first fit is done)
            report_interrupted(run_dir, cfg, prepared, replace(state, stop_message="stopped during the refit "
                               "(train.refit); resume redoes the refit from its start"), exit_code)
    fitted = calibrate(cfg, prepared, model, device)
    save_model(run_dir, model, cfg, prepared, fitted.calibration, fitted.conformal)

    report = test_report(cfg, prepared, model, device, run_dir=run_dir, fitted=fitted)
    add_custom_scores(report, metrics, model, prepared, device, cfg.train.eval_batch_size)
    if init_summary:
        report["init_from"] = init_summary
    report.update({
        "name": cfg.name,
        "task": prepared.task,
        "stop_reason": state.stop_reason,
        "stop_message": state.stop_message,
        "epochs_run": state.epoch,
        "best_epoch": state.best_epoch,
        "steps": state.step,
        "skipped_steps": state.skipped_steps,  # steps whose rows all weigh 0: not taken
        "train_seconds": round(state.seconds, 3),
        "compile_seconds": round(state.compile_seconds, 3) if cfg.train.compile else None,
        "samples_per_s": _mean_throughput(state.history),
        "n_params": count_parameters(model),
        "model_type": type(model).__name__.lower(),  # what `model.type: auto` (the default) became
        "recoveries": state.recoveries,
        "resumed": state.resumed,
        "split_sizes": prepared.sizes(),
        "data": prepared.summary,
        "fingerprint": fingerprint(cfg, prepared),
        "environment": environment(device),
        "world_size": dist.world_size,
        "finders": finders,
        "diagnostics": result.diagnostics,  # training health: per-layer series and findings (train.diagnostics)
        "refit": refitted,  # train.refit: the second fit on train + val that the saved model comes from
        "warnings": [w.to_dict() for w in warned],
    })
    write_json(run_dir / "report.json", report)
    write_model_card(run_dir)  # the evidence as a page, with intended use and limitations to fill in
    if cfg.evaluate.report_html:
        write_report(run_dir)
    run = Run(run_dir)
    hooks.on_report(report)
    return run


def kind_train_config(train: TrainConfig, prepared: Prepared) -> TrainConfig:
    """`kind_budget` for prepared data: its input kind, its validation rows and its classes."""
    pre = prepared.preprocessor
    return kind_budget(train, input_spec(pre), prepared.sizes().get("val", 0), len(pre.classes))


def check_refit(cfg: Config, distributed_run: bool) -> None:
    """train.refit's conditions that the config alone decides (before any data is read)."""
    if not cfg.train.refit:
        return
    if distributed_run:
        raise ConfigError("train.refit trains in one process", where="train.refit", found="a torchrun job",
                          hint="train without torchrun, or set train.refit: false")
    ev = cfg.evaluate
    wants = [f for f, on in (("evaluate.calibration", ev.calibration != "none"), ("evaluate.conformal", ev.conformal is not None))
             if on]
    if wants and not cfg.data.split.calibration:
        raise ConfigError("train.refit puts the validation rows into the weights: calibration and conformal prediction "
                          "need rows of their own", where="train.refit",
                          found=f"{' and '.join(wants)} on, data.split.calibration 0",
                          expected="data.split.calibration above 0 (a share of the validation rows held out of both fits)",
                          hint="set data.split.calibration: 0.3, or turn them off (evaluate.calibration: none, "
                               "evaluate.conformal: null), or set train.refit: false")


def refit(cfg: Config, prepared: Prepared, first: Any, device: torch.device, hooks: CallbackList,
          objective: Objective) -> tuple[torch.nn.Module, dict[str, Any]]:
    """train.refit: a fresh model (the run's seed) trained on the training and validation rows for the
    optimizer steps the first fit took to its best epoch (rounded up to the whole epoch of the larger
    split that reaches it); no validation and no early stopping, so the schedule runs its course.
    Not checkpointed: an interrupted refit is redone from its start on resume (the same seed gives
    the same model). Preprocessing stays fitted on the training split."""
    import math

    best = first.best_epoch or first.epoch
    steps = max(1, round(first.step / max(first.epoch, 1) * best))  # in memory, every epoch has as many steps
    joined = prepared.splits["train"].joined(prepared.splits["val"])
    per_epoch = math.ceil(len(joined) / cfg.train.batch_size)
    train_cfg = cfg.train.model_copy(update={"epochs": math.ceil(steps / per_epoch), "steps": steps, "early_stopping": None,
                                             "diagnostics": "off", "convergence": None})
    torch.manual_seed(cfg.seed)
    model = model_for(cfg.model, prepared.preprocessor, prepared.task).to(device)
    pretrained, _ = start_from(model, cfg.train)
    tensors = to_tensors(joined, device, prepared.task, cfg.train.data_on_device)
    with stop_on_signals() as stop:
        result = fit_loop(model, tensors, None, train_cfg, objective, Environment(cfg.seed, hooks, None, stop,
                                                                                  distributed.from_env()), pretrained)
    state = result.state
    return model, {"rows": len(joined), "steps": state.step, "epochs": state.epoch, "budget_steps": steps,
                   "from_best_epoch": best, "train_loss": state.history[-1].get("train_loss") if state.history else None,
                   "stop_reason": state.stop_reason, "recoveries": state.recoveries,
                   "seconds": round(state.seconds, 3),
                   "_interrupted": stop.exit_code if state.stop_reason == "interrupted" else None}


def report_interrupted(run_dir: Path, cfg: Config, prepared: Prepared, state: Any, exit_code: int) -> None:
    """report.json for a stopped run (no test evaluation: that happens once, when training ends)."""
    write_json(run_dir / "report.json", {
        "name": cfg.name, "task": prepared.task, "stop_reason": "interrupted", "stop_message": state.stop_message,
        "epochs_run": state.epoch, "steps": state.step, "train_seconds": round(state.seconds, 3),
        "recoveries": state.recoveries, "resumed": state.resumed, "test": None, "baselines": None,
    })
    raise TrainingInterrupted(f"training interrupted: {state.stop_message}; a checkpoint was written",
                              where=str(run_dir), exit_code=exit_code,
                              hint=f"resume with `netfit train CONFIG --resume {run_dir}` (or netfit.fit(resume=...))")


def streamed(prepared: Prepared, device: torch.device, dist: distributed.Dist) -> Streamed:
    """The training rows of a source larger than data.memory_budget, read block by block."""
    if dist.enabled:
        raise ConfigError("streamed data trains in one process", where="data.memory_budget",
                          found=f"a torchrun job of {dist.world_size} processes",
                          hint="train without torchrun, or raise data.memory_budget so the data loads in memory")
    return Streamed(prepared.stream, lambda block: to_tensors(block, device, prepared.task), device)


def check_finders(cfg: Config, train: Tensors, device: torch.device) -> None:
    """The `auto` batch-size and learning-rate finders read the training split on the device."""
    auto = [f for f, v in (("train.batch_size", cfg.train.batch_size), ("train.optimizer.lr", cfg.train.optimizer.lr))
            if v == "auto"]
    if auto and train.y.device != device:
        raise ConfigError("the `auto` finders need the training split on the device", where=", ".join(auto),
                          found=f"the split is held in host memory (train.data_on_device: {cfg.train.data_on_device})",
                          hint="set these fields to numbers, or `train.data_on_device: true` if the split fits")




@dataclass
class Fitted:
    """What the validation split fits after training: the temperature and the conformal threshold."""

    calibration: dict[str, Any] | None = None  # model.json's: {"method": "temperature", "temperature": T} or vector
    conformal: dict[str, Any] | None = None  # `fit_conformal`'s entry
    val_log_loss: dict[str, float] | None = None  # before and after scaling
    note: str | None = None  # why nothing was fitted


def calibrate(cfg: Config, prepared: Prepared, model: torch.nn.Module, device: torch.device) -> Fitted:
    """Temperature scaling (classifiers) and split conformal, both on the validation split (which
    also chose the best epoch by early stopping: the docs say what that costs)."""
    ev, task, pre = cfg.evaluate, prepared.task, prepared.preprocessor
    want_t = task != "regression" and ev.calibration != "none"
    if not want_t and ev.conformal is None:
        return Fitted()
    held_out = prepared.splits.get("calibration")  # data.split.calibration: rows early stopping never saw
    val = held_out if held_out is not None and len(held_out) else prepared.splits.get("val")
    if val is None or not len(val) or val.y is None:
        return Fitted(note="no validation split: nothing calibrated")
    logits = predict_tensors(model, device_inputs(val, device), cfg.train.eval_batch_size).cpu()
    if not torch.isfinite(logits).all():  # a diverged run: nothing sensible to fit
        return Fitted(note="non-finite validation outputs: nothing calibrated")
    fitted = Fitted()
    if want_t:
        fitted.calibration = fit_calibration(ev.calibration, logits, val.y)
        known = val.y >= 0
        fitted.val_log_loss = {when: float(log_loss_of(outputs_to_predictions(logits, task, scaling)[known], val.y[known]))
                               for when, scaling in (("before", None), ("after", fitted.calibration))}
    if ev.conformal is not None:
        output = outputs_to_predictions(logits, task, fitted.calibration)
        y = pre.decode_target(val.y) if task == "regression" else val.y
        output = pre.decode_target(output) if task == "regression" else output
        where = "the calibration split" if val is held_out else "the validation split"
        fitted.conformal = fit_conformal(task, y, output, ev.conformal.coverage, where,
                                         x_num=_table_features(val), method=ev.conformal.method, seed=cfg.seed)
        fitted.conformal["calibrated_on"] = ON_CALIBRATION if val is held_out else ON_VALIDATION
    return fitted


def _table_features(split: Any) -> np.ndarray | None:
    """The split's preprocessed table columns (what the normalized conformal spread reads), if it has any."""
    x = getattr(split, "x_num", None)
    return x if isinstance(x, np.ndarray) and x.ndim == 2 and x.shape[1] else None


def test_report(cfg: Config, prepared: Prepared, model: torch.nn.Module, device: torch.device,
                run_dir: Path | None = None, fitted: Fitted | None = None) -> dict[str, Any]:
    """The one evaluation on the test split, with bootstrap intervals and baselines beside it.

    With `run_dir`, the test predictions are saved there too (the report's curves read them).
    `fitted`: the temperature the test probabilities are scaled by and the conformal threshold
    checked on test (the report's `calibration` and `conformal` blocks)."""
    test = prepared.splits.get("test")
    fitted = fitted or Fitted()
    if test is None or not len(test):
        return {"test": None, "baselines": None}
    pre, task, ev = prepared.preprocessor, prepared.task, cfg.evaluate
    logits = predict_tensors(model, device_inputs(test, device), cfg.train.eval_batch_size)
    output = outputs_to_predictions(logits, task, fitted.calibration)
    output = pre.decode_target(output) if task == "regression" else output
    y_true = pre.decode_target(test.y) if task == "regression" else test.y  # -1: a label not seen in training
    if run_dir is not None:
        save_test_outputs(run_dir, task, y_true, output, pre, unseen=test.unseen)
    kw = {"resamples": ev.bootstrap, "confidence": ev.confidence, "seed": cfg.seed}
    warn_if_few_rows(len(test), "test rows", "the test split", "raise data.split.test, or give a larger test file "
                     "(data.test)", ev.confidence if ev.bootstrap else None)
    report = {"test": evaluate_predictions(task, y_true, output, pre.classes, **kw)}
    if test.unseen is not None:  # counted as wrong above; which labels, how many rows
        report["test"]["unseen_labels"] = prepared.summary["unseen_labels"]["test"]
    report["calibration"] = None if fitted.calibration is None else calibration_report(
        y_true, outputs_to_predictions(logits, task), output, fitted.calibration, val=fitted.val_log_loss, **kw)
    report["conformal"] = None if fitted.conformal is None else coverage_report(
        task, y_true, output, fitted.conformal, pre.classes, ev.confidence, x_num=_table_features(test))
    report["selective"] = risk_coverage(y_true, output) if task != "regression" else None
    if fitted.note:  # calibration or conformal was asked for, and nothing could be fitted
        report["calibration_note"] = fitted.note
    if ev.baselines:
        train = prepared.splits["train"]
        y_train = pre.decode_target(train.y) if task == "regression" else train.y
        vocab = (input_spec(pre) or {}).get("vocab_size")
        report["baselines"] = baselines(task, flat_features(train, vocab), y_train, flat_features(test, vocab), y_true, pre.classes,
                                        seed=cfg.seed, network_output=output,
                                        **{k: kw[k] for k in ("resamples", "confidence")})
        stopping = cfg.train.early_stopping
        report["verdict"] = verdicts(report, task, stopping.monitor if stopping else None)
    if ev.importance:
        def predict(split: Any) -> np.ndarray:
            return predict_split(model, split, task, pre, device, cfg.train.eval_batch_size, fitted.calibration)

        report["importance"] = permutation_importance(predict, test, y_true, task, pre, **kw)
    if ev.slices:
        report["slices"] = slices(test, y_true, output, task, pre, importance=report.get("importance"), **kw)
    return report


def add_custom_scores(report: dict[str, Any], metrics: dict, model: torch.nn.Module, prepared: Prepared,
                      device: torch.device, batch_size: int) -> None:
    """Your own metrics on the test split, beside the built-in ones (a value, no interval); regression
    values in the target's units, as on validation."""
    test = prepared.splits.get("test")
    if not metrics or not report.get("test") or test is None:
        return
    from netfit.plugins import score_metrics

    if test.unseen is not None:  # your metric reads class indices: rows of a label the model never saw have none
        test = test.subset(test.y >= 0)

    tensors = to_tensors(test, device, prepared.task)
    seen = predict_tensors(model, tensors.inputs, batch_size), tensors.y
    if prepared.task == "regression":
        seen = in_target_units(*seen, target_units(prepared.preprocessor))
    for name, value in score_metrics(metrics, *seen).items():
        report["test"]["metrics"][name] = {"value": float(value), "ci_low": None, "ci_high": None}


def _mean_throughput(history: list[dict[str, float]]) -> float | None:
    rates = [r["samples_per_s"] for r in history if "samples_per_s" in r]
    return round(float(np.median(rates)), 1) if rates else None


def range_test(cfg: Config) -> LrFinding:
    """`netfit find-lr`: the range test for a config, on its training split (test never loaded)."""
    torch.manual_seed(cfg.seed)  # the same initial weights as `netfit train` starts from
    device = pick_device(cfg.train.device)
    cfg = kind_for_model(cfg)
    prepared = prepare(cfg.data, cfg.seed, need_test=False)
    pre, task = prepared.preprocessor, prepared.task
    model = model_for(cfg.model, pre, task).to(device)
    train = to_tensors(prepared.splits["train"], device, task)
    loss_fn = build_loss(cfg.train, task, prepared.splits["train"].y, pre.classes, device)
    tcfg = cfg.train
    if tcfg.batch_size == "auto":  # as in a run: the batch size first, the rate for that batch size
        tcfg = tcfg.model_copy(update={"batch_size": find_batch_size(model, train, loss_fn, tcfg).batch_size})
    return find_lr(model, train, loss_fn, tcfg, seed=cfg.seed)


def check_workers(workers: int, what: str) -> None:
    """A ConfigError unless `workers` (local processes of `netfit repeat` / `cv`) is 1 or more."""
    if workers < 1:
        raise ConfigError("cannot start that many workers", where="--workers", found=str(workers),
                          expected="1 or more", hint=f"--workers 2 trains two {what} at once")


def set_folder(resume: str | Path, marker: str, command: str) -> Path:
    """The folder of a set of runs to continue (`netfit repeat` / `cv --resume`), checked to hold `marker`."""
    folder = Path(resume)
    if not (folder / marker).is_file():
        raise RunError(f"not a netfit {command} folder", where=str(folder), expected=f"{marker} in it",
                       found="no such folder" if not folder.is_dir() else f"no {marker}",
                       hint=f"pass the folder printed by `netfit {command}` (runs/<name>-{command}-...)")
    return folder


def run_into(run_dir: Path, cfg: Config, quiet: bool = True) -> None:
    """Train `cfg` into `run_dir`, one run of a set (`netfit repeat`, `netfit cv`): continued from its
    checkpoint when a killed run left one, started again when it left none (nothing was trained yet)."""
    checkpoints = run_dir / "checkpoints"
    if checkpoints.is_dir() and any(checkpoints.iterdir()):
        train_run(cfg, quiet=quiet, resume=run_dir)
        return
    if run_dir.exists():
        shutil.rmtree(run_dir)
    train_run(cfg, quiet=quiet, run_dir=run_dir)


def run_workers(logs: Path, codes: list[str], what: str, hint: str) -> None:
    """Run each Python snippet of `codes` in a process of its own, at once, and wait for all; each
    writes `logs/worker-<i>.log`. A failed worker is a RunError naming `what` with its log's tail."""
    logs.mkdir(exist_ok=True)
    procs = []
    for i, code in enumerate(codes):
        log = open(logs / f"worker-{i + 1}.log", "w")
        procs.append((subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=subprocess.STDOUT), log))
    failed = []
    for i, (proc, log) in enumerate(procs):
        if proc.wait() != 0:
            failed.append(i + 1)
        log.close()
    if failed:
        tail = (logs / f"worker-{failed[0]}.log").read_text()[-1500:]
        raise RunError(f"{len(failed)} {what} worker(s) failed", where=str(logs / f"worker-{failed[0]}.log"),
                       found=tail.strip(), hint=hint)
