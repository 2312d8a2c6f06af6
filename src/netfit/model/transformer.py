"""transformer: an encoder (torch's TransformerEncoderLayer, scaled-dot-product attention) over
sequences or text, with padding masks, learned or sinusoidal positions, [CLS] or pooled output.

forward(x_num (B, n_num), x_cat (B, n_cat), x, lengths=None) -> (B, n_out), where x is
sequences (B, T, F), token ids (B, T) or images (B, C, H, W, read row by row).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from netfit.config import ModelConfig
from netfit.model.layers import ACTIVATIONS, Head, StepInput, masked_pool, sinusoidal_positions, step_mask


class Transformer(nn.Module):
    """Steps projected to d_model, positions added, encoder layers, pooled, dense head."""

    def __init__(self, cfg: ModelConfig, spec: dict[str, Any], n_num: int, cat_cardinalities: list[int],
                 n_out: int) -> None:
        super().__init__()
        d = cfg.d_model
        self.steps = StepInput(spec, d)
        self.pooling = "cls" if cfg.pooling == "auto" else cfg.pooling
        self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02) if self.pooling == "cls" else None
        n_pos = self.steps.max_len + (self.cls is not None)
        if cfg.positions == "learned":
            self.pos = nn.Parameter(torch.randn(1, n_pos, d) * 0.02)
        else:  # a fixed table: not a weight, rebuilt on load
            self.register_buffer("pos", sinusoidal_positions(n_pos, d)[None], persistent=False)
        # relu and gelu by name keep torch's fused inference path; others as modules
        act = cfg.activation if cfg.activation in ("relu", "gelu") else ACTIVATIONS[cfg.activation]()
        layer = nn.TransformerEncoderLayer(d, cfg.heads, cfg.ff_dim, cfg.dropout, activation=act, batch_first=True,
                                           norm_first=cfg.norm_first)
        self.encoder = nn.TransformerEncoder(layer, cfg.num_layers, norm=nn.LayerNorm(d) if cfg.norm_first else None,
                                             enable_nested_tensor=False)
        self.scorer = nn.Linear(d, 1) if self.pooling == "attention" else None
        self.head = Head(d, cfg, n_num, cat_cardinalities, n_out)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor, x: torch.Tensor,
                lengths: torch.Tensor | None = None) -> torch.Tensor:
        h = self.steps(x)
        B, T, _ = h.shape
        mask = step_mask(lengths, T)  # True at real steps
        if self.cls is not None:
            h = torch.cat([self.cls.expand(B, -1, -1), h], dim=1)
            if mask is not None:
                mask = torch.cat([torch.ones(B, 1, dtype=torch.bool, device=h.device), mask], dim=1)
        h = h + self.pos[:, : h.shape[1]]
        h = self.encoder(h, src_key_padding_mask=None if mask is None else ~mask)
        z = h[:, 0] if self.cls is not None else masked_pool(h, mask, self.pooling, self.scorer)
        return self.head(z, x_num, x_cat)
