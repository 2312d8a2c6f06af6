"""The config: a Pydantic schema with defaults that work, loading, overrides and errors.

The smallest valid config is a data source and a target::

    data: {source: data.csv, target: y}

`load_config` reads YAML (or takes a dict or a `Config`), applies overrides
(`train.optimizer.lr=3e-4`), validates everything at once and raises one `ConfigError`
listing every problem, with the closest valid key for a typo.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Union

import yaml
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)

from netfit.errors import ConfigError
from netfit.plugins import check_import_path, import_path_of

SKLEARN_DATASETS = ("digits", "iris", "wine", "breast_cancer", "diabetes")


# `package.module:name` of your own module, loss or metric; in Python a class or function becomes its path
ImportPath = Annotated[str, BeforeValidator(import_path_of), AfterValidator(check_import_path)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- data
class SplitConfig(_Section):
    train: float = Field(0.7, gt=0, le=1, description="Fraction of rows for training.")
    val: float = Field(0.15, ge=0, lt=1, description="Fraction of rows for validation (early stopping, tuning).")
    test: float = Field(0.15, ge=0, lt=1, description="Fraction of rows for the final, once-only test.")
    stratify: Union[Literal["auto"], bool] = Field(
        "auto", description="Keep class proportions in every split; `auto`: for classification when every class can be split."
    )
    group_column: str | None = Field(None, description="Rows sharing a value of this column stay in one split (no group leakage).")
    order_column: str | None = Field(None, description="Time-ordered split: validation and test are the latest rows by this column.")
    column: str | None = Field(None, description="A column holding `train`/`val`/`test` per row: a split given by the user.")
    method: Literal["random", "hash"] = Field(
        "random", description="`random`: seeded (stratified) shuffle, or by group/order/column when given; `hash`: each row's "
                              "split from a seeded hash of its id (`id_column`, else its row number in the source), the "
                              "same in memory and when streaming; split sizes are then approximate. Streaming data uses `hash`."
    )
    id_column: str | None = Field(None, description="`method: hash`: the column whose value identifies a row (default: the row number).")

    @model_validator(mode="after")
    def _fractions_add_up(self) -> "SplitConfig":
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"split fractions must add up to 1, found train {self.train} + val {self.val} + "
                f"test {self.test} = {total:g}; adjust them so they sum to 1"
            )
        chosen = [n for n in ("group_column", "order_column", "column") if getattr(self, n)]
        if len(chosen) > 1:
            raise ValueError(f"choose one of group_column, order_column, column; found {', '.join(chosen)}")
        if self.method == "hash" and chosen:
            raise ValueError(f"method hash assigns rows by their id; it cannot be combined with {chosen[0]}")
        if self.id_column and self.method != "hash":
            raise ValueError("id_column is used by method: hash; set method: hash or remove id_column")
        return self


class PreprocessConfig(_Section):
    numeric: Literal["standardize", "minmax", "robust", "none"] = Field(
        "standardize", description="Scaling of numeric columns, fitted on the training split."
    )
    categorical: Literal["auto", "onehot", "codes"] = Field(
        "auto", description="`onehot`, integer `codes` (for embeddings), or `auto`: one-hot up to `max_onehot` categories, codes above."
    )
    max_onehot: int = Field(50, ge=1, description="Cardinality cap for one-hot encoding under `categorical: auto`.")
    missing: Literal["median", "mean", "constant"] = Field("median", description="Imputation of missing numeric values.")
    fill_value: float = Field(0.0, description="The value used by `missing: constant`.")
    missing_categorical: Literal["most_frequent", "category"] = Field(
        "category", description="Imputation of missing categories: the most frequent one, or a category of its own."
    )
    missing_indicator: bool = Field(False, description="Add a 0/1 column per numeric column that had missing values in training.")
    drop_duplicates: bool = Field(False, description="Drop exact duplicate rows before splitting.")
    drop_constant: bool = Field(True, description="Drop columns with a single value in training (with a warning).")


class DataConfig(_Section):
    source: str | None = Field(
        None, description="One source to split: a `.csv`, `.parquet` or `.npz` path, an image folder, `sklearn:NAME` "
                          "(see `netfit datasets`) or `synthetic:order` / `synthetic:sentences` (generated)."
    )
    train: str | None = Field(None, description="A separate training source (instead of `source`).")
    val: str | None = Field(None, description="A separate validation source (with `train`).")
    test: str | None = Field(None, description="A separate test source (with `train`).")
    target: str | None = Field(None, description="The target column; `target` for bundled data sets and `.npz` arrays.")
    features: list[str] | None = Field(None, description="Feature columns; default: every other column.")
    ignore: list[str] = Field(default_factory=list, description="Columns to leave out.")
    weight_column: str | None = Field(None, description="A column of per-row sample weights used by the loss.")
    types: dict[str, Literal["numeric", "categorical", "boolean"]] = Field(
        default_factory=dict, description="Per-column type overrides; declared columns are never dropped as ids or dates."
    )
    task: Literal["auto", "binary", "multiclass", "regression"] = Field("auto", description="The task; `auto` infers it from the target.")
    x_key: str = Field("x", description="Name of the feature array inside a `.npz` archive.")
    y_key: str = Field("y", description="Name of the target array inside a `.npz` archive.")
    split: SplitConfig = Field(default_factory=SplitConfig, description="How rows are split.")
    preprocess: PreprocessConfig = Field(default_factory=PreprocessConfig, description="Cleaning and preprocessing.")
    # images, sequences and text (netfit.data.arrays); tabular columns beside them are still used
    kind: Literal["auto", "table", "image", "sequence", "text"] = Field(
        "auto", description="Data kind; `auto`: `text` with text_column, `sequence` with sequence_column, `image` "
                            "with image_shape or an image folder, else `table`. `.npz` arrays of images or sequences need it."
    )
    image_shape: list[int] | None = Field(
        None, description="Image shape [H, W] or [H, W, C]: checked against image arrays, or used to reshape flat pixel columns into images."
    )
    image_size: list[int] | None = Field(
        None, description="Resize every image of an image folder to [H, W]; without it images of mixed sizes are an error."
    )
    pixel_max: float | None = Field(
        None, gt=0, description="Pixels are divided by this to scale them to [0, 1]; default 255 for 8-bit images, else the training maximum."
    )
    sequence_column: str | None = Field(
        None, description="A column holding one sequence per row (a list `[1, 2, 3]`, or `[[f1, f2], ...]` for several features)."
    )
    lengths_key: str = Field("lengths", description="Name of the optional array of sequence lengths inside a `.npz` archive.")
    text_column: str | None = Field(None, description="A column of texts to classify or regress on.")
    tokenizer: Literal["word", "char"] = Field("word", description="Text tokenizer: words (and punctuation marks) or characters.")
    lowercase: bool = Field(True, description="Lowercase texts before tokenizing.")
    vocab_min_freq: int = Field(1, ge=1, description="Tokens seen fewer times in the training split become `<unk>`.")
    vocab_max_size: int | None = Field(20000, ge=1, description="Keep at most this many of the most frequent training tokens (plus `<pad>`, `<unk>`).")
    max_len: int | None = Field(
        None, ge=1, description="Steps per sequence or tokens per text; default the longest in the training split (longer ones later are truncated)."
    )
    memory_budget: Union[Annotated[int, Field(ge=1)], str, None] = Field(
        None, description="Memory for the data, e.g. `2GB`, `500MB` or bytes: a Parquet file or folder larger than this "
                          "(uncompressed) streams in row groups instead of loading whole; default: always load whole."
    )
    shuffle_buffer: int | None = Field(
        None, ge=1, description="Streaming: rows shuffled together in memory (default: as many as fill an eighth of `memory_budget`)."
    )
    too_long: Literal["truncate", "error"] = Field(
        "truncate", description="Sequences or texts longer than max_len: truncate them (the count is reported) or stop with an error."
    )

    @field_validator("memory_budget")
    @classmethod
    def _budget_bytes(cls, v: int | str | None) -> int | None:
        return v if v is None or isinstance(v, int) else parse_bytes(v)

    @model_validator(mode="after")
    def _one_way_to_get_data(self) -> "DataConfig":
        if self.source and self.train:
            raise ValueError("give either data.source (split by netfit) or data.train/val/test, not both")
        if (self.val or self.test) and not self.train:
            raise ValueError("data.val/data.test need data.train")
        for name in ("image_shape", "image_size"):
            shape = getattr(self, name)
            if shape is not None and (len(shape) not in (2, 3 if name == "image_shape" else 2) or min(shape) < 1):
                raise ValueError(f"{name} must be positive sizes [H, W]" + (" or [H, W, C]" if name == "image_shape" else "")
                                 + f", found {shape}")
        return self


# ---------------------------------------------------------------- model
Activation = Literal["relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid"]
Init = Literal["default", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal", "normal"]


class ModelConfig(_Section):
    type: Literal["mlp", "cnn", "rnn", "transformer"] = Field(
        "mlp", description="Architecture: `mlp` (tables), `cnn` (images, sequences, text), `rnn` and `transformer` (sequences, text)."
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
    embedding_dim: int | None = Field(
        None, ge=1, description="Embedding width for integer-coded categorical columns; default min(50, (cardinality+1)//2)."
    )
    # cnn, rnn, transformer (netfit.model.cnn/rnn/transformer); 2-D convolutions on images, 1-D on sequences
    channels: list[int] = Field(default_factory=lambda: [32, 64], description="cnn: output channels of each convolution block.")
    kernel_size: int = Field(3, ge=1, description="cnn: kernel size of every convolution.")
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
        if self.residual and self.kernel_size % 2 == 0:
            raise ValueError(f"residual blocks need an odd kernel_size (the sum needs equal sizes), found {self.kernel_size}")
        if isinstance(self.padding, int) and self.padding < 0:
            raise ValueError(f"padding must be >= 0, found {self.padding}")
        return self


# ---------------------------------------------------------------- train
class OptimizerConfig(_Section):
    name: Literal["sgd", "adam", "adamw", "rmsprop"] = Field("adamw", description="Optimizer.")
    lr: Union[Literal["auto"], Annotated[float, Field(gt=0)]] = Field(
        1e-3, description="Learning rate; `auto` picks it with a learning-rate range test (recorded in report.json)."
    )
    weight_decay: float = Field(1e-4, ge=0, description="Weight decay (decoupled for AdamW, L2 for the others).")
    momentum: float = Field(0.9, ge=0, lt=1, description="Momentum for `sgd` and `rmsprop`.")
    nesterov: bool = Field(False, description="Nesterov momentum for `sgd`.")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam/AdamW betas.")
    eps: float = Field(1e-8, gt=0, description="Numerical epsilon of adaptive optimizers.")

    @field_validator("lr", mode="before")
    @classmethod
    def _lr_auto_or_positive(cls, v: Any) -> Any:
        return _auto_or_number(v, float, "a number > 0, e.g. 1e-3")


class ScheduleConfig(_Section):
    name: Literal["constant", "step", "exponential", "cosine", "one_cycle", "reduce_on_plateau"] = Field(
        "cosine", description="Learning-rate schedule."
    )
    warmup_epochs: float = Field(0, ge=0, description="Linear warm-up length for `cosine` (epochs, may be fractional).")
    min_lr: float = Field(0.0, ge=0, description="Floor of the learning rate (`cosine`, `reduce_on_plateau`).")
    step_size: int = Field(30, ge=1, description="Epochs between decays for `step`.")
    gamma: float = Field(0.1, gt=0, le=1, description="Decay factor for `step` (per step_size) and `exponential` (per epoch).")
    factor: float = Field(0.1, gt=0, lt=1, description="Decay factor for `reduce_on_plateau`.")
    patience: int = Field(5, ge=0, description="Epochs without improvement before `reduce_on_plateau` lowers the rate.")
    max_lr: float | None = Field(None, gt=0, description="Peak rate for `one_cycle`; default 10x `optimizer.lr`.")


class EarlyStoppingConfig(_Section):
    monitor: str = Field("val_loss", description="Logged metric to watch: val_loss, val_accuracy, val_rmse, train_loss, ...")
    mode: Literal["auto", "min", "max"] = Field("auto", description="Whether lower or higher is better; `auto` from the name.")
    patience: int = Field(10, ge=1, description="Validations without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0, description="Smallest change that counts as an improvement.")
    restore_best: bool = Field(True, description="Restore the weights of the best validation at the end.")


class ConvergenceConfig(_Section):
    tol: float = Field(1e-5, ge=0, description="Stop when the relative change of the train loss stays under this ...")
    window: int = Field(10, ge=2, description="... over this many consecutive epochs.")


class DivergenceConfig(_Section):
    factor: float = Field(100.0, gt=1, description="The loss diverged when it exceeds this multiple of its best value (or is NaN/Inf).")
    policy: Literal["recover", "stop"] = Field(
        "recover", description="`recover`: roll back to the last good epoch and lower the learning rate; `stop`: end the run (exit 3)."
    )
    lr_factor: float = Field(0.1, gt=0, lt=1, description="`recover` multiplies the learning rate by this factor at each recovery.")
    max_recoveries: int = Field(3, ge=0, description="`recover` gives up (and stops as `diverged`) after this many recoveries.")


class CheckpointConfig(_Section):
    every_epochs: int | None = Field(1, ge=1, description="Write a checkpoint every N epochs (`null`: not at epoch ends).")
    every_steps: int | None = Field(None, ge=1, description="Also write one every N optimizer steps, mid-epoch included.")
    every_minutes: float | None = Field(None, gt=0, description="Also write one when this many minutes passed since the last.")
    keep: int = Field(2, ge=1, description="Keep the newest N checkpoints (plus the best epoch's); older ones are deleted.")


class TrainConfig(_Section):
    epochs: int = Field(200, ge=1, description="Maximum number of epochs.")
    batch_size: Union[Literal["auto"], Annotated[int, Field(ge=1)]] = Field(
        64, description="Mini-batch size; `auto`: the largest that fits the GPU memory budget, on CPU the throughput knee."
    )
    eval_batch_size: int = Field(4096, ge=1, description="Batch size for validation, test and predict.")
    loss: Union[Literal["auto", "cross_entropy", "bce", "mse", "mae", "huber"], ImportPath] = Field(
        "auto", description="Loss; `auto`: cross_entropy (multiclass), bce (binary), mse (regression); "
        "or your own `package.module:fn`, fn(output, target[, weight]) -> scalar tensor."
    )
    metrics: list[ImportPath] = Field(
        default_factory=list, description="Your own metrics `package.module:fn`, fn(output, target) -> scalar tensor: "
        "logged as `val_<fn>` (early stopping may monitor them) and scored on the test split."
    )
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="Label smoothing for cross_entropy.")
    class_weight: Union[Literal["balanced"], dict[str, float], None] = Field(
        None, description="Per-class loss weights: `balanced` or a mapping class -> weight (cross_entropy, bce)."
    )
    pos_weight: float | None = Field(None, gt=0, description="Weight of positive examples for bce.")
    huber_delta: float = Field(1.0, gt=0, description="Delta of the huber loss.")
    l1: float = Field(0.0, ge=0, description="L1 penalty on weights (not biases) added to the loss.")
    grad_clip: float | None = Field(None, gt=0, description="Clip the gradient norm to this value (off by default).")
    grad_clip_value: float | None = Field(None, gt=0, description="Clip each gradient element to +/- this value.")
    accumulate: int = Field(1, ge=1, description="Accumulate gradients over this many mini-batches per optimizer step.")
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig, description="Optimizer.")
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig, description="Learning-rate schedule.")
    early_stopping: EarlyStoppingConfig | None = Field(
        default_factory=EarlyStoppingConfig, description="Early stopping on a validation metric; `null` turns it off."
    )
    convergence: ConvergenceConfig | None = Field(
        default_factory=ConvergenceConfig, description="Stop when the train loss stops changing; `null` turns it off."
    )
    divergence: DivergenceConfig = Field(default_factory=DivergenceConfig, description="When the loss counts as diverged, and what then.")
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig, description="When training state is saved (for resume).")
    max_time: float | None = Field(None, gt=0, description="Stop after this many seconds of training.")
    val_every: int = Field(1, ge=1, description="Validate every N epochs.")
    log_every: float = Field(0.5, gt=0, description="Seconds between progress reads of the running loss.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="`auto`: CUDA when present, else CPU.")
    threads: int | None = Field(None, ge=1, description="CPU threads for torch (default: torch's choice).")
    precision: Literal["32", "bf16", "fp16"] = Field(
        "32", description="Float precision of forward and loss: `32`; `bf16` (CPU and CUDA) or `fp16` (CUDA only, "
        "with loss scaling) run them under autocast; weights and optimizer stay float32."
    )
    compile: bool = Field(
        False, description="Train through `torch.compile` (needs a C++ compiler on CPU, Triton on CUDA); the compile "
        "time is reported apart as `compile_seconds`."
    )
    channels_last: Union[Literal["auto"], bool] = Field(
        "auto", description="2-D image CNNs: channels-last memory format for weights and images; `auto`: on CUDA only."
    )
    data_on_device: Union[Literal["auto"], bool] = Field(
        "auto", description="Keep each split on the device; `auto`: yes on CPU, and on CUDA when it fits half the free "
        "GPU memory; otherwise batches are copied from host memory (pinned, non-blocking)."
    )
    init_from: str | None = Field(None, description="Fine-tuning: start from the weights of this run folder (names and shapes must match).")
    init_strict: bool = Field(True, description="With `init_from`: `false` loads the weights that match and reports the rest.")
    freeze: list[str] = Field(
        default_factory=list, description="Parameter-name patterns (fnmatch, e.g. `body.0.*`) kept fixed: no gradient, not in the optimizer."
    )
    pretrained_lr: float | None = Field(
        None, gt=0, description="Learning rate of unfrozen weights loaded by `init_from` (default: `optimizer.lr`); new layers use `optimizer.lr`."
    )

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch_auto_or_positive(cls, v: Any) -> Any:
        return _auto_or_number(v, int, "a whole number >= 1, e.g. 64")

    @field_validator("precision", mode="before")
    @classmethod
    def _precision_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v  # YAML reads `32` as a number


_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


def parse_bytes(text: str) -> int:
    """`500MB`, `2 GB`, `1.5GiB`, `1000` -> bytes (decimal units; KiB/MiB/GiB binary)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", str(text))
    unit = match.group(2).upper() if match else None
    if match is None or unit not in _UNITS or float(match.group(1)) * _UNITS[unit] < 1:
        raise ValueError("expected a size like 500MB, 2GB or a number of bytes")
    return int(float(match.group(1)) * _UNITS[unit])


