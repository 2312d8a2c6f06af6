"""The search-space grammar: checked up front with readable messages, sampled with conditionals."""

from __future__ import annotations

import optuna
import pytest

from netfit.config import Config, check_space, load_config
from netfit.errors import ConfigError
from netfit.tune.space import sample

IRIS = {"data": {"source": "sklearn:iris"}}


def test_a_valid_space_has_no_problems():
    space = {"train.optimizer.lr": {"log_uniform": [1e-5, 1.0]}, "model.dropout": {"uniform": [0, 0.5]},
             "train.epochs": {"int": [5, 20]}, "train.batch_size": {"choice": [32, 64]},
             "model.hidden": {"layers": [1, 3], "units": {"choice": [16, 32]}}}
    assert check_space(space, Config) == []


@pytest.mark.parametrize("path, spec, needle", [
    ("train.optimizr.lr", {"uniform": [0, 1]}, "`train.optimizr` does not exist"),
    ("train", {"choice": [1]}, "is a whole section"),
    ("train.optimizer.lr", {"log_uniform": [0, 1]}, "positive low bound"),
    ("model.dropout", {"uniform": [0.5, 0.1]}, "low 0.5 is above high 0.1"),
    ("model.dropout", {"normal": [0, 1]}, "exactly one of uniform, log_uniform, int, choice"),
    ("train.epochs", {"int": [1.5, 3]}, "whole-number bounds"),
    ("model.hidden", {"layers": [0, 2], "units": {"int": [8, 16]}}, "at least 1 layer"),
    ("model.hidden", {"layers": [1, 2]}, "exactly `layers` and `units`"),
])
def test_bad_entries_are_reported_with_path_and_reason(path, spec, needle):
    with pytest.raises(ConfigError) as e:
        load_config({**IRIS, "tune": {"space": {path: spec}}})
    text = str(e.value)
    assert f"tune.space.{path}" in text and needle in text, text


def test_conditional_layers_sample_one_width_per_layer():
    space = {"model.hidden": {"layers": [1, 3], "units": {"choice": [16, 32]}},
             "model.activation": {"choice": ["relu", "tanh"]}}
    trial = optuna.trial.FixedTrial({"model.hidden.layers": 2, "model.hidden.units_1": 32,
                                     "model.hidden.units_2": 16, "model.activation": "tanh"})
    overrides = sample(trial, space)
    assert overrides == {"model.hidden": [32, 16], "model.activation": "tanh"}
    cfg = load_config(IRIS, overrides)
    assert cfg.model.hidden == [32, 16]


def test_choice_of_lists_round_trips_through_optuna():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    value = sample(trial, {"model.hidden": {"choice": [[8], [16, 8]]}})["model.hidden"]
    assert value in ([8], [16, 8])


@pytest.mark.parametrize("field, value, needle", [
    ("train.optimizer.lr", "fast", "expected `auto` or a number > 0"),
    ("train.optimizer.lr", -1, "expected `auto` or a number > 0"),
    ("train.batch_size", 2.5, "expected `auto` or a whole number >= 1"),
])
def test_auto_fields_accept_auto_and_explain_other_values(field, value, needle):
    cfg = load_config(IRIS, {"train.optimizer.lr": "auto", "train.batch_size": "auto"})
    assert (cfg.train.optimizer.lr, cfg.train.batch_size) == ("auto", "auto")
    assert load_config(IRIS, {"train.optimizer.lr": "3e-4"}).train.optimizer.lr == 3e-4
    with pytest.raises(ConfigError) as e:
        load_config(IRIS, {field: value})
    assert field in str(e.value) and needle in str(e.value)
