"""The search-space grammar of `tune.space`: config paths mapped to distributions, checked up front.

Grammar (one key per entry)::

    train.optimizer.lr: {log_uniform: [1.0e-5, 1.0]}
    model.dropout:      {uniform: [0.0, 0.5]}
    train.epochs:       {int: [10, 40]}
    train.batch_size:   {choice: [32, 64, 128]}
    model.hidden:       {layers: [1, 3], units: {choice: [64, 128, 256]}}   # conditional widths

The last form samples a layer count, then one width per existing layer: `model.hidden.units_2`
exists only in trials with three layers (Optuna's define-by-run conditional parameters).
Sampling lives in `netfit.tune.space`; this module only says whether a space is valid.

The paths are checked against the schema passed in (the root `Config`), not one imported here:
the schema's own `tune.space` validator calls this module, so importing the schema back would
make a cycle.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

KINDS = ("uniform", "log_uniform", "int", "choice")


def check_space(space: dict[str, dict[str, Any]], schema: type[BaseModel]) -> list[str]:
    """Every problem of a space, one line each (empty when it is valid).

    Args:
        space: `tune.space`, config paths mapped to distributions.
        schema: the root config model whose fields the paths must name (`netfit.config.Config`).

    Example:
        >>> from netfit.config import Config
        >>> check_space({"model.dropout": {"uniform": [0.5, 0.1]}}, Config)
        ['tune.space.model.dropout: uniform: low 0.5 is above high 0.1']
    """
    problems = []
    for path, spec in space.items():
        problems += [f"tune.space.{path}: {p}" for p in _check_path(path, schema)]
        problems += [f"tune.space.{path}: {p}" for p in _check_entry(spec, allow_layers=True)]
    return problems


def section_type(annotation: Any) -> type[BaseModel] | None:
    """The section model inside a field's annotation (`X`, `X | None`, ...), or None for a setting."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = section_type(arg)
        if found:
            return found
    return None


def _check_path(path: str, schema: type[BaseModel]) -> list[str]:
    """The path must name a setting (a leaf) of the config schema, e.g. `train.optimizer.lr`."""
    model: type[BaseModel] | None = schema
    parts = path.split(".")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part) if model else None
        if field is None:
            return [f"not a config field (`{'.'.join(parts[:i + 1])}` does not exist); see docs/config.md"]
        model = section_type(field.annotation)
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
