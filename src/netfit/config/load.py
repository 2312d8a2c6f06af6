"""Loading: YAML or a dict, overrides, validation, and one ConfigError listing every problem.

`load_config` reads YAML (or takes a dict or a `Config`), applies overrides
(`train.optimizer.lr=3e-4`), validates everything at once and raises one `ConfigError`
listing every problem, with the closest valid key for a typo.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel, ValidationError

from netfit.config.data import DEFAULT_TARGET, SKLEARN_DATASETS
from netfit.config.schema import Config
from netfit.config.space import section_type
from netfit.errors import ConfigError
from netfit.io import similar_file


def load_config(
    config: "str | Path | Mapping[str, Any] | Config | None",
    overrides: "Mapping[str, Any] | list[str] | None" = None,
    *,
    require_data: bool = True,
    trained: bool = False,
) -> Config:
    """Read, override and validate a config; raise one ConfigError listing every problem.

    Args:
        config: a YAML path, a dict, a `Config`, or None (all defaults).
        overrides: `{"train.optimizer.lr": 3e-4}` or `["train.optimizer.lr=3e-4"]`;
            keys may also use `__` instead of dots (`train__epochs`).
        require_data: when True a data source must be configured.
        trained: the config.yaml of a trained run, read to use its model (predict, serve, export):
            checks of how to train (a monitor's direction, the names of your metrics) are skipped,
            so that a run folder an earlier netfit saved still loads. Training (resume too) checks them.

    Example:
        >>> cfg = load_config({"data": {"source": "sklearn:iris"}}, ["train.epochs=5"])
        >>> cfg.train.epochs
        5
    """
    where = None
    if isinstance(config, Config):
        raw = config.to_dict()
    elif config is None:
        raw = {}
    elif isinstance(config, Mapping):
        raw = _deep_copy(config)
    else:
        where = str(config)
        raw = _read_yaml(Path(config))
    parsed = _parse_overrides(overrides)
    for key, (value, _) in parsed.items():
        _set_path(raw, key, value)
    if trained:
        _fill_fields_added_since(raw)
    try:
        cfg = Config.model_validate(raw, context={"trained": trained})
    except ValidationError as e:
        problems, causes = [], []
        for err in e.errors():
            cause = _override_behind(_location(err), parsed)  # a problem an override made is reported there
            problems.append(_describe(err) + (f" (from {cause})" if cause and where else ""))
            causes.append(cause or where)
        raise ConfigError(
            f"invalid config ({len(problems)} problem{'s' * (len(problems) > 1)})",
            where=", ".join(dict.fromkeys(c for c in causes if c)) or None,
            problems=problems,
            hint="fix the fields listed; `netfit check CONFIG` validates without training, docs/config.md lists every field",
        ) from None
    missing = _find_data_files(cfg, Path(where)) if where and not trained else None
    if require_data:
        _check_data_given(cfg, where)
        if missing:
            raise missing
    return _resolve(cfg)


def _find_data_files(cfg: Config, config_path: Path) -> ConfigError | None:
    """A relative data path missing from the current folder is read beside the config file when it is
    there (the resolved config then holds that path); the error for one missing from both, if any."""
    for field in ("source", "train", "val", "test"):
        value = getattr(cfg.data, field)
        if not value or value.startswith(("sklearn:", "synthetic:", "<")) or Path(value).is_absolute() \
                or Path(value).exists():
            continue
        beside = config_path.parent / value
        if beside.exists():
            setattr(cfg.data, field, str(beside))
            continue
        tried = dict.fromkeys([os.path.abspath(value), os.path.abspath(beside)])  # one place when they agree
        near = similar_file(beside) or similar_file(value)
        return ConfigError(
            "data file not found", where=f"{config_path}: data.{field}",
            expected="a file or folder at that path, relative to the current folder or to the config's folder",
            found="nothing at " + " nor at ".join(tried),
            hint=f"did you mean `{Path(value).parent / near.name}`?" if near else "check the path, or give an absolute one")
    return None


# fields whose default changed when they were added (issue 17): a run folder saved before them
# trained with the value on the right, not with today's default
_ADDED_SINCE = {"model": {"numeric_embedding": "none", "ensemble": 1}, "data.preprocess": {"clip": None}}


def _fill_fields_added_since(raw: dict) -> None:
    for section, fields in _ADDED_SINCE.items():
        node = raw
        for key in section.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            for field, value in fields.items():
                node.setdefault(field, value)


def _resolve(cfg: Config) -> Config:
    """Fill defaults that depend on other fields (the resolved config is what gets saved)."""
    src = cfg.data.source or cfg.data.train or ""
    if cfg.data.target is None and _names_its_target(src):
        cfg.data.target = DEFAULT_TARGET
    return cfg


def _names_its_target(source: str) -> bool:
    """Bundled, generated, array and image-folder data call their label column `target`."""
    return source.startswith(("sklearn:", "synthetic:")) or source.endswith(".npz") or bool(source) and Path(source).is_dir()


def _check_data_given(cfg: Config, where: str | None) -> None:
    if not (cfg.data.source or cfg.data.train):
        raise ConfigError(
            "no data configured",
            where=where,
            expected="data.source (or data.train)",
            found="neither",
            hint="add `data: {source: sklearn:digits}` or a CSV/Parquet/NPZ path, or pass data= in Python",
        )
    src = cfg.data.source or cfg.data.train or ""
    if src.startswith("sklearn:") and src.split(":", 1)[1] not in SKLEARN_DATASETS:
        raise ConfigError(
            "unknown bundled data set",
            where=f"{where or 'config'}: data.source",
            expected=", ".join(f"sklearn:{n}" for n in SKLEARN_DATASETS),
            found=src,
            hint="`netfit datasets` lists the bundled data sets",
        )
    if cfg.data.target is None and not (src.startswith("<") or _names_its_target(src)):
        raise ConfigError(
            "no target column configured",
            where=f"{where or 'config'}: data.target",
            expected="the name of the column to predict",
            found="nothing",
            hint="add `target: COLUMN` under `data:`",
        )


def read_yaml_text(text: str) -> Any:
    """yaml.safe_load through libyaml's C parser when PyYAML has it (10x faster: a run's
    config.yaml took 35 ms in pure Python, and every load of a run reads it), the same safe
    constructors either way."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(
            "config file not found",
            where=str(path),
            hint="check the path; `netfit check CONFIG` validates a config without training",
        )
    try:
        raw = read_yaml_text(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        loc = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(
            "config is not valid YAML",
            where=loc,
            found=str(getattr(e, "problem", e)),
            hint="check indentation and quoting near that line",
        ) from None
    if raw is None:
        raise ConfigError("config file is empty", where=str(path), expected="a YAML mapping with at least `data:`",
                          hint="start from examples/digits_mlp.yaml")
    if not isinstance(raw, dict):
        raise ConfigError("config must be a YAML mapping", where=str(path), found=type(raw).__name__,
                          hint="write `key: value` pairs, e.g. `data: {source: sklearn:digits}`")
    return raw


def _parse_overrides(overrides: "Mapping[str, Any] | list[str] | None") -> dict[str, tuple[Any, str]]:
    """{dotted key: (value, how the user wrote it)}; the second names the override in errors."""
    if not overrides:
        return {}
    if isinstance(overrides, Mapping):
        return {k.replace("__", "."): (v, f"override {k}={v!r}") for k, v in overrides.items()}
    parsed: dict[str, tuple[Any, str]] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("override must look like KEY=VALUE", where="--set", found=item,
                              hint="e.g. --set train.optimizer.lr=3e-4")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        parsed[key.strip()] = (value, f"--set {item}")
    return parsed


def _override_behind(path: str, parsed: Mapping[str, tuple[Any, str]]) -> str | None:
    """The override that wrote the field at `path` (or a section above or below it), if any."""
    for key, (_, label) in parsed.items():
        if f"{key}.".startswith(f"{path}.") or f"{path}.".startswith(f"{key}."):
            return label
    return None


def _set_path(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as {"a.b.c": value}, the inverse of the dotted override paths (config
    differences, hyperparameters for loggers).

    Example:
        >>> flatten({"train": {"epochs": 5, "optimizer": {"lr": 1e-3}}})
        {'train.epochs': 5, 'train.optimizer.lr': 0.001}
    """
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        out.update(flatten(value, path) if isinstance(value, dict) and value else {path: value})
    return out


def _deep_copy(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _deep_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_deep_copy(v) for v in obj]
    return obj


def _describe(err: Mapping[str, Any]) -> str:
    """One readable line per validation error: field path, value found, what is allowed."""
    loc = [p for p in _location(err).split(".") if p]
    path = ".".join(loc) or "config"
    if err["type"] == "extra_forbidden":
        suggestion = _closest_key(loc)
        hint = f"; did you mean `{suggestion}`?" if suggestion else ""
        return f"{path}: unknown field{hint}"
    msg = err["msg"].removeprefix("Value error, ")
    found = err.get("input")
    if isinstance(found, (dict, list)) or err["type"] == "missing":
        return f"{path}: {msg}"
    return f"{path}: {msg} (found {found!r})"


def _location(err: Mapping[str, Any]) -> str:
    """The dotted config path of a validation error, e.g. `train.optimizer.lr`."""
    loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-after", "function-before"))]
    # pydantic adds the member of a Union it tried; drop those technical path parts
    return ".".join(p for p in loc if not p.startswith(("literal[", "dict[", "tagged-union", "bool", "EarlyStopping",
                                                         "Convergence")))


def _closest_key(loc: list[str]) -> str | None:
    model: type[BaseModel] | None = Config
    for part in loc[:-1]:
        field = model.model_fields.get(part) if model else None
        model = section_type(field.annotation) if field else None
    if model is None:
        return None
    match = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1, cutoff=0.5)
    return ".".join(loc[:-1] + match) if match else None
