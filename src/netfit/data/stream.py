"""Streaming: train on a Parquet file or folder larger than `data.memory_budget`.

The source is read in row groups (pyarrow.dataset), never whole. Each row's split comes from a
seeded hash of its row number (or `split.id_column`), so every pass sees the same rows in the
same split (`split.method: hash`; the in-memory path splits the same rows with it)::

    prepared = prepare(cfg.data, seed)            # `netfit.data.preparation.prepare` calls `prepare_stream`
    prepared.stream                               # TrainStream: the training rows, len() of them
    for block in prepared.stream.blocks(seed=7, batch_size=256): ...   # shuffled, preprocessed

Passes over the source:
1. statistics: one pass keeps exact counts, means, spreads, extremes and categories of the
   training rows (`TrainStats`), and a seeded sample of them for medians and quartiles;
2. validation and test rows, preprocessed, are collected (they must fit in the budget);
3. every epoch: row groups in a seeded order, their training rows through a shuffle buffer of
   `data.shuffle_buffer` rows (default: an eighth of the budget), in shuffled blocks. The rows are
   kept to the training split in Arrow; a table of numbers only skips pandas altogether
   (`_Reader.train_rows`), so the read-ahead thread seldom holds the GIL the training thread needs.

This module runs the passes; the row groups are read by `netfit.data.parquet`, the statistics
kept by `netfit.data.stats`, the epochs shuffled by `netfit.data.shuffle`, and the report's data
section built by `netfit.data.summary`, as for data in memory.

What streaming leaves out: dropping duplicates (needs every row at once), group/order/column
splits, image/sequence/text data, and the count of rows shared across splits.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from netfit.config import DataConfig
from netfit.data.messages import DataWarning, warn
from netfit.data.parquet import Chunk, arrow_frame, is_parquet_folder, parquet_chunks, read_chunk, read_slices, table_bytes
from netfit.data.prepared import Prepared, Split
from netfit.data.preprocess import Preprocessor
from netfit.data.schema import Schema, build_schema, clean_rows, coerce_frame
from netfit.data.shuffle import TrainStream, concat_splits
from netfit.data.sources import file_sha256, folder_sha256
from netfit.data.split import ROW_COLUMN, SPLITS, hash_split
from netfit.data.stats import LabelTally, TrainStats
from netfit.data.summary import Counts, class_counts, data_summary, split_validation
from netfit.errors import ConfigError, DataError

HEAD_ROWS = 50_000  # rows read first to infer column types (the task comes from every row)
SAMPLE_ROWS = 200_000  # at most this many training rows kept for medians, quartiles and baselines


def should_stream(cfg: DataConfig) -> bool:
    """A Parquet `data.source` whose uncompressed size exceeds `data.memory_budget`."""
    if cfg.memory_budget is None or not cfg.source:
        return False
    path = Path(cfg.source)
    if not (path.suffix.lower() == ".parquet" and path.is_file()) and not is_parquet_folder(path):
        return False
    return table_bytes(parquet_chunks(cfg.source), cfg.source) > cfg.memory_budget


class _Rows:
    """A split's preprocessed rows, written chunk by chunk into arrays of their final size (no concatenation copy)."""

    def __init__(self, n: int):
        self.n, self.filled, self.split = n, 0, None

    def add(self, part: Split) -> None:
        fields = ("x_num", "x_cat", "y", "w", "rows")
        if self.split is None:
            self.split = Split(*(None if getattr(part, f) is None else
                                 np.empty((self.n, *getattr(part, f).shape[1:]), getattr(part, f).dtype) for f in fields))
        for f in fields:
            if getattr(part, f) is not None:
                getattr(self.split, f)[self.filled:self.filled + len(part)] = getattr(part, f)
        self.filled += len(part)