def _auto_or_number(v: Any, kind: type, expected: str) -> Any:
    """`auto` or a positive number: one readable error instead of one per member of the union."""
    if v == "auto":
        return v
    try:
        number = kind(float(v)) if not isinstance(v, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number <= 0 or (kind is int and float(v) != number):
        raise ValueError(f"expected `auto` or {expected}")
    return number


class EvaluateConfig(_Section):
    bootstrap: int = Field(1000, ge=0, description="Bootstrap resamples for confidence intervals (0: none).")
    confidence: float = Field(0.95, gt=0, lt=1, description="Confidence level of the intervals.")
    baselines: bool = Field(True, description="Score a dummy and a linear model on the same split.")
    report_html: bool = Field(True, description="Write report.html (plots, about a second) at the end of the run; when off, `netfit report RUN` builds it later.")


class TuneConfig(_Section):
    trials: int = Field(40, ge=1, description="Number of trials (all workers together).")
    timeout: float | None = Field(None, gt=0, description="Stop starting new trials after this many seconds.")
    metric: Union[str, list[str], None] = Field(
        None, description="Validation metric to optimise (val_accuracy, val_loss, ..., or `params`); default: the "
        "early-stopping monitor. A list makes the search multi-objective (a Pareto front)."
    )
    direction: Union[Literal["minimize", "maximize"], list[Literal["minimize", "maximize"]], None] = Field(
        None, description="Derived from the metric when omitted (losses and errors minimise, scores maximise)."
    )
    sampler: Literal["tpe", "random", "grid", "cmaes"] = Field(
        "tpe", description="Optuna sampler; `grid` needs `choice` entries only, `cmaes` numeric ones."
    )
    pruner: Literal["median", "successive_halving", "hyperband", "none"] = Field(
        "median", description="Stops unpromising trials early from the per-epoch validation metric (single objective only)."
    )
    storage: str | None = Field(
        None, description="A database URL shared by workers on many machines (e.g. `postgresql://user:pw@host:5432/db`); "
                          "default: Optuna's journal file in the tune folder. The study is named after `name`."
    )
    startup_trials: int = Field(3, ge=0, description="Trials that run to the end before the median pruner may prune.")
    warmup_epochs: int = Field(2, ge=0, description="Epochs a trial always runs before it can be pruned.")
    space: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Config paths mapped to distributions: `{uniform: [lo, hi]}`, `{log_uniform: [lo, hi]}`, "
        "`{int: [lo, hi]}`, `{choice: [a, b]}`; `model.hidden: {layers: [1, 3], units: {choice: [64, 128]}}` "
        "samples a layer count and then each layer's width.",
    )

    @field_validator("space")
    @classmethod
    def _known_distributions(cls, space: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from netfit.tune.space import check_space  # the space grammar lives with the sampler

        problems = check_space(space)
        if problems:
            raise ValueError(f"{len(problems)} problem(s) in the search space:\n    " + "\n    ".join(problems))
        return space


class LogConfig(_Section):
    tensorboard: bool = Field(False, description="Write TensorBoard scalars per epoch and hparams with the test metrics under the run's logs/tensorboard (needs `netfit[track]`).")
    mlflow: bool = Field(False, description="Log params, metrics and the report files to an MLflow store (SQLite) under the run's logs/mlflow (needs `netfit[track]`).")
    mlflow_experiment: str = Field("netfit", min_length=1, description="MLflow experiment that receives the run.")


class Config(_Section):
    """The whole, resolved configuration of a run."""

    name: str = Field("run", description="Run name: the prefix of the run folder.")
    seed: int = Field(0, description="Seed for splitting, initialisation, shuffling and dropout.")
    output_dir: str = Field("runs", description="Folder that receives run folders.")
    data: DataConfig = Field(default_factory=DataConfig, description="Data source, columns, split, preprocessing.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="Architecture.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="Training loop.")
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig, description="Final test evaluation.")
    tune: TuneConfig = Field(default_factory=TuneConfig, description="Hyperparameter search.")
    log: LogConfig = Field(default_factory=LogConfig, description="Optional experiment loggers (off by default).")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# ---------------------------------------------------------------- loading
