"""Images, sequences and text in the data stage: train-only fitting, JSON state, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from netfit.data import prepare
from netfit.data.arrays import encoder_from_dict
from netfit.data.messages import DataWarning
from netfit.data.text import TextEncoder
from netfit.errors import DataError


def test_digits_pixels_become_standardised_images_fitted_on_train(make_cfg):
    prepared = prepare(make_cfg(source="sklearn:digits", image_shape=[8, 8]), seed=0)
    train, test = prepared.splits["train"], prepared.splits["test"]
    assert train.x_array.shape == (len(train), 1, 8, 8) and train.x_num.shape == (len(train), 0)
    assert abs(float(train.x_array.mean())) < 1e-4 and abs(float(train.x_array.std()) - 1) < 1e-3
    enc = prepared.preprocessor.array
    assert enc.pixel_max == 16.0  # digits' pixels are 0..16: the training maximum
    assert abs(float(test.x_array.mean())) > 1e-4  # test reuses train's statistics


def test_image_shape_must_match_the_pixel_columns(make_cfg):
    with pytest.raises(DataError) as e:
        prepare(make_cfg(source="sklearn:digits", image_shape=[7, 7]), seed=0)
    assert "image_shape" in str(e.value) and "49" in str(e.value) and "64" in str(e.value)


def test_image_arrays_of_mixed_sizes_are_an_error(make_cfg, tmp_path):
    from PIL import Image

    for i, size in enumerate([(8, 8)] * 6 + [(9, 8)]):
        path = tmp_path / "imgs" / f"c{i % 2}" / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros(size[::-1], np.uint8)).save(path)
    with pytest.raises(DataError) as e:
        prepare(make_cfg(source=str(tmp_path / "imgs")), seed=0)
    text = str(e.value)
    assert "different sizes" in text and "6.png" in text and "image_size" in text
    prepared = prepare(make_cfg(source=str(tmp_path / "imgs"), image_size=[8, 8],
                                split={"train": 0.6, "val": 0.2, "test": 0.2, "stratify": False}), seed=0)
    assert prepared.splits["train"].x_array.shape[1:] == (1, 8, 8)
    assert prepared.preprocessor.array.pixel_max == 255.0


def test_sequences_from_a_csv_list_column_pad_normalise_and_truncate(make_cfg, tmp_path):
    rng = np.random.default_rng(0)
    seqs = [json.dumps(rng.normal(5, 2, int(rng.integers(2, 6))).round(3).tolist()) for _ in range(60)]
    frame = pd.DataFrame({"s": seqs, "age": rng.normal(size=60), "y": rng.integers(0, 2, 60)})
    frame.to_csv(tmp_path / "s.csv", index=False)
    cfg = make_cfg(source=str(tmp_path / "s.csv"), target="y", sequence_column="s", max_len=4)
    with pytest.warns(UserWarning, match=r"row\(s\) of column 's' are longer than data.max_len = 4 and were truncated"):
        prepared = prepare(cfg, seed=0)
    train = prepared.splits["train"]
    assert train.x_array.shape == (len(train), 4, 1) and train.x_num.shape == (len(train), 1)  # age beside it
    assert train.lengths.max() == 4 and train.lengths.min() >= 2
    real = np.arange(4)[None, :] < train.lengths[:, None]
    assert (train.x_array[~real] == 0).all()  # padding
    with pytest.raises(DataError) as e:
        prepare(cfg.model_copy(update={"too_long": "error"}), seed=0)
    assert "too long" in str(e.value) and "data.max_len" in str(e.value) and "row" in str(e.value)


def test_vocabulary_is_built_on_train_only_and_round_trips_as_json():
    train = pd.DataFrame({"t": ["The cat sat.", "the cat ran", "a dog sat"]})
    enc = TextEncoder("t", "word", True, 2, None, None, "truncate").fit(train)
    assert enc.vocab == ["<pad>", "<unk>", "cat", "sat", "the"]  # min_freq 2; by count, then name
    ids, lengths = enc.transform(pd.DataFrame({"t": ["the zebra sat", "cat"]}))
    assert ids.tolist() == [[4, 1, 3, 0], [2, 0, 0, 0]] and lengths.tolist() == [3, 1]
    same = encoder_from_dict(json.loads(json.dumps(enc.to_dict())))
    assert np.array_equal(same.transform(pd.DataFrame({"t": ["the zebra sat"]}))[0], ids[:1])
    chars = TextEncoder("t", "char", False, 1, None, None, "truncate").fit(train)
    assert chars.tokenize("Ab c") == ["A", "b", " ", "c"]


def test_empty_texts_are_an_error_naming_the_row(make_cfg, tmp_path):
    texts = ["good film", "bad film"] * 10 + [""]
    pd.DataFrame({"text": texts, "y": [1, 0] * 10 + [1]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError) as e:
        prepare(make_cfg(source=str(tmp_path / "t.csv"), target="y", text_column="text"), seed=0)
    assert "empty text" in str(e.value) and "'text'" in str(e.value) and "how to fix" in str(e.value)


def test_arrays_in_a_table_point_to_data_kind(make_cfg):
    frame = pd.DataFrame({"s": [np.zeros(3)] * 10, "target": [0, 1] * 5})
    with pytest.raises(DataError, match="data.kind: image or sequence"):
        prepare(make_cfg(), seed=0, data=frame)


def test_npz_sequences_with_lengths(make_cfg, tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 6, 2)).astype(np.float32)
    lengths = np.tile([2, 6, 4, 5], 10)
    np.savez(tmp_path / "s.npz", x=x, y=np.tile([0, 1], 20), lengths=lengths)
    prepared = prepare(make_cfg(source=str(tmp_path / "s.npz"), kind="sequence"), seed=0)
    split = prepared.splits["train"]
    assert split.x_array.shape[1:] == (6, 2) and set(split.lengths) <= {2, 4, 5, 6}
    with pytest.raises(DataError, match="wrong shape"):
        np.savez(tmp_path / "bad.npz", x=np.zeros((40, 6, 2, 2, 2)), y=np.tile([0, 1], 20))
        prepare(make_cfg(source=str(tmp_path / "bad.npz"), kind="image"), seed=0)


@pytest.mark.parametrize("shape, kind", [((5, 8, 8), "image"), ((5, 25, 25), "image"), ((5, 28, 28, 3), "image"),
                                         ((5, 150, 1), "sequence"), ((5, 100, 6), "sequence"),
                                         ((5, 64, 10), "sequence"), ((5, 5, 5), "table"), ((5, 4, 30), "table"),
                                         ((5, 30), "table")])
def test_the_kind_of_an_array_follows_its_shape(shape, kind):
    from netfit.data.arrays import array_kind

    assert array_kind(shape) == kind


def test_image_shaped_arrays_are_read_as_images_under_kind_auto(make_cfg):
    rng = np.random.default_rng(0)
    images = prepare(make_cfg(), seed=0, data=(rng.random((40, 8, 8)), np.tile([0, 1], 20)))
    assert images.preprocessor.array.spec["kind"] == "image" and images.splits["train"].x_array.shape[1:] == (1, 8, 8)
    series = prepare(make_cfg(), seed=0, data=(rng.random((40, 50, 2)), np.tile([0, 1], 20)))
    assert series.preprocessor.array.spec["kind"] == "sequence"  # 50 steps of 2 features
    columns = prepare(make_cfg(kind="table"), seed=0, data=(rng.random((40, 50, 2)), np.tile([0, 1], 20)))
    assert columns.preprocessor.array is None and columns.preprocessor.n_num == 100  # flat when asked
    flat = prepare(make_cfg(kind="table"), seed=0, data=(rng.random((40, 8, 8)), np.tile([0, 1], 20)))
    assert flat.preprocessor.array is None and flat.preprocessor.n_num == 64  # data.kind: table flattens


def test_integer_labels_of_sequences_are_classes_however_many(make_cfg):
    """PigCVP (UCR): 52 integer classes of 2 series each. A table would read more than 20 distinct
    integers as a quantity; integer labels of series and images are class codes, with a warning
    that says how to ask for regression."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(1, 31), 4)  # 30 classes, 4 rows each
    with pytest.warns(DataWarning, match="30 classes") as caught:
        series = prepare(make_cfg(), seed=0, data=(rng.random((120, 50, 1)), y))
    assert series.task == "multiclass" and len(series.preprocessor.classes) == 30
    assert any("data.task: regression" in str(w.message) for w in caught)
    table = prepare(make_cfg(), seed=0, data=(rng.random((120, 5)), y))
    assert table.task == "regression"  # a table's 30 distinct integers stay a quantity
    fractional = prepare(make_cfg(), seed=0, data=(rng.random((120, 50, 1)), y + 0.5))
    assert fractional.task == "regression"
