"""Array inputs beside (or instead of) table columns: images, sequences and text.

Such data travels through loading, cleaning and splitting as one table column whose cells hold
one image array, one sequence or one text per row (or, for images, as flat pixel columns with
`data.image_shape`). An encoder for its kind, fitted on the training split like the
`Preprocessor` it belongs to, turns that column into `Split.x_array` (and `Split.lengths`)::

    kind = resolve_kind(cfg, "images/")                 # "image"
    enc = build_encoder(cfg, kind, ["image"]).fit(train_df, "images/ (train split)")
    x, lengths = enc.transform(val_df, "images/ (val split)")
    same = encoder_from_dict(json.loads(json.dumps(enc.to_dict())))

Encoders share one small interface (no base class): `columns`, `fit`, `transform`, `spec`
(what the model builder needs: kind and shape) and `to_dict`/`encoder_from_dict` (JSON, no pickle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from netfit.config import Config, DataConfig
from netfit.data.images import IMAGE_COLUMN, ImageEncoder
from netfit.data.messages import quote_list
from netfit.data.sequences import SEQUENCE_COLUMN, SequenceEncoder
from netfit.data.text import TEXT_COLUMN, TextEncoder
from netfit.errors import DataError

KINDS = ("table", "image", "sequence", "text")


def resolve_kind(cfg: DataConfig, source: str | None, df: pd.DataFrame | None = None) -> str:
    """The data kind: `data.kind` when set, else inferred from the fields that name an input, else
    from `df`: an `image` or `sequence` column of arrays (a 3-D/4-D array, see `array_kind`)."""
    if cfg.kind != "auto":
        return cfg.kind
    if cfg.text_column:
        return "text"
    if cfg.sequence_column:
        return "sequence"
    if source and source.startswith("synthetic:"):
        return {"synthetic:order": "sequence", "synthetic:sentences": "text"}.get(source, "table")
    if cfg.image_shape or (source and not source.startswith(("<", "sklearn:", "synthetic:")) and Path(source).is_dir()
                           and not any(Path(source).rglob("*.parquet"))):  # a folder of Parquet files is a table
        return "image"
    if df is not None and len(df) and IMAGE_COLUMN in df.columns and isinstance(df[IMAGE_COLUMN].iloc[0], np.ndarray):
        return "image"
    if df is not None and len(df) and SEQUENCE_COLUMN in df.columns and isinstance(df[SEQUENCE_COLUMN].iloc[0], np.ndarray):
        return "sequence"  # an (N, T, F) array read as sequences (array_kind)
    return "table"


SEQUENCE_STEPS = 8  # an (N, T, F) array with at least this many steps is a sequence


def array_kind(shape: tuple[int, ...]) -> str:
    """The kind of an (N, ...) array under `data.kind: auto`: (N, H, W, C) is images, and so is
    (N, A, B) when both sides are at least 8 and within 4x of each other (square-ish pixels: 8x8
    digits, 28x28, 25x25 faces); another (N, T, F) array with at least 8 steps is a sequence of T
    steps of F features ((N, 150, 1): a univariate series); the rest stay flat table columns
    ((N, 5, 5), and 2-D arrays: give a series as (N, T, 1) to have it read as one)."""
    if len(shape) == 4:
        return "image"
    if len(shape) == 3:
        a, b = shape[1:]
        if min(a, b) >= 8 and max(a, b) <= 4 * min(a, b):
            return "image"
        return "sequence" if a >= SEQUENCE_STEPS else "table"
    return "table"


def kind_for_model(cfg: Config, data: Any = None) -> Config:
    """`cfg` with `data.kind` set when the model asks for arrays that `data.kind: auto` would flatten.

    A 3-D array (N, A, B) that `array_kind` leaves as table columns ((N, 5, 5)) is read as
    the model reads: sequences of A steps of B features for an rnn or transformer, and for a cnn
    images when A and B are within 4x of each other, else sequences. The resolved kind is written
    into the config, so that the run folder's config.yaml reads new data the same way."""
    if cfg.data.kind != "auto" or cfg.model.type not in ("cnn", "rnn", "transformer") or cfg.model.module:
        return cfg
    source = cfg.data.source or cfg.data.train
    if resolve_kind(cfg.data, source) != "table":
        return cfg
    shape = _array_shape(cfg.data, source, data)
    if shape is None or len(shape) != 3 or array_kind(shape) != "table":
        return cfg
    a, b = shape[1:]
    square = max(a, b) <= 4 * min(a, b)
    kind = "image" if cfg.model.type == "cnn" and square else "sequence"
    return cfg.model_copy(update={"data": cfg.data.model_copy(update={"kind": kind})})


def _array_shape(cfg: DataConfig, source: str | None, data: Any) -> tuple[int, ...] | None:
    """The shape of the feature array of in-memory `(X, y)` data or of an `.npz` source (None otherwise)."""
    if isinstance(data, dict):
        data = data.get("train")
    if isinstance(data, (tuple, list)) and len(data) == 2 and not isinstance(data[0], pd.DataFrame):
        return np.shape(data[0])
    if data is not None or not source or not source.endswith(".npz"):
        return None
    try:  # a look at the shape; reading the data later reports any problem with the file
        with np.load(source, allow_pickle=False) as archive:
            return archive[cfg.x_key].shape if cfg.x_key in archive.files else None
    except (OSError, ValueError):
        return None


