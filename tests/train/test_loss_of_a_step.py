"""The loss of an optimizer step: sum(w * c_y * l) / sum(w * c_y) over all rows of the step.

Every accumulated micro-batch counts; a step whose denominator is 0 is skipped and counted, never
taken as divergence. The property test compares the step's gradient with a hand-written one.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netfit.config import TrainConfig, load_config
from netfit.train.losses import build_loss
from netfit.train.loop import Environment, Objective, fit_loop
from netfit.train.tensors import Tensors

CPU = torch.device("cpu")


def train_cfg(**kw) -> TrainConfig:
    base = {"epochs": 1, "batch_size": 10, "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0, "weight_decay": 0.0},
            "schedule": {"name": "constant"}, "early_stopping": None, "convergence": None}
    base.update(kw)
    return load_config({"train": base}, require_data=False).train


def test_class_weights_are_normalised_the_same_with_and_without_sample_weights():
    torch.manual_seed(0)
    out, y = torch.randn(30, 3), torch.randint(0, 3, (30,))
    fn = build_loss(train_cfg(class_weight={"0": 1, "1": 5, "2": 5}), "multiclass", y.numpy(), [0, 1, 2], CPU)
    c = torch.tensor([1.0, 5.0, 5.0])[y]
    want = (F.cross_entropy(out, y, reduction="none") * c).sum() / c.sum()
    torch.testing.assert_close(fn(out, y), want)
    torch.testing.assert_close(fn(out, y, torch.ones(30)), want)
    w = torch.rand(30)
    torch.testing.assert_close(fn(out, y, w), (F.cross_entropy(out, y, reduction="none") * c * w).sum() / (c * w).sum())


def test_binary_class_weights_follow_the_same_definition():
    torch.manual_seed(0)
    out, y = torch.randn(30, 1), torch.randint(0, 2, (30,))
    fn = build_loss(train_cfg(class_weight={"0": 1, "1": 4}), "binary", y.numpy(), [0, 1], CPU)
    c = torch.tensor([1.0, 4.0])[y]
    rows = F.binary_cross_entropy_with_logits(out.squeeze(1), y.float(), reduction="none")
    torch.testing.assert_close(fn(out, y), (rows * c).sum() / c.sum())
    torch.testing.assert_close(fn(out, y, torch.ones(30)), (rows * c).sum() / c.sum())


def test_label_smoothing_applies_to_binary_targets():
    torch.manual_seed(0)
    out, y = torch.randn(30, 1), torch.randint(0, 2, (30,))
    fn = build_loss(train_cfg(label_smoothing=0.3), "binary", y.numpy(), [0, 1], CPU)
    soft = y.float() * 0.7 + 0.15
    torch.testing.assert_close(fn(out, y), F.binary_cross_entropy_with_logits(out.squeeze(1), soft))
    plain = build_loss(train_cfg(), "binary", y.numpy(), [0, 1], CPU)
    assert fn(out, y) != plain(out, y)
