"""Split: seeded train/val/test row positions, and a count of rows shared across splits.

Five ways, chosen by `data.split`: random (stratified by class when it can be), by group
(`group_column`: a group never straddles two splits), by time (`order_column`: train holds the
earliest rows, test the latest; rows of one time never straddle a cut), given per row (`column` holding train/val/test), or by a
seeded hash of each row's id (`method: hash`: the same rows whether the data is in memory or
streamed, see `netfit.data.stream`)::

    df = validate_split_columns(df, cfg.split, "data.csv")   # before rows are dropped: row numbers
    result = split_rows(df, cfg.split, seed=0, labels=df["y"])
    result.rows["train"]                                       # int64 positions in df

A split whose fraction is 0 comes back with zero rows (the key is always there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from netfit.config import SplitConfig
from netfit.data.messages import quote_list, row_where, warn
from netfit.data.values import category_strings, numeric_values
from netfit.errors import DataError

SPLITS = ("train", "val", "test")
ROW_COLUMN = "__netfit_row__"  # the source row number, carried through cleaning for the hash split
_SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                  "test": "test", "testing": "test"}


@dataclass
class SplitResult:
    """Row positions per split ("train", "val", "test") and how they were chosen."""

    rows: dict[str, np.ndarray]
    method: str  # "random" | "stratified" | "group" | "order" | "column" | "hash"


# ---------------------------------------------------------------- checks with row numbers
def validate_split_columns(df: pd.DataFrame, cfg: SplitConfig, where: str) -> pd.DataFrame:
    """Check the order / split column row by row and put it in a usable form.

    Runs on the table as loaded, so errors give the row number in the user's file.
    """
    if cfg.order_column:
        df = df.assign(**{cfg.order_column: _order_key(df[cfg.order_column], cfg.order_column, where)})
    if cfg.column:
        df = df.assign(**{cfg.column: _split_labels(df[cfg.column], cfg.column, where)})
    return df


def _order_key(s: pd.Series, column: str, where: str) -> pd.Series:
    """Numbers, or dates parsed from text: something to sort rows by time."""
    if ptypes.is_numeric_dtype(s) or ptypes.is_datetime64_any_dtype(s):
        key = numeric_values(s, column, where) if ptypes.is_numeric_dtype(s) else s
    else:
        key = pd.to_datetime(s, errors="coerce", format="mixed")
        bad = (s.notna() & key.isna()).to_numpy()
        if bad.any():
            pos = int(np.argmax(bad))
            raise DataError("order column holds values that are neither numbers nor dates",
                            where=row_where(where, column, pos), expected="a number or a date", found=repr(s.iloc[pos]),
                            hint="use a numeric time stamp or ISO dates (2024-01-31) in data.split.order_column")
    missing = key.isna().to_numpy()
    if missing.any():
        pos = int(np.argmax(missing))
        raise DataError("order column has a missing value", where=row_where(where, column, pos),
                        expected="a time for every row", found="an empty cell",
                        hint="fill in the missing times, or drop those rows before training")
    return key


def _split_labels(s: pd.Series, column: str, where: str) -> pd.Series:
    text = s.astype(str).str.strip().str.lower().map(_SPLIT_ALIASES)
    bad = (s.isna() | text.isna()).to_numpy()
    if bad.any():
        pos = int(np.argmax(bad))
        values = pd.unique(s[bad].astype(str))
        raise DataError("split column holds values other than train/val/test", where=row_where(where, column, pos),
                        expected="train, val or test in every row", found=f"values {quote_list(values)}",
                        hint="write train/val/test in every row of that column, or remove data.split.column")
    return text


# ---------------------------------------------------------------- splitting
def split_seed(cfg: SplitConfig, seed: int) -> int:
    """The seed that chooses the rows: `data.split.seed` when set, else the run's."""
    return seed if cfg.seed is None else cfg.seed


def split_rows(df: pd.DataFrame, cfg: SplitConfig, seed: int, labels: pd.Series | None = None,
               positions: np.ndarray | None = None) -> SplitResult:
    """Choose the rows of each split.

    Args:
        df: the cleaned table (split columns already validated).
        cfg: `data.split`. seed: the run's seed (same seed, same rows; `cfg.seed` overrides it).
        labels: class labels for classification (enables stratification), else None.
        positions: each row's number in the source before cleaning (`method: hash` hashes it).

    Raises:
        DataError: no training rows, too few groups, or a stratified split that cannot hold
            every class (with `stratify: true`).
    """
    seed = split_seed(cfg, seed)
    if cfg.method == "hash":
        if positions is None:
            positions = np.arange(len(df))
        codes = hash_split(df[cfg.id_column] if cfg.id_column else positions, cfg, seed)
        rows = {name: np.flatnonzero(codes == i) for i, name in enumerate(SPLITS)}
        if len(rows["train"]) == 0:
            raise DataError("the hash split put no row in train", where="data.split",
                            found=f"{len(df)} rows, train fraction {cfg.train}", hint="use more rows, or raise data.split.train")
        return SplitResult(rows, "hash")
    if cfg.column:
        rows = {name: np.flatnonzero((df[cfg.column] == name).to_numpy()) for name in SPLITS}
        if len(rows["train"]) == 0:
            raise DataError("the split column marks no row as train", where=f"data.split.column: {cfg.column!r}",
                            found=f"val {len(rows['val'])} rows, test {len(rows['test'])} rows",
                            hint="mark the training rows with `train`")
        return SplitResult(rows, "column")
    sizes = split_sizes(len(df), cfg)
    if cfg.group_column:
        return SplitResult(_group_split(df[cfg.group_column], sizes, seed), "group")
    if cfg.order_column:
        return SplitResult(_order_split(df[cfg.order_column], sizes), "order")
    strata = _strata(labels, sizes, cfg.stratify)
    return _random_split(len(df), sizes, seed, strata, cfg.stratify)


