"""The Optuna study of a tune folder: storage, sampler, pruner, trial claiming and crash recovery.

Storage is Optuna's journal file (`study.journal`): an append-only log that several local
processes share safely (SQLite locks up under parallel writers). Workers claim trials under a
file lock, so that together they run exactly `tune.trials` trials. With `tune.storage` (a
PostgreSQL URL) workers on many machines share one study, and claim under a PostgreSQL
advisory lock instead.
"""

from __future__ import annotations

import fcntl
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import optuna
from optuna.trial import TrialState

from netfit.config import KNOWN_MODES, Config, metric_mode
from netfit.errors import ConfigError
from netfit.plugins import metric_name
from netfit.tune.space import grid

STUDY = "netfit"
JOURNAL = "study.journal"
CLAIM_LOCK = "claim.lock"
optuna.logging.set_verbosity(optuna.logging.WARNING)  # netfit prints its own trial table


def objectives(cfg: Config) -> tuple[list[str], list[str]]:
    """Metric names and Optuna directions: one of each for a single-objective search.

    A direction is `tune.direction`'s, else `metric_mode`'s (the one rule early stopping follows:
    `train.early_stopping.mode` for its monitor, the known direction of netfit's own metrics); never
    guessed for your own metric. A `tune.direction` that contradicts a known direction is an error."""
    metric = cfg.tune.metric or cfg.train.monitored[0]
    metrics = [metric] if isinstance(metric, str) else list(metric)
    given = cfg.tune.direction
    given = [given] if isinstance(given, str) else given
    if given is not None and len(given) != len(metrics):
        raise ConfigError("tune.direction must give one direction per metric", where="tune.direction",
                          expected=f"{len(metrics)} direction(s) for {metrics}", found=str(cfg.tune.direction),
                          hint="leave tune.direction out to derive it from the metrics (early stopping's mode for its monitor)")
    return metrics, [_direction(m, None if given is None else given[i], cfg) for i, m in enumerate(metrics)]


def _direction(metric: str, given: str | None, cfg: Config) -> str:
    """Optuna's direction of one tuned metric: the given one, checked against what netfit knows of it."""
    es = cfg.train.early_stopping
    mode = metric_mode(metric, es)
    known = {"min": "minimize", "max": "maximize", None: None}[mode]
    if given is None and known is None:
        yours = [f"val_{metric_name(p)}" for p in cfg.train.metrics]
        if metric not in yours:
            raise ConfigError("tune.metric is not a logged validation metric", where="tune.metric", found=metric,
                              expected=", ".join([*(m for m in KNOWN_MODES if m.startswith("val_")), *yours, "params"]),
                              hint="pick one of the metrics listed (history.csv of any run shows them)")
        raise ConfigError(f"netfit cannot tell whether a higher or a lower {metric} is better (it is your own metric)",
                          where="tune.direction", expected=f"maximize or minimize for {metric}", found="no direction given",
                          hint=f"set tune.direction: maximize (higher is better) or minimize; or monitor {metric} in "
                               "train.early_stopping with mode: max or min, which the study then follows")
    if given is not None and known is not None and given != known:
        source = ("train.early_stopping.mode" if es is not None and metric == es.monitor and es.mode != "auto"
                  else "the known direction of netfit's own metric")
        raise ConfigError(f"tune.direction contradicts the direction of {metric}", where="tune.direction",
                          expected=f"{known} ({source}: {mode})", found=given,
                          hint="leave tune.direction out: the study follows the metric's direction")
    return given or known


def open_study(tune_dir: Path, cfg: Config, seed_offset: int = 0) -> tuple[optuna.Study, optuna.storages.BaseStorage]:
    """Create or load the tune folder's study (the same one for every worker and for resume)."""
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if cfg.tune.storage:
        storage = optuna.storages.RDBStorage(database_url(cfg.tune.storage))
    else:
        storage = JournalStorage(JournalFileBackend(str(tune_dir / JOURNAL)))
    metrics, directions = objectives(cfg)
    study = optuna.create_study(study_name=study_name(cfg), storage=storage, directions=directions, load_if_exists=True,
                                sampler=_sampler(cfg, seed_offset), pruner=_pruner(cfg, len(metrics)))
    return study, storage


def study_name(cfg: Config) -> str:
    """A shared database holds many studies: each search is named after the config's `name`."""
    return cfg.name if cfg.tune.storage else STUDY


