"""docs/config.md, generated from the schema."""

from __future__ import annotations

import yaml
from pydantic import BaseModel

from netfit.config.schema import Config
from netfit.config.space import section_type


def render_docs() -> str:
    """docs/config.md, generated from the schema (tests/test_config.py keeps it fresh)."""
    lines = [
        "# Config reference",
        "",
        "Generated from the schema in `src/netfit/config/` by `make docs`; do not edit by hand.",
        "Every field has a default; the smallest config is a data source and a target.",
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
            rows.append(f"| `{path}` | `{yaml.safe_dump(default, default_flow_style=True).strip().removesuffix('...').strip()}` | {field.description} |")
        if rows:
            lines.extend(["| field | default | meaning |", "|---|---|---|", *rows, ""])
        for section, path, desc in subsections:
            lines.extend([f"## `{path}`", "", desc or "", ""])
            walk(section, path + ".")

    walk(Config, "")
    return "\n".join(lines).rstrip() + "\n"
