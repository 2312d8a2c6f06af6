"""`netfit check`'s plan: what a run will do, before any training."""

from __future__ import annotations

import math

from netfit.config import Config


def describe_plan(cfg: Config) -> str:
    """Data shape, split sizes, class balance, model size, memory estimate, steps per epoch."""
    from netfit.data import prepare
    from netfit.data.preprocess import input_spec
    from netfit.data.summary import describe_validation
    from netfit.model import count_parameters, model_for, resolve_model
    from netfit.train.losses import resolve_loss

    prepared = prepare(cfg.data, cfg.seed)
    pre = prepared.preprocessor
    chosen = " (model.type auto)" if cfg.model.type == "auto" else ""
    cfg = cfg.model_copy(update={"model": resolve_model(cfg.model, input_spec(pre))})
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
        f"  data kind: {pre.array.spec['kind'] if pre.array is not None else 'table'}"
        f"{' (inferred: data.kind auto)' if cfg.data.kind == 'auto' else ''}",
        f"  model: {cfg.model.type}{chosen} {cfg.model.hidden}, {n_params:,} parameters",
        *([f"  input: {pre.array.spec}"] if pre.array is not None else []),
        f"  estimated memory: {memory / 2**20:.1f} MiB (data on device, weights, optimizer state, one batch)",
        f"  steps per epoch: {math.ceil(sizes['train'] / batch)}{' (batch_size auto: estimated at 64)' * auto}; "
        f"at most {_epochs(cfg, sizes['train'], batch)} epochs",
    ]
    return "\n".join(lines)


def _epochs(cfg: Config, n_train: int, batch: int) -> str:
    """The epoch budget as the loop resolves it (`epochs: auto` and `steps` from the training rows)."""
    from netfit.train.loop import with_step_budget

    resolved = with_step_budget(cfg.train.model_copy(update={"batch_size": batch}), n_train).epochs
    return str(resolved) + (f" (epochs auto: {cfg.train.steps or 'the default'} steps)" if cfg.train.epochs == "auto" else "")
