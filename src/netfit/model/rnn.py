"""rnn: LSTM, GRU or plain RNN layers over sequences or text, pooled over time, dense head.

forward(x_num (B, n_num), x_cat (B, n_cat), x, lengths=None) -> (B, n_out), where x is
sequences (B, T, F), token ids (B, T) or images (B, C, H, W, read row by row).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from netfit.config import ModelConfig
from netfit.model.layers import Head, StepInput, masked_pool, step_mask

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class RNN(nn.Module):
    """Stacked recurrent layers; variable lengths are packed (or masked with packed: false)."""

    def __init__(self, cfg: ModelConfig, spec: dict[str, Any], n_num: int, cat_cardinalities: list[int],
                 n_out: int) -> None:
        super().__init__()
        self.steps = StepInput(spec, cfg.token_embedding_dim if spec["kind"] == "text" else None)
        self.rnn = _CELLS[cfg.cell](self.steps.width, cfg.units, cfg.num_layers, batch_first=True,
                                    dropout=cfg.dropout if cfg.num_layers > 1 else 0.0, bidirectional=cfg.bidirectional)
        self.directions, self.units, self.packed = 1 + cfg.bidirectional, cfg.units, cfg.packed
        width = cfg.units * self.directions
        self.pooling = "last" if cfg.pooling == "auto" else cfg.pooling
        self.scorer = nn.Linear(width, 1) if self.pooling == "attention" else None
        self.head = Head(width, cfg, n_num, cat_cardinalities, n_out)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor, x: torch.Tensor,
                lengths: torch.Tensor | None = None) -> torch.Tensor:
        h = self.steps(x)
        T = h.shape[1]
        if self.packed and lengths is not None:
            # torch packs with lengths on the host: on a GPU this is the step's one sync (packed: false avoids it)
            packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, state = self.rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        else:
            out, state = self.rnn(h)
        if self.pooling == "last":
            z = self._last(out, state, lengths)
        else:
            z = masked_pool(out, step_mask(lengths, T), self.pooling, self.scorer)
        return self.head(z, x_num, x_cat)

    def _last(self, out: torch.Tensor, state: Any, lengths: torch.Tensor | None) -> torch.Tensor:
        """The final state of each direction of the top layer, at each sequence's true end."""
        if self.packed or lengths is None:
            h_n = state[0] if isinstance(state, tuple) else state  # LSTM: (h_n, c_n)
            return torch.cat(list(h_n[-self.directions:]), dim=1)  # (B, units * directions)
        # the step at each row's end, by gather (no row count in Python: an ONNX graph keeps its batch dynamic)
        end = (lengths - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, out.shape[2])
        forward = out.gather(1, end).squeeze(1)[:, : self.units]
        return forward if self.directions == 1 else torch.cat([forward, out[:, 0, self.units:]], dim=1)
