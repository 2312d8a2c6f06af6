"""Sources: read a file, a bundled scikit-learn data set, or in-memory data into a DataFrame.

Supported: `.csv`, `.parquet` (a file, or a folder of files), `.npz` (arrays `x` and `y`, names configurable) and
`sklearn:NAME` for the data sets that ship inside scikit-learn (no download)::

    df = load_table("sklearn:iris", DataConfig())
    df = frame_from_data((X, y), DataConfig())     # columns x0..x{d-1} and "target"
"""

from __future__ import annotations

import csv
import hashlib
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from netfit.config import SKLEARN_DATASETS, DataConfig
from netfit.data.arrays import array_kind, frame_from_array_input, resolve_kind, row_digests
from netfit.data.images import read_image_folder
from netfit.data.messages import quote_list
from netfit.data.parquet import is_parquet_folder, read_parquet_file, read_parquet_folder
from netfit.errors import DataError
from netfit.io import similar_file

SUPPORTED_EXTENSIONS = (".csv", ".parquet", ".npz")
SPLIT_NAMES = ("train", "val", "test")

# what each bundled set asks of a model; shown by `netfit datasets`
_DATASET_TASKS = {
    "digits": "multiclass",
    "iris": "multiclass",
    "wine": "multiclass",
    "breast_cancer": "binary",
    "diabetes": "regression",
}


# ---------------------------------------------------------------- files and bundled sets
def load_table(source: str, cfg: DataConfig, *, require_target: bool = True) -> pd.DataFrame:
    """Read one source into a DataFrame with string column names.

    Args:
        source: a `.csv`, `.parquet` or `.npz` path, or `sklearn:NAME`.
        cfg: the data config (`x_key`, `y_key` and `target` name the arrays of an `.npz`).
        require_target: False for data to predict: an `.npz` may then lack its `y_key` array.

    Raises:
        DataError: missing, empty or unreadable file, unknown extension or data set.

    Example:
        >>> load_table("sklearn:iris", DataConfig()).shape
        (150, 5)
    """
    if source.startswith("sklearn:"):
        return _load_sklearn(source)
    if source.startswith("synthetic:"):
        from netfit.data.synthetic import load_synthetic

        return load_synthetic(source)
    path = Path(source)
    if is_parquet_folder(path):
        return _string_columns(read_parquet_folder(path, source), source)
    if path.is_dir():
        return read_image_folder(path, cfg, source)
    _check_file(path, source)
    suffix = path.suffix.lower()
    readers = {".csv": _read_csv, ".parquet": lambda p, s, c: read_parquet_file(p, s),
               ".npz": lambda p, s, c: _read_npz(p, s, c, require_target)}
    if suffix not in readers:
        raise DataError(
            "unsupported file type",
            where=source,
            expected=", ".join(SUPPORTED_EXTENSIONS) + " or sklearn:NAME",
            found=suffix or "no extension",
            hint="convert the file to CSV or Parquet, or rename it if the extension is wrong",
        )
    df = readers[suffix](path, source, cfg)
    if len(df) == 0:
        raise DataError("file has no rows", where=source, found=f"columns {quote_list(df.columns)} and no data",
                        hint="the file holds only a header; check that it was written completely")
    return _string_columns(df, source)


def _check_file(path: Path, source: str) -> None:
    if not path.exists():
        near = similar_file(path)
        raise DataError("data file not found", where=source,
                        found=f"no such file (relative paths start at {Path.cwd()})",
                        hint=f"did you mean `{near}`?" if near else
                        "check the path in data.source / data.train, or give an absolute path")
    if not path.is_file():
        raise DataError("data source is not a file", where=source, expected="a .csv, .parquet or .npz file",
                        found="a folder", hint="point data.source at a file inside the folder")
    if path.stat().st_size == 0:
        raise DataError("data file is empty", where=source, found="0 bytes",
                        hint="the file was probably not written completely; regenerate it")


def _read_csv(path: Path, source: str, cfg: DataConfig) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            # index_col=False: rows longer than the header warn, instead of their first fields
            # silently becoming the index and every value moving a column to the right
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(path, index_col=False)
    except pd.errors.ParserWarning as e:
        _check_row_lengths(path, source)
        raise DataError("ragged CSV row", where=source, found=str(e),
                        hint="every row needs as many comma-separated fields as the header") from None
    except pd.errors.EmptyDataError:
        raise DataError("data file is empty", where=source, found="no columns, only blank space",
                        hint="the file was probably not written completely; regenerate it") from None
    except pd.errors.ParserError as e:
        # pandas says e.g. "Expected 3 fields in line 5, saw 4": pass the line on to the user
        line = re.search(r"line (\d+)", str(e))
        raise DataError("cannot parse CSV file", where=f"{source}: line {line.group(1)}" if line else source,
                        found=str(e).strip().splitlines()[-1],
                        hint="every row needs as many comma-separated fields as the header; quote fields "
                             "that contain commas") from None
    except UnicodeDecodeError as e:
        raise DataError("cannot decode CSV file", where=f"{source}: byte {e.start}", expected="UTF-8 text",
                        found=str(e.reason), hint="save the file as UTF-8 (or convert it to Parquet)") from None
    # pandas reads a short row with NaN in its last fields, the values after a missing one sitting
    # a column to the left; only a gap in the last column can mean one, so only then look
    if df.shape[1] and df.iloc[:, -1].isna().any():
        _check_row_lengths(path, source)
    return df