def split_sizes(n: int, cfg: SplitConfig) -> tuple[int, int, int]:
    """Rows for (train, val, test): a split with a fraction > 0 gets at least one row."""
    n_test = max(1, round(n * cfg.test)) if cfg.test > 0 else 0
    n_val = max(1, round(n * cfg.val)) if cfg.val > 0 else 0
    n_train = n - n_val - n_test
    if n_train < 1:
        raise DataError("no rows left for training", where="data.split",
                        found=f"{n} rows: {n_val} for val, {n_test} for test, {max(n_train, 0)} for train",
                        hint="use more rows, or lower data.split.val / data.split.test")
    return n_train, n_val, n_test


def _strata(labels: pd.Series | None, sizes: tuple[int, int, int], stratify) -> np.ndarray | None:
    """Class codes to stratify by, or None: `auto` stratifies when every class can be split."""
    if labels is None or stratify is False:
        if labels is None and stratify is True:
            warn("split not stratified: the target is not a class label (regression)", where="data.split.stratify",
                 hint="remove data.split.stratify (or set it to auto)")
        return None
    codes, classes = pd.factorize(labels)
    problem = _stratify_problem(np.bincount(codes), classes, sizes)
    if problem is None:
        return codes
    if stratify is True:
        raise problem
    warn(f"split not stratified: {problem.message} ({problem.found}); classes may be unevenly spread",
         where="data.split", hint="collect more rows of the rare classes, or set data.split.stratify: false to split "
                                  "at random without this warning")
    return None


def _stratify_problem(counts: np.ndarray, classes, sizes: tuple[int, int, int]) -> DataError | None:
    k = len(counts)
    for name, size in zip(SPLITS, sizes):
        if 0 < size < k:
            return DataError("a split is too small to hold every class", where=f"data.split.{name}",
                             found=f"{size} rows for {k} classes",
                             hint=f"raise data.split.{name}, or set data.split.stratify: false")
    parts = sum(1 for s in sizes if s > 0)
    if counts.min() < parts:
        label = classes[int(np.argmin(counts))]
        return DataError("a class has too few rows to appear in every split", where="data.split.stratify",
                         found=f"class {label!r} has {counts.min()} rows for {parts} splits",
                         hint="set data.split.stratify: false (or auto), or collect more rows of that class")
    return None


def _random_split(n: int, sizes, seed: int, strata: np.ndarray | None, stratify) -> SplitResult:
    positions = np.arange(n)
    try:
        rest, test = _cut(positions, sizes[2], seed, strata)
        train, val = _cut(rest, sizes[1], seed, None if strata is None else strata[rest])
    except ValueError as e:  # scikit-learn refuses a stratification it cannot satisfy
        if stratify is True:
            raise DataError("cannot stratify the split", where="data.split", found=str(e),
                            hint="set data.split.stratify: false, or raise the smaller fractions") from None
        warn(f"split not stratified: {e}", where="data.split",
             hint="set data.split.stratify: false to silence this, or raise the smaller fractions")
        return _random_split(n, sizes, seed, None, False)
    return SplitResult({"train": train, "val": val, "test": test}, "random" if strata is None else "stratified")


