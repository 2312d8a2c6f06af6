"""Atomic file writes (a reader, or a crash, never sees a half-written file); the file a typo meant."""

from __future__ import annotations

import difflib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from netfit.errors import RunError


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp)` on a temp file in the same folder, fsync it, rename it over `path`.

    Same folder so the rename is atomic (one file system); the folder is fsynced too so the
    rename itself survives a power cut.

    A full disk or an unwritable folder raises `RunError` naming the file; the temp file is removed
    and a previous version of `path` stays intact, so a model file is never half-written.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        write(tmp)
        with open(tmp, "rb+") as f:
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # disk full, read-only or missing folder: the user's environment, not a bug
        raise RunError("cannot write file", where=str(path), found=f"{type(e).__name__}: {e}",
                       hint="free disk space, or set output_dir to a writable folder") from e
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some file systems do not open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


def similar_file(path: str | Path) -> Path | None:
    """The file or folder beside `path` whose name is closest to it (what a typo probably meant), or None.

    Example:
        >>> similar_file("data/trian.csv")  # doctest: +SKIP
        PosixPath('data/train.csv')
    """
    path = Path(path)
    try:
        names = [p.name for p in path.parent.iterdir()] if path.parent.is_dir() else []
    except OSError:  # an unreadable folder: no suggestion
        names = []
    match = difflib.get_close_matches(path.name, names, n=1, cutoff=0.6)
    return path.parent / match[0] if match else None
