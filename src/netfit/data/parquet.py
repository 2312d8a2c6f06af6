"""Parquet: read a file or a folder of files, whole (in memory) or one row group at a time (streaming).

Both paths number a folder's rows in the same order (its files sorted by path), so the hash split
gives a row the same split whether the source is read whole or streamed::

    frame = read_parquet_folder(Path("big/"), "big/")          # every row, in memory
    chunks = parquet_chunks("big/")                             # row groups, with their first row number
    for batch in read_slices(chunks[0], ["x0", "y"], "big/"):   # Arrow batches of READ_SLICE_ROWS rows
        frame = arrow_frame(batch)
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from netfit.errors import DataError

# Rows read from a row group at a time: a bound on the working memory of any row group. 65,536 rows
# streamed at 0.86x the in-memory rate in benchmarks/streaming.py (16,384: 0.67x; the per-slice
# pandas work dominated) with the same RSS growth (158 vs 155 MB at a 100 MB budget).
READ_SLICE_ROWS = 65_536
_SAME_COLUMNS = "check that every file is Parquet with the same columns, written completely"


@dataclass
class Chunk:
    """One row group of the source: the unit of reading and of shuffling."""

    fragment: Any  # a pyarrow.dataset fragment restricted to this row group
    path: str
    start: int  # the source row number of its first row (files in path order)
    rows: int


# ---------------------------------------------------------------- the whole source (in memory)
def read_parquet_file(path: Path, source: str) -> pd.DataFrame:
    """The whole of one Parquet file."""
    with arrow_errors("cannot read Parquet file", source,
                      "check that the file is Parquet (not CSV renamed) and was written completely"):
        return pd.read_parquet(path)


def read_parquet_folder(path: Path, source: str) -> pd.DataFrame:
    """Every Parquet file under a folder, in path order (the order streaming numbers rows in)."""
    with arrow_errors("cannot read Parquet data", source, _SAME_COLUMNS):
        frames = [pd.read_parquet(f) for f in parquet_files(path)]
    return pd.concat(frames, ignore_index=True)


@contextmanager
def arrow_errors(problem: str, where: str, hint: str) -> Iterator[None]:
    """pyarrow's read errors (pandas reads Parquet through pyarrow too) as a DataError naming the data."""
    import pyarrow

    try:
        yield
    except (OSError, ValueError, pyarrow.ArrowException) as e:
        raise DataError(problem, where=where, found=str(e).splitlines()[0], hint=hint) from None


# ---------------------------------------------------------------- row groups (streaming, and the size check)
def is_parquet_folder(path: Path) -> bool:
    """A folder with Parquet files below it: one table (a folder of images is not)."""
    return path.is_dir() and any(path.rglob("*.parquet"))


def parquet_files(path: Path) -> list[Path]:
    """The Parquet files of a source: the file itself, or a folder's files in path order."""
    return [path] if path.is_file() else sorted(p for p in path.rglob("*.parquet") if p.is_file())


def parquet_chunks(source: str) -> list[Chunk]:
    """Every row group of a Parquet file or folder, with its place in the source."""
    import pyarrow.dataset as ds

    files = parquet_files(Path(source))
    with arrow_errors("cannot read Parquet data", source, _SAME_COLUMNS):
        dataset = ds.dataset([str(f) for f in files], format="parquet")
        chunks, start = [], 0
        for fragment in dataset.get_fragments():  # in the order the files were given
            for piece in fragment.split_by_row_group():
                group = piece.row_groups[0]
                chunks.append(Chunk(piece, fragment.path, start, group.num_rows))
                start += group.num_rows
    if start == 0:
        raise DataError("Parquet data has no rows", where=source, found=f"{len(files)} file(s), 0 rows",
                        hint="point data.source at the file or folder that holds the data")
    return chunks


def table_bytes(chunks: list[Chunk], source: str) -> int:
    """The source's size in memory, from its first row group read as a table (Parquet's own
    uncompressed sizes count dictionary-encoded text once per distinct value, far below a table's)."""
    first = next(c for c in chunks if c.rows)
    return int(_arrow_table(first, source).nbytes / first.rows * sum(c.rows for c in chunks))


def read_chunk(chunk: Chunk, source: str) -> pd.DataFrame:
    """A whole row group, every column, as a table."""
    return arrow_frame(_arrow_table(chunk, source))


def arrow_frame(table: Any) -> pd.DataFrame:
    """An Arrow table or record batch as a DataFrame with string column names."""
    frame = table.to_pandas(use_threads=False)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _arrow_table(chunk: Chunk, source: str) -> Any:
    import pyarrow

    return pyarrow.Table.from_batches(list(read_slices(chunk, None, source, rows=None)), schema=chunk.fragment.physical_schema)


def read_slices(chunk: Chunk, columns: list[str] | None, source: str, rows: int | None = READ_SLICE_ROWS) -> Iterator[Any]:
    """A row group's rows as Arrow record batches of at most `rows` rows (None: the reader's own batches)."""
    import pyarrow
    import pyarrow.dataset as ds

    options = {"batch_size": rows} if rows else {}
    # the system allocator hands freed memory back; Arrow's default pool keeps much of it
    scanner = ds.Scanner.from_fragment(chunk.fragment, columns=columns, use_threads=False,
                                       memory_pool=pyarrow.system_memory_pool(), **options)
    with arrow_errors("cannot read Parquet data", f"{chunk.path} (rows {chunk.start}-{chunk.start + chunk.rows - 1})",
                      "check that every file has the same columns and types"):
        yield from scanner.to_batches()