def database_url(url: str) -> str:
    """SQLAlchemy's URL for the installed driver: psycopg 3 (`netfit[postgres]`) for PostgreSQL."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def pruning_on(cfg: Config) -> bool:
    """Optuna prunes single-objective studies only; a multi-objective search runs every trial out."""
    return cfg.tune.pruner != "none" and len(objectives(cfg)[0]) == 1


def _sampler(cfg: Config, seed_offset: int) -> optuna.samplers.BaseSampler:
    # every worker (and every resume) gets its own stream, so two workers never propose in lockstep
    seed, tune = cfg.seed + seed_offset, cfg.tune
    if tune.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if tune.sampler == "grid":
        return optuna.samplers.GridSampler(grid(tune.space), seed=seed)
    if tune.sampler == "cmaes":
        try:
            import cmaes  # noqa: F401  (Optuna's CMA-ES sampler needs it)
        except ImportError:
            raise ConfigError("the cmaes sampler needs the `cmaes` package", where="tune.sampler", found="not installed",
                              hint="`pip install cmaes`, or use `sampler: tpe`") from None
        return optuna.samplers.CmaEsSampler(seed=seed)
    # short searches: a third of the trials (3 to 10) explore at random before TPE models them
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(3, tune.trials // 3)))


def _pruner(cfg: Config, n_objectives: int) -> optuna.pruners.BasePruner:
    tune, min_epochs = cfg.tune, max(1, cfg.tune.warmup_epochs)
    if tune.pruner == "none" or n_objectives > 1:
        return optuna.pruners.NopPruner()
    if tune.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=min_epochs)
    if tune.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=min_epochs, max_resource=cfg.train.epochs)  # "auto" is also optuna's word
    return optuna.pruners.MedianPruner(n_startup_trials=tune.startup_trials, n_warmup_steps=tune.warmup_epochs)


@contextmanager
def claim_lock(tune_dir: Path, url: str | None = None) -> Iterator[Callable[[], None]]:
    """An exclusive lock across the processes working on one study: a file lock in the tune folder,
    or a PostgreSQL advisory lock when the study lives in a shared database.

    It yields `remove`: once called, the lock file is deleted as the lock is let go (a worker that
    claims no more trials leaves none behind; `release_lock`). A process that was waiting on the deleted file then sees that the path no longer
    names the file it locked, and locks the path's current file instead, so two processes never hold
    the lock at once."""
    if url and database_url(url).startswith("postgresql"):
        with _advisory_lock(database_url(url)):
            yield lambda: None
        return
    path, removing = tune_dir / CLAIM_LOCK, []
    while True:
        f = open(path, "a+")
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            current = os.stat(path).st_ino == os.fstat(f.fileno()).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        f.close()  # its holder deleted it while this process waited: lock the path's file anew
    try:
        yield lambda: removing.append(True)
    finally:
        if removing:
            path.unlink(missing_ok=True)
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


@contextmanager
def _advisory_lock(url: str) -> Iterator[None]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    key = sqlalchemy.text("SELECT pg_advisory_lock(8027), 1")  # one fixed key: netfit's claim lock
    try:
        with engine.connect() as conn:
            conn.execute(key)
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(8027)"))
    finally:
        engine.dispose()


def release_lock(tune_dir: Path, url: str | None = None) -> None:
    """Delete the tune folder's lock file: this process claims no more trials. Safe while other
    workers still claim: the next one to lock makes the file anew."""
    with claim_lock(tune_dir, url) as remove:
        remove()


def claim(study: optuna.Study, tune_dir: Path, total: int, url: str | None = None) -> optuna.Trial | None:
    """Start the next trial, or None once `total` trials are done or running (exact across workers)."""
    with claim_lock(tune_dir, url):
        trials = study.get_trials(deepcopy=False)
        counted = [t for t in trials if t.state != TrialState.WAITING and not t.user_attrs.get("interrupted")]
        if len(counted) >= total:
            return None
        trial = study.ask()
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        return trial


def recover_interrupted(study: optuna.Study, storage: optuna.storages.BaseStorage, tune_dir: Path,
                        url: str | None = None) -> list[int]:
    """Trials left running by a process that no longer exists: mark them failed and run them again.

    They stay in the study (marked `interrupted`, not counted towards `tune.trials`); their
    sampled parameters are queued so the interrupted configuration is retried first.
    """
    recovered = []
    with claim_lock(tune_dir, url):
        study_id = storage.get_study_id_from_name(study.study_name)
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if _worker_alive(t.user_attrs.get("worker", "")):
                continue
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
            storage.set_trial_user_attr(trial_id, "interrupted", True)
            study.tell(t.number, state=TrialState.FAIL)
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
            recovered.append(t.number)
    return recovered


def _worker_alive(worker: str) -> bool:
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return host != socket.gethostname() and bool(host)  # another machine's worker: leave it alone
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
