"""Sampling the search space: one value per `tune.space` entry for each Optuna trial.

The grammar, and the up-front check that a space is valid, live in `netfit.config.space`
(a space is part of the config); `model.hidden: {layers: [1, 3], units: ...}` samples a layer
count, then one width per existing layer (`model.hidden.units_2` exists only in trials with
three layers: Optuna's define-by-run conditional parameters).
"""

from __future__ import annotations

import json
from typing import Any

_PRIMITIVE = (type(None), bool, int, float, str)


def sample(trial: Any, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Ask an Optuna trial for one value per entry; return config overrides {path: value}."""
    overrides = {}
    for path, spec in space.items():
        if "layers" in spec:
            n = trial.suggest_int(f"{path}.layers", *spec["layers"])
            overrides[path] = [_suggest(trial, f"{path}.units_{i + 1}", spec["units"]) for i in range(n)]
        else:
            overrides[path] = _suggest(trial, path, spec)
    return overrides


def _suggest(trial: Any, name: str, spec: dict[str, Any]) -> Any:
    kind, arg = next(iter(spec.items()))
    if kind == "uniform":
        return trial.suggest_float(name, float(arg[0]), float(arg[1]))
    if kind == "log_uniform":
        return trial.suggest_float(name, float(arg[0]), float(arg[1]), log=True)
    if kind == "int":
        return trial.suggest_int(name, int(arg[0]), int(arg[1]))
    if all(isinstance(v, _PRIMITIVE) for v in arg):
        return trial.suggest_categorical(name, arg)
    # Optuna stores only plain values; lists (e.g. whole `hidden` layouts) travel as JSON text
    return json.loads(trial.suggest_categorical(name, [json.dumps(v) for v in arg]))


def grid(space: dict[str, dict[str, Any]]) -> dict[str, list[Any]]:
    """The grid sampler's search space; only `choice` entries have a finite grid."""
    bad = [p for p, spec in space.items() if "choice" not in spec]
    if bad:
        from netfit.errors import ConfigError

        raise ConfigError("the grid sampler needs `choice` entries only", where="tune.space",
                          found=", ".join(bad), hint="use `sampler: tpe` or `random`, or list the values with `choice`")
    return {p: [v if isinstance(v, _PRIMITIVE) else json.dumps(v) for v in spec["choice"]] for p, spec in space.items()}
