"""Training health: what the gradients, updates and activations did, and findings in plain words.

`Diagnostics` is an ordinary callback on the sampled in-step hook (`Callback.sample_every`): at
every N-th optimizer step, between backward and the optimizer step, it reads per layer (each
`nn.Linear`, `nn.Conv1d/2d/3d`, recurrent layer and ensemble output layer with trainable parameters):

- the gradient norm (over the layer's parameters; fp16 loss scaling divided out),
- the weight norm,
- the update-to-weight ratio |W_after - W_before| / |W_before|: the update the optimizer really
  made (clipping, momentum, Adam's scaling and weight decay included), measured by a one-shot
  optimizer step post-hook on that step; a step skipped by the fp16 scaler has none (null),
- whether gradient clipping engaged (the total norm above `grad_clip`, or an element above
  `grad_clip_value`),

and on the next training forward after a sample, through one-shot forward hooks, the share of
dead units of each ReLU (a unit is dead when its output is exactly 0 for every row of the
batch; a unit is a feature of a (batch, features) output, a channel otherwise) and of saturated
units of each Tanh (|out| > 0.99 on every row) and Sigmoid (out < 0.01 or > 0.99 on every row).

`findings` turns that and the epoch history into rules with thresholds (docs/diagnostics.md).
Everything it hands on is plain data (dicts, lists, floats), so the report needs no import of
this module. Values are read from the device once per sample (one host sync), in the post-hook.

How often (`train.diagnostics`):
- `auto`: every N steps, N = max(AUTO_MIN_EVERY, ceil(planned steps / MAX_SAMPLES)). AUTO_MIN_EVERY
  keeps the cost of the sampled steps under 3% of the plain steps' time: a sampled step costs
  about `r` plain steps more (measured by `benchmarks/diagnostics_overhead.py`, see
  docs/diagnostics.md), so N >= r / 0.03.
- `full`: every step (exact clipping shares, the most detail; slower: for short debugging runs).
- `off`: no hook, no finding from the sampled series (the history-based findings still run).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from netfit.model.layers import EnsembleLinear
from netfit.train.callbacks import Callback, StepSample

AUTO_MIN_EVERY = 50  # N's floor under `auto`: the measured per-sample cost r (~1.1 plain steps, worst case) / 3%
MAX_SAMPLES = 200  # `auto` spreads at most about this many samples over the planned steps
MAX_SERIES = 400  # stored points per series; beyond it every other point is dropped (the report stays small)

# the rules' thresholds (docs/diagnostics.md states each, with its reason)
DEAD_SHARE = 0.5  # dead (or saturated) units in one activation layer
VANISHING_RATIO = 1e-3  # first layer's gradient norm / last layer's
UPDATE_HIGH = 1e-1  # update / weight per step: ~1e-3 is healthy
UPDATE_LOW = 1e-6
UPDATE_SHARE = 0.2  # ... on at least 20% of the sampled steps (a rollback lowers the rate: later samples look fine)
CLIPPED_SHARE = 0.5  # of the sampled steps
OVERFIT_BEST_WITHIN = 1 / 3  # the best validation loss within the first third of the validated epochs ...
OVERFIT_RISE = 0.10  # ... and the last one at least 10% above it, while the training loss fell
LR_NEAR_ZERO = 0.01  # a learning rate below 1% of the run's peak
LR_LONG_BEFORE = 0.2  # ... reached at least 20% of the run (and 3 epochs) before the best epoch
SPIKE_FACTOR = 2.0  # a sampled step's loss above twice the median of the previous SPIKE_WINDOW samples ...
SPIKE_JUMP = 0.25  # ... and above it by a quarter of the first sampled loss (near-zero losses are noisy)
SPIKE_WINDOW = 10
SPIKE_MIN = 3  # spikes before the finding (one odd batch is no pattern) ...
SPIKE_SHARE = 0.05  # ... on at least 5% of the sampled steps

LAYER_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.RNNBase, EnsembleLinear)


def _dead(out: torch.Tensor) -> torch.Tensor:
    return out == 0


def _tanh_saturated(out: torch.Tensor) -> torch.Tensor:
    return out.abs() > 0.99


def _sigmoid_saturated(out: torch.Tensor) -> torch.Tensor:
    return (out < 0.01) | (out > 0.99)


# activation type -> (what is measured, the per-element test)
ACTIVATION_TESTS = {nn.ReLU: ("dead", _dead), nn.ReLU6: ("dead", _dead),
                    nn.Tanh: ("saturated", _tanh_saturated), nn.Sigmoid: ("saturated", _sigmoid_saturated)}


def sample_every(mode: str, planned_steps: int) -> int:
    """The sampling interval N for `train.diagnostics` (`auto` or `full`)."""
    if mode == "full":
        return 1
    return max(AUTO_MIN_EVERY, math.ceil(planned_steps / MAX_SAMPLES))


class Diagnostics(Callback):
    """Per-layer statistics on sampled steps, per-epoch clipping shares; `summary()` for the report.

    Args:
        model: the plain model (not its DDP or compiled wrapper): the layers are its modules.
        mode: `auto` or `full`.
        every: the sampling interval N.
        clip_norm, clip_value: the loop's clipping thresholds (None: not clipping).
        activations: False under `train.compile` (hooks added and removed would recompile the graph).
    """

    def __init__(self, model: nn.Module, mode: str, every: int, clip_norm: float | None = None,
                 clip_value: float | None = None, activations: bool = True) -> None:
        self.mode, self.sample_every = mode, every
        self.clip_norm, self.clip_value = clip_norm, clip_value
        self.layers = [(name or "model", type(m).__name__, [p for p in m.parameters() if p.requires_grad])
                       for name, m in model.named_modules() if isinstance(m, LAYER_TYPES)]
        self.layers = [layer for layer in self.layers if layer[2]]  # frozen layers learn nothing: not watched
        self.index = torch.tensor([i for i, (_, _, ps) in enumerate(self.layers) for _ in ps], dtype=torch.long)
        self.params = [p for _, _, ps in self.layers for p in ps]
        self.all_params = [p for p in model.parameters() if p.requires_grad]
        self.acts = [(name, type(m).__name__, m, *ACTIVATION_TESTS[type(m)]) for name, m in model.named_modules()
                     if type(m) in ACTIVATION_TESTS] if activations else []
        self.activations_on = activations
        self.steps: list[int] = []
        self.grad: list[list[float | None]] = [[] for _ in self.layers]
        self.weight: list[list[float | None]] = [[] for _ in self.layers]
        self.update: list[list[float | None]] = [[] for _ in self.layers]
        self.act_steps: list[int] = []
        self.act_share: list[list[float]] = [[] for _ in self.acts]
        self.epochs: list[dict[str, Any]] = []
        self.total: list[float | None] = []  # the whole model's gradient norm per sample
        self.losses: list[float | None] = []  # the step loss per sample
        self.first_loss: float | None = None
        self.spikes = 0  # loss spikes among this epoch's samples
        self.pending: dict[str, Any] | None = None  # a sample whose update is not measured yet
        self.pending_acts: dict[int, torch.Tensor] = {}  # activation shares of the current capture
        self.act_step = 0
        self.step_hook: Any = None  # the optimizer step post-hook (does nothing unless a sample is pending)
        self.forward_hooks: list[Any] = []  # one-shot forward hooks on the activations
        self.clipped = self.samples_this_epoch = self.nonfinite = 0

    # ------------------------------------------------------------------ hooks
    def on_epoch_begin(self, logs: dict[str, Any]) -> None:
        self.clipped = self.samples_this_epoch = self.nonfinite = self.spikes = 0

    def on_step_sampled(self, sample: StepSample) -> None:
        self._flush()  # a previous sample whose optimizer step never ran (fp16 overflow)
        if not self.params:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        if self.index.device != self.params[0].device:  # moved once, where the parameters are
            self.index = self.index.to(self.params[0].device)
        index, scale = self.index, sample.grad_scale or 1.0
        g = _per_layer(torch.stack(torch._foreach_norm(grads)).float() / scale, index, len(self.layers))
        w = _per_layer(torch.stack(torch._foreach_norm([p.detach() for p in self.params])).float(), index, len(self.layers))
        present = [p.grad for p in self.all_params if p.grad is not None]
        if present:
            total = torch.stack(torch._foreach_norm(present)).float().norm() / scale
            biggest = torch.stack(torch._foreach_norm(present, math.inf)).float().max() / scale
        else:
            total = biggest = torch.zeros((), device=index.device)
        loss = sample.loss.detach().float().reshape(1) if sample.loss is not None else torch.full((1,), math.nan)
        self.pending = {"step": sample.step, "grad": g, "weight": w, "total": total, "max": biggest, "loss": loss,
                        "before": [p.detach().clone() for p in self.params]}
        if self.step_hook is None:  # registered once: removing a hook while the optimizer runs them would fail
            self.step_hook = sample.optimizer.register_step_post_hook(self._after_step)

    def _after_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        """The sampled step's optimizer step ran: measure the update, read the sample, watch the next forward."""
        if self.pending is None:
            return
        delta = torch._foreach_sub([p.detach() for p in self.params], self.pending["before"])
        self.pending["moved"] = _per_layer(torch.stack(torch._foreach_norm(delta)).float(), self.index, len(self.layers))
        self._flush()
        self._watch_next_forward()

    def on_epoch_end(self, logs: dict[str, Any]) -> None:
        self._flush()
        epoch = int(logs["epoch"])
        share = self.clipped / self.samples_this_epoch if self.samples_this_epoch and self._clips else None
        self.epochs = [e for e in self.epochs if e["epoch"] != epoch]  # a rolled-back epoch trained again: its new row
        self.epochs.append({"epoch": epoch, "samples": self.samples_this_epoch, "clipped_share": share,
                            "nonfinite_samples": self.nonfinite, "loss_spikes": self.spikes,
                            "recoveries": logs.get("recoveries", 0), "skipped_steps": logs.get("skipped_steps", 0)})

    def on_train_end(self, logs: dict[str, Any]) -> None:
        self.close()

    def close(self) -> None:
        """Read what is pending, remove every hook still registered."""
        self._flush()
        self._read_activations()
        if self.step_hook is not None:
            self.step_hook.remove()
            self.step_hook = None

    # ------------------------------------------------------------------ reading
    @property
    def _clips(self) -> bool:
        return self.clip_norm is not None or self.clip_value is not None

    def _flush(self) -> None:
        """Read the pending sample from the device (one sync) into the series."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        n = len(self.layers)
        moved = pending.get("moved")
        parts = [pending["grad"], pending["weight"], pending["total"].reshape(1), pending["max"].reshape(1),
                 pending["loss"]]
        if moved is not None:
            parts.append(moved)
        values = torch.cat([t.to(parts[0].device) for t in parts]).tolist()
        grad, weight, total, biggest, loss = values[:n], values[n:2 * n], values[2 * n], values[2 * n + 1], values[2 * n + 2]
        moved = values[2 * n + 3:] if moved is not None else [None] * n
        self.steps.append(pending["step"])
        self.total.append(_finite(total))
        self._watch_loss(_finite(loss))
        for i in range(n):
            self.grad[i].append(_finite(grad[i]))
            self.weight[i].append(_finite(weight[i]))
            ratio = moved[i] / weight[i] if moved[i] is not None and weight[i] > 0 else None
            self.update[i].append(_finite(ratio))
        self.samples_this_epoch += 1
        clipped = (self.clip_norm is not None and not total <= self.clip_norm) or \
                  (self.clip_value is not None and not biggest <= self.clip_value)
        self.clipped += bool(clipped)
        self.nonfinite += not math.isfinite(total)  # fp16 overflow (the scaler skips the step) or a NaN
        self._thin()

    def _watch_loss(self, loss: float | None) -> None:
        """Record a sampled step's loss; count it a spike when it jumps above the recent samples' median."""
        self.losses.append(loss)
        if loss is None:
            return
        if self.first_loss is None:
            self.first_loss = abs(loss)
        recent = [x for x in self.losses[-SPIKE_WINDOW - 1:-1] if x is not None]
        if len(recent) >= 3:
            median = _median(recent)
            self.spikes += loss > SPIKE_FACTOR * median and loss - median > SPIKE_JUMP * self.first_loss

    def _watch_next_forward(self) -> None:
        """One-shot forward hooks on the activations: their output on the next training forward."""
        self._read_activations()
        if not self.acts:
            return
        self.act_step = self.steps[-1] + 1 if self.steps else 0
        for i, (_, _, module, _, test) in enumerate(self.acts):
            self.forward_hooks.append(module.register_forward_hook(self._activation_hook(i, test)))

    def _activation_hook(self, i: int, test):
        def hook(module: nn.Module, inputs: Any, out: Any) -> None:
            if not module.training or not isinstance(out, torch.Tensor) or out.ndim < 2 or i in self.pending_acts:
                return
            with torch.no_grad():
                hit = test(out.detach())
                units = hit.all(0) if hit.ndim == 2 else hit.transpose(0, 1).flatten(1).all(1)
                self.pending_acts[i] = units.float().mean()
            if len(self.pending_acts) == len(self.acts):  # every activation seen: the capture is done
                self._remove_forward_hooks()
        return hook

    def _remove_forward_hooks(self) -> None:
        for handle in self.forward_hooks:
            handle.remove()
        self.forward_hooks = []

    def _read_activations(self) -> None:
        """The last capture's shares, read at the next sample (no sync of its own)."""
        self._remove_forward_hooks()
        pending, self.pending_acts = self.pending_acts, {}
        if not pending:
            return
        keys = sorted(pending)
        values = dict(zip(keys, torch.stack([pending[k] for k in keys]).tolist()))
        self.act_steps.append(self.act_step)
        for i in range(len(self.acts)):
            self.act_share[i].append(values.get(i))
        if len(self.act_steps) > MAX_SERIES:
            self.act_steps = self.act_steps[::2]
            self.act_share = [s[::2] for s in self.act_share]

    def _thin(self) -> None:
        if len(self.steps) <= MAX_SERIES:
            return
        self.steps, self.total, self.losses = self.steps[::2], self.total[::2], self.losses[::2]
        self.grad, self.weight, self.update = ([s[::2] for s in series] for series in (self.grad, self.weight, self.update))

    # ------------------------------------------------------------------ the result
    def summary(self) -> dict[str, Any]:
        """The series as plain data: report.json's `diagnostics` (findings added by the loop)."""
        self.close()
        notes = []
        if not self.activations_on:
            notes.append("activation statistics are off under train.compile (hooks would recompile the graph)")
        return {
            "mode": self.mode,
            "sample_every": self.sample_every,
            "samples": len(self.steps),
            "steps": list(self.steps),
            "grad_norm": list(self.total),  # the whole model's, per sample
            "loss": list(self.losses),  # the step loss, per sample
            "layers": [{"name": name, "type": kind, "grad_norm": self.grad[i], "weight_norm": self.weight[i],
                        "update_ratio": self.update[i]} for i, (name, kind, _) in enumerate(self.layers)],
            "activation_steps": list(self.act_steps),
            "activations": [{"name": name, "type": kind, "measure": measure, "share": self.act_share[i]}
                            for i, (name, kind, _, measure, _) in enumerate(self.acts)],
            "epochs": list(self.epochs),
            "clip": {"grad_clip": self.clip_norm, "grad_clip_value": self.clip_value},
            "notes": notes,
        }


