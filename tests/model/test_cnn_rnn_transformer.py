"""cnn, rnn and transformer blocks: padding never changes an output, oracles against plain torch,
augmentation only in training, every init reaches conv and recurrent weights, clear config errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from netfit.config import ModelConfig, load_config
from netfit.errors import ConfigError
from netfit.model import build_model

SEQ = {"kind": "sequence", "shape": [10, 3]}
TEXT = {"kind": "text", "shape": [10], "vocab_size": 20}
IMAGE = {"kind": "image", "shape": [1, 8, 8]}


def model(spec, **fields):
    torch.manual_seed(0)
    return build_model(ModelConfig(hidden=[8], dropout=0.0, **fields), 2, [], 3, spec).eval()


def padded_pair(spec):
    """The same 4 sequences (lengths 3, 10, 1, 6) with two different paddings."""
    lengths = torch.tensor([3, 10, 1, 6])
    if spec["kind"] == "text":
        x = torch.randint(2, 20, (4, 10))
        other = torch.where(torch.arange(10) < lengths[:, None], x, torch.randint(2, 20, (4, 10)))
        return x * (torch.arange(10) < lengths[:, None]), other, lengths
    x = torch.randn(4, 10, 3)
    other = torch.where((torch.arange(10) < lengths[:, None])[..., None], x, torch.randn(4, 10, 3))
    return x, other, lengths


@pytest.mark.parametrize("spec", [SEQ, TEXT], ids=["sequence", "text"])
@pytest.mark.parametrize("fields", [
    {"type": "rnn", "cell": "lstm", "bidirectional": True},
    {"type": "rnn", "cell": "gru", "pooling": "attention"},
    {"type": "rnn", "cell": "gru", "packed": False, "pooling": "last"},
    {"type": "rnn", "cell": "rnn", "packed": False, "pooling": "max"},
    {"type": "transformer", "d_model": 16, "heads": 2, "pooling": "cls"},
    {"type": "transformer", "d_model": 16, "heads": 2, "pooling": "mean", "norm_first": False, "positions": "learned"},
], ids=lambda f: "-".join(str(v) for v in f.values()))
def test_padding_content_never_changes_the_output(spec, fields):
    net = model(spec, **fields)
    x, other, lengths = padded_pair(spec)
    x_num, x_cat = torch.randn(4, 2), torch.zeros(4, 0, dtype=torch.long)
    with torch.no_grad():
        a, b = net(x_num, x_cat, x, lengths), net(x_num, x_cat, other, lengths)
    assert a.shape == (4, 3)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_packed_gru_last_state_matches_plain_torch_on_each_unpadded_sequence():
    net = model(SEQ, type="rnn", cell="gru", num_layers=2)
    x, _, lengths = padded_pair(SEQ)
    with torch.no_grad():
        h = net.steps(x)
        for i, n in enumerate(lengths.tolist()):
            _, h_n = net.rnn(h[i:i + 1, :n])  # the oracle: one sequence, no padding at all
            out = net.head(h_n[-1], torch.zeros(1, 2), torch.zeros(1, 0, dtype=torch.long))
            torch.testing.assert_close(net(torch.zeros(4, 2), None, x, lengths)[i], out[0], rtol=1e-5, atol=1e-5)


def test_augmentation_runs_in_training_only():
    net = model(IMAGE, type="cnn", augment_flip=True, augment_shift=1)
    plain = model(IMAGE, type="cnn")
    x = torch.randn(16, 1, 8, 8)
    args = (torch.zeros(16, 2), torch.zeros(16, 0, dtype=torch.long), x)
    with torch.no_grad():
        torch.testing.assert_close(net(*args), plain(*args))  # same seed, same weights: eval ignores augmentation
        net.train()
        assert not torch.allclose(net(*args), plain.train()(*args))
    assert net.augment(x).shape == x.shape
    assert model(IMAGE, type="cnn").augment is None  # off: not even a module


@pytest.mark.parametrize("init", ["xavier_uniform", "kaiming_normal", "orthogonal", "normal"])
def test_every_init_reaches_conv_recurrent_and_attention_weights(init):
    cnn = build_model(ModelConfig(type="cnn", init=init, bias_init=0.1), 0, [], 2, TEXT)
    rnn = build_model(ModelConfig(type="rnn", init=init, bias_init=0.1), 0, [], 2, SEQ)
    tr = build_model(ModelConfig(type="transformer", init=init, bias_init=0.1), 0, [], 2, SEQ)
    conv = next(m for m in cnn.modules() if isinstance(m, nn.Conv1d))
    assert torch.all(conv.bias == 0.1) and torch.all(rnn.rnn.bias_ih_l0 == 0.1)
    assert torch.all(tr.encoder.layers[0].self_attn.in_proj_bias == 0.1)
    assert torch.all(cnn.steps.proj.weight[0] == 0)  # the <pad> embedding stays zero
    w_hh = rnn.rnn.weight_hh_l0.detach().chunk(4)[0]  # recurrent weights: orthogonal per gate
    torch.testing.assert_close(w_hh @ w_hh.T, torch.eye(64), atol=1e-4, rtol=0)
    if init == "normal":
        assert abs(float(conv.weight.detach().std()) - 0.02) < 0.005


def test_image_rows_and_tabular_columns_feed_every_type():
    x = torch.randn(5, 1, 8, 8)
    for kind in ("cnn", "rnn", "transformer"):
        net = build_model(ModelConfig(type=kind, hidden=[8], norm="batch"), 4, [3, 5], 2, IMAGE).eval()
        out = net(torch.randn(5, 4), torch.tensor([[1, 2]] * 5), x)
        assert out.shape == (5, 2) and torch.isfinite(out).all()


def test_config_errors_name_the_field_and_the_fix():
    with pytest.raises(ConfigError) as e:
        load_config({"data": {"source": "sklearn:iris"}, "model": {"type": "transformer", "d_model": 30, "heads": 4}})
    assert "model: d_model (30) must be divisible by heads (4)" in str(e.value)
    with pytest.raises(ConfigError, match="pooling 'cls' does not apply to model.type rnn; use one of"):
        load_config({"data": {"source": "sklearn:iris"}, "model": {"type": "rnn", "pooling": "cls"}})
    with pytest.raises(ConfigError) as e:
        build_model(ModelConfig(type="mlp"), 0, [], 2, IMAGE)
    assert "mlp on image data" in str(e.value) and "model.type: cnn" in str(e.value)
    with pytest.raises(ConfigError) as e:
        build_model(ModelConfig(type="rnn"), 4, [], 2, None)
    assert "needs images, sequences or text" in str(e.value) and "data.text_column" in str(e.value)
    with pytest.raises(ConfigError) as e:
        build_model(ModelConfig(type="cnn", channels=[8, 8, 8], padding="valid", kernel_size=5, pool="none"), 0, [], 2, IMAGE)
    assert "shrink the input to nothing" in str(e.value) and "block 2" in str(e.value)
