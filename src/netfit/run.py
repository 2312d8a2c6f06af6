"""One run, top to bottom: data -> model -> train -> test once -> report and model files.

The run folder (runs/<name>-<timestamp>-<rand>/) holds everything the run leaves:
config.yaml, model.safetensors, model.json, checkpoints/, history.csv, report.json,
test_predictions.csv, report.html and, when enabled, logs/.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import platform
import secrets
import time
import warnings
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

import netfit
from netfit.config import Config
from netfit.data import Prepared, Split, prepare
from netfit.errors import ConfigError, RunError, TrainingInterrupted
from netfit.evaluate.baselines import baselines
from netfit.evaluate.metrics import evaluate_predictions
from netfit.evaluate.outputs import save_test_outputs
from netfit.evaluate.report import write_report
from netfit.io import atomic_write, write_json, write_text
from netfit.model import build_model, count_parameters, output_size
from netfit.plugins import build_metrics
from netfit.resume import open_checkpoint, reopen
from netfit.train.callbacks import Callback, CallbackList
from netfit.train.checkpoint import Checkpoints
from netfit.train.finetune import start_from
from netfit.train import distributed, speed
from netfit.train.interrupt import stop_on_signals
from netfit.train.loggers import build_loggers
from netfit.train.loop import Environment, Objective, fit_loop
from netfit.train.losses import build_loss
from netfit.train.progress import Progress
from netfit.train.tensors import Streamed, Tensors, pick_device, predict_split, predict_tensors, target_scale, to_tensors
from netfit.tune.finders import resolve_auto

FORMAT_VERSION = 1


def new_run_dir(cfg: Config) -> Path:
    """A unique folder: parallel runs never collide (timestamp plus a random suffix)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return make_run_dir(Path(cfg.output_dir) / f"{cfg.name}-{stamp}-{secrets.token_hex(3)}")


def make_run_dir(path: Path) -> Path:
    """Create a run folder that must not exist yet (a run never writes into another's folder)."""
    try:
        path.mkdir(parents=True, exist_ok=False)
    except (FileExistsError, NotADirectoryError, PermissionError) as e:
        raise RunError("cannot create the run folder", where=str(path), found=f"{type(e).__name__}: {e}",
                       hint="set output_dir to a writable folder") from None
    return path


def train_run(cfg: Config, data: Any = None, *, quiet: bool = False, callbacks: list[Callback] = (),
              run_dir: Path | None = None, need_test: bool = True, resume: str | Path | None = None):
    """Run the whole pipeline for a resolved config; return the finished `Run`.

    `run_dir` places the run (tuning puts trials under `<tune_dir>/trials/<n>`); with
    `need_test=False` the test split is never loaded and report.json has no test metrics.
    `resume`: a run folder to continue from its newest valid checkpoint (config checked by the caller,
    see `netfit.resume.resume_config`). Ctrl-C/SIGTERM raise `TrainingInterrupted` after a checkpoint.
    """
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    dist = distributed.from_env()  # a torchrun job, or one process
    device = distributed.start(dist, cfg.train.device) if dist.enabled else pick_device(cfg.train.device)
    speed.check_precision(cfg.train.precision, device)  # before the data is read
    prepared = prepare(cfg.data, cfg.seed, data=data, need_test=need_test)
    pre = prepared.preprocessor
    n_out = output_size(prepared.task, len(pre.classes))
    model = build_model(cfg.model, pre.n_num, pre.cat_cardinalities, n_out, input_spec(pre)).to(device)
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
        progress = Progress(quiet=quiet, run_dir=run_dir, n_params=count_parameters(model), prepared=prepared)
        hooks = CallbackList([progress, *build_loggers(cfg, run_dir), *callbacks])
    else:  # the other ranks run your callbacks too, but draw and log nothing
        hooks = CallbackList(list(callbacks))
    with stop_on_signals() as stop:
        result = fit_loop(model, train, val, cfg.train, Objective(loss_fn, prepared.task, target_scale(pre), metrics),
                          Environment(cfg.seed, hooks, checkpoints, stop, dist), pretrained)
    distributed.stop(dist)
    if not dist.is_main:
        return None
    state = result.state
    write_history(run_dir / "history.csv", state.history)
    if state.stop_reason == "interrupted":
        report_interrupted(run_dir, cfg, prepared, state, stop.exit_code)
    save_model(run_dir, model, cfg, prepared)

    report = test_report(cfg, prepared, model, device, run_dir=run_dir)
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
        "train_seconds": round(state.seconds, 3),
        "compile_seconds": round(state.compile_seconds, 3) if cfg.train.compile else None,
        "samples_per_s": _mean_throughput(state.history),
        "n_params": count_parameters(model),
        "recoveries": state.recoveries,
        "resumed": state.resumed,
        "split_sizes": prepared.sizes(),
        "data": prepared.summary,
        "fingerprint": fingerprint(cfg, prepared),
        "environment": environment(device),
        "world_size": dist.world_size,
        "finders": finders,
    })
    write_json(run_dir / "report.json", report)
    if cfg.evaluate.report_html:
        write_report(run_dir)
    from netfit.api import Run  # the API reads what this module writes

    run = Run(run_dir)
    hooks.on_report(report)
    return run


