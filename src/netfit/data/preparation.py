"""Prepare the data of a run: load, clean, split and preprocess it with statistics fitted on train only.

A source larger than `data.memory_budget` streams (`netfit.data.stream`); everything else is
held in memory and prepared here::

    prepared = prepare(cfg.data, seed=cfg.seed)
    prepared.splits["train"].x_num.shape
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from netfit.config import DataConfig
from netfit.data.arrays import build_encoder
from netfit.data.messages import row_where, warn
from netfit.data.prepared import LoadedTable, Prepared, Split
from netfit.data.preprocess import Preprocessor
from netfit.data.schema import Schema, build_schema, clean_rows, coerce_frame, infer_task
from netfit.data.sources import frame_from_data, frame_sha256, load_table, source_sha256
from netfit.data.split import ROW_COLUMN, SPLITS, split_rows, validate_split_columns
from netfit.data.stream import prepare_stream, release_memory, should_stream
from netfit.data.summary import memory_summary, split_validation
from netfit.data.values import category_strings, normalise_labels
from netfit.errors import DataError, collect_warnings, short_list


def prepare(cfg: DataConfig, seed: int, data: Any = None, need_test: bool = True) -> Prepared:
    """Load, clean, split and preprocess the data of a run.

    Args:
        cfg: `data` section of the config.
        seed: the run's seed; the same seed gives the same split.
        data: in-memory data in place of `cfg.source` (DataFrame, `(X, y)`, dict of splits).
        need_test: False leaves the test split out (tuning); a separate test source is not read.

    Returns:
        `Prepared` with splits "train", "val" (possibly empty) and "test" (when need_test).

    Raises:
        DataError: the data cannot be read, cleaned or split as configured.
    """
    with collect_warnings() as caught:
        if data is None and should_stream(cfg):
            prepared = prepare_stream(cfg, seed, need_test)
        else:
            prepared = _prepare(cfg, seed, data, need_test)
    prepared.summary["warnings"] = [str(w) for w in caught]
    return prepared


def _prepare(cfg: DataConfig, seed: int, data: Any, need_test: bool) -> Prepared:
    tables = _load_tables(cfg, data, need_test)
    main = tables.get("all") or tables["train"]
    carving = carves_val(cfg, tables)
    if carving:  # validation is carved from the training source, split by its group/order/id columns if any
        cfg = cfg.model_copy(update={"split": cfg.split.carving()})
    schema = build_schema(main.frame, cfg, main.label, splitting="all" in tables or carving)
    frames, dropped_rows = _clean_tables(tables, schema, cfg)
    # the training data alone decides the task and classes (as it decided the column types): the one
    # source netfit splits, or data.train; never a val or test source, read or not (tuning)
    task, classes = infer_task(frames["all" if "all" in frames else "train"][schema.target], cfg.task, main.label,
                                kind=schema.kind)
    rows, method, split_frames, validation = _split(frames, cfg, seed, schema, task)
    if cfg.split.calibration and len(split_frames.get("val", ())):
        validation["calibration"] = _carve_calibration(rows, split_frames, cfg, seed, schema, task)
    del frames  # a split source's whole table: its rows now live in split_frames
    pre = Preprocessor(schema.types, schema.target, task, cfg.preprocess, schema.weight)
    pre.array = build_encoder(cfg, schema.kind, schema.arrays)  # images, sequences, text; None for tables
    pre.fit(split_frames["train"], classes, where=f"{main.label} (train split)")
    wanted = [name for name in SPLITS if name != "test" or need_test] + [n for n in ("calibration",) if n in split_frames]
    labels = {name: tables[name].label if name in tables else (tables["val"].label if "val" in tables and
                                                                name == "calibration" else main.label) for name in wanted}
    splits = _transform(pre, split_frames, rows, wanted, labels)
    summary = memory_summary(tables, schema, pre, dropped_rows, method, splits,
                             {name: split_frames[name] for name in wanted if name in split_frames})
    summary["rows_used"] = int(sum(len(r) for r in rows.values()))  # after cleaning, every split
    summary["validation"] = validation
    summary["unseen_labels"] = {name: unseen_label_counts(s) for name, s in splits.items() if s.unseen is not None}
    prepared = Prepared(task, splits, pre, summary, _fingerprint(tables, rows))
    del split_frames
    release_memory()  # the tables' freed pages (glibc keeps them otherwise: several times the data)
    return prepared


# ---------------------------------------------------------------- steps
def _load_tables(cfg: DataConfig, data: Any, need_test: bool) -> dict[str, LoadedTable]:
    """{"all": table} for one source to split, else {"train": ..., "val": ..., "test": ...}."""
    if data is not None:
        loaded = frame_from_data(data, cfg)
        frames = loaded if isinstance(loaded, dict) else {"all": loaded}
        return {name: LoadedTable(f, "<data>" if name == "all" else f"<data[{name!r}]>", frame_sha256(f))
                for name, f in frames.items() if name != "test" or need_test}
    if not (cfg.source or cfg.train):
        raise DataError("no data configured", where="data", expected="data.source (or data.train), or data= in Python",
                        hint="add `source: sklearn:digits` (or a CSV/Parquet/NPZ path) under data:")
    sources = {"all": cfg.source} if cfg.source else {"train": cfg.train, "val": cfg.val, "test": cfg.test}
    # with need_test False the test source is never opened: tuning cannot peek at it
    return {name: LoadedTable(*_read(source, cfg))
            for name, source in sources.items() if source and (name != "test" or need_test)}


def _read(source: str, cfg: DataConfig) -> tuple[pd.DataFrame, str, str]:
    frame = load_table(source, cfg)
    return frame, source, source_sha256(source, frame)


def _clean_tables(tables: dict[str, LoadedTable], schema: Schema, cfg: DataConfig) -> tuple[dict, dict]:
    """Coerce types, then drop unusable rows of each table; counts summed over tables."""
    frames, dropped = {}, {}
    for name, table in tables.items():
        frame = coerce_frame(table.frame, schema, table.label)
        table.rows, table.frame = len(table.frame), None
        if name == "all" or (name == "train" and carves_val(cfg, tables)):
            frame = validate_split_columns(frame, cfg.split, table.label)  # row numbers still match the file
            frame = frame.assign(**{ROW_COLUMN: np.arange(len(frame))})  # the hash split hashes a row's number in the file
        frame, counts = clean_rows(frame, schema, cfg.preprocess.drop_duplicates)
        for reason, n in counts.items():
            dropped[reason] = dropped.get(reason, 0) + n
        if len(frame) == 0 and name in ("all", "train"):
            raise DataError("no rows left after cleaning", where=f"{table.label}: column {schema.target!r}",
                            found=f"all {table.rows} rows have a missing target",
                            hint="check that data.target names the label column and that it is filled in")
        frames[name] = frame
    return frames, dropped


def carves_val(cfg: DataConfig, tables: dict[str, Any]) -> bool:
    """Separate sources without a validation source: validation is carved from the training rows
    (unless `data.split.val` is 0). A split column without `val` rows carves too (`_split`)."""
    return "all" not in tables and "val" not in tables and cfg.split.val > 0


def _split(frames: dict[str, pd.DataFrame], cfg: DataConfig, seed: int, schema: Schema, task: str):
    """Row positions, the method used, the rows of each split as tables, and where validation came from."""
    if "all" not in frames:
        rows, method, split_frames = {name: np.arange(len(f)) for name, f in frames.items()}, "sources", dict(frames)
        validation = {"from": "source", "rows": len(frames["val"])} if "val" in frames else None
    else:
        table = frames["all"]
        labels = None if task == "regression" else normalise_labels(table[schema.target])
        result = split_rows(table, cfg.split, seed, labels, positions=table.pop(ROW_COLUMN).to_numpy())
        rows, method = result.rows, result.method
        split_frames = {name: table.iloc[r] for name, r in rows.items()}
        if method != "column":
            return rows, method, split_frames, split_validation(len(rows["val"]), cfg.split, method, seed)
        # a split column without val rows carves validation from its train rows, as separate sources do
        validation = {"from": "column", "rows": len(rows["val"])} if len(rows["val"]) else None
    if validation is None and cfg.split.val > 0:
        validation = _carve_val(rows, split_frames, cfg, seed, schema, task)
    elif validation is None or not validation["rows"]:  # data.split.val: 0, or a validation source left empty
        reason = "data.split.val: 0" if validation is None else "the validation source has no rows left after cleaning"
        validation = {"from": "none", "rows": 0, "reason": reason}
    return rows, method, split_frames, validation


def _carve_val(rows: dict[str, np.ndarray], frames: dict[str, pd.DataFrame], cfg: DataConfig, seed: int,
               schema: Schema, task: str) -> dict[str, Any]:
    """Hold out val/(train+val) of the training rows for validation (seeded, stratified where it fits,
    by group/order when configured); rows and frames are changed in place."""
    train = frames["train"]
    carving = cfg.split.carving()
    labels = None if task == "regression" else normalise_labels(train[schema.target])
    positions = train.pop(ROW_COLUMN).to_numpy() if ROW_COLUMN in train else np.arange(len(train))
    result = split_rows(train, carving, seed, labels, positions=positions)
    picked = {name: result.rows[name] for name in ("train", "val")}
    rows["train"], rows["val"] = (rows["train"][picked[name]] for name in ("train", "val"))
    frames["train"], frames["val"] = (train.iloc[picked[name]] for name in ("train", "val"))
    return {"from": "carved", "rows": len(picked["val"]), "share": carving.val, "method": result.method, "seed": seed}


def _carve_calibration(rows: dict[str, np.ndarray], frames: dict[str, pd.DataFrame], cfg: DataConfig, seed: int,
                       schema: Schema, task: str) -> dict[str, Any]:
    """Hold out `data.split.calibration` of the validation rows for calibration alone (seeded, stratified
    where it fits, by group when configured); rows and frames gain "calibration" in place."""
    val = frames["val"]
    labels = None if task == "regression" else normalise_labels(val[schema.target])
    carving = cfg.split.calibration_carving()
    too_few = DataError("the calibration split would leave no rows", where="data.split.calibration",
                        found=f"{len(val)} validation rows, calibration share {cfg.split.calibration}",
                        hint="give more validation rows (data.split.val), or a calibration share nearer 0.5")
    try:
        result = split_rows(val.reset_index(drop=True), carving, seed + 1, labels.reset_index(drop=True)
                            if labels is not None else None, positions=np.asarray(rows["val"]))
    except DataError:  # the carve's own message would name data.split.val and test, which it does not split
        raise too_few from None
    picked = {"val": result.rows["train"], "calibration": result.rows["val"]}
    if not len(picked["calibration"]) or not len(picked["val"]):
        raise too_few
    rows["val"], rows["calibration"] = (np.asarray(rows["val"])[picked[n]] for n in ("val", "calibration"))
    frames["val"], frames["calibration"] = (val.iloc[picked[n]] for n in ("val", "calibration"))
    return {"rows": int(len(picked["calibration"])), "share": cfg.split.calibration, "method": result.method,
            "seed": seed + 1}


def _transform(pre: Preprocessor, frames: dict[str, pd.DataFrame], rows: dict[str, np.ndarray],
               wanted: list[str], labels: dict[str, str]) -> dict[str, Split]:
    """Encode each wanted split; one without rows (no val source, fraction 0) is empty.

    A class label of the validation split that training does not hold is a DataError (the model
    could never be right there, and early stopping would chase it); in the test split it is a
    warning: such rows are kept with class -1 and count as wrong.
    """
    splits = {}
    for name in wanted:
        frame = frames.get(name, frames["train"].iloc[:0])
        where = f"{labels[name]} ({name} split)"
        if name in ("val", "calibration"):
            _refuse_unseen_labels(pre, frame, labels[name])
        splits[name] = pre.transform(frame, where=where, unseen_labels="mark" if name == "test" else "error")
        splits[name].rows = np.asarray(rows.get(name, []), dtype=np.int64)
        if splits[name].unseen is not None:
            counts = unseen_label_counts(splits[name])
            warn(f"{sum(counts.values())} row(s) hold labels not seen in training: "
                 f"{short_list(f'{label!r} ({n} rows)' for label, n in counts.items())}; the model cannot predict "
                 f"them, so they count as wrong in the test metrics (listed in report.json: test.unseen_labels)",
                 where=where, hint="add rows of those classes to the training data, or remove them from the test data")
    return splits


def _refuse_unseen_labels(pre: Preprocessor, frame: pd.DataFrame, source: str) -> None:
    if pre.task == "regression" or not len(frame):
        return
    unseen = pre.label_codes(frame[pre.target]) < 0
    if not unseen.any():
        return
    counts = category_strings(frame[pre.target][unseen]).value_counts().sort_index()
    raise DataError("validation labels not seen in training", where=row_where(source, pre.target, int(np.argmax(unseen))),
                    expected=f"one of the training classes {short_list(repr(c) for c in pre.classes)}",
                    found=short_list(f"{label!r} ({n} rows)" for label, n in counts.items()),
                    hint="a model is validated only on classes it can predict: remove those rows from the validation "
                         "data, or add rows of those classes to the training data (data.train)")


def unseen_label_counts(split: Split) -> dict[str, int]:
    """{label: rows} of a split's labels not seen in training, sorted by label."""
    labels = pd.Series(split.unseen[split.unseen != None])  # noqa: E711 (elementwise on an object array)
    return {str(label): int(n) for label, n in labels.value_counts().sort_index().items()}


def _fingerprint(tables: dict[str, LoadedTable], rows: dict[str, np.ndarray]) -> dict[str, str]:
    """sha256 of the data (file bytes, or table values) and of the split's row positions."""
    data = hashlib.sha256("".join(f"{name}:{t.sha256};" for name, t in sorted(tables.items())).encode())
    split = hashlib.sha256()
    for name in SPLITS:
        split.update(name.encode() + np.asarray(rows.get(name, []), dtype="<i8").tobytes())
    fingerprint = {"data": tables["all"].sha256 if "all" in tables else data.hexdigest(), "split": split.hexdigest()}
    fingerprint.update({f"data.{name}": t.sha256 for name, t in tables.items() if name != "all"})
    return fingerprint
