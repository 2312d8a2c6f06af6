"""Column roles, type inference, cleaning and task inference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from netfit.data.messages import DataWarning
from netfit.data.schema import build_schema, clean_rows, coerce_frame, infer_task, infer_type
from netfit.errors import DataError

# dropped-column and unseen-category warnings are expected here; tests that check them use pytest.warns
pytestmark = pytest.mark.filterwarnings("ignore::netfit.data.messages.DataWarning")


@pytest.mark.parametrize("values, kind", [
    ([1.5, 2.0, np.nan], "numeric"),
    ([True, False, True], "boolean"),
    ([True, None, False], "boolean"),  # what pandas reads from a CSV boolean column with gaps
    (["a", "b", "a"], "categorical"),
    (["u1", "u2", "u3"], "id"),
    (["2024-01-05", "2024-02-11", "2023-12-30"], "date"),
    (["05/01/2024 10:00", "06/01/2024 11:30", None], "date"),
    (pd.to_datetime(["2024-01-05", "2024-02-11"]), "date"),
    ([str(i) for i in range(19)] + ["?"], "numeric"),  # 95% numbers: a numeric column with a marker
    ([None, None], "categorical"),
])
def test_infer_type(values, kind):
    assert infer_type(pd.Series(values)) == kind


def test_ids_and_dates_are_dropped_with_a_warning(mixed, make_cfg):
    with pytest.warns(DataWarning, match="'customer' dropped"):
        schema = build_schema(mixed, make_cfg(target="y"), "customers.csv")
    assert schema.types == {"age": "numeric", "income": "numeric", "city": "categorical",
                            "member": "boolean", "plan": "categorical"}
    assert set(schema.dropped) == {"customer", "signup"}
    assert "row id" in schema.dropped["customer"] and "dates" in schema.dropped["signup"]


def test_declared_columns_are_kept(mixed, make_cfg):
    cfg = make_cfg(target="y", features=["customer", "age"], types={"signup": "categorical"})
    schema = build_schema(mixed, cfg, "customers.csv")
    assert schema.types == {"customer": "categorical", "age": "numeric"}
    schema = build_schema(mixed, make_cfg(target="y", types={"signup": "categorical", "age": "categorical"}), "c.csv")
    assert schema.types["signup"] == "categorical" and schema.types["age"] == "categorical"
    assert "customer" in schema.dropped


def test_roles_are_not_features(mixed, make_cfg):
    frame = mixed.assign(w=1.0, grp=np.arange(len(mixed)) % 7)
    cfg = make_cfg(target="y", weight_column="w", ignore=["plan"], split={"group_column": "grp"})
    schema = build_schema(frame, cfg, "c.csv")
    assert not {"w", "grp", "plan", "y"} & set(schema.features)
    assert schema.weight == "w" and schema.split_columns == ["grp"] and schema.dropped["plan"].startswith("ignored")


def test_missing_target_names_file_columns_and_closest_match(mixed, make_cfg):
    with pytest.raises(DataError, match="target column not found") as e:
        build_schema(mixed, make_cfg(target="Y "), "customers.csv")
    msg = str(e.value)
    assert "customers.csv" in msg and "'Y '" in msg and "'income'" in msg
    assert "did you mean 'y'?" in e.value.hint and "data.target" in e.value.hint


def test_feature_list_naming_missing_columns(mixed, make_cfg):
    with pytest.raises(DataError, match="feature columns not found") as e:
        build_schema(mixed, make_cfg(target="y", features=["age", "incme", "zip"]), "customers.csv")
    assert "'incme', 'zip'" in e.value.where and "customers.csv" in e.value.where
    assert "did you mean 'income'?" in e.value.hint


def test_feature_that_is_the_target(mixed, make_cfg):
    with pytest.raises(DataError, match="another role") as e:
        build_schema(mixed, make_cfg(target="y", features=["age", "y"]), "c.csv")
    assert "'y'" in str(e.value) and "data.features" in e.value.hint


def test_no_feature_columns_left(make_cfg):
    df = pd.DataFrame({"name": ["a", "b", "c"], "y": [0, 1, 0]})
    with pytest.warns(DataWarning), pytest.raises(DataError, match="no feature columns left") as e:
        build_schema(df, make_cfg(target="y"), "people.csv")
    assert "people.csv" in str(e.value) and "name (looks like a row id" in str(e.value)
    assert "data.features" in e.value.hint


def test_numeric_column_with_text_names_column_row_and_value(make_cfg):
    df = pd.DataFrame({"age": [str(v) for v in range(30)], "y": [0, 1] * 15})
    df.loc[17, "age"] = "?"
    schema = build_schema(df, make_cfg(target="y"), "people.csv")
    with pytest.raises(DataError, match="numeric column holds text") as e:
        coerce_frame(df, schema, "people.csv")
    assert e.value.where == "people.csv: column 'age', row 18 (line 19)"
    assert e.value.found == "'?'" and "categorical" in e.value.hint


def test_declared_numeric_column_with_text(make_cfg):
    df = pd.DataFrame({"size": ["small", "big"] * 5, "y": [0, 1] * 5})
    schema = build_schema(df, make_cfg(target="y", types={"size": "numeric"}), "shop.parquet")
    with pytest.raises(DataError) as e:
        coerce_frame(df, schema, "shop.parquet")
    assert e.value.where == "shop.parquet: column 'size', row 1" and "'small'" in str(e.value)


def test_boolean_words_and_bad_booleans(make_cfg):
    df = pd.DataFrame({"flag": ["Yes", "no", None, "TRUE", "0"], "y": [0, 1, 0, 1, 0]})
    schema = build_schema(df, make_cfg(target="y", types={"flag": "boolean"}), "f.csv")
    assert coerce_frame(df, schema, "f.csv")["flag"].tolist()[:2] == [1.0, 0.0]
    df.loc[3, "flag"] = "maybe"
    with pytest.raises(DataError, match="boolean") as e:
        coerce_frame(df, schema, "f.csv")
    assert "row 4" in e.value.where and "'maybe'" in str(e.value) and "categorical" in e.value.hint


def test_infinities_become_missing_and_missing_targets_are_dropped(make_cfg):
    df = pd.DataFrame({"a": [1.0, np.inf, -np.inf, 4.0, 5.0], "y": [1.0, 2.0, np.nan, np.inf, 3.5]})
    schema = build_schema(df, make_cfg(target="y"), "t.csv")
    frame = coerce_frame(df, schema, "t.csv")
    assert frame["a"].isna().tolist() == [False, True, True, False, False]
    cleaned, counts = clean_rows(frame, schema, drop_duplicates=False)
    assert counts == {"missing_target": 2}
    assert cleaned["y"].tolist() == [1.0, 2.0, 3.5] and cleaned.index.tolist() == [0, 1, 2]


def test_duplicates_ignore_dropped_columns(make_cfg):
    df = pd.DataFrame({"id": ["a", "b", "c", "d"], "x": [1, 1, 2, 2], "y": [0, 0, 1, 0]})
    with pytest.warns(DataWarning):
        schema = build_schema(df, make_cfg(target="y"), "t.csv")
    cleaned, counts = clean_rows(df, schema, drop_duplicates=True)
    assert counts == {"missing_target": 0, "duplicates": 1} and len(cleaned) == 3


def test_invalid_weights(make_cfg):
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "w": [1.0, -2.0, 1.0], "y": [0, 1, 0]})
    schema = build_schema(df, make_cfg(target="y", weight_column="w"), "t.csv")
    with pytest.raises(DataError, match="sample weight") as e:
        coerce_frame(df, schema, "t.csv")
    assert "column 'w', row 2" in e.value.where and "data.weight_column" in e.value.hint


@pytest.mark.parametrize("values, task, classes", [
    ([0.5, 1.25, 3.0, 2.0], "regression", []),
    (list(range(30)), "regression", []),
    ([1.0, 2.0, 1.0, 3.0], "multiclass", [1, 2, 3]),
    ([0, 1, 1, 0], "binary", [0, 1]),
    (["cat", "dog", "cat"], "binary", ["cat", "dog"]),
    ([True, False, True], "binary", [False, True]),
    (["b", "a", "c"], "multiclass", ["a", "b", "c"]),
])
def test_infer_task(values, task, classes):
    assert infer_task(pd.Series(values, name="y"), "auto", "t.csv") == (task, classes)


def test_declared_task_wins():
    assert infer_task(pd.Series([1, 2, 3, 1], name="y"), "regression", "t.csv") == ("regression", [])
    assert infer_task(pd.Series(np.arange(40) % 25, name="y"), "multiclass", "t.csv")[0] == "multiclass"


@pytest.mark.parametrize("values, task, words", [
    (["a", "a", "a"], "auto", ["single class", "'a'", "3 rows"]),
    ([2.0, 2.0], "auto", ["single class"]),
    ([1.5, 1.5, 1.5], "regression", ["single value"]),
    ([0, 1, 2], "binary", ["exactly two classes", "3 classes"]),
    (["a", "b"], "regression", ["numeric target"]),
])
def test_bad_targets(values, task, words):
    with pytest.raises(DataError) as e:
        infer_task(pd.Series(values, name="label"), task, "t.csv")
    assert all(w in str(e.value) for w in words)
    assert "t.csv: column 'label'" == e.value.where and e.value.hint
