"""Preprocessing: statistics, encodings, predict-time checks and the JSON state."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from netfit.config import PreprocessConfig
from netfit.data.messages import DataWarning
from netfit.data.preprocess import Preprocessor
from netfit.errors import DataError

# dropped-column and unseen-category warnings are expected here; tests that check them use pytest.warns
pytestmark = pytest.mark.filterwarnings("ignore::netfit.data.messages.DataWarning")

TYPES = {"age": "numeric", "income": "numeric", "city": "categorical", "member": "boolean", "plan": "categorical"}


def fitted(df: pd.DataFrame, **preprocess) -> Preprocessor:
    return Preprocessor(TYPES, "y", "binary", PreprocessConfig(**preprocess)).fit(df)


@pytest.mark.parametrize("method", ["standardize", "minmax", "robust", "none"])
def test_numeric_scaling_matches_numpy(mixed, method):
    pre = fitted(mixed, numeric=method, clip=None)  # the scaling alone (clipping: its own test)
    x = pre.transform(mixed).x_num[:, pre.feature_names.index("income")]
    income = mixed["income"].to_numpy()
    expected = {
        "standardize": (income - income.mean()) / income.std(),
        "minmax": (income - income.min()) / (income.max() - income.min()),
        "robust": (income - np.median(income)) / np.subtract(*np.percentile(income, [75, 25])),
        "none": income,
    }[method]
    np.testing.assert_allclose(x, expected.astype(np.float32), rtol=1e-6)


@pytest.mark.parametrize("missing, fill", [("median", 48.0), ("mean", 47.0), ("constant", -1.0)])
def test_numeric_imputation(missing, fill):
    df = pd.DataFrame({"age": [40.0, np.nan, 48.0, 53.0, np.inf], "y": [0, 1, 0, 1, 0]})
    pre = Preprocessor({"age": "numeric"}, "y", "binary", PreprocessConfig(numeric="none", missing=missing, fill_value=-1.0))
    x = pre.fit(df).transform(df).x_num[:, 0]
    # +/-inf counts as missing: it is imputed like NaN and left out of the statistics
    assert x.tolist() == [40.0, fill, 48.0, 53.0, fill]


def test_missing_indicators_for_columns_with_gaps_in_train(mixed):
    pre = fitted(mixed, missing_indicator=True)
    assert pre.feature_names[-1] == "age__missing" and "income__missing" not in pre.feature_names
    x = pre.transform(mixed).x_num[:, -1]
    assert np.array_equal(x, mixed["age"].isna().to_numpy(np.float32))


def test_zero_scale_is_guarded():
    df = pd.DataFrame({"c": [5.0, 5.0, 5.0], "y": [0, 1, 0]})
    pre = Preprocessor({"c": "numeric"}, "y", "binary", PreprocessConfig(drop_constant=False)).fit(df)
    assert pre.numeric[0].scale == 1.0 and np.all(pre.transform(df).x_num == 0)


def test_constant_columns_are_dropped_with_a_warning(mixed):
    df = mixed.assign(age=7.0)
    with pytest.warns(DataWarning, match="'age'"):
        pre = fitted(df)
    assert "age" not in pre.input_columns and pre.dropped == {"age": "constant in the training split"}


def test_booleans_become_zero_one(mixed):
    pre = fitted(mixed)
    x = pre.transform(mixed).x_num[:, pre.feature_names.index("member")]
    assert np.array_equal(x, mixed["member"].to_numpy(np.float32))


def test_onehot_below_the_cap_codes_above(mixed):
    pre = fitted(mixed)
    assert [c.name for c in pre.categoricals if c.onehot] == ["city"]
    assert pre.cat_names == ["plan"] and pre.cat_cardinalities == [mixed["plan"].nunique() + 1]  # + unknown
    split = pre.transform(mixed)
    assert split.x_cat.shape == (len(mixed), 1) and split.x_cat.min() >= 1
    onehot = split.x_num[:, [i for i, n in enumerate(pre.feature_names) if n.startswith("city=")]]
    assert pre.feature_names[-5:] == ["city=lille", "city=lyon", "city=nice", "city=paris", "city=<missing>"]
    assert np.all(onehot.sum(axis=1) == 1)  # missing cities have a category of their own
    assert np.array_equal(onehot[:, -1], mixed["city"].isna().to_numpy(np.float32))
    assert fitted(mixed, categorical="onehot").cat_names == []
    assert [c.name for c in fitted(mixed, categorical="codes").categoricals if c.onehot] == []


def test_missing_category_filled_with_the_most_frequent(mixed):
    pre = fitted(mixed, missing_categorical="most_frequent")
    city = pre.categoricals[0]
    assert city.fill == mixed["city"].value_counts().idxmax() and not city.missing_category
    rows = pre.transform(mixed).x_num[mixed["city"].isna().to_numpy()]
    assert np.all(rows[:, pre.feature_names.index(f"city={city.fill}")] == 1)


def test_codes_give_missing_its_own_code_and_unknown_zero(mixed):
    pre = fitted(mixed, categorical="codes")
    city = pre.categoricals[0]
    assert city.categories == ["lille", "lyon", "nice", "paris"] and pre.cat_cardinalities[0] == 6
    new = mixed.head(3).assign(city=["lyon", None, "berlin"])
    with pytest.warns(DataWarning, match="city"):
        codes = pre.transform(new).x_cat[:, 0]
    assert codes.tolist() == [2, 5, 0]


def test_unseen_category_is_counted_and_encoded_as_all_zero(mixed):
    pre = fitted(mixed)
    new = mixed.head(4).assign(city=["rome", "oslo", "lyon", "rome"])
    assert pre.unseen_categories(new) == {"city": 3}
    with pytest.warns(DataWarning, match=r"column 'city': 3 row\(s\) hold categories not seen in training: 'oslo', 'rome'"):
        split = pre.transform(new)
    onehot = split.x_num[:, [i for i, n in enumerate(pre.feature_names) if n.startswith("city=")]]
    assert onehot.sum(axis=1).tolist() == [0, 0, 1, 0]


def test_row_warnings_name_what_preprocessing_did_to_each_row(mixed):
    pre = fitted(mixed, missing_categorical="most_frequent")
    age = pre.numeric[[c.name for c in pre.numeric].index("age")]
    assert (age.low, age.high) == (mixed["age"].min(), mixed["age"].max())  # the training range, kept
    new = mixed.head(4).assign(age=[30.0, np.nan, 200.0, 40.0], city=["lyon", "rome", None, "nice"],
                               member=[True, None, False, True])
    pre.transform(new)
    notes = pre.row_warnings(new, where="body")
    assert notes[0] == [] and notes[3] == []  # rows taken as sent
    messages = [[n["message"] for n in row] for row in notes]
    assert f"missing value filled in with {age.fill:g} (from the training split)" in messages[1]
    assert "missing value filled in with False (the training mode)" in messages[1]
    assert "category 'rome' not seen in training: encoded as unknown" in messages[1]
    assert f"200 is outside the training range [{age.low:g}, {age.high:g}]: the model extrapolates" in messages[2]
    assert any(m.startswith("missing value filled in with") for m in messages[2])  # the city, filled with the mode
    # each is the record of netfit's warnings (report.json's), naming the column
    assert {"category", "message", "where", "hint"} == set(notes[2][0]) and notes[2][0]["category"] == "DataWarning"
    assert notes[2][0]["where"] == "body: column 'age'"


def test_old_runs_without_a_training_range_load_and_skip_the_range_check(mixed):
    state = fitted(mixed).to_dict()
    for column in state["numeric"]:
        del column["low"], column["high"]
    pre = Preprocessor.from_dict(json.loads(json.dumps(state)))
    assert pre.row_warnings(mixed.head(2).assign(age=[1e9, 30.0]))[0] == []


def test_numbers_as_categories_match_across_int_and_float():
    train = pd.DataFrame({"zip": [75001, 69001, 75001], "y": [0, 1, 0]})
    pre = Preprocessor({"zip": "categorical"}, "y", "binary").fit(train)
    later = pd.DataFrame({"zip": [69001.0, np.nan], "y": [1, 0]})  # a gap makes pandas read floats
    assert pre.unseen_categories(later) == {}


def test_classes_are_sorted_and_decoded(mixed):
    pre = fitted(mixed)
    split = pre.transform(mixed)
    assert pre.classes == ["no", "yes"] and split.y.dtype == np.int64
    assert list(pre.decode_target(split.y[:5])) == mixed["y"].head().tolist()
    assert list(pre.decode_target(np.array([[0.9, 0.1], [0.2, 0.8]]))) == ["no", "yes"]


def test_regression_target_is_standardized_and_decoded():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [10.0, 20.0, 30.0, 40.0]})
    pre = Preprocessor({"x": "numeric"}, "y", "regression").fit(df)
    y = pre.transform(df).y
    assert y.dtype == np.float32 and abs(y.mean()) < 1e-6 and abs(y.std() - 1) < 1e-6
    np.testing.assert_allclose(pre.decode_target(y), df["y"], rtol=1e-6)
    raw = Preprocessor({"x": "numeric"}, "y", "regression", scale_target=False).fit(df)
    assert raw.transform(df).y.tolist() == [10.0, 20.0, 30.0, 40.0]


def test_weights_are_passed_through():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "w": [1, 2, 0.5], "y": [0, 1, 0]})
    split = Preprocessor({"x": "numeric"}, "y", "binary", weight_column="w").fit(df).transform(df)
    assert split.w.tolist() == [1.0, 2.0, 0.5] and split.w.dtype == np.float32


# ---------------------------------------------------------------- predict-time checks
def test_missing_input_column_names_it_and_the_expected_ones(mixed):
    pre = fitted(mixed)
    with pytest.raises(DataError, match="input columns missing") as e:
        pre.transform(mixed.drop(columns=["income", "plan"]), require_target=False, where="new.csv")
    assert e.value.where == "new.csv: columns 'income', 'plan'"
    assert "'age', 'income', 'city', 'member', 'plan'" in e.value.expected and e.value.hint


def test_missing_target_only_matters_when_required(mixed):
    pre = fitted(mixed)
    split = pre.transform(mixed.drop(columns="y"), require_target=False)
    assert split.y is None and len(split) == len(mixed)
    with pytest.raises(DataError, match="input columns missing") as e:
        pre.transform(mixed.drop(columns="y"))
    assert "the target 'y'" in e.value.expected


def test_extra_columns_are_ignored_with_a_warning(mixed):
    pre = fitted(mixed)
    with pytest.warns(DataWarning, match="'notes'"):
        split = pre.transform(mixed.assign(notes="x"))
    assert split.x_num.shape[1] == pre.n_num


def test_text_in_a_numeric_column_at_predict_time(mixed):
    pre = fitted(mixed)
    new = mixed.head(5).astype({"income": object})
    new.loc[3, "income"] = "n/a"
    with pytest.raises(DataError, match="numeric column holds text") as e:
        pre.transform(new, where="new.csv")
    assert e.value.where == "new.csv: column 'income', row 4 (line 5)" and "'n/a'" in str(e.value)


def test_unknown_class_label(mixed):
    pre = fitted(mixed)
    with pytest.raises(DataError, match="class label not seen") as e:
        pre.transform(mixed.head(3).assign(y=["yes", "maybe", "no"]), where="eval.csv")
    assert e.value.where == "eval.csv: column 'y', row 2 (line 3)" and "'no', 'yes'" in e.value.expected


# ---------------------------------------------------------------- state
@pytest.mark.parametrize("preprocess", [
    {},
    {"numeric": "robust", "categorical": "codes", "missing_indicator": True},
    {"numeric": "minmax", "categorical": "onehot", "missing": "mean", "missing_categorical": "most_frequent"},
])
def test_state_round_trips_exactly_through_json(make_mixed, preprocess):
    train, new = make_mixed(200, seed=1), make_mixed(50, seed=2)
    pre = fitted(train, **preprocess)
    state = json.loads(json.dumps(pre.to_dict(), allow_nan=False))  # strict JSON: no NaN anywhere
    again = Preprocessor.from_dict(state)
    assert again.to_dict() == pre.to_dict()
    a, b = pre.transform(new), again.transform(new)
    for name in ("x_num", "x_cat", "y"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert again.feature_names == pre.feature_names and again.cat_cardinalities == pre.cat_cardinalities


def test_regression_state_round_trips_exactly():
    df = pd.DataFrame({"x": [0.1, 0.2, 0.7], "y": [1 / 3, 2 / 7, 5 / 11]})
    pre = Preprocessor({"x": "numeric"}, "y", "regression").fit(df)
    again = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert again.target_mean == pre.target_mean and again.target_std == pre.target_std
    assert np.array_equal(again.transform(df).y, pre.transform(df).y)


def test_integer_classes_stay_json_integers():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": np.array([3, 1, 2], dtype=np.int64)})
    pre = Preprocessor({"x": "numeric"}, "y", "multiclass").fit(df)
    assert json.loads(json.dumps(pre.to_dict()))["classes"] == [1, 2, 3]


def test_large_tables_transform_in_slices_to_the_same_numbers(make_mixed, monkeypatch):
    """A table larger than TRANSFORM_SLICE_ROWS is transformed slice by slice (bounded float64 working
    memory); the result is the whole-table result to the bit, float32 columns included."""
    import netfit.data.preprocess as preprocess

    df = make_mixed(5000).drop(columns=["customer", "signup", "member"])  # `member` (boolean) forces one pass
    df["ratio"] = np.linspace(-1, 1, len(df), dtype=np.float32)
    types = {"age": "numeric", "income": "numeric", "ratio": "numeric", "city": "categorical", "plan": "categorical"}
    pre = Preprocessor(types, "y", "binary", PreprocessConfig(missing_indicator=True)).fit(df.iloc[:3000])
    whole = pre.transform(df)
    monkeypatch.setattr(preprocess, "TRANSFORM_SLICE_ROWS", 700)
    sliced = pre.transform(df)
    assert sliced.x_num.dtype == np.float32 and sliced.x_num.shape == whole.x_num.shape
    np.testing.assert_array_equal(sliced.x_num, whole.x_num)
    np.testing.assert_array_equal(sliced.x_cat, whole.x_cat)


def test_smooth_clipping_bounds_outliers_and_keeps_the_middle(make_cfg):
    from netfit.data import prepare

    rng = np.random.default_rng(0)
    x = rng.standard_normal(400)
    x[:5] = [1e3, -1e3, 50.0, -50.0, 1e6]  # outliers the robust scale does not see
    frame = pd.DataFrame({"x": x, "target": (x > 0).astype(int)})
    scaled = {clip: prepare(make_cfg(preprocess={"numeric": "robust", "clip": clip}), seed=0, data=frame)
              .splits["train"].x_num[:, 0] for clip in (None, 3.0)}
    assert np.abs(scaled[None]).max() > 100 and np.abs(scaled[3.0]).max() <= 3.0
    np.testing.assert_allclose(scaled[3.0], scaled[None] / np.sqrt(1 + (scaled[None] / 3.0) ** 2), rtol=1e-5)
