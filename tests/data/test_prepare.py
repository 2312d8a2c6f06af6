"""The whole data stage: load -> clean -> split -> fit on train -> transform, on real tables."""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netfit.data import Prepared, prepare
from netfit.data.messages import DataWarning
from netfit.errors import DataError

pytestmark = pytest.mark.filterwarnings("ignore::netfit.data.messages.DataWarning")


def test_digits_end_to_end_and_fast(make_cfg):
    cfg = make_cfg(source="sklearn:digits")
    prepare(cfg, seed=0)  # the first call pays for importing scikit-learn
    start = time.perf_counter()
    prepared = prepare(cfg, seed=0)
    assert time.perf_counter() - start < 1.0
    assert isinstance(prepared, Prepared) and prepared.task == "multiclass"
    sizes = {k: len(s) for k, s in prepared.splits.items()}
    assert sizes == {"train": 1257, "val": 270, "test": 270}
    train = prepared.splits["train"]
    assert train.x_num.dtype == np.float32 and train.y.dtype == np.int64 and train.x_cat.shape == (1257, 0)
    # robust scaling with train statistics: each kept column's median at 0
    assert np.allclose(np.median(train.x_num, axis=0), 0, atol=1e-5)
    assert prepared.preprocessor.classes == list(range(10))
    assert set(prepared.fingerprint) == {"data", "split"}


def test_summary_of_a_messy_csv(tmp_path, make_mixed, make_cfg):
    df = make_mixed(300)
    df.loc[[3, 10, 11], "y"] = None
    path = tmp_path / "customers.csv"
    df.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare(make_cfg(source=str(path), target="y"), seed=1)
    s = prepared.summary
    assert s["sources"] == {"all": str(path)} and s["rows_loaded"] == {"all": 300}
    assert s["rows_dropped"] == {"missing_target": 3} and s["rows_used"] == 297
    assert sum(s["split_sizes"].values()) == 297 and s["split_method"] == "stratified"
    assert s["task"] == "binary" and s["classes"] == ["no", "yes"]
    assert s["columns"] == {"numeric": ["age", "income"], "categorical": ["city", "plan"], "boolean": ["member"]}
    assert s["encoding"] == {"onehot": ["city"], "codes": ["plan"]}
    assert set(s["dropped_columns"]) == {"customer", "signup"}
    assert set(s["missing_in_train"]) == {"age", "city"}
    assert s["class_balance"]["train"]["no"] + s["class_balance"]["train"]["yes"] == s["split_sizes"]["train"]
    assert any("'customer' dropped" in w for w in s["warnings"])
    json.dumps(s)  # the report stores it as JSON


def test_warnings_are_collected_and_still_emitted(make_cfg):
    with pytest.warns(DataWarning, match="single value"):
        prepared = prepare(make_cfg(source="sklearn:digits"), seed=0)
    assert any("single value" in w for w in prepared.summary["warnings"])


def test_statistics_come_from_the_training_split_only(tmp_path, mixed, make_cfg):
    mixed.to_csv(tmp_path / "a.csv", index=False)
    cfg = make_cfg(source=str(tmp_path / "a.csv"), target="y", preprocess={"missing_indicator": True})
    before = prepare(cfg, seed=0)
    val, test = before.splits["val"].rows, before.splits["test"].rows
    changed = mixed.copy()
    changed.loc[val, "income"] = 1e9
    changed.loc[test, "age"] = -1e9
    changed.loc[test, "city"] = "atlantis"
    changed.loc[val, "plan"] = "p-new"
    changed.to_csv(tmp_path / "b.csv", index=False)
    after = prepare(make_cfg(source=str(tmp_path / "b.csv"), target="y", preprocess={"missing_indicator": True}), seed=0)
    assert np.array_equal(after.splits["val"].rows, val)
    assert after.preprocessor.to_dict() == before.preprocessor.to_dict()
    assert np.array_equal(after.splits["train"].x_num, before.splits["train"].x_num)
    unseen = after.summary["unseen_categories"]
    assert unseen["val"]["plan"] == len(val) and unseen["test"]["city"] == len(test)
    # and the check has teeth: one changed training value does change the fitted state
    changed.loc[before.splits["train"].rows[0], "income"] = 1e9
    moved = prepare(cfg, seed=0, data=changed)
    assert moved.preprocessor.to_dict() != before.preprocessor.to_dict()


