"""The search space: config paths mapped to distributions, checked up front, sampled per trial.

Grammar (one key per entry)::

    train.optimizer.lr: {log_uniform: [1.0e-5, 1.0]}
    model.dropout:      {uniform: [0.0, 0.5]}
    train.epochs:       {int: [10, 40]}
    train.batch_size:   {choice: [32, 64, 128]}
    model.hidden:       {layers: [1, 3], units: {choice: [64, 128, 256]}}   # conditional widths

The last form samples a layer count, then one width per existing layer: `model.hidden.units_2`
exists only in trials with three layers (Optuna's define-by-run conditional parameters).
"""

from __future__ import annotations

import json
from typing import Any

KINDS = ("uniform", "log_uniform", "int", "choice")
_PRIMITIVE = (type(None), bool, int, float, str)


def check_space(space: dict[str, dict[str, Any]]) -> list[str]:
    """Every problem of a space, one line each (empty when it is valid)."""
    problems = []
    for path, spec in space.items():
        problems += [f"tune.space.{path}: {p}" for p in _check_path(path)]
        problems += [f"tune.space.{path}: {p}" for p in _check_entry(spec, allow_layers=True)]
    return problems


def _check_path(path: str) -> list[str]:
    """The path must name a setting (a leaf) of the config schema, e.g. `train.optimizer.lr`."""
    from netfit.config import Config, _section_type

    model = Config
    parts = path.split(".")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part) if model else None
        if field is None:
            return [f"not a config field (`{'.'.join(parts[:i + 1])}` does not exist); see docs/config.md"]
        model = _section_type(field.annotation)
        if model is not None and i == len(parts) - 1:
            return [f"is a whole section; name one of its fields, e.g. `{path}.{next(iter(model.model_fields))}`"]
    return []


def _check_entry(spec: Any, allow_layers: bool) -> list[str]:
    if not isinstance(spec, dict):
        return [f"expected a mapping like {{log_uniform: [1e-4, 1e-1]}}, found {spec!r}"]
    if allow_layers and "layers" in spec:
        return _check_layers(spec)
    if len(spec) != 1 or next(iter(spec)) not in KINDS:
        return [f"expected exactly one of {', '.join(KINDS)} (or layers + units), found keys {sorted(spec)}"]
    kind, arg = next(iter(spec.items()))
    if kind == "choice":
        ok = isinstance(arg, list) and len(arg) >= 1
        return [] if ok else [f"choice needs a non-empty list, found {arg!r}"]
    if not (isinstance(arg, list) and len(arg) == 2 and all(isinstance(v, (int, float)) for v in arg)):
        return [f"{kind} needs [low, high], found {arg!r}"]
    lo, hi = arg
    if lo > hi:
        return [f"{kind}: low {lo} is above high {hi}"]
    if kind == "log_uniform" and lo <= 0:
        return [f"log_uniform needs a positive low bound, found {lo}"]
    if kind == "int" and not all(float(v).is_integer() for v in arg):
        return [f"int needs whole-number bounds, found {arg!r}"]
    return []


def _check_layers(spec: dict[str, Any]) -> list[str]:
    if set(spec) != {"layers", "units"}:
        return [f"a layered entry takes exactly `layers` and `units`, found keys {sorted(spec)}"]
    problems = [f"layers: {p}" for p in _check_entry({"int": spec["layers"]}, allow_layers=False)]
    if not problems and spec["layers"][0] < 1:
        problems.append(f"layers: at least 1 layer, found {spec['layers'][0]}")
    return problems + [f"units: {p}" for p in _check_entry(spec["units"], allow_layers=False)]


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
