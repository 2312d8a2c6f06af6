"""Model builder: every activation, norm and init; embeddings for integer-coded columns."""

from __future__ import annotations

import math

import pytest
import torch

from netfit.config import load_config
from netfit.model import build_model, count_parameters


def model_cfg(**kw):
    kw.setdefault("numeric_embedding", "none")  # the builder's plain MLP; the periodic default has its own tests
    kw.setdefault("ensemble", 1)
    return load_config({"model": kw}, require_data=False).model


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid"])
@pytest.mark.parametrize("norm", ["none", "batch", "layer"])
def test_every_activation_and_norm_builds_and_runs(activation, norm):
    net = build_model(model_cfg(hidden=[8, 4], activation=activation, norm=norm), 5, [3, 7], 2)
    out = net(torch.randn(6, 5), torch.randint(0, 3, (6, 2)))
    assert out.shape == (6, 2) and torch.isfinite(out).all()


@pytest.mark.parametrize("init", ["xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal", "normal"])
def test_inits_set_weight_scale_and_bias(init):
    torch.manual_seed(0)
    net = build_model(model_cfg(hidden=[512], init=init, init_std=0.05, bias_init=0.25), 256, [], 3)
    w = net.body[0].weight
    assert torch.all(net.body[0].bias == 0.25)
    expected = {"normal": 0.05, "xavier_uniform": (2 / (256 + 512)) ** 0.5 * 2**0.5, "xavier_normal": (2 / (256 + 512)) ** 0.5 * 2**0.5,
                "kaiming_uniform": (2 / 256) ** 0.5, "kaiming_normal": (2 / 256) ** 0.5}
    if init in expected:
        assert w.std().item() == pytest.approx(expected[init], rel=0.05)
    else:  # orthogonal rows
        q = w.T @ w
        torch.testing.assert_close(q, q.diag().diag(), atol=1e-3 * q.diag().max().item(), rtol=0)


def test_parameter_count_and_embedding_widths():
    net = build_model(model_cfg(hidden=[10], dropout=0.0), 4, [5], 3)
    emb = 3  # min(50, (5 + 1) // 2)
    assert count_parameters(net) == 5 * emb + (4 + emb) * 10 + 10 + 10 * 3 + 3


def test_periodic_embedding_keeps_each_column_beside_its_features():
    torch.manual_seed(0)
    net = build_model(model_cfg(hidden=[8], numeric_embedding="periodic", numeric_embedding_dim=4), 3, [], 2)
    x = torch.randn(5, 3)
    h = net.numbers(x)
    assert h.shape == (5, 3 * 4) and net.body[0].in_features == 12
    torch.testing.assert_close(h.view(5, 3, 4)[..., 0], x)  # x itself is the first of each column's 4 values
    e = net.numbers
    for j in range(3):  # the other 3: column j's own linear map of cos(2 pi f_j x_j + b_j), 16 frequencies
        z = torch.cos(2 * math.pi * x[:, j:j + 1] * e.frequency[j] + e.phase[j])  # (5, 16)
        torch.testing.assert_close(h.view(5, 3, 4)[:, j, 1:], z @ e.weight[j] + e.bias[j])
    assert net(x).shape == (5, 2)


def test_an_ensemble_trains_k_members_and_predicts_their_mean_probability():
    torch.manual_seed(0)
    net = build_model(model_cfg(hidden=[8], ensemble=4, dropout=0.0), 3, [], 3, task="multiclass")
    x = torch.randn(6, 3)
    members = net.train()(x)
    assert members.shape == (6, 4, 3)
    p = net.eval()(x).softmax(dim=1)  # eval: the members' mean probability, as logits
    torch.testing.assert_close(p, members.softmax(dim=-1).mean(dim=1))
    binary = build_model(model_cfg(hidden=[8], ensemble=3, dropout=0.0), 3, [], 1, task="binary")
    torch.testing.assert_close(torch.sigmoid(binary.eval()(x)), torch.sigmoid(binary.train()(x)).mean(dim=1),
                               atol=1e-6, rtol=1e-6)
    value = build_model(model_cfg(hidden=[8], ensemble=3, dropout=0.0), 3, [], 1, task="regression")
    torch.testing.assert_close(value.eval()(x), value.train()(x).mean(dim=1))
    # no rows (predict on an empty table): empty outputs of the right width, in both modes
    assert net.eval()(x[:0]).shape == (0, 3) and net.train()(x[:0]).shape == (0, 4, 3)


def test_an_ensembles_output_layer_is_one_module_and_loads_model_files_that_named_it_head_weight():
    torch.manual_seed(0)
    net = build_model(model_cfg(hidden=[8], ensemble=4, dropout=0.0), 3, [], 3, task="multiclass").eval()
    state = net.state_dict()
    assert state["head.weight"].shape == (4, 8, 3) and state["head.bias"].shape == (4, 3)
    # the names of 2026-12-07's model files: the same tensors load into the same predictions
    old = {("head_weight" if k == "head.weight" else "head_bias" if k == "head.bias" else k): v for k, v in state.items()}
    again = build_model(model_cfg(hidden=[8], ensemble=4, dropout=0.0), 3, [], 3, task="multiclass").eval()
    again.load_state_dict(old)
    x = torch.randn(5, 3)
    torch.testing.assert_close(again(x), net(x))


def test_the_loss_of_an_ensemble_is_the_mean_of_its_members_losses():
    from netfit.train.losses import Loss

    torch.manual_seed(0)
    out, y = torch.randn(6, 4, 3), torch.randint(0, 3, (6,))
    loss = Loss(lambda o, t, reduction: torch.nn.functional.cross_entropy(o, t, reduction=reduction), None)
    members = torch.stack([torch.nn.functional.cross_entropy(out[:, k], y) for k in range(4)])
    torch.testing.assert_close(loss(out, y), members.mean())