def _cut(positions: np.ndarray, k: int, seed: int, strata: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Hold out k of `positions` (seeded, optionally stratified); both parts sorted."""
    if k == 0:
        return positions, positions[:0]
    from sklearn.model_selection import train_test_split  # scikit-learn is slow to import

    keep, held = train_test_split(positions, test_size=k, random_state=seed, stratify=strata)
    return np.sort(keep), np.sort(held)


def _group_split(groups: pd.Series, sizes, seed: int) -> dict[str, np.ndarray]:
    """Whole groups, in a seeded order, fill test, then val, then train; sizes are approximate."""
    codes, uniques = pd.factorize(groups, use_na_sentinel=False)  # missing values form one group
    n_groups, wanted = len(uniques), sum(1 for s in sizes if s > 0)
    if n_groups < wanted:
        raise DataError("too few groups to split", where=f"data.split.group_column: {groups.name!r}",
                        found=f"{n_groups} distinct group(s) for {wanted} splits",
                        hint="use a column with more groups, set data.split.val/test to 0, or drop group_column")
    order = np.random.default_rng(seed).permutation(n_groups)
    prefix = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n_groups)[order])])
    _, n_val, n_test = sizes
    end_test = _boundary(prefix, n_test, lo=int(n_test > 0), hi=n_groups - 1 - int(n_val > 0))
    end_val = _boundary(prefix, prefix[end_test] + n_val, lo=end_test + int(n_val > 0), hi=n_groups - 1)
    split_of_group = np.empty(n_groups, dtype=np.int64)
    split_of_group[order] = np.repeat([2, 1, 0], [end_test, end_val - end_test, n_groups - end_val])
    row_split = split_of_group[codes]
    return {name: np.flatnonzero(row_split == i) for i, name in enumerate(SPLITS)}


def _boundary(prefix: np.ndarray, target: int, lo: int, hi: int) -> int:
    """How many groups (between lo and hi) to take so their rows come closest to target."""
    if target <= prefix[lo]:
        return lo
    candidates = np.arange(lo, hi + 1)
    return int(candidates[np.argmin(np.abs(prefix[lo:hi + 1] - target))])


def _order_split(key: pd.Series, sizes) -> dict[str, np.ndarray]:
    """Train: the earliest rows; val: the next; test: the latest (each in time order).

    Rows of the same time stay on one side of a cut: each cut moves to the change of time
    nearest to its size (sizes are then approximate), so val and test never share a time with
    an earlier split.
    """
    order = np.argsort(key.to_numpy(), kind="stable")
    times = key.to_numpy()[order]
    # cuts may fall only where the time changes: 0, each first row of a new time, n
    edges = np.concatenate([np.flatnonzero(np.concatenate([[True], times[1:] != times[:-1]])), [len(times)]])
    k = len(edges) - 1  # distinct times
    n_train, n_val, n_test = sizes
    wanted = 1 + (n_val > 0) + (n_test > 0)
    if k < wanted:
        raise DataError("too few distinct times to split", where=f"data.split.order_column: {key.name!r}",
                        found=f"{k} distinct time(s) for {wanted} splits (rows of one time stay in one split)",
                        hint="use a finer time stamp, set data.split.val/test to 0, or drop order_column")
    first = k if wanted == 1 else _nearest_edge(edges, n_train, 1, k - (wanted - 1))
    second = first if n_val == 0 else k if n_test == 0 else _nearest_edge(edges, n_train + n_val, first + 1, k - 1)
    cut1, cut2 = edges[first], edges[second]
    return {"train": order[:cut1], "val": order[cut1:cut2], "test": order[cut2:]}


def _nearest_edge(edges: np.ndarray, target: int, lo: int, hi: int) -> int:
    """The index in lo..hi of the edge (a row count) closest to target; the earlier one on a tie."""
    return lo + int(np.argmin(np.abs(edges[lo:hi + 1] - target)))


def hash_split(ids: np.ndarray | pd.Series, cfg: SplitConfig, seed: int) -> np.ndarray:
    """Split codes (0 train, 1 val, 2 test) from a seeded hash of each row's id.

    A row's split depends only on its id, the seed and the fractions, never on the other rows: the
    same rows land in the same split in memory and in every streaming pass. `ids` are row numbers
    (int64) or the values of `split.id_column` (hashed through their text, so 7 and 7.0 agree).
    """
    seed = split_seed(cfg, seed)
    if isinstance(ids, pd.Series):
        keys = pd.util.hash_pandas_object(category_strings(ids).fillna(""), index=False).to_numpy()
    else:
        keys = np.asarray(ids, dtype=np.int64).view(np.uint64)
    u = (_mix64(keys ^ _mix64(np.uint64(seed % 2**64))) >> np.uint64(11)).astype(np.float64) / 2.0**53
    return (u >= cfg.train).astype(np.int8) + (u >= cfg.train + cfg.val)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection of uint64 whose output bits look independent."""
    with np.errstate(over="ignore"):
        x = np.asarray(x, dtype=np.uint64)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


# ---------------------------------------------------------------- leakage
def count_cross_duplicates(frames: dict[str, pd.DataFrame], columns: list[str]) -> dict[str, int]:
    """Rows of a later split whose feature and target values also occur in an earlier split.

    Returns e.g. {"train-val": 3, "train-test": 0, "val-test": 1} for the splits present.
    """
    hashes = {name: pd.util.hash_pandas_object(f[columns], index=False).to_numpy() for name, f in frames.items()}
    counts = {}
    for first, second in (("train", "val"), ("train", "test"), ("val", "test")):
        if first in hashes and second in hashes:
            counts[f"{first}-{second}"] = int(np.isin(hashes[second], hashes[first]).sum())
    return counts