def _check_row_lengths(path: Path, source: str) -> None:
    """Raise a DataError at the first record whose field count differs from the header's."""
    header, start, first, count = None, 1, None, 0
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)  # pandas' defaults: comma, double quotes, blank lines skipped
        try:
            for record in reader:
                if record and header is None:
                    header = len(record)
                elif record and len(record) != header:
                    first, count = first or (start, len(record)), count + 1
                start = reader.line_num + 1  # a quoted line break makes one record span lines
        except csv.Error:
            return  # a file pandas parsed and the csv module cannot (a huge field): keep pandas' reading
    if first:
        more = f" ({count - 1} more such rows)" if count > 1 else ""
        raise DataError("ragged CSV row", where=f"{source}: line {first[0]}",
                        expected=f"{header} fields on every row, as in the header", found=f"{first[1]} fields{more}",
                        hint="a value is missing or extra on that row (a missing or stray comma, or a trailing "
                             "comma); fix the row, writing an empty field (,,) for a missing value")


def _read_npz(path: Path, source: str, cfg: DataConfig, require_target: bool = True) -> pd.DataFrame:
    try:
        with np.load(path, allow_pickle=False) as archive:  # no pickle: loading data never runs code
            present = list(archive.files)
            wanted = [cfg.x_key, cfg.y_key] if require_target else [cfg.x_key]
            missing = [k for k in wanted if k not in present]
            if missing:
                raise DataError("arrays missing from .npz archive", where=source,
                                expected=f"arrays {quote_list(wanted)}",
                                found=f"arrays {quote_list(present)}" if present else "no arrays",
                                hint="set data.x_key and data.y_key to the names of the feature and target arrays")
            x = archive[cfg.x_key]
            y = archive[cfg.y_key] if cfg.y_key in present else None  # unlabelled arrays, to predict
            lengths = archive[cfg.lengths_key] if cfg.lengths_key in present else None
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise DataError("cannot read .npz archive", where=source, found=str(e).splitlines()[0],
                        hint="write it with numpy.savez (arrays of numbers or strings, not Python objects)") from None
    return _arrays_frame(x, y, lengths, cfg, source)


def _arrays_frame(x: Any, y: Any, lengths: Any, cfg: DataConfig, label: str) -> pd.DataFrame:
    """Image and sequence arrays keep one array per row; other arrays become flat columns."""
    kind = resolve_kind(cfg, label)
    if kind == "table" and cfg.kind == "auto":
        kind = array_kind(np.shape(x))  # image-shaped 3-D/4-D arrays are images, not flattened columns
    if kind in ("image", "sequence") and not (kind == "image" and np.ndim(x) == 2):  # 2-D: flat pixel columns
        return frame_from_array_input(x, y, lengths, kind, cfg.target_name(), label)
    return frame_from_arrays(x, y, cfg.target_name(), label)


def _load_sklearn(source: str) -> pd.DataFrame:
    name = source.split(":", 1)[1]
    if name not in SKLEARN_DATASETS:
        raise DataError("unknown bundled data set", where=source,
                        expected=", ".join(f"sklearn:{n}" for n in SKLEARN_DATASETS), found=source,
                        hint="`netfit datasets` lists the bundled data sets")
    # scikit-learn's as_frame=True names the features and calls the label column `target`
    return _sklearn_loader(name)(as_frame=True).frame.reset_index(drop=True)


def _sklearn_loader(name: str):
    import sklearn.datasets  # slow to import (~1 s): only when a bundled set is used

    return getattr(sklearn.datasets, f"load_{name}")


def list_datasets() -> list[dict[str, Any]]:
    """The bundled data sets: name (as `data.source` takes it), task, rows and feature columns.

    Example:
        >>> [d["name"] for d in list_datasets()][:2]
        ['sklearn:digits', 'sklearn:iris']
    """
    rows = []
    for name in SKLEARN_DATASETS:
        x, _ = _sklearn_loader(name)(return_X_y=True)
        rows.append({"name": f"sklearn:{name}", "task": _DATASET_TASKS[name], "rows": int(x.shape[0]),
                     "columns": int(x.shape[1])})
    return rows


