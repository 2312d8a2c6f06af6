"""Reading sources: files, bundled sets, in-memory data, and the errors for bad input."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from netfit.data.sources import SUPPORTED_EXTENSIONS, frame_from_data, list_datasets, load_table, source_sha256
from netfit.errors import DataError


def test_csv_and_parquet_read_the_same_table(tmp_path, mixed, make_cfg):
    mixed.to_parquet(tmp_path / "t.parquet")
    mixed.to_csv(tmp_path / "t.csv", index=False)
    from_parquet = load_table(str(tmp_path / "t.parquet"), make_cfg())
    from_csv = load_table(str(tmp_path / "t.csv"), make_cfg())
    assert from_parquet.shape == from_csv.shape == mixed.shape
    assert list(from_csv.columns) == list(mixed.columns)
    np.testing.assert_allclose(from_csv["income"], mixed["income"])


def test_npz_arrays_become_columns(tmp_path, make_cfg):
    x = np.arange(12.0).reshape(4, 3)
    np.savez(tmp_path / "a.npz", feats=x, labels=np.array([0, 1, 0, 1]))
    df = load_table(str(tmp_path / "a.npz"), make_cfg(x_key="feats", y_key="labels", target="label"))
    assert list(df.columns) == ["x0", "x1", "x2", "label"]
    assert df["label"].tolist() == [0, 1, 0, 1]


def test_npz_images_are_flattened(tmp_path, make_cfg):
    np.savez(tmp_path / "img.npz", x=np.zeros((5, 2, 2)), y=np.arange(5))
    df = load_table(str(tmp_path / "img.npz"), make_cfg())
    assert df.shape == (5, 5) and df.columns[-1] == "target"


def test_npz_without_named_arrays_lists_those_present(tmp_path, make_cfg):
    np.savez(tmp_path / "a.npz", X=np.zeros((3, 2)), labels=np.zeros(3))
    with pytest.raises(DataError) as e:
        load_table(str(tmp_path / "a.npz"), make_cfg())
    msg = str(e.value)
    assert "a.npz" in msg and "'X', 'labels'" in msg and "'x', 'y'" in msg
    assert "data.x_key" in e.value.hint


def test_npz_with_mismatched_lengths(tmp_path, make_cfg):
    np.savez(tmp_path / "a.npz", x=np.zeros((4, 2)), y=np.zeros(3))
    with pytest.raises(DataError, match="different lengths") as e:
        load_table(str(tmp_path / "a.npz"), make_cfg())
    assert "4 rows of X, 3 labels" in str(e.value) and "a.npz" in str(e.value)


@pytest.mark.parametrize("name, shape, first", [
    ("digits", (1797, 65), "pixel_0_0"),
    ("iris", (150, 5), "sepal length (cm)"),
    ("diabetes", (442, 11), "age"),
])
def test_bundled_sets_have_named_features_and_a_target(name, shape, first, make_cfg):
    df = load_table(f"sklearn:{name}", make_cfg())
    assert df.shape == shape
    assert df.columns[0] == first and df.columns[-1] == "target"


def test_unknown_bundled_set(make_cfg):
    with pytest.raises(DataError) as e:
        load_table("sklearn:mnist", make_cfg())
    assert "sklearn:mnist" in str(e.value) and "sklearn:digits" in str(e.value)
    assert "netfit datasets" in e.value.hint


def test_list_datasets():
    sets = {d["name"]: d for d in list_datasets()}
    assert sets["sklearn:iris"] == {"name": "sklearn:iris", "task": "multiclass", "rows": 150, "columns": 4}
    assert sets["sklearn:diabetes"]["task"] == "regression"
    assert sets["sklearn:breast_cancer"]["task"] == "binary"
    assert len(sets) == 5


# ---------------------------------------------------------------- bad files
def test_missing_file_names_path_and_directory(tmp_path, make_cfg):
    with pytest.raises(DataError) as e:
        load_table("no/such/data.csv", make_cfg())
    msg = str(e.value)
    assert "not found" in msg and "no/such/data.csv" in msg and os.getcwd() in msg
    assert "absolute path" in e.value.hint


def test_empty_file(tmp_path, make_cfg):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(DataError, match="empty") as e:
        load_table(str(tmp_path / "empty.csv"), make_cfg())
    assert "empty.csv" in str(e.value) and "0 bytes" in str(e.value) and e.value.hint


def test_header_only_file(tmp_path, make_cfg):
    (tmp_path / "head.csv").write_text("a,b,y\n")
    with pytest.raises(DataError, match="no rows") as e:
        load_table(str(tmp_path / "head.csv"), make_cfg())
    assert "head.csv" in str(e.value) and "'a', 'b', 'y'" in str(e.value) and "header" in e.value.hint


def test_unreadable_csv_names_the_line(tmp_path, make_cfg):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,4\n5,6,7\n")
    with pytest.raises(DataError, match="cannot parse CSV") as e:
        load_table(str(tmp_path / "bad.csv"), make_cfg())
    assert e.value.where == f"{tmp_path / 'bad.csv'}: line 4"
    assert "quote" in e.value.hint


@pytest.mark.parametrize("text, line, found", [
    # six values under a seven-column header: pandas would fill the last column with NaN and
    # every value after the gap would sit one column to the left
    ("a,b,c,d,e,f,y\n1,2,3,4,5,6,0\n1,2,3,5,6,1\n1,2,3,4,5,6,0\n", 3, "6 fields"),
    # every row one field longer than the header: pandas would make the first column the index
    ("a,b,y\n1,2,3,0\n4,5,6,1\n", 2, "4 fields"),
    # a quoted field over two lines counts as one record; the short record ends on line 5
    ('a,b,y\n1,"x\ny",0\n2,z,1\n3,w\n', 5, "2 fields"),
], ids=["a field missing", "a field extra on every row", "after a quoted line break"])
def test_csv_row_with_a_missing_or_extra_field_is_a_data_error_naming_the_line(tmp_path, make_cfg, text, line,
                                                                               found):
    (tmp_path / "ragged.csv").write_text(text)
    with pytest.raises(DataError, match="ragged CSV row") as e:
        load_table(str(tmp_path / "ragged.csv"), make_cfg())
    assert e.value.where == f"{tmp_path / 'ragged.csv'}: line {line}"
    assert found in e.value.found and "header" in e.value.expected


def test_csv_with_empty_fields_in_the_last_column_is_not_ragged(tmp_path, make_cfg):
    (tmp_path / "gaps.csv").write_text("a,b,y\n1,2,0\n3,4,\n\n5,6,NA\n")
    df = load_table(str(tmp_path / "gaps.csv"), make_cfg())
    assert df.shape == (3, 3) and df["y"].isna().sum() == 2


def test_non_utf8_csv(tmp_path, make_cfg):
    (tmp_path / "latin.csv").write_bytes("a,b\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="decode") as e:
        load_table(str(tmp_path / "latin.csv"), make_cfg())
    assert "latin.csv" in str(e.value) and "UTF-8" in e.value.hint


def test_corrupt_parquet(tmp_path, make_cfg):
    (tmp_path / "fake.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="Parquet") as e:
        load_table(str(tmp_path / "fake.parquet"), make_cfg())
    assert "fake.parquet" in str(e.value) and "renamed" in e.value.hint


def test_unknown_extension_lists_supported(tmp_path, make_cfg):
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(DataError, match="unsupported file type") as e:
        load_table(str(tmp_path / "data.xlsx"), make_cfg())
    msg = str(e.value)
    assert ".xlsx" in msg and all(ext in msg for ext in SUPPORTED_EXTENSIONS) and "data.xlsx" in msg


def test_a_folder_is_not_a_file(tmp_path, make_cfg):
    with pytest.raises(DataError, match="not a file"):
        load_table(str(tmp_path), make_cfg())


# ---------------------------------------------------------------- in-memory data
def test_frame_from_arrays(make_cfg):
    df = frame_from_data((np.ones((3, 2)), [0, 1, 0]), make_cfg(target="label"))
    assert list(df.columns) == ["x0", "x1", "label"]


def test_frame_from_frame_and_series_keeps_names(mixed, make_cfg):
    X, y = mixed.drop(columns="y"), pd.Series(mixed["y"].to_numpy(), index=mixed.index + 100)
    df = frame_from_data((X, y), make_cfg())
    assert list(df.columns) == list(X.columns) + ["target"]
    assert df["target"].tolist() == mixed["y"].tolist()  # y is aligned by position, not by index


def test_frame_from_dict_of_splits(mixed, make_cfg):
    frames = frame_from_data({"train": mixed, "val": (np.zeros((2, 2)), [0, 1])}, make_cfg())
    assert set(frames) == {"train", "val"} and frames["val"].shape == (2, 3)


@pytest.mark.parametrize("data, words", [
    ({"training": pd.DataFrame({"a": [1]})}, ["'training'", "'train'"]),
    ((np.zeros((3, 2)), [1, 2]), ["3 rows of X, 2 labels"]),
    ("data.csv", ["DataFrame", "str"]),
    (pd.DataFrame({"a": []}), ["no rows"]),
])
def test_bad_in_memory_data(data, words, make_cfg):
    with pytest.raises(DataError) as e:
        frame_from_data(data, make_cfg())
    assert all(w in str(e.value) for w in words) and e.value.hint


def test_x_with_a_target_column_is_refused(make_cfg):
    X = pd.DataFrame({"target": [1, 2], "b": [3, 4]})
    with pytest.raises(DataError, match="named like the target") as e:
        frame_from_data((X, [0, 1]), make_cfg())
    assert "data.target" in e.value.hint


def test_fingerprint_is_the_file_bytes(tmp_path, mixed, make_cfg):
    path = tmp_path / "t.csv"
    mixed.to_csv(path, index=False)
    first = source_sha256(str(path), mixed)
    mixed.iloc[:5].to_csv(path, index=False)
    assert source_sha256(str(path), mixed) != first
    assert source_sha256("sklearn:iris", mixed) == source_sha256("sklearn:iris", mixed.copy())