def open_checkpoints(run_dir: Path, cfg: Config, prepared: Prepared, resume: bool, quiet: bool,
                     read_only: bool = False) -> Checkpoints:
    """The loop's checkpointer; when resuming, loaded with the newest valid checkpoint.

    `read_only`: a torchrun rank other than 0 only reads the checkpoint (rank 0 tidies the folder)."""
    folder = run_dir / "checkpoints"
    checkpoints = Checkpoints(folder, cfg.train.checkpoint, meta={"fingerprint": prepared.fingerprint})
    if not resume:
        return checkpoints
    if not read_only:
        checkpoints.clean_temp_files()
    path, payload, skipped = open_checkpoint(run_dir, prepared.fingerprint)
    if read_only:
        reopen(payload["state"], cfg)
        checkpoints.resume = payload
        return checkpoints
    for bad in skipped:  # set aside, so pruning by step number never keeps them over good ones
        (folder / bad["file"]).replace(folder / (bad["file"] + ".corrupt"))
    s = payload["state"]
    reopen(s, cfg)
    s["resumed"].append({"checkpoint": path.name, "epoch": s["epoch"], "batch": s["batch"], "step": s["step"],
                         "skipped": skipped})
    checkpoints.resume = payload
    if not quiet:
        print(f"resuming {run_dir} from {path.name} (epoch {s['epoch']} done, batch {s['batch']} of the next)")
    return checkpoints


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


def input_spec(pre: Any) -> dict[str, Any] | None:
    """The image/sequence/text input the model reads (kind, shape, vocab size), None for tables."""
    return pre.array.spec if getattr(pre, "array", None) is not None else None


def test_report(cfg: Config, prepared: Prepared, model: torch.nn.Module, device: torch.device,
                run_dir: Path | None = None) -> dict[str, Any]:
    """The one evaluation on the test split, with bootstrap intervals and baselines beside it.

    With `run_dir`, the test predictions are saved there too (the report's curves read them)."""
    test = prepared.splits.get("test")
    if test is None or not len(test):
        return {"test": None, "baselines": None}
    pre, task, ev = prepared.preprocessor, prepared.task, cfg.evaluate
    output = predict_split(model, test, task, pre, device, cfg.train.eval_batch_size)
    y_true = pre.decode_target(test.y) if task == "regression" else test.y
    if run_dir is not None:
        save_test_outputs(run_dir, task, y_true, output, pre)
    kw = {"resamples": ev.bootstrap, "confidence": ev.confidence, "seed": cfg.seed}
    report = {"test": evaluate_predictions(task, y_true, output, pre.classes, **kw)}
    if ev.baselines:
        train = prepared.splits["train"]
        y_train = pre.decode_target(train.y) if task == "regression" else train.y
        vocab = (input_spec(pre) or {}).get("vocab_size")
        report["baselines"] = baselines(task, _flat(train, vocab), y_train, _flat(test, vocab), y_true, pre.classes,
                                        seed=cfg.seed, **{k: kw[k] for k in ("resamples", "confidence")})
    return report