def _per_layer(values: torch.Tensor, index: torch.Tensor, n: int) -> torch.Tensor:
    """Per-parameter norms -> per-layer norms (the root of the summed squares)."""
    return torch.zeros(n, device=values.device).index_add_(0, index, values.square()).sqrt()


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None  # report.json holds no NaN or Infinity


# ---------------------------------------------------------------------- findings
def _median(values: list[float | None]) -> float | None:
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def _quantile(values: list[float | None], q: float) -> float | None:
    """The q-quantile (nearest rank) of the values present."""
    v = sorted(x for x in values if x is not None)
    return v[min(len(v) - 1, int(q * len(v)))] if v else None


def _finding(code: str, message: str, fix: str, **evidence: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "fix": fix, "evidence": evidence}


def findings(diag: dict[str, Any] | None, history: list[dict[str, Any]], stop_reason: str | None,
             monitor: str, mode: str, recoveries: int = 0) -> list[dict[str, Any]]:
    """Every rule of docs/diagnostics.md that holds for this run, as {code, message, fix, evidence}.

    `diag`: `Diagnostics.summary()` (None with `train.diagnostics: off`: the sampled rules are
    skipped); `history`: the epoch rows; `monitor`/`mode`: the metric early stopping follows and
    its direction; `recoveries`: how many times the loss diverged and was rolled back."""
    found: list[dict[str, Any]] = []
    if diag is not None:
        found += _sampled_findings(diag)
    if stop_reason == "diverged" or recoveries:
        found.append(_finding(
            "diverged", f"the training loss diverged (non-finite or exploding) {max(recoveries, 1)} time(s)"
            + ("; training stopped" if stop_reason == "diverged" else "; netfit rolled back and lowered the learning rate"),
            "lower train.optimizer.lr (or try lr: auto), or set train.grad_clip", recoveries=recoveries,
            stop_reason=stop_reason))
    found += _history_findings(history, stop_reason, monitor, mode)
    return found


