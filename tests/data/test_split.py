"""Splits: seeded, stratified, by group, by time, given by a column; leakage counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from netfit.config import SplitConfig
from netfit.data.messages import DataWarning
from netfit.data.split import count_cross_duplicates, split_rows, split_sizes, validate_split_columns
from netfit.errors import DataError


def labelled(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # imbalanced classes: 60% a, 30% b, 10% c
    y = rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1])
    return pd.DataFrame({"x": rng.normal(size=n), "g": rng.integers(0, 40, n), "t": rng.permutation(n), "y": y})


def assert_partition(rows: dict[str, np.ndarray], n: int) -> None:
    together = np.concatenate([rows["train"], rows["val"], rows["test"]])
    assert np.array_equal(np.sort(together), np.arange(n))


def test_same_seed_same_rows_different_seed_different_rows():
    df = labelled()
    first = split_rows(df, SplitConfig(), seed=3, labels=df["y"]).rows
    again = split_rows(df, SplitConfig(), seed=3, labels=df["y"]).rows
    other = split_rows(df, SplitConfig(), seed=4, labels=df["y"]).rows
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["test"], other["test"])
    assert_partition(first, len(df))
    assert [len(first[k]) for k in ("train", "val", "test")] == [210, 45, 45]


def test_stratification_keeps_class_proportions():
    df = labelled()
    result = split_rows(df, SplitConfig(), seed=0, labels=df["y"])
    assert result.method == "stratified"
    overall = df["y"].value_counts(normalize=True)
    for rows in result.rows.values():
        share = df["y"].iloc[rows].value_counts(normalize=True)
        # stratified allocation is within one row per class of the exact proportion
        assert (share - overall).abs().max() <= 1 / len(rows) + 1e-9


def test_no_stratification_for_regression_or_when_off():
    df = labelled()
    assert split_rows(df, SplitConfig(), seed=0).method == "random"
    assert split_rows(df, SplitConfig(stratify=False), seed=0, labels=df["y"]).method == "random"


def test_auto_stratify_falls_back_with_a_warning_when_a_class_is_tiny():
    df = labelled(100)
    df.loc[0, "y"] = "rare"
    with pytest.warns(DataWarning, match="not stratified.*'rare' has 1 rows"):
        result = split_rows(df, SplitConfig(), seed=0, labels=df["y"])
    assert result.method == "random"


def test_stratify_true_with_a_split_too_small_for_the_classes():
    df = pd.DataFrame({"x": range(40), "y": np.arange(40) % 8})  # 8 classes, val gets 4 rows
    with pytest.raises(DataError, match="too small to hold every class") as e:
        split_rows(df, SplitConfig(train=0.8, val=0.1, test=0.1, stratify=True), seed=0, labels=df["y"])
    assert e.value.where == "data.split.val" and e.value.found == "4 rows for 8 classes"
    assert "raise data.split.val" in e.value.hint and "stratify: false" in e.value.hint


def test_stratify_true_with_a_tiny_class():
    df = labelled(100)
    df.loc[0, "y"] = "rare"
    with pytest.raises(DataError, match="too few rows") as e:
        split_rows(df, SplitConfig(stratify=True), seed=0, labels=df["y"])
    assert "class 'rare' has 1 rows for 3 splits" in str(e.value) and "stratify: false" in e.value.hint


def test_zero_fraction_gives_an_empty_split():
    df = labelled(50)
    rows = split_rows(df, SplitConfig(train=0.8, val=0.2, test=0.0), seed=0, labels=df["y"]).rows
    assert len(rows["test"]) == 0 and len(rows["val"]) == 10
    assert_partition(rows, 50)


def test_no_training_rows():
    with pytest.raises(DataError, match="no rows left for training") as e:
        split_sizes(2, SplitConfig())
    assert "2 rows" in e.value.found and "data.split.val" in e.value.hint


def test_group_split_keeps_each_group_in_one_split():
    df = labelled(400)
    for seed in range(5):
        rows = split_rows(df, SplitConfig(group_column="g"), seed=seed).rows
        groups = {k: set(df["g"].iloc[r]) for k, r in rows.items()}
        assert not groups["train"] & groups["val"] and not groups["train"] & groups["test"]
        assert not groups["val"] & groups["test"]
        assert_partition(rows, len(df))
        assert 0.5 < len(rows["train"]) / len(df) < 0.85 and len(rows["val"]) > 0 and len(rows["test"]) > 0


def test_group_split_with_too_few_groups():
    df = pd.DataFrame({"x": range(10), "g": [1] * 5 + [2] * 5})
    with pytest.raises(DataError, match="too few groups") as e:
        split_rows(df, SplitConfig(group_column="g"), seed=0)
    assert "2 distinct group(s) for 3 splits" in e.value.found and "'g'" in e.value.where


def test_order_split_puts_the_latest_rows_in_test():
    df = labelled(200)
    rows = split_rows(df, SplitConfig(order_column="t"), seed=0).rows
    t = df["t"].to_numpy()
    assert t[rows["train"]].max() < t[rows["val"]].min() and t[rows["val"]].max() < t[rows["test"]].min()
    assert sorted(t[rows["test"]]) == list(range(170, 200))


def test_an_order_split_keeps_rows_of_the_same_time_on_one_side():
    # 10 days, 21 rows a day, newest first in the file: the 70/15/15 cuts (146, 178) fall inside days 6 and 8
    df = pd.DataFrame({"day": np.repeat(np.arange(10), 21)[::-1].copy(), "y": np.arange(210) % 2})
    rows = split_rows(df, SplitConfig(order_column="day"), seed=0).rows
    assert_partition(rows, 210)
    days = {name: set(df["day"].to_numpy()[r]) for name, r in rows.items()}
    assert not days["train"] & days["val"] and not days["val"] & days["test"] and not days["train"] & days["test"]
    assert max(days["train"]) < min(days["val"]) and max(days["val"]) < min(days["test"])
    # each cut moves to the nearest change of day: 146 -> 147, 178 -> 168
    assert [len(rows[name]) for name in ("train", "val", "test")] == [147, 21, 42]
    t = df["day"].to_numpy()
    assert all((np.diff(t[rows[name]]) >= 0).all() for name in rows)  # each split in time order


def test_an_order_split_with_too_few_distinct_times_is_a_data_error():
    df = pd.DataFrame({"day": ["2024-01-01"] * 8 + ["2024-01-02"] * 2, "y": range(10)})
    df = validate_split_columns(df, SplitConfig(order_column="day"), "sales.csv")
    with pytest.raises(DataError, match="too few distinct times") as e:
        split_rows(df, SplitConfig(order_column="day"), seed=0)
    assert "'day'" in e.value.where and "2 distinct time(s) for 3 splits" in e.value.found and e.value.hint


def test_order_column_of_date_strings():
    dates = pd.date_range("2020-01-01", periods=20, freq="W").strftime("%Y-%m-%d")
    df = pd.DataFrame({"day": dates[::-1], "y": range(20)})  # newest first in the file
    df = validate_split_columns(df, SplitConfig(order_column="day"), "sales.csv")
    rows = split_rows(df, SplitConfig(order_column="day"), seed=0).rows
    assert list(rows["test"]) == [2, 1, 0]


def test_order_column_with_a_bad_value():
    df = pd.DataFrame({"day": ["2020-01-01", "soon", "2020-01-03"], "y": [1, 2, 3]})
    with pytest.raises(DataError, match="neither numbers nor dates") as e:
        validate_split_columns(df, SplitConfig(order_column="day"), "sales.csv")
    assert e.value.where == "sales.csv: column 'day', row 2 (line 3)" and "'soon'" in str(e.value)


def test_split_column_given_by_the_user():
    df = pd.DataFrame({"s": ["train", "Train ", "val", "test", "validation", "train"], "y": range(6)})
    df = validate_split_columns(df, SplitConfig(column="s"), "given.csv")
    rows = split_rows(df, SplitConfig(column="s"), seed=0).rows
    assert {k: list(v) for k, v in rows.items()} == {"train": [0, 1, 5], "val": [2, 4], "test": [3]}


def test_split_column_with_bad_values_lists_them_and_a_row():
    df = pd.DataFrame({"s": ["train", "dev", "test", None, "dev"], "y": range(5)})
    with pytest.raises(DataError, match="other than train/val/test") as e:
        validate_split_columns(df, SplitConfig(column="s"), "given.csv")
    assert e.value.where == "given.csv: column 's', row 2 (line 3)"
    assert "'dev'" in e.value.found and "'nan'" in e.value.found and "train/val/test" in e.value.hint


def test_split_column_without_train_rows():
    df = pd.DataFrame({"s": ["val", "test"], "y": [0, 1]})
    with pytest.raises(DataError, match="no row as train"):
        split_rows(df, SplitConfig(column="s"), seed=0)


def test_rows_shared_across_splits_are_counted():
    frames = {
        "train": pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]}),
        "val": pd.DataFrame({"x": [1.0, 2.0, 9.0], "y": [0, 0, 0]}),  # (1, 0) is in train; (2, 0) is not
        "test": pd.DataFrame({"x": [9.0, 3.0], "y": [0, 0]}),
    }
    assert count_cross_duplicates(frames, ["x", "y"]) == {"train-val": 1, "train-test": 1, "val-test": 1}
