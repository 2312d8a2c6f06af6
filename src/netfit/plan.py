"""`netfit check`'s plan: what a run will do, before any training; and the resolved config it prints."""

from __future__ import annotations

import math
from typing import Any

import yaml

from netfit.config import Config, ModelConfig

# The architectures that read each model field; a field not listed applies to every type.
# `netfit check` prints only the fields of the model it will build (`--full`: all of them);
# tests/test_first_use.py keeps this in step with the `mlp:`/`cnn:`/... prefixes of the field descriptions.
MODEL_FIELD_TYPES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("numeric_embedding", "numeric_embedding_dim", "frequency_scale", "ensemble"), ("mlp",)),
    **dict.fromkeys(("channels", "kernel_size", "stride", "padding", "pool", "pool_size", "residual", "augment_flip",
                     "augment_shift"), ("cnn",)),
    **dict.fromkeys(("cell", "units", "bidirectional", "packed"), ("rnn",)),
    **dict.fromkeys(("d_model", "heads", "ff_dim", "norm_first", "positions"), ("transformer",)),
    "num_layers": ("rnn", "transformer"),
    "token_embedding_dim": ("cnn", "rnn"),
    "pooling": ("cnn", "rnn", "transformer"),
}


def resolved_config(cfg: Config, model_type: str | None) -> str:
    """The resolved config as YAML, with only the model fields of `model_type` (None: every field)."""
    tree = cfg.to_dict()
    if model_type is None:
        return "# the resolved config (every default filled in)\n" + yaml.safe_dump(tree, sort_keys=False)
    left_out = [k for k, types in MODEL_FIELD_TYPES.items() if model_type not in types]
    tree["model"] = {k: v for k, v in tree["model"].items() if k not in left_out}
    return (f"# the resolved config (every default filled in); {len(left_out)} model fields that {model_type} "
            f"does not read are left out (--full shows them)\n" + yaml.safe_dump(tree, sort_keys=False))


def describe_plan(cfg: Config) -> tuple[str, ModelConfig]:
    """Data shape, split sizes, class balance, model size, memory estimate, steps per epoch; and the
    model config as the run resolves it (`type: auto` made concrete)."""
    from netfit.data import prepare
    from netfit.data.arrays import kind_for_model
    from netfit.data.preprocess import input_spec
    from netfit.data.summary import describe_validation
    from netfit.model import count_parameters, model_for, resolve_model
    from netfit.run import kind_train_config
    from netfit.train.losses import resolve_loss

    given_kind, given_train = cfg.data.kind, cfg.train.model_fields_set
    cfg = kind_for_model(cfg)
    prepared = prepare(cfg.data, cfg.seed)
    pre = prepared.preprocessor
    kind = pre.array.spec["kind"] if pre.array is not None else "table"
    chosen = f" (model.type auto, for {kind} data)" if cfg.model.type == "auto" else ""
    cfg = cfg.model_copy(update={"model": resolve_model(cfg.model, input_spec(pre)),
                                 "train": kind_train_config(cfg.train, prepared)})
    model = model_for(cfg.model, pre, prepared.task)
    n_params = count_parameters(model)
    sizes = prepared.sizes()  # streamed training rows count in full
    rows = sum(sizes.values())
    data_bytes = sum(sum(a.nbytes for a in s.inputs()) for s in prepared.splits.values())
    # weights + grads + two Adam moments, plus activations of one batch (forward and backward)
    auto = cfg.train.batch_size == "auto"
    batch = 64 if auto else cfg.train.batch_size  # `auto` is found at the start of training; estimate with 64
    act = batch * sum(cfg.model.hidden) * 4 * 3
    memory = data_bytes + n_params * 4 * 4 + act
    lines = [
        "plan:",
        f"  task: {prepared.task} (loss {resolve_loss(cfg.train, prepared.task)})",
        f"  data: {rows} rows; features: {pre.n_num} numeric/one-hot, {len(pre.cat_cardinalities)} embedded",
        "  splits: " + ", ".join(f"{k} {n}" for k, n in sizes.items()),
        f"  validation: {describe_validation(prepared.summary.get('validation'))}",
    ]
    if prepared.stream is not None:
        lines.append(f"  streaming: larger than data.memory_budget; training rows read in row groups, "
                     f"shuffled {prepared.summary['streaming']['shuffle_buffer_rows']:,} rows at a time")
    if prepared.task != "regression":
        for name, counts in prepared.summary["class_balance"].items():
            lines.append(f"  class balance ({name}): {counts}")
    lines += [
        f"  data kind: {kind}{_how_kind(cfg, given_kind, prepared)}",
        f"  model: {cfg.model.type}{chosen} {cfg.model.hidden}, {n_params:,} parameters",
        *([f"  input: {pre.array.spec}"] if pre.array is not None else []),
        f"  estimated memory: {memory / 2**20:.1f} MiB (data on device, weights, optimizer state, one batch)",
        f"  steps per epoch: {math.ceil(sizes['train'] / batch)}{' (batch_size auto: estimated at 64)' * auto}; "
        f"at most {_epochs(cfg, sizes['train'], batch)} epochs",
    ]
    if cfg.train.early_stopping is None and sizes.get("val"):
        lines.append("  early stopping: off" + (f" (a series with {sizes['val']} validation rows for {len(pre.classes)} "
                                                 "classes: the whole budget trains, the last weights are kept)"
                                                 if "early_stopping" not in given_train else ""))
    return "\n".join(lines), cfg.model


def _how_kind(cfg: Config, given_kind: str, prepared: Any) -> str:
    """How the data kind was chosen, when netfit chose it."""
    if cfg.data.kind == "auto":
        return " (inferred: data.kind auto)"
    if given_kind == "auto":  # the model asked for arrays that auto would have flattened
        spec = prepared.preprocessor.array.spec  # sequences [T, F]; images [C, H, W] (C is 1: the array was 3-D)
        sides = spec["shape"] if spec["kind"] == "sequence" else spec["shape"][1:]
        return (f" (inferred: model.type {cfg.model.type} reads the (N, {sides[0]}, {sides[1]}) array as "
                f"{cfg.data.kind}s; "
                f"set data.kind to choose)")
    return ""


def _epochs(cfg: Config, n_train: int, batch: int) -> str:
    """The epoch budget as the loop resolves it (`epochs: auto` and `steps` from the training rows)."""
    from netfit.train.loop import with_step_budget

    resolved = with_step_budget(cfg.train.model_copy(update={"batch_size": batch}), n_train).epochs
    return str(resolved) + (f" (epochs auto: {cfg.train.steps or 'the default'} steps)" if cfg.train.epochs == "auto" else "")
