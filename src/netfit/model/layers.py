"""Reusable blocks: activations, dense stacks, categorical embeddings, weight initialisation."""

from __future__ import annotations



import torch
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


def init_weights(module: nn.Module, scheme: str, activation: str, std: float, bias: float) -> None:
    """Initialise every Linear (and Embedding) weight of `module` by `scheme`; `default` keeps PyTorch's."""
    if scheme == "default":
        return
    gain_name = _GAIN_NAME.get(activation, "relu")
    for m in module.modules():
        if isinstance(m, nn.Linear):
            _init_matrix(m.weight, scheme, gain_name, std)
            if m.bias is not None:
                nn.init.constant_(m.bias, bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 1.0 if scheme != "normal" else std)


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