# ---------------------------------------------------------------- prepare
class _Reader:
    """Reads a chunk in slices of READ_SLICE_ROWS rows (bounding the working memory of a row group of any
    size): cleaned tables, each with its rows' split codes (0 train, 1 val, 2 test)."""

    def __init__(self, cfg: DataConfig, seed: int, schema: Schema):
        self.cfg, self.seed, self.schema = cfg, seed, schema
        self.columns = list(dict.fromkeys(schema.used_columns))

    def __call__(self, chunk: Chunk, only: int | None = None) -> Iterator[tuple[pd.DataFrame, np.ndarray, dict[str, int]]]:
        """`only`: a split code; rows split by row number are then kept to that split's in Arrow, before
        any pandas work (an epoch reads its training rows: 70% of the rows cost 70% of the encoding)."""
        for table, rows, where in self._slices(chunk, only):
            frame, dropped = self._frame(table, rows, where)
            ids = frame[self.cfg.split.id_column] if self.cfg.split.id_column else frame[ROW_COLUMN].to_numpy()
            yield frame, hash_split(ids, self.cfg.split, self.seed), dropped

    def train_rows(self, chunk: Chunk, pre: Preprocessor) -> Iterator[Split]:
        """A chunk's training rows, encoded. A table of numbers (`pre.numbers_only`, numeric Arrow
        columns, split by row number) goes from Arrow to numpy without pandas: the read-ahead thread
        then holds the GIL a fraction of the time, and the training thread beside it runs at full speed."""
        source, names = self.cfg.source, [c.name for c in pre.numeric]
        if not pre.numbers_only or self.cfg.split.id_column:
            for frame, codes, _ in self(chunk, only=0):
                yield _encode(pre, frame[codes == 0] if codes.any() else frame, source, "train")  # a selection copies
            return
        for table, rows, where in self._slices(chunk, only=0):
            if not all(_numeric_arrow(table.schema.field(c).type) for c in names):
                yield _encode(pre, self._frame(table, rows, where)[0], source, "train")  # numbers stored as text
                continue
            target = table.column(self.schema.target)
            if _numeric_arrow(target.type):
                y = _floats(target)
                keep = np.isfinite(y)  # clean_rows drops a missing target; coercion reads +/-inf as missing
            else:  # class labels as text or booleans: this one column through pandas
                y = target.to_pandas().to_numpy(dtype=object)
                keep = pd.notna(y)
            x = np.column_stack([_floats(table.column(c))[keep] for c in names])
            x[np.isinf(x)] = np.nan
            split = pre.transform_numbers(x, y[keep], where=f"{source} (train split)")
            split.rows = rows[keep]
            yield split

    def _frame(self, table: Any, rows: np.ndarray, where: str) -> tuple[pd.DataFrame, dict[str, int]]:
        """A record batch as a coerced, cleaned table with its rows' numbers (ROW_COLUMN), and the rows dropped."""
        frame = coerce_frame(arrow_frame(table), self.schema, where).assign(**{ROW_COLUMN: rows})
        return clean_rows(frame, self.schema, drop_duplicates=False)

    def _slices(self, chunk: Chunk, only: int | None) -> Iterator[tuple[Any, np.ndarray, str]]:
        """A chunk's Arrow record batches with their rows' numbers in the source (see __call__ for `only`)."""
        start = chunk.start
        for table in read_slices(chunk, self.columns, self.cfg.source):
            where = f"{chunk.path} (rows from {start})"
            rows = np.arange(start, start + table.num_rows)
            start += table.num_rows
            if only is not None and not self.cfg.split.id_column:
                keep = hash_split(rows, self.cfg.split, self.seed) == only
                table, rows = table.filter(keep), rows[keep]
            yield table, rows, where

    def every(self, chunks: list[Chunk]) -> Iterator[tuple[pd.DataFrame, np.ndarray, dict[str, int]]]:
        """The slices of every chunk, in source order."""
        for chunk in chunks:
            yield from self(chunk)


