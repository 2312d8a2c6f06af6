"""docs/config.md, generated from the schema."""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

from netfit.config.base import ImportPath
from netfit.config.schema import Config
from netfit.config.space import section_type


def render_docs() -> str:
    """docs/config.md, generated from the schema (tests/test_config.py keeps it fresh)."""
    lines = [
        "# Config reference",
        "",
        "Generated from the schema in `src/netfit/config/` by `make docs`; do not edit by hand.",
        "Every field has a default; the smallest config is a data source and a target. `allowed` lists the values",
        "a choice field takes.",
        "",
    ]

    def walk(model: type[BaseModel], prefix: str) -> None:
        rows = []
        subsections = []
        for name, field in model.model_fields.items():
            path = f"{prefix}{name}"
            section = section_type(field.annotation)
            if section is not None:
                subsections.append((section, path, field.description))
                continue
            default = field.get_default(call_default_factory=True)
            shown = yaml.safe_dump(default, default_flow_style=True).strip().removesuffix('...').strip()
            rows.append(f"| `{path}` | `{shown}` | {allowed_values(field.annotation)} | {field.description} |")
        if rows:
            lines.extend(["| field | default | allowed | meaning |", "|---|---|---|---|", *rows, ""])
        for section, path, desc in subsections:
            lines.extend([f"## `{path}`", "", desc or "", ""])
            walk(section, path + ".")

    walk(Config, "")
    return "\n".join(lines).rstrip() + "\n"


_WORDS = {int: "an integer", float: "a number", bool: "`true`, `false`", str: "a string", type(None): "`null`",
          list: "a list", dict: "a mapping"}


def allowed_values(annotation: Any) -> str:
    """The values a choice field takes, e.g. "`auto`, an integer"; empty for fields with no fixed choices."""
    choices, others = _choices(annotation)
    if not choices:
        return ""
    return ", ".join([f"`{c}`" for c in dict.fromkeys(choices)] + list(dict.fromkeys(others)))


def _choices(annotation: Any) -> tuple[list[Any], list[str]]:
    """(the Literal values inside `annotation`, words for its other members)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation == ImportPath:
        return [], ["your own `module:name`"]
    if origin is Literal:
        return list(args), []
    if origin is Annotated:
        return _choices(args[0])
    if origin in (Union, types.UnionType):
        parts = [_choices(a) for a in args]
        return [c for p in parts for c in p[0]], [w for p in parts for w in p[1]]
    if origin in (list, dict) and args:
        inner, _ = _choices(args[-1])
        return (inner, ["a list of these" if origin is list else "one per key"]) if inner else ([], [_WORDS[origin]])
    return [], [_WORDS.get(annotation, getattr(annotation, "__name__", "a value"))]