def array_columns(df: pd.DataFrame, cfg: DataConfig, kind: str, reserved: set[str], where: str) -> list[str]:
    """The columns the encoder of `kind` reads (none for tables)."""
    if kind == "table":
        held = [c for c in df.columns if df[c].dtype == object and len(df) and isinstance(df[c].iloc[0], np.ndarray)]
        if held:
            raise DataError("a table column holds arrays", where=f"{where}: column {held[0]!r}",
                            expected="numbers, categories or booleans per cell for data.kind: table",
                            found="one array per row (images or sequences)",
                            hint="set data.kind: image or sequence (with data.sequence_column), and model.type: cnn, rnn or transformer")
        return []
    if kind == "image" and IMAGE_COLUMN not in df.columns:
        if not cfg.image_shape:
            raise DataError("image data needs a shape", where=f"{where}: data.image_shape",
                            expected="image arrays (an image folder, or a .npz of shape (N, H, W[, C])) or flat "
                                     "pixel columns with data.image_shape", found=f"{len(df.columns)} table columns",
                            hint="set `image_shape: [H, W]` (or [H, W, C]) under data:, e.g. [8, 8] for sklearn:digits")
        return list(cfg.features) if cfg.features else [c for c in df.columns if c not in reserved]
    column = {"image": IMAGE_COLUMN, "sequence": cfg.sequence_column or SEQUENCE_COLUMN, "text": cfg.text_column or TEXT_COLUMN}[kind]
    if column not in df.columns:
        field = {"sequence": "data.sequence_column", "text": "data.text_column"}.get(kind, "data.kind")
        raise DataError(f"{kind} column not found", where=f"{where}: column {column!r}",
                        expected=f"a column of {kind}s", found=f"columns {quote_list(df.columns)}",
                        hint=f"set {field} to the column that holds them")
    return [column]


def build_encoder(cfg: DataConfig, kind: str, columns: list[str]) -> Any:
    """An unfitted encoder for `kind` reading `columns`; None for tables."""
    if kind == "image":
        shape = list(cfg.image_shape) if cfg.image_shape else None
        return ImageEncoder(columns, shape, cfg.pixel_max)
    if kind == "sequence":
        return SequenceEncoder(columns[0], cfg.max_len, cfg.too_long)
    if kind == "text":
        return TextEncoder(columns[0], cfg.tokenizer, cfg.lowercase, cfg.vocab_min_freq, cfg.vocab_max_size,
                           cfg.max_len, cfg.too_long)
    return None


def encoder_from_dict(state: dict[str, Any] | None) -> Any:
    """Rebuild a fitted encoder from its `to_dict()` (None stays None)."""
    if not state:
        return None
    classes = {"image": ImageEncoder, "sequence": SequenceEncoder, "text": TextEncoder}
    fields = {k: v for k, v in state.items() if k != "kind"}
    return classes[state["kind"]](**fields)


def frame_from_array_input(x: np.ndarray, y: Any, lengths: np.ndarray | None, kind: str, target: str,
                           label: str) -> pd.DataFrame:
    """Image arrays (N, H, W[, C]) or sequences (N, T[, F]) as a table with one array per cell.

    Sequences with `lengths` keep only their first lengths[i] steps (the rest is padding).
    """
    x = np.asarray(x)
    if x.ndim < 2 or (kind == "image" and x.ndim not in (3, 4)):
        expected = "(N, H, W) or (N, H, W, C)" if kind == "image" else "(N, T) or (N, T, F)"
        raise DataError(f"{kind} array has the wrong shape", where=label, expected=expected, found=str(x.shape),
                        hint="check data.kind and data.x_key (or pass flat pixel columns with data.image_shape)")
    cells = list(x)
    if lengths is not None:
        lengths = np.asarray(lengths).astype(np.int64)
        if lengths.shape != (len(x),) or (lengths < 0).any() or (lengths > x.shape[1]).any():
            raise DataError("sequence lengths do not fit the sequences", where=label,
                            expected=f"{len(x)} lengths between 0 and {x.shape[1]}",
                            found=f"shape {lengths.shape}, range {lengths.min(initial=0)}..{lengths.max(initial=0)}",
                            hint="lengths[i] is the number of real (unpadded) steps of sequence i")
        cells = [c[:n] for c, n in zip(cells, lengths)]
    column = IMAGE_COLUMN if kind == "image" else SEQUENCE_COLUMN
    frame = pd.DataFrame({column: pd.Series(cells, dtype=object)})
    if y is not None:
        labels = np.asarray(y)
        if len(labels) != len(frame):
            raise DataError("X and y have different lengths", where=label, expected="one label per row of X",
                            found=f"{len(frame)} rows of X, {len(labels)} labels",
                            hint="check that X and y come from the same rows")
        frame[target] = labels
    return frame


def row_digests(cells: pd.Series) -> pd.Series:
    """A hashable digest per cell (arrays by their bytes), so duplicate rows can be counted."""
    import hashlib

    def digest(v: Any) -> str:
        if isinstance(v, np.ndarray):
            return hashlib.sha1(np.ascontiguousarray(v).tobytes() + str(v.shape).encode()).hexdigest()
        return str(v)

    return cells.map(digest)


def with_digests(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """`df` with its array columns replaced by digests (comparable, hashable)."""
    present = [c for c in columns if c in df.columns and df[c].dtype == object]
    return df.assign(**{c: row_digests(df[c]) for c in present}) if present else df