def prepare_stream(cfg: DataConfig, seed: int, need_test: bool = True) -> Prepared:
    """`netfit.data.prepare` (in `preparation.py`) for a Parquet source larger than `data.memory_budget` (see the module doc)."""
    _check_streamable(cfg)
    steady_heap()
    source = cfg.source
    chunks = parquet_chunks(source)
    head = pd.concat([read_chunk(c, source) for c in _head(chunks)], ignore_index=True)
    schema = build_schema(head, cfg, source, splitting=True)  # column types from the first rows
    head_bytes = head[schema.used_columns].memory_usage(deep=True).sum() / len(head)  # one row as a table
    del head
    read = _Reader(cfg, seed, schema)

    # pass 1: statistics of the training rows, a seeded sample of them, split sizes, and the target of
    # every row: the task is decided from the whole source, as in memory, not from its first rows
    stats, tally = TrainStats(schema), LabelTally(cfg.task)
    total = sum(c.rows for c in chunks)
    keep = min(1.0, _sample_rows(cfg, head_bytes) / max(1.0, total * cfg.split.train))
    rng = np.random.default_rng(seed)
    samples, dropped = [], Counter()
    sizes, split_hash = Counter(), {name: hashlib.sha256(name.encode()) for name in SPLITS}
    for frame, codes, counts in read.every(chunks):
        dropped.update(counts)
        rows = frame[ROW_COLUMN].to_numpy(np.int64)
        for i, name in enumerate(SPLITS):
            sizes[name] += int((codes == i).sum())
            split_hash[name].update(rows[codes == i].astype("<i8").tobytes())
        train = frame[codes == 0]
        tally.add(frame[schema.target], codes == 0)
        stats.update(train, f"{source} (train split)")
        samples.append(train[rng.random(len(train)) < keep])
    if stats.rows == 0:
        raise DataError("no training rows", where=source, found=f"{total} rows, none in the train split after cleaning",
                        hint="check data.target and data.split.train")
    release_memory()
    task, classes = tally.decide(schema.target, source)
    train_labels = tally.train
    sample = pd.concat(samples, ignore_index=True)
    pre = Preprocessor(schema.types, schema.target, task, cfg.preprocess, schema.weight)
    pre.fit_stream(sample.drop(columns=ROW_COLUMN), stats, classes or None, where=f"{source} (train split)")

    # pass 2: validation and test rows, preprocessed, in memory
    wanted = [name for name in SPLITS if name != "test" or need_test]
    row_bytes = _row_bytes(pre, schema)
    held_bytes = sum(sizes[n] for n in wanted if n != "train") * row_bytes
    if held_bytes > cfg.memory_budget:
        raise DataError("the validation and test splits do not fit in the memory budget", where="data.memory_budget",
                        found=f"{held_bytes / 1e6:.0f} MB needed, budget {cfg.memory_budget / 1e6:.0f} MB",
                        hint="lower data.split.val / data.split.test, or raise data.memory_budget")
    held = {name: _Rows(sizes[name]) for name in wanted if name != "train"}
    with _quiet():  # pass 1 warned already; the same warnings per chunk would flood the log
        for frame, codes, _ in read.every(chunks):
            for name, rows in held.items():
                rows.add(_encode(pre, frame[codes == SPLITS.index(name)], source, name))
    sampled = _Rows(len(sample))  # a sample of the training rows: baselines, class weights, finders
    for lo in range(0, max(len(sample), 1), HEAD_ROWS):
        sampled.add(_encode(pre, sample.iloc[lo:lo + HEAD_ROWS], source, "train"))
    splits = {"train": sampled.split, **{name: rows.split for name, rows in held.items()}}
    release_memory()
    budget = cfg.shuffle_buffer or max(1, cfg.memory_budget // 8 // row_bytes)
    stream = TrainStream(chunks, lambda c: _train_rows(read, pre, c), stats.rows, budget)
    summary = _summary(cfg, schema, pre, stats, total, dropped, sizes, splits, train_labels, len(chunks), len(sample),
                       budget, wanted)
    summary["validation"] = split_validation(sizes["val"], cfg.split, "hash", seed)
    summary["unseen_labels"] = {}  # the task and classes come from every row of the one source
    fingerprint = {"data": folder_sha256(source) if Path(source).is_dir() else file_sha256(source),
                   "split": hashlib.sha256("".join(split_hash[n].hexdigest() for n in SPLITS).encode()).hexdigest()}
    return Prepared(task, splits, pre, summary, fingerprint, stream=stream)


def _libc_call(name: str, *args: int) -> None:
    """Call a glibc memory function when this process has one (not on macOS or musl)."""
    import ctypes

    libc = ctypes.CDLL(None)  # the symbols already loaded into this process, the C library's among them
    if hasattr(libc, name):
        getattr(libc, name)(*args)


def release_memory() -> None:
    """Hand freed heap memory back to the system after a pass over the source.

    glibc keeps the pages of freed medium-sized arrays (each chunk's tables are a few MB) in its
    heap; without this a pass leaves the process a few hundred MB larger than what it holds.
    Elsewhere (macOS, musl) there is no malloc_trim and nothing to do.
    """
    _libc_call("malloc_trim", 0)


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)
MMAP_THRESHOLD = 4 << 20


