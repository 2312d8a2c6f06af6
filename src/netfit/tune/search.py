"""The hyperparameter search: trials on validation only, then one final run that sees the test split.

    from netfit.tune.search import tune
    result = tune("examples/digits_tune.yaml", {"tune.trials": 10})
    result.best_value, result.final.metrics["accuracy"]

A tune folder (`runs/<name>-tune-<timestamp>-<rand>/`) holds `tune.yaml` (the search's config),
`study.journal` (Optuna's journal storage), `trials/<n>/` (one run folder per trial, no test
metrics), `best.yaml` (the whole config), `best_params.yaml` (the tuned values alone), `final/`
(the best config retrained; the only run evaluated on test) and `tune_report.json`. `tune(..., resume=TUNE_DIR)` continues the same study.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

from netfit.config import Config, load_config
from netfit.errors import ConfigError, RunError
from netfit.io import write_text
from netfit.run import run_workers, train_run
from netfit.runfolder import make_run_dir
from netfit.train.callbacks import Callback, StopTraining
from netfit.tune import study as studies
from netfit.tune.report import best_trial, write_report
from netfit.tune.space import sample

TUNE_CONFIG = "tune.yaml"


@dataclass
class TuneResult:
    """A finished search: its folder, the study, the best trial and the final run."""

    path: Path
    study: optuna.Study
    best: Any  # optuna FrozenTrial
    final: Any  # netfit Run, evaluated once on test
    report: dict[str, Any]


def tune(config: Any, overrides: Any = None, *, data: Any = None, resume: str | Path | None = None,
         workers: int = 1, quiet: bool = True, final: bool = True) -> TuneResult:
    """Search `config.tune.space` on validation, retrain the best config, test it once.

    Args:
        config: a YAML path, dict or `Config` (ignored with `resume`: the folder's tune.yaml is used).
        overrides: config overrides, e.g. `{"tune.trials": 20}` (also applied on resume).
        data: in-memory data in place of the config's source (one worker only).
        resume: a tune folder to continue.
        workers: local processes sharing the study.
        quiet: no progress display for the final run.
        final: False for a helper worker on another machine (`tune.storage`): it runs trials of the
            shared study and leaves best.yaml, the final run and the report to the first machine.

    Example:
        >>> result = tune("examples/digits_tune.yaml", {"tune.trials": 5})  # doctest: +SKIP
        >>> result.report["best"]["value"]  # doctest: +SKIP
    """
    if workers < 1 or (workers > 1 and data is not None):
        raise ConfigError("cannot start that many tuning workers", where="--workers", found=str(workers),
                          expected="1 or more; exactly 1 with in-memory data (data=)",
                          hint="workers re-read the data from the config's source; save the data to a file first")
    if resume is not None:
        tune_dir = _resume_dir(Path(resume))
        cfg = load_config(tune_dir / TUNE_CONFIG, overrides, require_data=data is None)
        write_text(tune_dir / TUNE_CONFIG, cfg.to_yaml())
    else:
        cfg = load_config(config, overrides, require_data=data is None)
        _check_space_given(cfg)
        tune_dir = make_run_dir(Path(cfg.output_dir) / f"{cfg.name}-tune-{_stamp()}-{secrets.token_hex(3)}")
        write_text(tune_dir / TUNE_CONFIG, cfg.to_yaml())
    study, storage = studies.open_study(tune_dir, cfg)
    studies.recover_interrupted(study, storage, tune_dir, cfg.tune.storage)
    if workers == 1:
        _work(tune_dir, cfg, data, seed_offset=len(study.trials))
    else:
        _run_workers(tune_dir, workers)
    if not final:
        return TuneResult(tune_dir, study, None, None, {})
    _wait_for_others(study, cfg)
    return _finish(tune_dir, cfg, data, quiet)


def _wait_for_others(study: optuna.Study, cfg: Config, poll: float = 2.0) -> None:
    """With a shared database, trials of other machines may still run: the best is picked after them."""
    if not cfg.tune.storage:
        return
    while any(t.state == TrialState.RUNNING for t in study.get_trials(deepcopy=False)):
        time.sleep(poll)


def worker_main(tune_dir: str, index: int) -> None:
    """Entry point of one worker process started by `tune(..., workers=N)`."""
    cfg = load_config(Path(tune_dir) / TUNE_CONFIG)
    _work(Path(tune_dir), cfg, None, seed_offset=1000 * index)


def _work(tune_dir: Path, cfg: Config, data: Any, seed_offset: int) -> None:
    """Claim and run trials until the study has `tune.trials` of them (or the timeout passes)."""
    study, _ = studies.open_study(tune_dir, cfg, seed_offset)
    start = time.monotonic()
    try:
        while cfg.tune.timeout is None or time.monotonic() - start < cfg.tune.timeout:
            trial = studies.claim(study, tune_dir, cfg.tune.trials, cfg.tune.storage)
            if trial is None:
                return
            _run_trial(study, trial, tune_dir, cfg, data)
    finally:
        studies.release_lock(tune_dir, cfg.tune.storage)  # no claim.lock is left in the tune folder


def _run_trial(study: optuna.Study, trial: optuna.Trial, tune_dir: Path, cfg: Config, data: Any) -> None:
    """One training run on train/val with the sampled overrides; the test split is never loaded."""
    overrides = sample(trial, cfg.tune.space)
    trial.set_user_attr("overrides", overrides)
    metrics, _ = studies.objectives(cfg)
    callbacks = [_Pruning(trial, metrics[0])] if studies.pruning_on(cfg) else []
    try:
        # a trial's report.html would be plotted and never read: the tune report lists the trials
        trial_cfg = load_config(cfg, {**overrides, "evaluate.report_html": False}, require_data=data is None)
        run = train_run(trial_cfg, data, quiet=True, callbacks=callbacks,
                        run_dir=tune_dir / "trials" / str(trial.number), need_test=False)
    except Exception:
        study.tell(trial, state=TrialState.FAIL)  # recorded, then the error goes on to the user
        raise
    report = run.report
    trial.set_user_attr("run", str(run.path.relative_to(tune_dir)))
    trial.set_user_attr("stop_reason", report["stop_reason"])
    trial.set_user_attr("epochs", report["epochs_run"])
    if report["stop_reason"] == "pruned":
        trial.set_user_attr("pruned_epoch", report["epochs_run"])
        study.tell(trial, state=TrialState.PRUNED)
        return
    values = [trial_value(run, m) for m in metrics]
    if not all(math.isfinite(v) for v in values):  # e.g. diverged before its first validation
        study.tell(trial, state=TrialState.FAIL)
        return
    study.tell(trial, values if len(values) > 1 else values[0])


def trial_value(run: Any, metric: str) -> float:
    """The metric of the weights the run kept (its best epoch); `params` is the model size."""
    report = run.report
    if metric == "params":
        return float(report["n_params"])
    history = run.history
    if metric not in history.columns:
        raise ConfigError("tune.metric is not a logged validation metric", where="tune.metric", found=metric,
                          expected=", ".join(c for c in history.columns if c.startswith("val_")) + ", params",
                          hint="pick one of the metrics listed (history.csv of any run shows them)")
    logged = history.dropna(subset=[metric])
    at_best = logged[logged["epoch"] == report.get("best_epoch")]
    row = at_best if len(at_best) else logged.tail(1)
    return float(row[metric].iloc[0]) if len(row) else float("nan")


class _Pruning(Callback):
    """Reports each validation to the trial; stops training when the pruner says so."""

    def __init__(self, trial: optuna.Trial, metric: str) -> None:
        self.trial, self.metric = trial, metric

    def on_validation_end(self, logs: dict[str, Any]) -> None:
        if self.metric not in logs:
            return  # e.g. `params`: nothing to prune on per epoch
        value, epoch = logs[self.metric], logs["epoch"]
        if not math.isfinite(value):
            return
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            raise StopTraining("pruned", f"pruned at epoch {epoch}: {self.metric} {value:.4g} trails the other trials")


def _run_workers(tune_dir: Path, workers: int) -> None:
    """Start N worker processes on the study, wait for all; a failed worker's log tail is shown."""
    codes = [f"from netfit.tune.search import worker_main; worker_main({str(tune_dir)!r}, {i + 1})"
             for i in range(workers)]
    run_workers(tune_dir / "workers", codes, "tuning",
                f"fix the problem, then continue with `netfit tune CONFIG --resume {tune_dir}`")


def _finish(tune_dir: Path, cfg: Config, data: Any, quiet: bool) -> TuneResult:
    """Write best.yaml, retrain the best config into final/ (the one test evaluation), write the report."""
    study, _ = studies.open_study(tune_dir, cfg)
    best = best_trial(study, cfg)
    if best is None:
        states = sorted({t.state.name for t in study.trials})
        raise RunError("no trial completed, so there is no best config", where=str(tune_dir),
                       found=f"{len(study.trials)} trials, states {', '.join(states)}",
                       hint="check the trial run folders under trials/; widen tune.space or lower the learning rates")
    best_cfg = load_config(cfg, best.user_attrs["overrides"], require_data=data is None)
    write_text(tune_dir / "best.yaml", best_cfg.to_yaml())
    write_text(tune_dir / "best_params.yaml", tuned_values(best))
    final = train_run(best_cfg, data, quiet=quiet, run_dir=_free(tune_dir / "final"))
    report = write_report(tune_dir, study, cfg, best, final)
    if best_cfg.evaluate.report_html:  # again, now that tune_report.json is there: adds the tuning section
        from netfit.evaluate.report import write_report as write_html

        write_html(final.path)
    return TuneResult(tune_dir, study, best, final, report)


def tuned_values(best: Any) -> str:
    """best_params.yaml: only the values the search chose, nested as in a config (best.yaml is the
    whole resolved config, where they are hard to find)."""
    nested: dict[str, Any] = {}
    for path, value in best.user_attrs["overrides"].items():
        *sections, name = path.split(".")
        node = nested
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = value
    return (f"# the values trial {best.number} (the best) was given; the whole config: best.yaml\n"
            + yaml.safe_dump(nested, sort_keys=False))


def _free(path: Path) -> Path:
    """`final/`, or `final-2/`, ... when a resumed search finishes a second time."""
    k = 2
    candidate = path
    while candidate.exists():
        candidate, k = path.with_name(f"{path.name}-{k}"), k + 1
    return candidate


def _resume_dir(path: Path) -> Path:
    if not (path / TUNE_CONFIG).is_file() or not (path / studies.JOURNAL).is_file():
        raise RunError("not a netfit tune folder", where=str(path), expected=f"{TUNE_CONFIG} and {studies.JOURNAL}",
                       found="no such folder" if not path.is_dir() else f"files: {', '.join(sorted(p.name for p in path.iterdir())) or 'none'}",
                       hint="pass the folder printed by `netfit tune` (runs/<name>-tune-<timestamp>-<rand>)")
    return path


def _check_space_given(cfg: Config) -> None:
    if not cfg.tune.space:
        raise ConfigError("nothing to tune: tune.space is empty", where="tune.space",
                          expected="config paths mapped to distributions",
                          hint="e.g. `tune: {space: {train.optimizer.lr: {log_uniform: [1.0e-4, 1.0e-1]}}}`")


def _stamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")
