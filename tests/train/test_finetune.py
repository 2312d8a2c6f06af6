"""Fine-tuning: start from a digits run, freeze the first layer, train the rest."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import netfit
from netfit.config import ModelConfig, OptimizerConfig
from netfit.errors import ConfigError, RunError
from netfit.model import build_model
from netfit.train.finetune import freeze, load_pretrained
from netfit.train.optim import build_optimizer

QUICK = {"evaluate__bootstrap": 0, "evaluate__baselines": False}


def test_fine_tune_with_the_first_layer_frozen_keeps_it_bit_identical(digits_run, tmp_path):
    run = netfit.fit("examples/digits_mlp.yaml", output_dir=str(tmp_path), train__init_from=str(digits_run.path),
                     train__freeze=["body.0.*"], train__pretrained_lr=1e-4, train__epochs=3,
                     train__early_stopping=None, **QUICK)
    before, after = load_file(str(digits_run.path / "model.safetensors")), load_file(str(run.path / "model.safetensors"))
    for name in ("body.0.weight", "body.0.bias"):
        assert torch.equal(before[name], after[name]), name  # bit for bit
    assert not torch.equal(before["head.weight"], after["head.weight"])  # the rest (the 4 members' heads) did train
    assert run.report["init_from"]["frozen"] == ["body.0.weight", "body.0.bias"]
    assert run.metrics["accuracy"]["value"] >= 0.95  # it starts from a trained model


def test_mismatched_weights_list_every_mismatch_or_load_what_matches(digits_run, tmp_path):
    kw = dict(output_dir=str(tmp_path), train__init_from=str(digits_run.path), model__hidden=[256, 64], **QUICK)
    with pytest.raises(RunError) as err:
        netfit.fit("examples/digits_mlp.yaml", train__epochs=1, **kw)
    text = str(err.value)
    assert "train.init_from" in text and "init_strict: false" in text
    assert "body.3.weight: saved (128, 256), model (64, 256)" in text and "head.weight" in text
    with pytest.warns(UserWarning, match="not loaded"):
        run = netfit.fit("examples/digits_mlp.yaml", train__epochs=1, train__init_strict=False, **kw)
    loaded = run.report["init_from"]["loaded"]
    assert "body.0.weight" in loaded and "head.weight" not in loaded


def test_init_from_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(ConfigError, match="model.safetensors"):
        netfit.fit({"data": {"source": "sklearn:iris"}}, output_dir=str(tmp_path), train__init_from=str(tmp_path), **QUICK)


def test_pretrained_weights_get_their_own_learning_rate():
    model = build_model(ModelConfig(hidden=[8], numeric_embedding="none", ensemble=1), n_num=4, cat_cardinalities=[], n_out=3)
    opt = build_optimizer(OptimizerConfig(lr=1e-2), model, frozenset({"body.0.weight", "body.0.bias"}), 1e-4)
    by_lr: dict[float, int] = {}
    for g in opt.param_groups:
        by_lr[g["lr"]] = by_lr.get(g["lr"], 0) + sum(p.numel() for p in g["params"])
    assert by_lr == {1e-2: 8 * 3 + 3, 1e-4: 4 * 8 + 8}


def test_frozen_parameters_are_left_out_of_the_optimizer():
    model = build_model(ModelConfig(hidden=[8], numeric_embedding="none", ensemble=1), n_num=4, cat_cardinalities=[], n_out=3)
    assert freeze(model, ["body.*"]) == ["body.0.weight", "body.0.bias"]
    opt = build_optimizer(OptimizerConfig(), model)
    in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
    assert in_opt == {id(model.head.weight), id(model.head.bias)}
    assert not model.body[0].weight.requires_grad


@pytest.mark.parametrize("patterns, needle", [(["bdy.*"], "match no parameter"), (["*"], "nothing would train")])
def test_freeze_mistakes(patterns, needle):
    model = build_model(ModelConfig(hidden=[8], numeric_embedding="none", ensemble=1), n_num=4, cat_cardinalities=[], n_out=3)
    with pytest.raises(ConfigError) as err:
        freeze(model, patterns)
    assert needle in str(err.value) and "train.freeze" in str(err.value)