def load_config(
    config: "str | Path | Mapping[str, Any] | Config | None",
    overrides: "Mapping[str, Any] | list[str] | None" = None,
    *,
    require_data: bool = True,
) -> Config:
    """Read, override and validate a config; raise one ConfigError listing every problem.

    Args:
        config: a YAML path, a dict, a `Config`, or None (all defaults).
        overrides: `{"train.optimizer.lr": 3e-4}` or `["train.optimizer.lr=3e-4"]`;
            keys may also use `__` instead of dots (`train__epochs`).
        require_data: when True a data source must be configured.

    Example:
        >>> cfg = load_config({"data": {"source": "sklearn:iris"}}, ["train.epochs=5"])
        >>> cfg.train.epochs
        5
    """
    where = None
    if isinstance(config, Config):
        raw = config.to_dict()
    elif config is None:
        raw = {}
    elif isinstance(config, Mapping):
        raw = _deep_copy(config)
    else:
        where = str(config)
        raw = _read_yaml(Path(config))
    for key, value in _parse_overrides(overrides).items():
        _set_path(raw, key, value)
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as e:
        problems = [_describe(err) for err in e.errors()]
        raise ConfigError(
            f"invalid config ({len(problems)} problem{'s' * (len(problems) > 1)})",
            where=where,
            problems=problems,
            hint="fix the fields listed; `netfit check CONFIG` validates without training, docs/config.md lists every field",
        ) from None
    if require_data:
        _check_data_given(cfg, where)
    return _resolve(cfg)


