"""cnn: convolution blocks over images (2-D) or steps (1-D: sequences, text), global pooling, head.

forward(x_num (B, n_num), x_cat (B, n_cat), x, lengths=None) -> (B, n_out), where x is images
(B, C, H, W), sequences (B, T, F) or token ids (B, T); lengths (B,) masks padded steps in the
global pooling.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from netfit.config import ModelConfig
from netfit.errors import ConfigError
from netfit.model.layers import ACTIVATIONS, Head, ImageAugment, StepInput, masked_pool


class CNN(nn.Module):
    """A stack of convolution blocks (optionally residual), each followed by pooling."""

    def __init__(self, cfg: ModelConfig, spec: dict[str, Any], n_num: int, cat_cardinalities: list[int],
                 n_out: int) -> None:
        super().__init__()
        self.image = spec["kind"] == "image"
        self.augment = ImageAugment(cfg.augment_flip, cfg.augment_shift) if self.image and (
            cfg.augment_flip or cfg.augment_shift) else None
        if self.image:
            self.steps, in_ch, size = None, spec["shape"][0], list(spec["shape"][1:])
        else:
            self.steps = StepInput(spec, cfg.token_embedding_dim if spec["kind"] == "text" else None)
            in_ch, size = self.steps.width, [self.steps.max_len]
        self.blocks = conv_stack(cfg, in_ch, size)
        self.pooling = "mean" if cfg.pooling == "auto" else cfg.pooling
        self.head = Head(cfg.channels[-1], cfg, n_num, cat_cardinalities, n_out)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor, x: torch.Tensor,
                lengths: torch.Tensor | None = None) -> torch.Tensor:
        if self.image:
            x = self.augment(x) if self.augment is not None else x
        else:
            x = self.steps(x).transpose(1, 2)  # (B, T, D) -> (B, D, T): channels first
        steps_in = x.shape[-1]
        h = self.blocks(x)
        mask = None
        if lengths is not None:  # output step t covers input steps from t * T_in / T_out on
            t_out = h.shape[-1]
            mask = torch.arange(t_out, device=h.device)[None, :] * (steps_in / t_out) < lengths[:, None]
        h = h.flatten(2).transpose(1, 2)  # (B, positions, channels)
        return self.head(masked_pool(h, mask, self.pooling), x_num, x_cat)


def conv_stack(cfg: ModelConfig, in_ch: int, size: list[int]) -> nn.Sequential:
    """One block per entry of cfg.channels, each followed by pooling while the input is big enough."""
    dims = len(size)
    layers: list[nn.Module] = []
    for i, channels in enumerate(cfg.channels):
        block = ResidualBlock(cfg, dims, in_ch, channels) if cfg.residual else _conv_block(cfg, dims, in_ch, channels)
        layers.append(block)
        size = [_out_size(n, cfg.kernel_size, cfg.stride, _padding(cfg)) for n in size]
        if cfg.residual:
            size = [_out_size(n, cfg.kernel_size, 1, _padding(cfg)) for n in size]
        if min(size) < 1:
            raise ConfigError("the convolutions shrink the input to nothing", where=f"model.channels (block {i + 1})",
                              found=f"input size {size} after block {i + 1}",
                              hint="use fewer blocks, a smaller kernel_size or stride, or padding: same")
        if cfg.pool != "none" and min(size) >= cfg.pool_size:
            pool = {("max", 1): nn.MaxPool1d, ("max", 2): nn.MaxPool2d, ("avg", 1): nn.AvgPool1d,
                    ("avg", 2): nn.AvgPool2d}[cfg.pool, dims]
            layers.append(pool(cfg.pool_size))
            size = [n // cfg.pool_size for n in size]
        in_ch = channels
    return nn.Sequential(*layers)


def _conv_block(cfg: ModelConfig, dims: int, in_ch: int, out_ch: int) -> nn.Sequential:
    conv = (nn.Conv1d if dims == 1 else nn.Conv2d)(in_ch, out_ch, cfg.kernel_size, cfg.stride, _padding(cfg))
    layers = [conv, *_norm(cfg.norm, dims, out_ch), ACTIVATIONS[cfg.activation]()]
    return nn.Sequential(*layers, *([nn.Dropout(cfg.dropout)] if cfg.dropout > 0 else []))


class ResidualBlock(nn.Module):
    """conv -> norm -> act -> conv -> norm, plus the input (1x1-projected when shapes change), -> act."""

    def __init__(self, cfg: ModelConfig, dims: int, in_ch: int, out_ch: int) -> None:
        super().__init__()
        Conv = nn.Conv1d if dims == 1 else nn.Conv2d
        pad = _padding(cfg)
        self.main = nn.Sequential(Conv(in_ch, out_ch, cfg.kernel_size, cfg.stride, pad), *_norm(cfg.norm, dims, out_ch),
                                  ACTIVATIONS[cfg.activation](), Conv(out_ch, out_ch, cfg.kernel_size, 1, pad),
                                  *_norm(cfg.norm, dims, out_ch))
        same = in_ch == out_ch and cfg.stride == 1
        self.skip = nn.Identity() if same else Conv(in_ch, out_ch, 1, cfg.stride)
        self.act = ACTIVATIONS[cfg.activation]()
        self.drop = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.act(self.main(x) + self.skip(x)))


def _padding(cfg: ModelConfig) -> int:
    if cfg.residual or cfg.padding == "same":  # residual sums need equal sizes: always "same"
        return cfg.kernel_size // 2
    return 0 if cfg.padding == "valid" else int(cfg.padding)


def _out_size(n: int, kernel: int, stride: int, pad: int) -> int:
    return (n + 2 * pad - kernel) // stride + 1


def _norm(norm: str, dims: int, channels: int) -> list[nn.Module]:
    if norm == "batch":
        return [(nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(channels)]
    return [nn.GroupNorm(1, channels)] if norm == "layer" else []  # one group: layer norm over C and space
