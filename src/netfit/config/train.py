"""The `train` section: loss, optimizer, schedule, stopping rules, checkpoints and speed switches."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, ValidationInfo, field_validator, model_validator

from netfit.config.base import ImportPath, Section
from netfit.plugins import metric_name


class OptimizerConfig(Section):
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


class ScheduleConfig(Section):
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


# the names of netfit's own metrics (logged as `val_<name>`, scored on the test split): yours may not
# take one, or it would replace the built-in silently
BUILTIN_METRIC_NAMES = ("loss", "accuracy", "balanced_accuracy", "f1_macro", "log_loss", "roc_auc", "pr_auc",
                        "mae", "rmse", "r2")

# which way netfit's own metrics go (`params`, the model size, is tuning's); your own metrics have no
# known direction: netfit does not guess one from a name
KNOWN_MODES: dict[str, Literal["min", "max"]] = {
    "train_loss": "min", "val_loss": "min", "val_rmse": "min", "val_mae": "min", "val_accuracy": "max", "params": "min",
}


class EarlyStoppingConfig(Section):
    monitor: str = Field("val_loss", description="Logged metric to watch: val_loss, val_accuracy, val_rmse, val_mae, "
                         "train_loss, or `val_<name>` of your own metric (which needs `mode`). reduce_on_plateau follows it too.")
    mode: Literal["auto", "min", "max"] = Field(
        "auto", description="Whether lower (`min`) or higher (`max`) is better, for early stopping, restore_best, "
        "reduce_on_plateau and tuning alike; `auto`: the known direction of netfit's own metrics (losses and errors "
        "`min`, accuracy `max`). Your own metric has none: monitoring it needs `min` or `max`."
    )
    patience: int = Field(10, ge=1, description="Validations without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0, description="Smallest change that counts as an improvement.")
    restore_best: bool = Field(True, description="Restore the weights of the best validation at the end.")

    @model_validator(mode="after")
    def _direction_known(self, info: ValidationInfo) -> "EarlyStoppingConfig":
        if metric_mode(self.monitor, self) is None and not trained(info):
            raise ValueError(
                f"netfit cannot tell whether a higher or a lower {self.monitor} is better: only its own metrics "
                f"({', '.join(m for m in KNOWN_MODES if m != 'params')}) have a known direction; for your own metric set "
                f"`mode: max` (higher is better) or `mode: min`, else check the name of the monitor")
        return self


def trained(info: ValidationInfo) -> bool:
    """Validating the config of a trained run to use its model: rules about how to train (added in
    later versions) do not stop a saved model from loading; training with the config checks them."""
    return bool(info.context and info.context.get("trained"))


def metric_mode(metric: str, early_stopping: EarlyStoppingConfig | None = None) -> Literal["min", "max"] | None:
    """Whether a lower (`min`) or a higher (`max`) `metric` is better: the one rule that early stopping,
    restore-best, reduce_on_plateau and tuning follow.

    `train.early_stopping.mode` when it is set and `metric` is its monitor; else the known direction
    of netfit's own metrics (`KNOWN_MODES`); else None (your own metric, named like anything: never guessed).

    Example:
        >>> metric_mode("val_accuracy"), metric_mode("val_top2"), metric_mode("val_top2", EarlyStoppingConfig(monitor="val_top2", mode="max"))
        ('max', None, 'max')
    """
    if early_stopping is not None and metric == early_stopping.monitor and early_stopping.mode != "auto":
        return early_stopping.mode
    return KNOWN_MODES.get(metric)


class ConvergenceConfig(Section):
    tol: float = Field(1e-5, ge=0, description="Stop when the relative change of the train loss stays under this ...")
    window: int = Field(10, ge=2, description="... over this many consecutive epochs.")


class DivergenceConfig(Section):
    factor: float = Field(100.0, gt=1, description="The loss diverged when it exceeds this multiple of its best value (or is NaN/Inf).")
    policy: Literal["recover", "stop"] = Field(
        "recover", description="`recover`: roll back to the last good epoch and lower the learning rate; `stop`: end the run (exit 3)."
    )
    lr_factor: float = Field(0.1, gt=0, lt=1, description="`recover` multiplies the learning rate by this factor at each recovery.")
    max_recoveries: int = Field(3, ge=0, description="`recover` gives up (and stops as `diverged`) after this many recoveries.")


class CheckpointConfig(Section):
    every_epochs: int | None = Field(1, ge=1, description="Write a checkpoint every N epochs (`null`: not at epoch ends).")
    every_steps: int | None = Field(None, ge=1, description="Also write one every N optimizer steps, mid-epoch included.")
    every_minutes: float | None = Field(None, gt=0, description="Also write one when this many minutes passed since the last.")
    keep: int = Field(2, ge=1, description="Keep the newest N checkpoints (plus the best epoch's); older ones are deleted.")
    min_seconds: float = Field(
        1.0, ge=0, description="Skip an epoch-end checkpoint when fewer seconds than this passed since the last one, so "
        "epochs of milliseconds do not spend their time writing files (the run's last epoch, an interrupted run and "
        "`every_steps`/`every_minutes` still write); 0: every due epoch.")


AUTO_STEPS = 2000  # the step budget of `epochs: auto` when `steps` is not set
MAX_AUTO_EPOCHS = 1000  # ... and its cap in epochs (a 10-row training split: 1000 steps)


class TrainConfig(Section):
    epochs: Union[Literal["auto"], Annotated[int, Field(ge=1)]] = Field(
        200, description="Maximum number of epochs; `auto`: enough epochs for `steps` optimizer steps (at most "
                         f"{MAX_AUTO_EPOCHS}), so small data gets enough steps and large data is not over-trained."
    )
    steps: int | None = Field(
        None, ge=1, description=f"Budget in optimizer steps: `epochs: auto` trains for this many (default {AUTO_STEPS}); "
                                "with a number of epochs it caps them too; null: `epochs` alone."
    )
    batch_size: Union[Literal["auto"], Annotated[int, Field(ge=1)]] = Field(
        64, description="Mini-batch size; `auto`: the largest that fits the GPU memory budget, on CPU the throughput knee."
    )
    eval_batch_size: int = Field(4096, ge=1, description="Batch size for validation, test and predict.")
    loss: Union[Literal["auto", "cross_entropy", "bce", "mse", "mae", "huber"], ImportPath] = Field(
        "auto", description="Loss; `auto`: cross_entropy (multiclass), bce (binary), mse (regression); "
        "or your own `package.module:fn`, fn(output, target[, weight]) -> scalar tensor."
    )
    metrics: list[ImportPath] = Field(
        default_factory=list, description="Your own metrics `package.module:fn`, fn(output, target) -> scalar tensor "
        "(regression: output and target in the target's units): logged as `val_<fn>` (early stopping may monitor them, "
        "with `mode`) and scored on the test split. A name of netfit's own metrics (`mae`, `accuracy`, `loss`, ...) or "
        "a name used twice is an error."
    )
    refit: bool = Field(
        False, description="After training, train a fresh model (same seed) on the training and validation rows "
        "together for the optimizer steps the first fit took to its best epoch, and keep that one (no early stopping "
        "in the second fit; preprocessing stays fitted on the training split). Calibration and conformal prediction "
        "then need `data.split.calibration` (the validation rows end up in the weights). In-memory data, one process.")
    label_smoothing: float = Field(0.1, ge=0, lt=1, description="Label smoothing e (classification): cross_entropy mixes "
                                   "e/K into every class; bce targets become y(1 - e) + e/2. 0.1 by default (it ranked "
                                   "best of the additions in the tables' ablation, docs/defaults.md); the probabilities "
                                   "it softens are re-sharpened by temperature scaling (evaluate.calibration). 0: plain "
                                   "cross entropy.")
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
        default_factory=EarlyStoppingConfig, description="Early stopping on a validation metric; `null` turns it off. A series "
        "left unset gets patience 100, and no early stopping when its validation split has fewer rows than classes "
        "(docs/defaults.md, Series)."
    )
    convergence: ConvergenceConfig | None = Field(
        default_factory=ConvergenceConfig, description="Stop when the train loss stops changing; `null` turns it off."
    )
    divergence: DivergenceConfig = Field(default_factory=DivergenceConfig, description="When the loss counts as diverged, and what then.")
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig, description="When training state is saved (for resume).")
    diagnostics: Literal["auto", "full", "off"] = Field(
        "auto", description="Training health (docs/diagnostics.md): per-layer gradient norms, update/weight ratios, "
        "weight norms and dead or saturated units, read on sampled steps, and findings in plain words (printed at the end, "
        "in report.json and report.html). `auto`: every N steps, N chosen to cost under 3% of the training time; "
        "`full`: every step (slower, for short debugging runs); `off`: no sampling (findings from the epoch history only)."
    )
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

    @field_validator("epochs", mode="before")
    @classmethod
    def _epochs_auto_or_positive(cls, v: Any) -> Any:
        return _auto_or_number(v, int, "a whole number >= 1, e.g. 200")

    @property
    def monitored(self) -> tuple[str, Literal["min", "max"]]:
        """The validation metric early stopping and reduce_on_plateau follow, and its `metric_mode`."""
        es = self.early_stopping
        metric = es.monitor if es is not None else "val_loss"
        return metric, metric_mode(metric, es) or "min"  # validation ensures a monitor's mode is known

    @field_validator("metrics")
    @classmethod
    def _metric_names_unique(cls, paths: list[str], info: ValidationInfo) -> list[str]:
        """Each metric is logged under its name: one of netfit's, or another of yours, would be replaced."""
        if trained(info):
            return paths
        problems, seen = [], {}
        for i, path in enumerate(paths):
            name = metric_name(path)
            if name in BUILTIN_METRIC_NAMES:
                problems.append(f"[{i}] {path}: the name {name!r} is netfit's own metric (logged as val_{name} and "
                                f"scored on the test split), which yours would replace; rename your function")
            elif name in seen:
                problems.append(f"[{i}] {path}: the name {name!r} is taken by [{seen[name]}] {paths[seen[name]]}; "
                                "the two would be logged as one: rename one of them")
            seen.setdefault(name, i)
        if problems:
            raise ValueError("; ".join(problems))
        return paths

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch_auto_or_positive(cls, v: Any) -> Any:
        return _auto_or_number(v, int, "a whole number >= 1, e.g. 64")

    @field_validator("precision", mode="before")
    @classmethod
    def _precision_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v  # YAML reads `32` as a number


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
