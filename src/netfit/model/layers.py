"""Reusable blocks: activations, dense stacks, categorical embeddings, weight initialisation,
the dense head shared by every architecture, step inputs, masked pooling, image augmentation."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}

# the nonlinearity name torch's kaiming init expects for each activation
_GAIN_NAME = {"relu": "relu", "leaky_relu": "leaky_relu", "tanh": "tanh", "sigmoid": "sigmoid"}


def dense_stack(
    n_in: int, hidden: list[int], activation: str, dropout: float, norm: str
) -> tuple[nn.Sequential, int]:
    """Linear -> [norm] -> activation -> [dropout] for each hidden size; returns (stack, width)."""
    layers: list[nn.Module] = []
    width = n_in
    for units in hidden:
        layers.append(nn.Linear(width, units))
        if norm == "batch":
            layers.append(nn.BatchNorm1d(units))
        elif norm == "layer":
            layers.append(nn.LayerNorm(units))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = units
    return nn.Sequential(*layers), width


class CategoricalEmbeddings(nn.Module):
    """One embedding table per integer-coded column (code 0 = unknown); outputs are concatenated."""

    def __init__(self, cardinalities: list[int], dim: int | None) -> None:
        super().__init__()
        dims = [dim or min(50, (c + 1) // 2) for c in cardinalities]
        self.tables = nn.ModuleList(nn.Embedding(c, d) for c, d in zip(cardinalities, dims))
        self.width = sum(dims)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:  # codes: (B, n_cat) int64
        return torch.cat([table(codes[:, i]) for i, table in enumerate(self.tables)], dim=1)


class PeriodicEmbedding(nn.Module):
    """Each numeric column x as [x, relu-free linear(cos(2 pi f x + b))] with 16 learned frequencies
    f ~ N(0, scale^2) and phases b per column: "PBLD" of RealMLP (Holzmueller et al. 2024), after the
    periodic embeddings of Gorishniy et al. 2022. (B, n) -> (B, n * dim)."""

    FREQUENCIES = 16

    def __init__(self, n: int, dim: int, scale: float) -> None:
        super().__init__()
        f = self.FREQUENCIES
        self.frequency = nn.Parameter(torch.randn(n, f) * scale)
        self.phase = nn.Parameter(torch.empty(n, f).uniform_(-math.pi, math.pi))
        bound = 1 / math.sqrt(f)
        self.weight = nn.Parameter(torch.empty(n, f, dim - 1).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n, dim - 1).uniform_(-bound, bound))
        self.width = n * dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # fused ops (addcmul, baddbmm) rather than einsum and separate adds: on a CPU step of a small
        # table these few kernels over (B, n, 16) were 0.1 ms of a 1.8 ms step (benchmarks/small_fits.py)
        z = torch.cos(torch.addcmul(self.phase, (2 * math.pi * x)[..., None], self.frequency))  # (B, n, f)
        h = torch.baddbmm(self.bias[:, None, :], z.transpose(0, 1), self.weight).transpose(0, 1)  # (B, n, dim - 1)
        return torch.cat([x[..., None], h], dim=-1).flatten(1)


class EnsembleLinear(nn.Module):
    """k output layers side by side (TabM-mini's heads): (B, k, width) -> (B, k, n_out), member j
    through its own `weight[j]` (width, n_out) and `bias[j]`, each initialised as `nn.Linear`
    initialises one (uniform within 1/sqrt(width)). A module of its own so the output layer is a
    layer like the others: training diagnostics watch it, `train.freeze` names it `head.*`."""

    def __init__(self, k: int, width: int, n_out: int) -> None:
        super().__init__()
        bound = 1 / width ** 0.5
        self.weight = nn.Parameter(torch.empty(k, width, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(k, n_out).uniform_(-bound, bound))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bkw,kwo->bko", h, self.weight) + self.bias


def init_weights(module: nn.Module, scheme: str, activation: str, std: float, bias: float) -> None:
    """Initialise every Linear, convolution, recurrent, attention and Embedding weight of `module`
    by `scheme`; `default` keeps PyTorch's.

    Recurrent hidden-to-hidden weights are orthogonal per gate whatever the scheme (as Keras
    does): a fan-based scale on a matrix applied at every step makes the recurrence explode or vanish.
    """
    if scheme == "default":
        return
    gain_name = _GAIN_NAME.get(activation, "relu")
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            _init_matrix(m.weight, scheme, gain_name, std)
            if m.bias is not None:
                nn.init.constant_(m.bias, bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 1.0 if scheme != "normal" else std)
            if m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()
        elif isinstance(m, nn.RNNBase):
            _init_recurrent(m, scheme, std, bias)
        elif isinstance(m, nn.MultiheadAttention) and m.in_proj_weight is not None:
            _init_matrix(m.in_proj_weight, scheme, "linear", std)  # q, k, v projections have no activation
            nn.init.constant_(m.in_proj_bias, bias)


def _init_recurrent(rnn: nn.RNNBase, scheme: str, std: float, bias: float) -> None:
    gates = {"LSTM": 4, "GRU": 3}.get(rnn.mode, 1)
    for name, w in rnn.named_parameters():
        if name.startswith("weight_ih"):
            _init_matrix(w, scheme, "tanh", std)
        elif name.startswith("weight_hh"):
            for block in w.data.chunk(gates, dim=0):
                nn.init.orthogonal_(block)
        elif name.startswith("bias"):
            nn.init.constant_(w, bias)


def _init_matrix(w: torch.Tensor, scheme: str, gain_name: str, std: float) -> None:
    gain = nn.init.calculate_gain(gain_name, 0.01 if gain_name == "leaky_relu" else None)
    if scheme == "xavier_uniform":
        nn.init.xavier_uniform_(w, gain=gain)
    elif scheme == "xavier_normal":
        nn.init.xavier_normal_(w, gain=gain)
    elif scheme == "kaiming_uniform":
        nn.init.kaiming_uniform_(w, a=0.01 if gain_name == "leaky_relu" else 0, nonlinearity=gain_name)
    elif scheme == "kaiming_normal":
        nn.init.kaiming_normal_(w, a=0.01 if gain_name == "leaky_relu" else 0, nonlinearity=gain_name)
    elif scheme == "orthogonal":
        nn.init.orthogonal_(w, gain=gain)
    elif scheme == "normal":
        nn.init.normal_(w, 0.0, std)
    else:  # the config schema only admits the names above
        raise AssertionError(f"unknown init {scheme}")




# ---------------------------------------------------------------- shared by cnn, rnn, transformer
class Head(nn.Module):
    """Branch features (B, width), joined with the tabular columns, -> dense stack -> outputs.

    Tabular columns (x_num and embedded x_cat) are concatenated before the dense layers, so a
    model can combine an image, sequence or text with ordinary columns.
    """

    def __init__(self, width: int, cfg: Any, n_num: int, cat_cardinalities: list[int], n_out: int) -> None:
        super().__init__()
        self.n_num = n_num
        self.embed = CategoricalEmbeddings(cat_cardinalities, cfg.embedding_dim) if cat_cardinalities else None
        n_in = width + n_num + (self.embed.width if self.embed else 0)
        self.body, width = dense_stack(n_in, cfg.hidden, cfg.activation, cfg.dropout, cfg.norm)
        self.out = nn.Linear(width, n_out)

    def forward(self, h: torch.Tensor, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        parts = [h] + [x_num] * (self.n_num > 0) + ([self.embed(x_cat)] if self.embed is not None else [])
        return self.out(self.body(torch.cat(parts, dim=1) if len(parts) > 1 else h))


class StepInput(nn.Module):
    """The array input as steps (B, T, D): token embeddings (text), feature vectors (sequences,
    optionally projected to `width`) or image rows (B, H, W*C)."""

    def __init__(self, spec: dict[str, Any], width: int | None) -> None:
        super().__init__()
        self.kind = spec["kind"]
        if self.kind == "text":
            self.proj = nn.Embedding(spec["vocab_size"], width, padding_idx=0)
            self.max_len, self.width = spec["shape"][0], width
            return
        steps, features = (spec["shape"][1], spec["shape"][0] * spec["shape"][2]) if self.kind == "image" else spec["shape"]
        self.proj = nn.Linear(features, width) if width else nn.Identity()
        self.max_len, self.width = steps, width or features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "image":  # (B, C, H, W) -> rows as steps (B, H, W*C)
            x = x.permute(0, 2, 3, 1).flatten(2)
        return self.proj(x)


def step_mask(lengths: torch.Tensor | None, steps: int) -> torch.Tensor | None:
    """(B, T) True at real steps, False at padding; None when every step is real."""
    if lengths is None:
        return None
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]


def masked_pool(h: torch.Tensor, mask: torch.Tensor | None, how: str, scorer: nn.Module | None = None) -> torch.Tensor:
    """(B, T, D) -> (B, D) by mean, max or attention over the real steps only."""
    if how == "mean":
        if mask is None:
            return h.mean(dim=1)
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
    if how == "max":
        return (h if mask is None else h.masked_fill(~mask.unsqueeze(-1), float("-inf"))).amax(dim=1)
    scores = scorer(h).squeeze(-1)  # attention: a learned score per step, softmax over real steps
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return (torch.softmax(scores, dim=1).unsqueeze(-1) * h).sum(dim=1)


def sinusoidal_positions(steps: int, width: int) -> torch.Tensor:
    """The fixed sine/cosine position table (steps, width) of "Attention is all you need"."""
    pos = torch.arange(steps, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    table = torch.zeros(steps, width)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)[:, : width // 2]
    return table


class ImageAugment(nn.Module):
    """Random left-right flips and shifts of training images, on the device, per sample.

    Active only in training mode; validation, test and predict see the images unchanged. A shift
    is a random crop of the zero-padded image (padding 0 is the training mean after scaling).
    """

    def __init__(self, flip: bool, shift: int) -> None:
        super().__init__()
        self.flip, self.shift = flip, shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W)
        if not self.training:
            return x
        B, C, H, W = x.shape
        if self.flip:
            x = torch.where(torch.rand(B, 1, 1, 1, device=x.device) < 0.5, x.flip(-1), x)
        if self.shift:
            s = self.shift
            padded = F.pad(x, (s, s, s, s)).permute(0, 2, 3, 1)  # (B, H+2s, W+2s, C)
            dy, dx = torch.randint(0, 2 * s + 1, (2, B, 1), device=x.device)
            rows = (dy + torch.arange(H, device=x.device))[:, :, None]  # (B, H, 1)
            cols = (dx + torch.arange(W, device=x.device))[:, None, :]  # (B, 1, W)
            x = padded[torch.arange(B, device=x.device)[:, None, None], rows, cols].permute(0, 3, 1, 2)
        return x
