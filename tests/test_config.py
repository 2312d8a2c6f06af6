"""Config: defaults that work, overrides, errors that name the field and the fix, fresh docs."""

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from netfit.config import Config, load_config, render_docs
from netfit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_smallest_config_is_a_source_and_a_target():
    cfg = load_config({"data": {"source": "data.csv", "target": "y"}})
    assert cfg.train.epochs == 200 and cfg.model.type == "auto" and cfg.data.split.train == 0.7


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


@pytest.mark.parametrize("monitor", ["val_top2", "val_top2_accuracy"])
def test_a_custom_metric_monitored_without_a_mode_is_a_config_error(monitor):
    """netfit knows which way its own metrics go, not yours (even one named like accuracy)."""
    train = {"metrics": [f"mynet:{monitor[4:]}"], "early_stopping": {"monitor": monitor}}
    with pytest.raises(ConfigError) as e:
        load_config({"data": {"source": "sklearn:iris"}, "train": train})
    text = str(e.value)
    assert "train.early_stopping" in text and monitor in text and "mode: max" in text
    for mode in ("max", "min"):  # an explicit mode is the answer
        cfg = load_config({"data": {"source": "sklearn:iris"}, "train": {**train, "early_stopping": {"monitor": monitor, "mode": mode}}})
        assert cfg.train.early_stopping.mode == mode


@pytest.mark.parametrize("monitor, mode", [("val_loss", "min"), ("train_loss", "min"), ("val_rmse", "min"),
                                           ("val_mae", "min"), ("val_accuracy", "max")])
def test_built_in_metrics_have_their_known_direction(monitor, mode):
    from netfit.config import metric_mode

    cfg = load_config({"data": {"source": "sklearn:iris"}, "train": {"early_stopping": {"monitor": monitor}}})
    assert metric_mode(monitor, cfg.train.early_stopping) == mode
    flipped = {"min": "max", "max": "min"}[mode]  # the config's explicit mode wins
    cfg = load_config({"data": {"source": "sklearn:iris"}, "train": {"early_stopping": {"monitor": monitor, "mode": flipped}}})
    assert metric_mode(monitor, cfg.train.early_stopping) == flipped


@pytest.mark.parametrize("metrics, needles", [
    (["mynet:mae"], ["train.metrics", "mynet:mae", "'mae'", "netfit's own"]),
    (["mynet.scores:accuracy"], ["'accuracy'"]),
    (["mynet:loss"], ["'loss'", "val_loss"]),
    (["a:score", "b:score"], ["'score'", "a:score", "b:score"]),
])
def test_a_custom_metric_named_like_another_metric_is_a_config_error(metrics, needles):
    """A metric of yours named like a built-in (or like another of yours) would silently replace it."""
    with pytest.raises(ConfigError) as e:
        load_config({"data": {"source": "sklearn:iris"}, "train": {"metrics": metrics}})
    for needle in needles:
        assert needle in str(e.value), (needle, str(e.value))


def test_the_reserved_metric_names_cover_every_metric_netfit_scores():
    from netfit.config.train import BUILTIN_METRIC_NAMES
    from netfit.evaluate.metrics import METRIC_NAMES

    assert {n for names in METRIC_NAMES.values() for n in names} | {"loss"} <= set(BUILTIN_METRIC_NAMES)
