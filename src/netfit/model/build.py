"""Builders: config -> nn.Module. No class hierarchy; one small module per architecture."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from netfit.config import ModelConfig
from netfit.errors import ConfigError
from netfit.model.layers import CategoricalEmbeddings, dense_stack, init_weights


class MLP(nn.Module):
    """Dense network over numeric columns plus embeddings of integer-coded categorical columns.

    forward(x_num (B, n_num) float, x_cat (B, n_cat) int64 | None) -> (B, n_out)
    """

    def __init__(self, cfg: ModelConfig, n_num: int, cat_cardinalities: list[int], n_out: int) -> None:
        super().__init__()
        self.embed = CategoricalEmbeddings(cat_cardinalities, cfg.embedding_dim) if cat_cardinalities else None
        n_in = n_num + (self.embed.width if self.embed else 0)
        self.body, width = dense_stack(n_in, cfg.hidden, cfg.activation, cfg.dropout, cfg.norm)
        self.head = nn.Linear(width, n_out)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            x_num = torch.cat([x_num, self.embed(x_cat)], dim=1)
        return self.head(self.body(x_num))


def output_size(task: str, n_classes: int) -> int:
    """Logits for multiclass, one logit for binary (bce), one value for regression."""
    return n_classes if task == "multiclass" else 1


def build_model(cfg: ModelConfig, n_num: int, cat_cardinalities: list[int], n_out: int,
                input_spec: dict | None = None) -> nn.Module:
    """Build and initialise the configured architecture.

    Args:
        input_spec: the image/sequence/text input (`Preprocessor.array.spec`: kind, shape,
            vocab_size), or None for tables.

    Every model follows one forward contract: `forward(x_num, x_cat=None)` for tables (MLP),
    `forward(x_num, x_cat, x, lengths=None)` with an image/sequence/text input `x`.

    Example:
        >>> from netfit.config import ModelConfig
        >>> net = build_model(ModelConfig(hidden=[32]), n_num=64, cat_cardinalities=[], n_out=10)
    """
    if cfg.module:  # your own module: its own initialisation, netfit's init scheme is not applied
        from netfit.model.custom import build_custom

        return build_custom(cfg, n_num, cat_cardinalities, n_out)
    model = _architecture(cfg, n_num, cat_cardinalities, n_out, input_spec)
    init_weights(model, cfg.init, cfg.activation, cfg.init_std, cfg.bias_init)
    return model


def _architecture(cfg: ModelConfig, n_num: int, cat_cardinalities: list[int], n_out: int,
                  spec: dict | None) -> nn.Module:
    if cfg.type == "mlp":
        if spec is not None:
            raise ConfigError("model.type mlp reads table columns only", where="model.type",
                              expected="cnn (images, sequences, text), rnn or transformer (sequences, text)",
                              found=f"mlp on {spec['kind']} data",
                              hint="set model.type: cnn, rnn or transformer; or data.kind: table to flatten arrays into columns")
        return MLP(cfg, n_num, cat_cardinalities, n_out)
    if spec is None:
        raise ConfigError(f"model.type {cfg.type} needs images, sequences or text", where="model.type",
                          found="table data (no image, sequence or text input)",
                          hint="set data.image_shape, data.sequence_column or data.text_column (or data.kind), "
                               "or use model.type: mlp for tables")
    from netfit.model.cnn import CNN
    from netfit.model.rnn import RNN
    from netfit.model.transformer import Transformer

    return {"cnn": CNN, "rnn": RNN, "transformer": Transformer}[cfg.type](cfg, spec, n_num, cat_cardinalities, n_out)


def model_for(cfg: ModelConfig, pre: Any, task: str) -> nn.Module:
    """The configured model for data a `Preprocessor` has read: its columns, its image, sequence or
    text input and its classes set the input and output sizes. Training, `netfit check`'s plan, the
    finders and loading a run folder all build their model here, so the four cannot drift apart."""
    from netfit.data.preprocess import input_spec

    return build_model(cfg, pre.n_num, pre.cat_cardinalities, output_size(task, len(pre.classes)), input_spec(pre))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