def test_split_fingerprint_follows_the_seed(make_cfg):
    cfg = make_cfg(source="sklearn:iris")
    a, b, c = prepare(cfg, 0), prepare(cfg, 0), prepare(cfg, 1)
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint["data"] == c.fingerprint["data"] and a.fingerprint["split"] != c.fingerprint["split"]
    assert np.array_equal(a.splits["test"].rows, b.splits["test"].rows)
    assert not np.array_equal(a.splits["test"].rows, c.splits["test"].rows)


def test_separate_sources_and_a_test_source_that_is_not_read(tmp_path, make_mixed, make_cfg):
    make_mixed(200, 1).to_parquet(tmp_path / "train.parquet")
    make_mixed(60, 2).to_csv(tmp_path / "val.csv", index=False)
    cfg = make_cfg(train=str(tmp_path / "train.parquet"), val=str(tmp_path / "val.csv"),
                   test=str(tmp_path / "not-written-yet.csv"), target="y")
    prepared = prepare(cfg, seed=0, need_test=False)  # tuning: the test file is never opened
    assert set(prepared.splits) == {"train", "val"} and len(prepared.splits["val"]) == 60
    assert prepared.summary["split_method"] == "sources"
    assert set(prepared.fingerprint) == {"data", "split", "data.train", "data.val"}
    with pytest.raises(DataError, match="not found") as e:
        prepare(cfg, seed=0, need_test=True)
    assert "not-written-yet.csv" in str(e.value)


def test_train_and_test_sources_without_val_carve_a_stratified_seeded_validation_split(tmp_path, make_mixed, make_cfg):
    make_mixed(200, 1).to_csv(tmp_path / "train.csv", index=False)
    make_mixed(60, 2).to_csv(tmp_path / "test.csv", index=False)
    cfg = make_cfg(train=str(tmp_path / "train.csv"), test=str(tmp_path / "test.csv"), target="y")
    prepared = prepare(cfg, seed=0)
    sizes = {k: len(s) for k, s in prepared.splits.items()}
    # val/(train+val) of the default fractions 0.7/0.15/0.15: 200 * 0.15 / 0.85 = 35 rows
    assert sizes == {"train": 165, "val": 35, "test": 60}
    assert prepared.summary["validation"] == {"from": "carved", "rows": 35, "share": pytest.approx(0.15 / 0.85),
                                              "method": "stratified", "seed": 0}
    together = np.sort(np.concatenate([prepared.splits["train"].rows, prepared.splits["val"].rows]))
    assert np.array_equal(together, np.arange(200))  # rows of the training source, none twice
    balance = prepared.summary["class_balance"]
    assert abs(balance["val"]["yes"] / 35 - balance["train"]["yes"] / 165) < 0.05  # stratified
    tuning, other = prepare(cfg, seed=0, need_test=False), prepare(cfg, seed=1)
    assert np.array_equal(tuning.splits["val"].rows, prepared.splits["val"].rows)  # seeded, test file or not
    assert not np.array_equal(other.splits["val"].rows, prepared.splits["val"].rows)
    # the fractions need not add up to 1 beside data.train: only val/(train+val) is used
    wide = prepare(make_cfg(train=cfg.train, test=cfg.test, target="y", split={"train": 0.8, "val": 0.2}), seed=0)
    assert len(wide.splits["val"]) == 40
    off = prepare(make_cfg(train=cfg.train, test=cfg.test, target="y", split={"val": 0.0}), seed=0)
    assert len(off.splits["val"]) == 0 and len(off.splits["train"]) == 200
    assert off.summary["validation"] == {"from": "none", "rows": 0, "reason": "data.split.val: 0"}
    # with an order column the carved validation rows are the latest of the training source
    make_mixed(200, 1).assign(t=np.arange(200)[::-1]).to_csv(tmp_path / "timed.csv", index=False)
    timed = prepare(make_cfg(train=str(tmp_path / "timed.csv"), test=cfg.test, target="y",
                             split={"order_column": "t"}), seed=0)
    t = np.arange(200)[::-1]
    assert t[timed.splits["val"].rows].min() > t[timed.splits["train"].rows].max()
    assert timed.summary["validation"]["method"] == "order" and "t" not in timed.preprocessor.input_columns


