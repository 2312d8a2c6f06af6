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
from hypothesis import given, settings
from hypothesis import strategies as st

from netfit.config import TrainConfig, load_config
from netfit.train.losses import build_loss
from netfit.train.loop import Environment, Objective, fit_loop
from netfit.train.tensors import Tensors

CPU = torch.device("cpu")


def train_cfg(**kw) -> TrainConfig:
    base = {"epochs": 1, "batch_size": 10, "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0, "weight_decay": 0.0},
            "schedule": {"name": "constant"}, "early_stopping": None, "convergence": None,
            "label_smoothing": 0.0}  # the hand-written oracles use plain cross entropy
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


# ---------------------------------------------------------------- the step's gradient
class Grads:
    """A sampled in-step hook at every step: each step's gradients, as the optimizer gets them."""

    sample_every = 1

    def __init__(self):
        self.seen = []

    def __getattr__(self, name):  # the other callback hooks do nothing
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)

    def on_step_sampled(self, sample):
        self.seen.append([p.grad.detach().clone() for p in sample.model.parameters()])


def run_steps(x, y, w, cfg, task="multiclass", classes=3, seed=5, dist=None):
    """netfit's step gradients over one epoch (lr 1e-12: the weights all but stay, so every step is comparable)."""
    from netfit.train.callbacks import CallbackList

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 6), torch.nn.Tanh(), torch.nn.Linear(6, classes))
    loss_fn = build_loss(cfg, task, y.numpy(), list(range(max(classes, 2))), CPU, y_weighted=w is not None)
    grads = Grads()
    result = fit_loop(model, Tensors([x], y, w), None, cfg, Objective(loss_fn, task),
                      Environment(seed=seed, callbacks=CallbackList([grads]), **({"dist": dist} if dist else {})))
    return model, grads.seen, result.state


def hand_step_gradients(model, x, y, w, c, batch_size, accumulate, seed=5):
    """The definition by hand: per step, grad of sum(w*c_y*l)/sum(w*c_y) over all its rows; a
    step whose denominator is 0 has no gradient (None)."""
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    out = []
    for lo in range(0, len(y), batch_size * accumulate):
        idx = perm[lo:lo + batch_size * accumulate]
        r = (w[idx] if w is not None else torch.ones(len(idx))) * (c[y[idx]] if c is not None else 1.0)
        if r.sum() == 0:
            out.append(None)
            continue
        model.zero_grad()
        l = F.cross_entropy(model(x[idx]), y[idx], reduction="none")
        ((l * r).sum() / r.sum()).backward()
        out.append([p.grad.detach().clone() for p in model.parameters()])
    return out


def assert_same_steps(ours, theirs):
    theirs_taken = [g for g in theirs if g is not None]
    assert len(ours) == len(theirs)  # the sampled hook sees skipped steps too (their gradients unused)
    for got, want in zip(ours, theirs):
        if want is None:
            continue
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert theirs_taken


def data(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g), torch.randint(0, 3, (n,), generator=g)


# fixed cases for one 2-process launch (tests/train/test_distributed.py): rows, batch_size,
# accumulate, weights, class weights; odd batches split unevenly over 2 ranks, 41 rows at
# batch 10 leave a 1-row tail (an empty slice on rank 1)
DDP_CASES = [(40, 10, 1, "zeros", True), (95, 10, 4, "all", True), (33, 7, 2, "zeros", False),
             (41, 10, 3, "none", True), (37, 5, 3, "all", False), (30, 6, 1, "none", False)]


def case(n, batch_size, accumulate, weights, class_weight, seed=0):
    """Data, weights, class weights and config of one case (the same in every process)."""
    x, y = data(n, seed)
    g = torch.Generator().manual_seed(seed + 1)
    w = None
    if weights != "none":
        w = torch.rand(n, generator=g) * 3
        if weights == "zeros":  # about half the rows weigh 0: some steps may weigh 0 in all
            w = w * (torch.rand(n, generator=g) < 0.5)
            w[0] = 1.0  # not every row
    cw = {"0": 1.0, "1": 5.0, "2": 0.5} if class_weight else None
    cfg = train_cfg(batch_size=batch_size, accumulate=accumulate, class_weight=cw, optimizer={"name": "sgd", "lr": 1e-12})
    return x, y, w, (torch.tensor([1.0, 5.0, 0.5]) if class_weight else None), cfg


def test_the_last_short_accumulation_group_is_normalised_by_its_own_rows():
    x, y = data(95)  # batch 10, accumulate 4: groups of 40, 40 and 15 rows (10 + 5)
    cfg = train_cfg(batch_size=10, accumulate=4, optimizer={"name": "sgd", "lr": 1e-12})
    model, ours, _ = run_steps(x, y, None, cfg)
    assert len(ours) == 3
    assert_same_steps(ours, hand_step_gradients(model, x, y, None, None, 10, 4))


def test_an_all_zero_weight_step_is_skipped_and_counted_not_taken_as_divergence():
    x, y = data(40)
    w = torch.ones(40)
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(5))
    w[perm[:10]] = 0.0  # the first step's rows all weigh 0
    cfg = train_cfg(batch_size=10, epochs=2, optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.9})
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    before = copy.deepcopy(model)
    loss_fn = build_loss(cfg, "multiclass", y.numpy(), [0, 1, 2], CPU, y_weighted=True)
    result = fit_loop(model, Tensors([x], y, w), None, cfg, Objective(loss_fn, "multiclass"), Environment(seed=5))
    state = result.state
    assert state.stop_reason == "max_epochs" and not state.recoveries
    assert state.skipped_steps >= 1 and state.history[0]["skipped_steps"] == 1
    assert all(np.isfinite(r["train_loss"]) for r in state.history)
    assert not torch.equal(model.weight, before.weight) and torch.isfinite(model.weight).all()


def test_training_rows_that_all_weigh_zero_are_a_data_error():
    from netfit.errors import DataError

    x, y = data(20)
    cfg = train_cfg()
    loss_fn = build_loss(cfg, "multiclass", y.numpy(), [0, 1, 2], CPU, y_weighted=True)
    with pytest.raises(DataError, match="every training row has weight 0"):
        fit_loop(torch.nn.Linear(4, 3), Tensors([x], y, torch.zeros(20)), None, cfg, Objective(loss_fn, "multiclass"),
                 Environment(seed=0))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(5, 60), batch_size=st.integers(1, 16), accumulate=st.integers(1, 4),
       weights=st.sampled_from(["none", "zeros", "all"]), class_weight=st.booleans(), seed=st.integers(0, 1000))
def test_the_step_gradient_is_that_of_the_weighted_mean_over_all_rows_of_the_step(n, batch_size, accumulate, weights,
                                                                                 class_weight, seed):
    x, y, w, c, cfg = case(n, batch_size, accumulate, weights, class_weight, seed)
    model, ours, state = run_steps(x, y, w, cfg)
    theirs = hand_step_gradients(model, x, y, w, c, batch_size, accumulate)
    assert_same_steps(ours, theirs)
    assert state.skipped_steps == sum(t is None for t in theirs)