def _resolve(cfg: Config) -> Config:
    """Fill defaults that depend on other fields (the resolved config is what gets saved)."""
    src = cfg.data.source or cfg.data.train or ""
    if cfg.data.target is None and _names_its_target(src):
        cfg.data.target = "target"
    return cfg


def _names_its_target(source: str) -> bool:
    """Bundled, generated, array and image-folder data call their label column `target`."""
    return source.startswith(("sklearn:", "synthetic:")) or source.endswith(".npz") or bool(source) and Path(source).is_dir()


def _check_data_given(cfg: Config, where: str | None) -> None:
    if not (cfg.data.source or cfg.data.train):
        raise ConfigError(
            "no data configured",
            where=where,
            expected="data.source (or data.train)",
            found="neither",
            hint="add `data: {source: sklearn:digits}` or a CSV/Parquet/NPZ path, or pass data= in Python",
        )
    src = cfg.data.source or cfg.data.train or ""
    if src.startswith("sklearn:") and src.split(":", 1)[1] not in SKLEARN_DATASETS:
        raise ConfigError(
            "unknown bundled data set",
            where=f"{where or 'config'}: data.source",
            expected=", ".join(f"sklearn:{n}" for n in SKLEARN_DATASETS),
            found=src,
            hint="`netfit datasets` lists the bundled data sets",
        )
    if cfg.data.target is None and not (src.startswith("<") or _names_its_target(src)):
        raise ConfigError(
            "no target column configured",
            where=f"{where or 'config'}: data.target",
            expected="the name of the column to predict",
            found="nothing",
            hint="add `target: COLUMN` under `data:`",
        )


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(
            "config file not found",
            where=str(path),
            hint="check the path; `netfit check CONFIG` validates a config without training",
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        loc = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(
            "config is not valid YAML",
            where=loc,
            found=str(getattr(e, "problem", e)),
            hint="check indentation and quoting near that line",
        ) from None
    if raw is None:
        raise ConfigError("config file is empty", where=str(path), expected="a YAML mapping with at least `data:`",
                          hint="start from examples/digits_mlp.yaml")
    if not isinstance(raw, dict):
        raise ConfigError("config must be a YAML mapping", where=str(path), found=type(raw).__name__,
                          hint="write `key: value` pairs, e.g. `data: {source: sklearn:digits}`")
    return raw


def _parse_overrides(overrides: "Mapping[str, Any] | list[str] | None") -> dict[str, Any]:
    if not overrides:
        return {}
    if isinstance(overrides, Mapping):
        return {k.replace("__", "."): v for k, v in overrides.items()}
    parsed: dict[str, Any] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("override must look like KEY=VALUE", where="--set", found=item,
                              hint="e.g. --set train.optimizer.lr=3e-4")
        try:
            parsed[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError:
            parsed[key.strip()] = text
    return parsed


def _set_path(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _deep_copy(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _deep_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_deep_copy(v) for v in obj]
    return obj


def _describe(err: Mapping[str, Any]) -> str:
    """One readable line per validation error: field path, value found, what is allowed."""
    loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-after", "function-before"))]
    # pydantic adds the member of a Union it tried; drop those technical path parts
    loc = [p for p in loc if not p.startswith(("literal[", "dict[", "tagged-union", "bool", "EarlyStopping", "Convergence"))]
    path = ".".join(loc) or "config"
    if err["type"] == "extra_forbidden":
        suggestion = _closest_key(loc)
        hint = f"; did you mean `{suggestion}`?" if suggestion else ""
        return f"{path}: unknown field{hint}"
    msg = err["msg"].removeprefix("Value error, ")
    found = err.get("input")
    if isinstance(found, (dict, list)) or err["type"] == "missing":
        return f"{path}: {msg}"
    return f"{path}: {msg} (found {found!r})"


def _closest_key(loc: list[str]) -> str | None:
    model: type[BaseModel] | None = Config
    for part in loc[:-1]:
        field = model.model_fields.get(part) if model else None
        model = _section_type(field.annotation) if field else None
    if model is None:
        return None
    match = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1, cutoff=0.5)
    return ".".join(loc[:-1] + match) if match else None


def _section_type(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _section_type(arg)
        if found:
            return found
    return None


# ---------------------------------------------------------------- docs
def render_docs() -> str:
    """docs/config.md, generated from the schema (tests/test_config.py keeps it fresh)."""
    lines = [
        "# Config reference",
        "",
        "Generated from `src/netfit/config.py` by `make docs`; do not edit by hand.",
        "Every field has a default; the smallest config is a data source and a target.",
        "",
    ]

    def walk(model: type[BaseModel], prefix: str) -> None:
        rows = []
        subsections = []
        for name, field in model.model_fields.items():
            path = f"{prefix}{name}"
            section = _section_type(field.annotation)
            if section is not None:
                subsections.append((section, path, field.description))
                continue
            default = field.get_default(call_default_factory=True)
            rows.append(f"| `{path}` | `{yaml.safe_dump(default, default_flow_style=True).strip().removesuffix('...').strip()}` | {field.description} |")
        if rows:
            lines.extend(["| field | default | meaning |", "|---|---|---|", *rows, ""])
        for section, path, desc in subsections:
            lines.extend([f"## `{path}`", "", desc or "", ""])
            walk(section, path + ".")

    walk(Config, "")
    return "\n".join(lines).rstrip() + "\n"