# ---------------------------------------------------------------- in-memory data
def frame_from_data(data: Any, cfg: DataConfig) -> "pd.DataFrame | dict[str, pd.DataFrame]":
    """Turn the Python API's `data=` into a table, or a dict of tables for given splits.

    Accepts a DataFrame, an `(X, y)` pair (arrays or frames; y becomes column `data.target`,
    default `target`), or `{"train": ..., "val": ..., "test": ...}` of either.

    Example:
        >>> frame_from_data((np.zeros((3, 2)), [0, 1, 0]), DataConfig()).columns.tolist()
        ['x0', 'x1', 'target']
    """
    if isinstance(data, Mapping):
        unknown = [k for k in data if k not in SPLIT_NAMES]
        if unknown or "train" not in data:
            raise DataError("data= dict must hold the splits", where="data=",
                            expected="keys 'train' and optionally 'val', 'test'",
                            found=f"keys {quote_list(data)}",
                            hint="pass {'train': df_train, 'val': df_val, 'test': df_test}")
        return {k: _one_frame(v, cfg, f"<data[{k!r}]>") for k, v in data.items() if v is not None}
    return _one_frame(data, cfg, "<data>")


def _one_frame(data: Any, cfg: DataConfig, label: str) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        if len(data) == 0:
            raise DataError("data has no rows", where=label, hint="pass a table with at least a few rows")
        return _string_columns(data.reset_index(drop=True), label)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return _arrays_frame(data[0], data[1], None, cfg, label)
    raise DataError("unsupported data= value", where=label,
                    expected="a pandas DataFrame, an (X, y) pair, or a dict of splits",
                    found=type(data).__name__, hint="e.g. netfit.fit(config, data=(X, y))")


def frame_from_arrays(x: Any, y: Any, target: str, label: str) -> pd.DataFrame:
    """Features `x` (array or DataFrame) and labels `y` as one table; y becomes column `target`
    (None: no labels, no target column)."""
    if isinstance(x, pd.DataFrame):
        features = _string_columns(x.reset_index(drop=True), label)
    else:
        arr = np.asarray(x)
        if arr.ndim == 0:
            raise DataError("X must be an array of rows", where=label, found="a single value",
                            hint="pass X with shape (rows, features)")
        # images or sequences become flat feature vectors for the table-based models
        arr = arr.reshape(len(arr), -1)
        # a view of the caller's array, not a copy: the pipeline never writes into a loaded table
        features = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])], copy=False)
    labels = None if y is None else _target_vector(y, label)
    if labels is not None and len(labels) != len(features):
        raise DataError("X and y have different lengths", where=label, expected="one label per row of X",
                        found=f"{len(features)} rows of X, {len(labels)} labels",
                        hint="check that X and y come from the same rows")
    if labels is not None and target in features.columns:
        raise DataError("X already has a column named like the target", where=f"{label}: column {target!r}",
                        hint="rename that column of X, or set data.target to another name")
    if len(features) == 0:
        raise DataError("data has no rows", where=label, hint="pass arrays with at least a few rows")
    return features if labels is None else features.assign(**{target: labels})


def _target_vector(y: Any, label: str) -> np.ndarray:
    arr = y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError("y must be one label per row", where=label, found=f"an array of shape {arr.shape}",
                        hint="pass y with shape (rows,); several targets at once are not supported")
    return arr


def _string_columns(df: pd.DataFrame, label: str) -> pd.DataFrame:
    """Column names as strings (configs name columns by string), unique."""
    names = [str(c) for c in df.columns]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise DataError("duplicate column names", where=label, found=quote_list(duplicated),
                        hint="give every column a distinct name")
    return df.set_axis(names, axis=1)


# ---------------------------------------------------------------- fingerprints
def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def frame_sha256(df: pd.DataFrame) -> str:
    """sha256 of a table's column names and values (for data that is not a file)."""
    digest = hashlib.sha256("\x1f".join(df.columns).encode())
    # cells holding arrays (images, sequences) are hashed by their bytes, not their repr
    arrays = {c: row_digests(df[c]) for c in df.columns if df[c].dtype == object and
              len(df) and isinstance(df[c].iloc[0], np.ndarray)}
    digest.update(pd.util.hash_pandas_object(df.assign(**arrays), index=False).to_numpy().tobytes())
    return digest.hexdigest()


def source_sha256(source: str, df: pd.DataFrame) -> str:
    """The fingerprint of a source: its file's bytes, or the loaded table for bundled sets."""
    if source.startswith(("sklearn:", "synthetic:", "<")):
        return frame_sha256(df)
    return folder_sha256(source) if Path(source).is_dir() else file_sha256(source)


def folder_sha256(path: str | Path) -> str:
    """sha256 over the relative paths and bytes of every file in a folder (sorted)."""
    digest = hashlib.sha256()
    root = Path(path)
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(f.relative_to(root)).encode() + b"\0" + file_sha256(f).encode())
    return digest.hexdigest()


