"""Config: defaults that work, overrides, errors that name the field and the fix, fresh docs."""

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from netfit.config import Config, load_config, render_docs
from netfit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_smallest_config_is_a_source_and_a_target():
    cfg = load_config({"data": {"source": "data.csv", "target": "y"}})
    assert cfg.train.epochs == 200 and cfg.model.type == "mlp" and cfg.data.split.train == 0.7


def test_bundled_sets_default_their_target():
    assert load_config({"data": {"source": "sklearn:iris"}}).data.target == "target"


def test_overrides_from_cli_strings_and_python_kwargs():
    cfg = load_config({"data": {"source": "sklearn:iris"}}, ["train.optimizer.lr=3e-4", "model.hidden=[8, 4]"])
    assert cfg.train.optimizer.lr == 3e-4 and cfg.model.hidden == [8, 4]
    cfg = load_config({"data": {"source": "sklearn:iris"}}, {"train__epochs": 5, "train.batch_size": 16})
    assert cfg.train.epochs == 5 and cfg.train.batch_size == 16


def test_all_problems_reported_at_once_with_closest_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: {source: sklearn:iris}\ntrian: {epochs: 3}\n"
                    "train: {optimizer: {name: adamx}, early_stopping: {patince: 2}}\nmodel: {dropout: 2}\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    text = str(e.value)
    assert str(path) in text
    assert "trian: unknown field; did you mean `train`?" in text
    assert "did you mean `train.early_stopping.patience`?" in text
    assert "train.optimizer.name" in text and "'adamx'" in text and "'adamw'" in text
    assert "model.dropout" in text and "(found 2)" in text
    assert "4 problems" in text


def test_split_fractions_must_add_up():
    with pytest.raises(ConfigError, match="add up to 1.*train 0.5"):
        load_config({"data": {"source": "sklearn:iris", "split": {"train": 0.5}}})


def test_split_fractions_beside_data_train_need_not_add_up_only_their_val_share_counts():
    cfg = load_config({"data": {"train": "a.csv", "target": "y", "split": {"train": 0.8, "val": 0.2}}})
    assert cfg.data.split.val_share() == pytest.approx(0.2)
    carving = cfg.data.split.carving()
    assert (carving.train, carving.val, carving.test) == (pytest.approx(0.8), pytest.approx(0.2), 0.0)
    with pytest.raises(ConfigError, match="data.split: split fractions must add up to 1"):
        load_config({"data": {"source": "a.csv", "target": "y", "split": {"train": 0.8, "val": 0.2}}})


@pytest.mark.parametrize("text, needle", [
    ("", "empty"),
    ("[1, 2]", "mapping"),
    ("data: {source: x.csv\n", "not valid YAML"),
    ("data: {source: x.csv}\n", "no target column"),
    ("model: {}\n", "no data configured"),
    ("data: {source: 'sklearn:mnist'}\n", "unknown bundled data set"),
])
def test_bad_files_have_clear_messages(tmp_path, text, needle):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle) as e:
        load_config(path)
    assert e.value.hint


def test_missing_config_file():
    with pytest.raises(ConfigError, match="not found") as e:
        load_config("nope/none.yaml")
    assert "nope/none.yaml" in str(e.value)


def test_resolved_config_round_trips_through_yaml(tmp_path):
    cfg = load_config({"data": {"source": "sklearn:iris"}}, {"train.early_stopping": None})
    path = tmp_path / "c.yaml"
    path.write_text(cfg.to_yaml())
    assert load_config(path) == cfg


def test_docs_page_is_generated_from_the_schema():
    assert (ROOT / "docs" / "config.md").read_text() == render_docs(), "docs/config.md is stale: run `make docs`"


def test_every_example_config_validates():
    examples = sorted((ROOT / "examples").glob("*.yaml"))
    assert examples
    for path in examples:
        load_config(path)


keys = st.sampled_from(["data", "model", "train", "name", "seed", "tune", "evaluate", "hidden", "lr", "x"])
values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3), max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(keys, values, max_size=4))
def test_arbitrary_dicts_validate_or_raise_config_error(raw):
    try:
        assert isinstance(load_config(raw, require_data=False), Config)
    except ConfigError:
        pass