def steady_heap() -> None:
    """Map blocks of 4 MiB and more on their own, so each is returned to the system when freed.

    glibc raises its mmap threshold to the size of every large block freed (up to 32 MiB); after
    that, the shuffle buffer's blocks and the model's batch outputs come from the heap, whose freed
    pages it keeps: a streamed 2,000,000-row run then peaked anywhere from 150 to 450 MB above its
    baseline (predicting 300,000 rows alone: 8 to 280 MB), against 122-194 MB in repeated runs with
    the threshold fixed (which `mallopt` does). A streamed run calls this once; elsewhere (macOS,
    musl) nothing to do.
    """
    _libc_call("mallopt", _M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def _check_streamable(cfg: DataConfig) -> None:
    problems = []
    if cfg.kind not in ("auto", "table"):
        problems.append(("data.kind", cfg.kind, "table"))
    if cfg.preprocess.drop_duplicates:
        problems.append(("data.preprocess.drop_duplicates", "true", "false (duplicates are found only in memory)"))
    for name in ("group_column", "order_column", "column"):
        if getattr(cfg.split, name):
            problems.append((f"data.split.{name}", getattr(cfg.split, name), "unset (a streamed split is by hash)"))
    if cfg.split.calibration:
        problems.append(("data.split.calibration", str(cfg.split.calibration), "0 (a streamed run calibrates on its "
                                                                                "validation rows)"))
    if problems:
        where, found, expected = problems[0]
        raise ConfigError("this data is larger than data.memory_budget and streams, which this setting does not support",
                          where=where, found=found, expected=expected,
                          hint="change that setting, or raise data.memory_budget to load the data in memory")
    if cfg.split.method != "hash":
        warn("the data streams (larger than data.memory_budget): rows are split by a hash of their row number "
             "(sizes are approximate, classes not stratified)", where="data.split.method",
             hint="set data.split.method: hash to say so, or raise data.memory_budget to load the data in memory")


def _sample_rows(cfg: DataConfig, row_bytes: float) -> int:
    """Training rows kept as a sample: a twentieth of the budget, at most SAMPLE_ROWS."""
    return int(min(SAMPLE_ROWS, max(1000, cfg.memory_budget / 20 / row_bytes)))


def _head(chunks: list[Chunk]) -> list[Chunk]:
    """The first row groups, about HEAD_ROWS rows: enough to infer column types."""
    head, rows = [], 0
    for chunk in chunks:
        head.append(chunk)
        rows += chunk.rows
        if rows >= HEAD_ROWS:
            break
    return head


def _encode(pre: Preprocessor, frame: pd.DataFrame, source: str, name: str) -> Split:
    split = pre.transform(frame.drop(columns=ROW_COLUMN), where=f"{source} ({name} split)")
    split.rows = frame[ROW_COLUMN].to_numpy(np.int64)  # row numbers in the source
    return split


def _train_rows(read: _Reader, pre: Preprocessor, chunk: Chunk) -> Split | None:
    with _quiet():
        parts = [p for p in read.train_rows(chunk, pre) if len(p)]
    return concat_splits(parts) if parts else None


def _numeric_arrow(kind: Any) -> bool:
    import pyarrow.types as pt

    return pt.is_integer(kind) or pt.is_floating(kind)


def _floats(column: Any) -> np.ndarray:
    """An integer or float Arrow column as float64, nulls as NaN."""
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def _row_bytes(pre: Preprocessor, schema: Schema) -> int:
    """Bytes of one preprocessed row: float32 features, int64 codes, target, weight, row number."""
    return 4 * pre.n_num + 8 * len(pre.cat_cardinalities) + 8 + 8 + (4 if schema.weight else 0)


class _quiet(warnings.catch_warnings):
    """Silence DataWarnings (already reported by the first pass) inside the block."""

    def __enter__(self):
        entered = super().__enter__()
        warnings.simplefilter("ignore", DataWarning)
        return entered


def _summary(cfg: DataConfig, schema: Schema, pre: Preprocessor, stats: TrainStats, total: int, dropped: Counter,
             sizes: Counter, splits: dict[str, Split], train_labels: Counter, chunks: int, sampled: int, buffer: int,
             wanted: list[str]) -> dict[str, Any]:
    """The report's data section, as the in-memory path writes it, plus a `streaming` block."""
    counts = Counts(sources={"all": cfg.source}, rows_loaded={"all": total}, rows_dropped=dict(dropped),
                    missing_in_train={c: int(stats.missing[c]) for c in pre.input_columns if stats.missing[c]},
                    split_method="hash", split_sizes={name: sizes[name] for name in wanted})
    if pre.task != "regression":
        balance = {name: class_counts(s.y, pre.classes) for name, s in splits.items() if name != "train"}
        balance["train"] = {str(c): int(train_labels.get(str(c), 0)) for c in pre.classes}  # every training row, not the sample
        counts.class_balance = {name: balance[name] for name in wanted}
    streaming = {"memory_budget": cfg.memory_budget, "row_groups": chunks, "shuffle_buffer_rows": buffer,
                 "train_sample_rows": sampled}
    return data_summary(schema, pre, counts, {"rows_used": int(sum(sizes.values())), "streaming": streaming})
