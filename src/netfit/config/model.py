"""The `model` section: the architecture and its initialisation."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from netfit.config.base import ImportPath, Section

Activation = Literal["relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid"]
Init = Literal["default", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal", "normal"]


class ModelConfig(Section):
    type: Literal["auto", "mlp", "cnn", "rnn", "transformer"] = Field(
        "auto", description="Architecture: `mlp` (tables), `cnn` (images, sequences, text), `rnn` and `transformer` "
                            "(sequences, text); `auto`: mlp for tables, cnn for images, sequences and text."
    )
    hidden: list[int] = Field(
        default_factory=lambda: [256, 128], description="Units of each hidden layer (the dense head after a cnn, rnn or transformer)."
    )
    activation: Activation = Field("relu", description="Activation between layers.")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout after each hidden layer.")
    norm: Literal["none", "batch", "layer"] = Field("none", description="Normalisation after each hidden linear layer.")
    init: Init = Field("kaiming_normal", description="Weight initialisation of linear layers (`default`: PyTorch's).")
    init_std: float = Field(0.02, gt=0, description="Standard deviation for `init: normal`.")
    bias_init: float = Field(0.0, description="Constant initial value of biases (ignored with `init: default`).")
    numeric_embedding: Literal["none", "periodic"] = Field(
        "periodic", description="mlp: `periodic` embeds each numeric column as cos(2 pi f x + b) with 16 learned frequencies, "
                            "mapped to `numeric_embedding_dim` - 1 values beside x itself (Gorishniy et al. 2022; RealMLP's PBLD); "
                            "`none` feeds the scaled column alone (the default until 2026-12; docs/defaults.md)."
    )
    numeric_embedding_dim: int = Field(4, ge=2, description="mlp: width of each numeric column's periodic embedding (x itself included).")
    frequency_scale: float = Field(0.1, gt=0, description="mlp: standard deviation of the initial periodic frequencies.")
    ensemble: int = Field(
        4, ge=1, description="mlp: k > 1 trains k members sharing the hidden layers, each with its own input scaling and "
                             "output layer (TabM-mini, Gorishniy et al. 2024); the loss is the members' mean, predictions their "
                             "mean. 1: a single network (the default until 2026-12-07; about half the fit time; docs/defaults.md)."
    )
    embedding_dim: int | None = Field(
        None, ge=1, description="Embedding width for integer-coded categorical columns; default min(50, (cardinality+1)//2)."
    )
    # cnn, rnn, transformer (netfit.model.cnn/rnn/transformer); 2-D convolutions on images, 1-D on sequences
    channels: list[int] = Field(default_factory=lambda: [32, 64], description="cnn: output channels of each convolution block.")
    kernel_size: Union[Literal["auto"], Annotated[int, Field(ge=1)]] = Field(
        "auto", description="cnn: kernel size of every convolution; `auto`: 7 on numeric sequences (series), 3 on "
                            "images and text."
    )
    stride: int = Field(1, ge=1, description="cnn: stride of every convolution.")
    padding: Union[Literal["same", "valid"], int] = Field("same", description="cnn: `same` (keeps the size at stride 1), `valid` (none) or a number of pixels.")
    pool: Literal["max", "avg", "none"] = Field("max", description="cnn: pooling after each block (skipped once the input is smaller than pool_size).")
    pool_size: int = Field(2, ge=1, description="cnn: window and stride of that pooling.")
    residual: bool = Field(False, description="cnn: residual blocks (two convolutions and a skip connection) instead of single convolutions.")
    pooling: Literal["auto", "mean", "max", "last", "attention", "cls"] = Field(
        "auto", description="How steps or pixels become one vector: `auto` is mean (cnn), last (rnn), cls (transformer); "
                            "`last` is rnn only, `cls` transformer only; padding is masked."
    )
    cell: Literal["lstm", "gru", "rnn"] = Field("lstm", description="rnn: recurrent cell.")
    units: int = Field(64, ge=1, description="rnn: hidden units per direction.")
    num_layers: int = Field(2, ge=1, description="rnn: stacked recurrent layers; transformer: encoder layers.")
    bidirectional: bool = Field(False, description="rnn: also read sequences backwards (outputs concatenated).")
    packed: bool = Field(
        True, description="rnn: pack variable-length batches so padding is never read (on a GPU this copies the batch "
                          "lengths to the host each step); false reads padding and masks it in pooling (exact for one direction)."
    )
    d_model: int = Field(64, ge=1, description="transformer: width of token vectors.")
    heads: int = Field(4, ge=1, description="transformer: attention heads (d_model must be divisible by heads).")
    ff_dim: int = Field(128, ge=1, description="transformer: hidden units of each feed-forward block.")
    norm_first: bool = Field(True, description="transformer: pre-norm (LayerNorm before attention and feed-forward); false: post-norm.")
    positions: Literal["learned", "sinusoidal"] = Field("sinusoidal", description="transformer: position encodings (fixed sine/cosine tables, or learned vectors).")
    token_embedding_dim: int = Field(64, ge=1, description="cnn, rnn: width of token embeddings for text (the transformer uses d_model).")
    augment_flip: bool = Field(False, description="cnn on images: flip training images left-right at random (never at validation or predict).")
    augment_shift: int = Field(0, ge=0, description="cnn on images: shift training images by up to this many pixels at random (a random crop of the zero-padded image).")
    module: ImportPath | None = Field(
        None, description="Your own nn.Module as `package.module:Class` (or the class, in Python), used instead of `type`: "
        "built as Class(n_num=, cat_cardinalities=, n_out=, **kwargs), called as forward(x_num, x_cat=None). "
        "Loading the run imports it (runs its code)."
    )
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments for `module`.")

    @field_validator("hidden")
    @classmethod
    def _positive_units(cls, v: list[int]) -> list[int]:
        if any(u < 1 for u in v):
            raise ValueError(f"every hidden size must be >= 1, found {v}")
        return v

    @field_validator("channels")
    @classmethod
    def _positive_channels(cls, v: list[int]) -> list[int]:
        if not v or any(c < 1 for c in v):
            raise ValueError(f"channels must list at least one size >= 1, found {v}")
        return v

    @model_validator(mode="after")
    def _fits_the_type(self) -> "ModelConfig":
        if self.type == "transformer" and self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads}); e.g. heads: 4 with d_model: 64")
        allowed = {"cnn": ("auto", "mean", "max"), "rnn": ("auto", "mean", "max", "last", "attention"),
                   "transformer": ("auto", "mean", "max", "attention", "cls")}.get(self.type)
        if allowed and self.pooling not in allowed:
            raise ValueError(f"pooling {self.pooling!r} does not apply to model.type {self.type}; use one of {', '.join(allowed)}")
        if self.residual and isinstance(self.kernel_size, int) and self.kernel_size % 2 == 0:
            raise ValueError(f"residual blocks need an odd kernel_size (the sum needs equal sizes), found {self.kernel_size}")
        if isinstance(self.padding, int) and self.padding < 0:
            raise ValueError(f"padding must be >= 0, found {self.padding}")
        return self
