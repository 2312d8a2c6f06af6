"""The report's data section: what was loaded, dropped, split and encoded, one builder for both paths.

The in-memory path counts from its tables (`memory_summary`); the streaming path counts while it
reads (`netfit.data.stream`) and adds a `streaming` block. Both hand their counts to `data_summary`,
which adds what the schema and the fitted preprocessor say::

    summary = data_summary(schema, pre, Counts(sources={"all": "data.csv"}, ...))
    summary["columns"]["numeric"], summary["split_sizes"]["val"]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from netfit.data.arrays import with_digests
from netfit.data.messages import warn
from netfit.data.prepared import LoadedTable, Split
from netfit.data.preprocess import Preprocessor, input_spec
from netfit.data.schema import Schema
from netfit.data.split import count_cross_duplicates


@dataclass
class Counts:
    """What a path counted while reading the data: the part of the summary the schema and the preprocessor do not hold."""

    sources: dict[str, str]  # split name ("all" for one source to split) -> the source's name
    rows_loaded: dict[str, int]
    rows_dropped: dict[str, int]  # reason -> rows
    missing_in_train: dict[str, int]  # column -> missing cells in the train split
    split_method: str
    split_sizes: dict[str, int]
    class_balance: dict[str, dict[str, int]] | None = None  # split -> class -> rows; None for regression
    unseen_categories: dict[str, dict[str, int]] = field(default_factory=dict)
    duplicates_across_splits: dict[str, int] = field(default_factory=dict)


def data_summary(schema: Schema, pre: Preprocessor, counts: Counts, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report's data section (JSON-safe); `extra` entries (streaming) come before the class balance."""
    used = pre.input_columns
    summary = {
        "sources": counts.sources,
        "rows_loaded": counts.rows_loaded,
        "rows_dropped": counts.rows_dropped,
        "task": pre.task,
        "target": schema.target,
        "classes": list(pre.classes),
        "columns": {kind: [c for c in used if schema.types[c] == kind] for kind in ("numeric", "categorical", "boolean")},
        "encoding": {"onehot": [c.name for c in pre.categoricals if c.onehot], "codes": pre.cat_names},
        "dropped_columns": {**schema.dropped, **pre.dropped},
        "missing_in_train": counts.missing_in_train,
        "split_method": counts.split_method,
        "split_sizes": counts.split_sizes,
        "n_num": pre.n_num,
        "input": input_spec(pre),  # image/sequence/text shape
        "cat_cardinalities": pre.cat_cardinalities,
        "unseen_categories": counts.unseen_categories,
        "duplicates_across_splits": counts.duplicates_across_splits,
        **(extra or {}),
    }
    if pre.task != "regression":
        summary["class_balance"] = counts.class_balance
    return summary


def memory_summary(tables: dict[str, LoadedTable], schema: Schema, pre: Preprocessor, dropped_rows: dict, method: str,
                   splits: dict[str, Split], frames: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """The data section of data held in memory: counted from its tables and splits."""
    used = pre.input_columns
    counts = Counts(
        sources={name: t.label for name, t in tables.items()},
        rows_loaded={name: t.rows for name, t in tables.items()},
        rows_dropped=dropped_rows,
        missing_in_train={c: int(n) for c, n in frames["train"][used].isna().sum().items() if n},
        split_method=method,
        split_sizes={name: len(s) for name, s in splits.items()},
        unseen_categories={name: pre.unseen_categories(f) for name, f in frames.items() if name != "train"},
        duplicates_across_splits=leakage(frames, schema),
    )
    if pre.task != "regression":
        counts.class_balance = {name: class_counts(s.y, pre.classes) for name, s in splits.items()}
    return data_summary(schema, pre, counts)


def split_validation(rows: int, split: Any, method: str, seed: int) -> dict[str, Any]:
    """Where validation came from when netfit split one source (`data.split`, a `SplitConfig`): the
    summary's `validation` entry, which the plan and the report print."""
    if rows:
        return {"from": "split", "rows": rows, "share": split.val, "method": method, "seed": seed}
    return {"from": "none", "rows": 0, "reason": "data.split.val: 0" if split.val == 0 else f"no row left for val ({method})"}


def describe_validation(validation: dict[str, Any] | None) -> str:
    """Where the validation rows come from, in words (`netfit check`'s plan and report.html print it);
    "" for a summary written before netfit recorded it."""
    v = validation or {}
    how = f"{v.get('method')}" + (f", seed {v.get('seed')}" if v.get("method") not in ("order", "column") else "")
    if v.get("from") == "carved":
        return (f"{v['rows']} rows carved from the training rows ({v['share']:.1%} = val/(train+val) of data.split, "
                f"{how}); data.split.val: 0 turns this off")
    if v.get("from") == "split":
        return f"{v['rows']} rows, {100 * v['share']:g}% of data.source ({how})"
    if v.get("from") == "column":
        return f"{v['rows']} rows marked val in data.split.column"
    if v.get("from") == "source":
        return f"{v['rows']} rows from the validation source"
    if v.get("from") == "none":
        return f"none ({v['reason']}): early stopping and restore_best are off"
    return ""


def class_counts(y: np.ndarray, classes: list[Any]) -> dict[str, int]:
    """{"label": rows} for every class, 0 included (keys as strings for JSON); rows of a label not
    seen in training (-1) are counted apart (`unseen_labels`)."""
    return dict(zip(map(str, classes), np.bincount(y[y >= 0], minlength=len(classes)).tolist()))


def leakage(frames: dict[str, pd.DataFrame], schema: Schema) -> dict[str, int]:
    """Rows shared across splits (same features and target), per pair of splits; a warning for each shared."""
    columns = schema.features + schema.arrays + [schema.target]
    counts = count_cross_duplicates({k: with_digests(f, schema.arrays) for k, f in frames.items()}, columns)
    for pair, n in counts.items():
        if n:
            first, second = pair.split("-")
            warn(f"{n} row(s) of the {second} split also occur in the {first} split (same features and target): "
                 f"its scores may be optimistic", where=f"{first} and {second} splits",
                 hint="data.preprocess.drop_duplicates: true removes exact duplicates")
    return counts
