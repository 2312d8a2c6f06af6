"""Builders: config -> nn.Module. No class hierarchy; one small module per architecture."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from netfit.config import ModelConfig
from netfit.errors import ConfigError
from netfit.model.layers import CategoricalEmbeddings, EnsembleLinear, PeriodicEmbedding, dense_stack, init_weights


class MLP(nn.Module):
    """Dense network over numeric columns plus embeddings of integer-coded categorical columns.

    forward(x_num (B, n_num) float, x_cat (B, n_cat) int64 | None) -> (B, n_out)

    With `model.ensemble` k > 1 (TabM-mini) the k members share the hidden layers; each scales
    the input by its own vector and has its own output layer. In training mode the output is
    (B, k, n_out), one prediction per member, and the loss is their mean (`Loss`); in eval mode
    it is the members' mean prediction: of probabilities (returned as logits) for classification,
    of values for regression.
    """

    def __init__(self, cfg: ModelConfig, n_num: int, cat_cardinalities: list[int], n_out: int,
                 task: str | None = None) -> None:
        super().__init__()
        self.numbers = (PeriodicEmbedding(n_num, cfg.numeric_embedding_dim, cfg.frequency_scale)
                        if cfg.numeric_embedding == "periodic" and n_num else None)
        self.embed = CategoricalEmbeddings(cat_cardinalities, cfg.embedding_dim) if cat_cardinalities else None
        n_in = (self.numbers.width if self.numbers else n_num) + (self.embed.width if self.embed else 0)
        self.body, width = dense_stack(n_in, cfg.hidden, cfg.activation, cfg.dropout, cfg.norm)
        self.k, self.task = cfg.ensemble, task
        if self.k == 1:
            self.head = nn.Linear(width, n_out)
            return
        if task is None:
            raise ValueError("an ensemble MLP needs the task (how to average its members)")
        # TabM-mini: random +/-1 input scalings make the members differ from the first step
        self.adapter = nn.Parameter(torch.randint(0, 2, (self.k, n_in)).float() * 2 - 1)
        self.head = EnsembleLinear(self.k, width, n_out)
        self.register_load_state_dict_pre_hook(_head_named_as_before)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor | None = None) -> torch.Tensor:
        x = self.numbers(x_num) if self.numbers is not None else x_num
        if self.embed is not None:
            x = torch.cat([x, self.embed(x_cat)], dim=1)
        if self.k == 1:
            return self.head(self.body(x))
        B = x.shape[0]
        # widths named, not -1: a batch of 0 rows (predict on an empty table) has no size to infer
        h = self.body((x[:, None, :] * self.adapter).reshape(B * self.k, x.shape[1]))
        h = h.reshape(B, self.k, h.shape[-1])
        out = self.head(h)
        return out if self.training else ensemble_mean(out, self.task)


def _head_named_as_before(module: nn.Module, state_dict: dict, prefix: str, *args: Any) -> None:
    """Model files of 2026-12-07 name the ensemble's output layer `head_weight`/`head_bias`; they
    load as `head.weight`/`head.bias`."""
    for old, new in (("head_weight", "head.weight"), ("head_bias", "head.bias")):
        if prefix + old in state_dict and prefix + new not in state_dict:
            state_dict[prefix + new] = state_dict.pop(prefix + old)


def ensemble_mean(out: torch.Tensor, task: str) -> torch.Tensor:
    """(B, k, n_out) member outputs -> (B, n_out): the mean probability as logits, or the mean value."""
    if task == "multiclass":
        return torch.logsumexp(torch.log_softmax(out, dim=-1), dim=1) - math.log(out.shape[1])
    if task == "binary":
        p = torch.sigmoid(out).mean(dim=1).clamp(1e-7, 1 - 1e-7)
        return torch.log(p) - torch.log1p(-p)
    return out.mean(dim=1)


def output_size(task: str, n_classes: int) -> int:
    """Logits for multiclass, one logit for binary (bce), one value for regression."""
    return n_classes if task == "multiclass" else 1


def build_model(cfg: ModelConfig, n_num: int, cat_cardinalities: list[int], n_out: int,
                input_spec: dict | None = None, task: str | None = None) -> nn.Module:
    """Build and initialise the configured architecture.

    Args:
        input_spec: the image/sequence/text input (`Preprocessor.array.spec`: kind, shape,
            vocab_size), or None for tables.
        task: binary, multiclass or regression; needed by `model.ensemble` > 1 (how members average).

    Every model follows one forward contract: `forward(x_num, x_cat=None)` for tables (MLP),
    `forward(x_num, x_cat, x, lengths=None)` with an image/sequence/text input `x`.

    Example:
        >>> from netfit.config import ModelConfig
        >>> net = build_model(ModelConfig(hidden=[32]), n_num=64, cat_cardinalities=[], n_out=10)
    """
    if cfg.module:  # your own module: its own initialisation, netfit's init scheme is not applied
        from netfit.model.custom import build_custom

        return build_custom(cfg, n_num, cat_cardinalities, n_out)
    cfg = resolve_model(cfg, input_spec)
    model = _architecture(cfg, n_num, cat_cardinalities, n_out, input_spec, task)
    init_weights(model, cfg.init, cfg.activation, cfg.init_std, cfg.bias_init)
    return model


def _architecture(cfg: ModelConfig, n_num: int, cat_cardinalities: list[int], n_out: int,
                  spec: dict | None, task: str | None) -> nn.Module:
    if cfg.type == "mlp":
        if spec is not None:
            raise ConfigError("model.type mlp reads table columns only", where="model.type",
                              expected="cnn (images, sequences, text), rnn or transformer (sequences, text)",
                              found=f"mlp on {spec['kind']} data",
                              hint="set model.type: cnn, rnn or transformer; or data.kind: table to flatten arrays into columns")
        return MLP(cfg, n_num, cat_cardinalities, n_out, task)
    if spec is None:
        raise ConfigError(f"model.type {cfg.type} needs images, sequences or text", where="model.type",
                          found="table data (no image, sequence or text input)",
                          hint="set data.image_shape, data.sequence_column or data.text_column (or data.kind), "
                               "or use model.type: mlp for tables")
    from netfit.model.cnn import CNN
    from netfit.model.rnn import RNN
    from netfit.model.transformer import Transformer

    return {"cnn": CNN, "rnn": RNN, "transformer": Transformer}[cfg.type](cfg, spec, n_num, cat_cardinalities, n_out)


SERIES_KERNEL = 7  # `kernel_size: auto` on numeric sequences (docs/defaults.md: the series ablation)


def resolve_model(cfg: ModelConfig, spec: dict | None) -> ModelConfig:
    """`cfg` with its `auto` values made concrete for the input `spec` (`input_spec(preprocessor)`,
    None for tables): `type` mlp for tables, cnn for images, sequences and text; `kernel_size` 7 on
    numeric sequences, 3 on images and text."""
    update: dict[str, Any] = {}
    if cfg.type == "auto":
        update["type"] = "mlp" if spec is None else "cnn"
    if cfg.kernel_size == "auto":
        update["kernel_size"] = SERIES_KERNEL if spec is not None and spec.get("kind") == "sequence" else 3
    return cfg.model_copy(update=update) if update else cfg


def model_for(cfg: ModelConfig, pre: Any, task: str) -> nn.Module:
    """The configured model for data a `Preprocessor` has read: its columns, its image, sequence or
    text input and its classes set the input and output sizes. Training, `netfit check`'s plan, the
    finders and loading a run folder all build their model here, so the four cannot drift apart."""
    from netfit.data.preprocess import input_spec

    return build_model(cfg, pre.n_num, pre.cat_cardinalities, output_size(task, len(pre.classes)), input_spec(pre), task)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
