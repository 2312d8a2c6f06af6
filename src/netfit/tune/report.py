"""tune_report.json and the terminal table: every trial, the best one, importances, the final test."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from netfit.config import Config
from netfit.io import write_json

# Importances from fewer complete trials than this carry a caveat: fANOVA's forest, fitted on a handful
# of points, ranks parameters by noise as readily as by effect (one reshuffled trial can swap the order).
STEADY_IMPORTANCE_TRIALS = 20


def best_trial(study: optuna.Study, cfg: Config) -> FrozenTrial | None:
    """The best complete trial; for several metrics, the Pareto-front trial best on the first one."""
    from netfit.tune.study import objectives

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    if len(study.directions) == 1:
        return study.best_trial
    sign = 1 if objectives(cfg)[1][0] == "minimize" else -1
    return min(study.best_trials, key=lambda t: sign * t.values[0])


def trial_row(t: FrozenTrial) -> dict[str, Any]:
    """One trial as the report lists it."""
    duration = t.duration.total_seconds() if t.duration is not None else None
    row = {"number": t.number, "state": t.state.name, "values": t.values, "params": t.params,
           "value": t.values[0] if t.values else None,  # the primary metric (what report.html plots)
           "duration_s": round(duration, 3) if duration is not None else None,
           "epochs": t.user_attrs.get("epochs"), "stop_reason": t.user_attrs.get("stop_reason"),
           "pruned_epoch": t.user_attrs.get("pruned_epoch"), "run": t.user_attrs.get("run"),
           "worker": t.user_attrs.get("worker")}
    if t.user_attrs.get("interrupted"):
        row["interrupted"] = True
    if "retry_of" in t.user_attrs:
        row["retry_of"] = t.user_attrs["retry_of"]
    return row


def importances(study: optuna.Study) -> dict[str, float] | None:
    """Optuna's parameter importances (first metric) over parameters every complete trial has."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return None
    shared = set.intersection(*(set(t.params) for t in complete))
    varied = sorted(p for p in shared if len({repr(t.params[p]) for t in complete}) > 1)
    if not varied:
        return None
    target = None  # one metric: Optuna follows the study's direction
    if len(study.directions) > 1:  # the first metric, which Optuna's evaluator treats as lower-is-better
        sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
        target = lambda t: sign * t.values[0]  # noqa: E731
    with warnings.catch_warnings():  # its note that it minimises `target`: the sign above sees to that
        warnings.filterwarnings("ignore", message=".*importances of params to achieve low `target` values")
        found = optuna.importance.get_param_importances(study, params=varied, target=target)
    return {k: round(float(v), 4) for k, v in found.items()}


def importances_note(n_complete: int) -> str | None:
    """The caveat on importances resting on few complete trials, or None when there are enough."""
    if n_complete >= STEADY_IMPORTANCE_TRIALS:
        return None
    return f"rough: from {n_complete} complete trials; {STEADY_IMPORTANCE_TRIALS} or more make them steadier"


def write_report(tune_dir: Path, study: optuna.Study, cfg: Config, best: FrozenTrial, final: Any) -> dict[str, Any]:
    """Write tune_report.json and return it."""
    from netfit.tune.study import objectives, pruning_on

    metrics, directions = objectives(cfg)
    trials = study.get_trials(deepcopy=False)
    counts = {s.name: sum(t.state == s for t in trials) for s in TrialState if any(t.state == s for t in trials)}
    report = {
        "tune_dir": str(tune_dir),
        "metrics": metrics,
        "directions": directions,
        "metric": metrics[0],
        "direction": directions[0],
        "sampler": cfg.tune.sampler,
        "pruner": cfg.tune.pruner if pruning_on(cfg) else "none",
        "trials_requested": cfg.tune.trials,
        "counts": counts,
        "trials": [trial_row(t) for t in trials],
        "best": {"number": best.number, "values": best.values, "value": best.values[0], "params": best.params,
                 "config": "best.yaml", "tuned": "best_params.yaml", "run": best.user_attrs.get("run")},
        "importances": importances(study),
        "importances_note": importances_note(sum(t.state == TrialState.COMPLETE for t in trials)),
        "pareto_front": [trial_row(t) for t in study.best_trials] if len(metrics) > 1 else None,
        "final": {"run": str(Path(final.path).relative_to(tune_dir)), "test": (final.report.get("test") or {}).get("metrics")},
    }
    write_json(tune_dir / "tune_report.json", report)
    return report


def trial_table(report: dict[str, Any]):
    """A rich table of the trials, the best marked, with importances and the final test below."""
    from rich.table import Table

    table = Table(title=f"trials ({', '.join(f'{m} {d}' for m, d in zip(report['metrics'], report['directions']))})")
    for col in ("#", "state", "value", "epochs", "seconds", "params"):
        table.add_column(col)
    for row in report["trials"]:
        mark = " *" if row["number"] == report["best"]["number"] else ""
        value = ", ".join(f"{v:.4f}" for v in row["values"]) if row["values"] else "-"
        params = ", ".join(f"{k}={_short(v)}" for k, v in row["params"].items())
        seconds = f"{row['duration_s']:.1f}" if row["duration_s"] is not None else "-"
        table.add_row(f"{row['number']}{mark}", row["state"].lower(), value, str(row["epochs"] or "-"), seconds, params)
    return table


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