def test_a_split_column_without_val_rows_carves_validation_from_the_train_rows(make_mixed, make_cfg):
    df = make_mixed(200).assign(part=["test" if i % 5 == 0 else "train" for i in range(200)])
    prepared = prepare(make_cfg(target="y", split={"column": "part"}), 0, data=df)
    assert {k: len(s) for k, s in prepared.splits.items()} == {"train": 132, "val": 28, "test": 40}
    assert set(df["part"].iloc[prepared.splits["val"].rows]) == {"train"}
    assert prepared.summary["validation"]["from"] == "carved" and prepared.summary["split_method"] == "column"
    marked = df.assign(part=np.where(np.arange(200) % 10 == 1, "val", df["part"]))
    assert prepare(make_cfg(target="y", split={"column": "part"}), 0, data=marked).summary["validation"] == \
        {"from": "column", "rows": 20}
    no_val = prepare(make_cfg(target="y"), 0, data={"train": make_mixed(100, 1), "test": make_mixed(30, 2)})
    assert len(no_val.splits["val"]) == 18 and no_val.summary["validation"]["from"] == "carved"


def _labelled(n: int, labels, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=n), "code": rng.choice(list("abcde"), n), "y": rng.choice(labels, n)})


def test_the_task_and_classes_come_from_the_training_data_never_the_test_file(tmp_path, make_cfg):
    _labelled(300, range(15), 1).to_csv(tmp_path / "train.csv", index=False)
    _labelled(80, range(15), 2).to_csv(tmp_path / "val.csv", index=False)
    test = _labelled(100, range(30), 3).assign(code=[f"id{i}" for i in range(100)])  # unique here: an id in the test file
    test.to_csv(tmp_path / "test.csv", index=False)
    cfg = make_cfg(train=str(tmp_path / "train.csv"), val=str(tmp_path / "val.csv"), test=str(tmp_path / "test.csv"),
                   target="y")
    tuning = prepare(cfg, 0, need_test=False)  # the test file is not read
    with pytest.warns(DataWarning, match="not seen in training"):
        final = prepare(cfg, 0)
    # 15 integer labels in training: multiclass in both (the test file's 30 made the final run a regression)
    assert tuning.task == final.task == "multiclass"
    assert tuning.preprocessor.classes == final.preprocessor.classes == list(range(15))
    assert tuning.preprocessor.types == final.preprocessor.types == {"a": "numeric", "code": "categorical"}
    unseen = test["y"].to_numpy() >= 15
    y = final.splits["test"].y
    assert np.array_equal(y == -1, unseen) and np.array_equal(y[~unseen], test["y"].to_numpy()[~unseen])
    counts = test["y"][unseen].value_counts().sort_index()
    assert final.summary["unseen_labels"] == {"test": {str(k): int(n) for k, n in counts.items()}}
    assert tuning.summary["unseen_labels"] == {}
    assert any("not seen in training" in w and "count as wrong" in w for w in final.summary["warnings"])


def test_a_validation_label_unseen_in_training_is_a_data_error(tmp_path, make_mixed, make_cfg):
    make_mixed(200, 1).to_csv(tmp_path / "train.csv", index=False)
    val = make_mixed(60, 2)
    val.loc[[7, 30], "y"] = "maybe"
    val.to_csv(tmp_path / "val.csv", index=False)
    with pytest.raises(DataError, match="validation labels not seen in training") as e:
        prepare(make_cfg(train=str(tmp_path / "train.csv"), val=str(tmp_path / "val.csv"), target="y"), 0,
                need_test=False)
    assert e.value.where == f"{tmp_path / 'val.csv'}: column 'y', row 8 (line 9)"
    assert e.value.found == "'maybe' (2 rows)" and "'no', 'yes'" in e.value.expected and "data.train" in e.value.hint


def test_separate_sources_must_share_the_columns(tmp_path, make_mixed, make_cfg):
    make_mixed(100, 1).to_csv(tmp_path / "train.csv", index=False)
    make_mixed(30, 2).drop(columns="income").to_csv(tmp_path / "val.csv", index=False)
    with pytest.raises(DataError) as e:
        prepare(make_cfg(train=str(tmp_path / "train.csv"), val=str(tmp_path / "val.csv"), target="y"), seed=0)
    assert "val.csv" in e.value.where and "'income'" in e.value.where


def test_without_a_val_fraction_the_val_split_is_empty(make_cfg):
    prepared = prepare(make_cfg(source="sklearn:wine", split={"train": 0.8, "val": 0.0, "test": 0.2}), seed=0)
    val = prepared.splits["val"]
    assert len(val) == 0 and val.x_num.shape == (0, prepared.preprocessor.n_num) and val.y.shape == (0,)