def _sampled_findings(diag: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for act in diag.get("activations") or []:
        shares = [s for s in act["share"] if s is not None]
        late = _median(shares[-max(1, len(shares) // 3):])  # the state at the end of training
        if late is not None and late > DEAD_SHARE:
            dead = act["measure"] == "dead"
            found.append(_finding(
                "dead_units" if dead else "saturated_units",
                f"{late:.0%} of the units of {act['name']} ({act['type']}) "
                + ("output exactly 0 on every row of a batch: they pass no gradient and learn nothing" if dead else
                   "are saturated on every row of a batch: their gradient is almost 0"),
                "lower train.optimizer.lr, keep model.bias_init at 0 (or use a standard model.init), or try "
                "model.activation: leaky_relu / gelu" if dead else
                "standardise the inputs, lower the learning rate, or use model.activation: relu / gelu",
                layer=act["name"], share=round(late, 4), samples=len(shares), threshold=DEAD_SHARE))
    layers = diag.get("layers") or []
    if len(layers) >= 2:
        first, last = layers[0], layers[-1]
        ratios = [a / b for a, b in zip(first["grad_norm"], last["grad_norm"]) if a is not None and b]
        ratio = _median(ratios)
        if ratio is not None and ratio < VANISHING_RATIO:
            found.append(_finding(
                "vanishing_gradients", f"the first layer ({first['name']}) gets a gradient {ratio:.1e} times the last "
                f"layer's ({last['name']}): the early layers barely learn",
                "use model.activation: relu / gelu, model.norm: batch or layer, a standard model.init, or fewer layers",
                first_layer=first["name"], last_layer=last["name"], ratio=ratio, samples=len(ratios),
                threshold=VANISHING_RATIO))
    # per layer, the ratio that 20% of the sampled steps exceed (high) and that 80% exceed (low)
    upper = [(layer["name"], _quantile(layer["update_ratio"], 1 - UPDATE_SHARE)) for layer in layers]
    upper = [(name, q) for name, q in upper if q is not None]
    lower = [q for q in (_quantile(layer["update_ratio"], UPDATE_SHARE) for layer in layers) if q is not None]
    if upper:
        name, high = max(upper, key=lambda nq: nq[1])
        if high > UPDATE_HIGH:
            found.append(_finding(
                "lr_too_high", f"on {UPDATE_SHARE:.0%} of the sampled steps or more, a step changes the weights of {name} "
                f"by {high:.1e} of their size or more (healthy: about 1e-3): the learning rate is too high", "lower train.optimizer.lr (by 10x), or try lr: auto",
                layer=name, update_ratio=high, threshold=UPDATE_HIGH))
        elif lower and max(lower) < UPDATE_LOW:
            low = max(lower)
            found.append(_finding(
                "lr_too_low", f"on most steps the updates change no layer's weights by more than {low:.1e} of their "
                "size (healthy: about 1e-3): the learning rate is too low to learn in the budget",
                "raise train.optimizer.lr, or try lr: auto", update_ratio=low, threshold=UPDATE_LOW))
    epochs = diag.get("epochs") or []
    spikes, samples = sum(e.get("loss_spikes") or 0 for e in epochs), sum(e.get("samples") or 0 for e in epochs)
    if spikes >= SPIKE_MIN and samples and spikes / samples >= SPIKE_SHARE:
        found.append(_finding(
            "loss_spikes", f"the training loss jumped on {spikes} of {samples} sampled steps (above twice its recent "
            "median): single batches throw the weights off", "lower train.optimizer.lr, set train.grad_clip (e.g. 1.0), "
            "raise train.batch_size, or look for outlier rows (extreme values, wrong labels)",
            spikes=spikes, samples=samples, factor=SPIKE_FACTOR, share=round(spikes / samples, 4)))
    clip = diag.get("clip") or {}
    if clip.get("grad_clip") is not None or clip.get("grad_clip_value") is not None:
        epochs = [e for e in diag.get("epochs") or [] if e.get("clipped_share") is not None and e["samples"]]
        samples = sum(e["samples"] for e in epochs)
        share = sum(e["clipped_share"] * e["samples"] for e in epochs) / samples if samples else None
        if share is not None and share > CLIPPED_SHARE:
            found.append(_finding(
                "clipping_most_steps", f"gradient clipping engaged on {share:.0%} of the sampled steps: the clip "
                "threshold, not the learning rate, sets the step size", "raise train.grad_clip (or grad_clip_value), "
                "or lower train.optimizer.lr", share=round(share, 4), samples=samples, **clip))
    return found


def _history_findings(history: list[dict[str, Any]], stop_reason: str | None, monitor: str,
                      mode: str) -> list[dict[str, Any]]:
    found = []
    rows = [r for r in history if r.get("epoch") is not None]
    if len(rows) < 2:
        return found
    column = monitor if any(r.get(monitor) is not None for r in rows) else "train_loss"
    direction = mode if column == monitor else "min"
    scored = [(r["epoch"], r[column]) for r in rows if _number(r.get(column))]
    best_epoch = None
    if scored:
        best_value = (min if direction == "min" else max)(v for _, v in scored)
        best_epoch = next(e for e, v in scored if v == best_value)  # the first epoch at the best value
        last = rows[-1]["epoch"]
        if best_epoch == last and stop_reason in ("max_epochs", "max_time"):
            found.append(_finding(
                "still_improving", f"the best {column} came in the last epoch ({last}): the model was still improving "
                "when the budget ended", "raise train.epochs or the step budget (train.steps), or train.max_time",
                monitor=column, best_epoch=best_epoch, epochs=last, stop_reason=stop_reason))
    validated = [r for r in rows if _number(r.get("val_loss")) and _number(r.get("train_loss"))]
    if len(validated) >= 5:
        losses = [r["val_loss"] for r in validated]
        b = losses.index(min(losses))
        end = validated[-1]
        if (b + 1 <= max(1, len(validated) * OVERFIT_BEST_WITHIN) and end["val_loss"] >= losses[b] * (1 + OVERFIT_RISE)
                and end["train_loss"] < validated[b]["train_loss"]):
            found.append(_finding(
                "overfitting", f"the validation loss was lowest at epoch {validated[b]['epoch']} and rose "
                f"{end['val_loss'] / losses[b] - 1:.0%} by epoch {end['epoch']} while the training loss kept falling: "
                "the model memorises the training rows", "add regularisation (model.dropout, train.optimizer.weight_decay), "
                "a smaller model, more data, or keep early stopping on", best_val_epoch=validated[b]["epoch"],
                best_val_loss=losses[b], last_val_loss=end["val_loss"], last_epoch=end["epoch"],
                train_loss_at_best=validated[b]["train_loss"], last_train_loss=end["train_loss"]))
    lrs = [(r["epoch"], r["lr"]) for r in rows if _number(r.get("lr"))]
    if lrs and best_epoch is not None:
        peak = max(lr for _, lr in lrs)
        low = [e for e, lr in lrs if lr <= LR_NEAR_ZERO * peak]
        gap = max(3, LR_LONG_BEFORE * len(rows))
        if peak > 0 and low and best_epoch - low[0] >= gap:
            found.append(_finding(
                "lr_decayed_early", f"the learning rate fell below {LR_NEAR_ZERO:.0%} of its peak at epoch {low[0]}, "
                f"{best_epoch - low[0]} epochs before the best epoch ({best_epoch}): the schedule ended long before "
                "training did", "decay later or more slowly (train.schedule: cosine over the run, a larger step_size, "
                "a gamma closer to 1)", near_zero_epoch=low[0], best_epoch=best_epoch, peak_lr=peak))
    return found


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