def add_custom_scores(report: dict[str, Any], metrics: dict, model: torch.nn.Module, prepared: Prepared,
                      device: torch.device, batch_size: int) -> None:
    """Your own metrics on the test split, beside the built-in ones (a value, no interval)."""
    test = prepared.splits.get("test")
    if not metrics or not report.get("test") or test is None:
        return
    from netfit.plugins import score_metrics

    tensors = to_tensors(test, device, prepared.task)
    out = predict_tensors(model, tensors.inputs, batch_size)
    for name, value in score_metrics(metrics, out, tensors.y).items():
        report["test"]["metrics"][name] = {"value": float(value), "ci_low": None, "ci_high": None}


def _flat(split: Split, vocab_size: int | None = None) -> Any:
    """Features for the linear baseline: numeric columns, codes of embedded columns, and the
    flattened image/sequence (with its lengths) or, for text, sparse bag-of-words counts."""
    x = split.x_num if not split.x_cat.shape[1] else np.hstack([split.x_num, split.x_cat.astype(np.float32)])
    if split.x_array is None:
        return x
    if vocab_size is None:
        extra = [split.x_array.reshape(len(split), -1)] + ([split.lengths[:, None]] if split.lengths is not None else [])
        return np.hstack([x, *extra]).astype(np.float32)
    from scipy import sparse

    rows = np.repeat(np.arange(len(split)), split.x_array.shape[1])
    ids = split.x_array.ravel()
    real = ids > 0  # <pad> is not a word
    counts = sparse.csr_matrix((np.ones(int(real.sum()), np.float32), (rows[real], ids[real])),
                               shape=(len(split), vocab_size))  # duplicate (row, id) pairs add up
    return sparse.hstack([sparse.csr_matrix(x), counts]).tocsr()


def save_model(run_dir: Path, model: torch.nn.Module, cfg: Config, prepared: Prepared) -> None:
    from safetensors.torch import save_file

    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(run_dir / "model.safetensors", lambda tmp: save_file(weights, str(tmp)))
    pre = prepared.preprocessor
    write_json(run_dir / "model.json", {
        "format_version": FORMAT_VERSION,
        "netfit_version": netfit.__version__,
        "task": prepared.task,
        "model": cfg.model.model_dump(mode="json"),
        "n_num": pre.n_num,
        "cat_cardinalities": list(pre.cat_cardinalities),
        "input": input_spec(pre),
        "n_out": output_size(prepared.task, len(pre.classes)),
        "classes": list(pre.classes),
        "preprocessor": pre.to_dict(),
        "fingerprint": fingerprint(cfg, prepared),
        "versions": versions(),
    })


def write_history(path: Path, history: list[dict[str, float]]) -> None:
    columns = list(dict.fromkeys(k for row in history for k in row)) or ["epoch", "train_loss"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    writer.writerows(history)
    write_text(path, buf.getvalue())


def _mean_throughput(history: list[dict[str, float]]) -> float | None:
    rates = [r["samples_per_s"] for r in history if "samples_per_s" in r]
    return round(float(np.median(rates)), 1) if rates else None


def fingerprint(cfg: Config, prepared: Prepared) -> dict[str, Any]:
    config_hash = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode()).hexdigest()
    return {**prepared.fingerprint, "config_sha256": config_hash, "seed": cfg.seed}


def versions() -> dict[str, str]:
    import pandas
    import sklearn

    return {"netfit": netfit.__version__, "torch": torch.__version__, "numpy": np.__version__,
            "pandas": pandas.__version__, "scikit-learn": sklearn.__version__, "python": platform.python_version()}


def environment(device: torch.device) -> dict[str, Any]:
    return {"device": str(device), "threads": torch.get_num_threads(), "platform": platform.platform(),
            "cuda": torch.cuda.get_device_name(0) if device.type == "cuda" else None, "versions": versions()}