def test_need_test_false_keeps_the_same_train_and_val(make_cfg):
    cfg = make_cfg(source="sklearn:breast_cancer")
    full, tuning = prepare(cfg, 5), prepare(cfg, 5, need_test=False)
    assert "test" not in tuning.splits and tuning.fingerprint == full.fingerprint
    assert np.array_equal(full.splits["val"].x_num, tuning.splits["val"].x_num)


def test_in_memory_data(make_mixed, make_cfg):
    X = np.random.default_rng(0).normal(size=(120, 3))
    y = (X[:, 0] > 0).astype(int)
    assert prepare(make_cfg(), 0, data=(X, y)).task == "binary"
    splits = {"train": make_mixed(150, 1), "val": make_mixed(40, 2), "test": make_mixed(40, 3)}
    prepared = prepare(make_cfg(target="y"), 0, data=splits)
    assert {k: len(s) for k, s in prepared.splits.items()} == {"train": 150, "val": 40, "test": 40}
    assert prepared.summary["sources"]["val"] == "<data['val']>"


def test_group_split_end_to_end(make_mixed, make_cfg):
    df = make_mixed(300).assign(store=np.arange(300) % 23)
    prepared = prepare(make_cfg(target="y", split={"group_column": "store"}), 0, data=df)
    stores = {k: set(df["store"].iloc[s.rows]) for k, s in prepared.splits.items()}
    assert not (stores["train"] & stores["val"]) and not (stores["train"] & stores["test"])
    assert "store" not in prepared.preprocessor.input_columns


def test_regression_target_end_to_end(make_cfg):
    prepared = prepare(make_cfg(source="sklearn:diabetes"), 0)
    train = prepared.splits["train"]
    assert prepared.task == "regression" and train.y.dtype == np.float32 and abs(train.y.mean()) < 1e-5
    assert "class_balance" not in prepared.summary


def test_all_targets_missing(make_cfg):
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [np.nan, np.inf, None]})
    with pytest.raises(DataError, match="no rows left") as e:
        prepare(make_cfg(target="y"), 0, data=df)
    assert "'y'" in e.value.where and "missing target" in e.value.found and e.value.hint


def test_data_errors_exit_with_code_2(make_cfg):
    with pytest.raises(DataError) as e:
        prepare(make_cfg(source="missing.csv", target="y"), 0)
    assert e.value.exit_code == 2


# ---------------------------------------------------------------- property: DataError or a result
cells = {
    "float": st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.none()),
    "int": st.integers(-3, 3),
    "text": st.one_of(st.sampled_from(["a", "b", "c", "1", "2.5", "2024-01-02", "", " "]), st.none()),
    "bool": st.one_of(st.booleans(), st.none()),
}


@st.composite
def tables(draw):
    n = draw(st.integers(1, 30))
    kinds = draw(st.lists(st.sampled_from(sorted(cells)), min_size=1, max_size=4))
    columns = {f"c{i}_{kind}": draw(st.lists(cells[kind], min_size=n, max_size=n)) for i, kind in enumerate(kinds)}
    columns["y"] = draw(st.lists(st.one_of(cells[draw(st.sampled_from(sorted(cells)))], st.none()), min_size=n, max_size=n))
    return pd.DataFrame(columns)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=tables(), seed=st.integers(0, 3), stratify=st.sampled_from(["auto", True, False]),
       preprocess=st.sampled_from([{}, {"categorical": "codes", "missing_indicator": True, "drop_duplicates": True},
                                   {"numeric": "robust", "missing_categorical": "most_frequent", "drop_constant": False}]))
def test_any_small_table_prepares_or_raises_a_data_error(df, seed, stratify, preprocess):
    from netfit.config import DataConfig

    cfg = DataConfig.model_validate({"target": "y", "split": {"stratify": stratify}, "preprocess": preprocess})
    try:
        prepared = prepare(cfg, seed, data=df)
    except DataError as e:
        assert e.message and e.hint  # every DataError says how to fix it
        return
    assert sum(len(s) for s in prepared.splits.values()) <= len(df)
    for split in prepared.splits.values():
        assert np.isfinite(split.x_num).all() and split.x_num.dtype == np.float32
        assert split.x_cat.dtype == np.int64 and split.x_num.shape[1] == prepared.preprocessor.n_num
    json.dumps(prepared.preprocessor.to_dict(), allow_nan=False)
    json.dumps(prepared.summary)
