"""Ship a run: `netfit export RUN --format onnx` writes model.onnx and its preprocessing beside it.

The ONNX graph takes the preprocessed inputs, in the forward contract's order
`model(x_num, x_cat, x, lengths)`: tables `x_num` float32 (n, n_num) and, when the model embeds
categorical columns, `x_cat` int64 (n, n_cat); images `x` float32 (n, C, H, W); sequences `x`
float32 (n, T, F) and text `x` int64 token ids (n, T), padded to the T steps the preprocessing
pads to, with `lengths` int64 (n,) (a recurrent model's packed path exports as ONNX's
`sequence_lens`, so padded steps never reach it). An input the model does not read (an empty
`x_num` beside an image) is left out of the graph; `preprocessing.json`'s `inputs` lists the
graph's inputs. The batch is dynamic. The graph returns the raw output (logits
through the run's calibration, temperature or vector scaling, or the standardized regression value). A regression
run with conformal intervals adds the outputs `lower` and `upper` (target units); a classifier's set
threshold is in `preprocessing.json` (`conformal`). `preprocessing.json` holds everything needed around it: the
fitted preprocessing state (as in model.json), the feature names, the classes, and how to turn
the output into predictions. The export checks itself with onnxruntime before it returns.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from netfit.errors import RunError
from netfit.io import write_json
from netfit.train.tensors import calibrated_logits

OUTPUT_RULES = {
    "multiclass": "probabilities = softmax(output, axis=1); prediction = classes[argmax]",
    "binary": "p1 = sigmoid(output[:, 0]); prediction = classes[p1 > 0.5]",
    "regression": "prediction = output[:, 0] * target_std + target_mean",
}


def export_onnx(run_dir: str | Path, out_dir: str | Path | None = None, *, dynamo: bool = False) -> dict[str, Any]:
    """Export a run's model to ONNX; return {"onnx", "metadata", "max_abs_diff", "seconds", "exporter"}.

    Args:
        run_dir: a finished run folder.
        out_dir: where to write (default: `RUN/export`).
        dynamo: use torch's dynamo exporter instead of the TorchScript-based one (see the README).

    Example:
        >>> export_onnx("runs/digits-mlp-20261125-101500-ab12cd")  # doctest: +SKIP
    """
    from netfit.api import load

    loaded = load(run_dir)._loaded()
    out = Path(out_dir) if out_dir else Path(run_dir) / "export"
    out.mkdir(parents=True, exist_ok=True)
    model = loaded.model.to("cpu").eval()
    if loaded.task != "regression" and loaded.calibration:
        model = Calibrated(model, loaded.calibration).eval()  # the graph's logits are already calibrated
    pre = loaded.preprocessor
    outputs = ["output"]
    conformal = loaded.conformal if loaded.task == "regression" else None
    if conformal and conformal.get("quantile") is not None:  # the interval's ends as two more outputs
        model, outputs = WithInterval(model, conformal, pre.target_mean, pre.target_std).eval(), ["output", "lower", "upper"]
    inputs = model_inputs(pre, rows=64)
    names = INPUT_NAMES[: len(inputs)]
    start = time.perf_counter()
    _export(model, inputs, names, out / "model.onnx", dynamo, outputs)
    seconds = time.perf_counter() - start
    diff, graph_inputs = max_abs_diff(model, out / "model.onnx", inputs, names)
    meta = {**_metadata(loaded, graph_inputs, outputs), "exporter": "dynamo" if dynamo else "torchscript"}
    write_json(out / "preprocessing.json", meta)
    return {"onnx": str(out / "model.onnx"), "metadata": str(out / "preprocessing.json"),
            "max_abs_diff": diff, "seconds": round(seconds, 3), "exporter": meta["exporter"]}


class Calibrated(torch.nn.Module):
    """The model with its logits through the run's calibration (`evaluate.calibration`: divided by the
    temperature, or vector scaling's scale and bias per logit): `calibrated_logits`, traced into the graph."""

    def __init__(self, model: torch.nn.Module, calibration: dict[str, Any]) -> None:
        super().__init__()
        self.model, self.calibration = model, calibration

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return calibrated_logits(self.model(*inputs), self.calibration)


class WithInterval(torch.nn.Module):
    """A regression model that also returns its split-conformal interval, in target units:
    `lower`/`upper` = prediction -/+ quantile (absolute) or -/+ quantile * spread(x_num) (normalized)."""

    def __init__(self, model: torch.nn.Module, conformal: dict[str, Any], mean: float, std: float) -> None:
        super().__init__()
        self.model, self.mean, self.std = model, float(mean), float(std)
        self.quantile = float(conformal["quantile"])
        spread = conformal.get("spread") if conformal["method"] == "normalized_residual" else None
        self.normalized = spread is not None
        self.register_buffer("weights", torch.tensor(spread["weights"] if spread else [], dtype=torch.float32))
        self.bias = float(spread["bias"]) if spread else 0.0

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.model(*inputs)
        pred = out[:, 0] * self.std + self.mean
        if self.normalized:
            x = inputs[0]
            log_spread = torch.cat([x, x.abs()], dim=1) @ self.weights + self.bias
            half = self.quantile * torch.exp(log_spread.clamp(-50.0, 50.0))
        else:
            half = torch.full_like(pred, self.quantile)
        return out, pred - half, pred + half


INPUT_NAMES = ["x_num", "x_cat", "x", "lengths"]


def model_inputs(pre: Any, rows: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs of the model's shapes for the preprocessor `pre`: table columns, then the
    image, sequence or token-id array and its lengths (some rows shorter than T, padding zeroed)."""
    from netfit.data.preprocess import input_spec

    spec = input_spec(pre)
    if spec is None:
        return sample_inputs(pre.n_num, pre.cat_cardinalities, rows, seed)
    x_num, *codes = sample_inputs(pre.n_num, pre.cat_cardinalities, rows, seed)
    x_cat = codes[0] if codes else torch.zeros(rows, 0, dtype=torch.int64)  # the contract passes it, if empty
    g = torch.Generator().manual_seed(seed + 1)
    if spec["kind"] == "image":
        return x_num, x_cat, torch.randn(rows, *spec["shape"], generator=g)
    steps = spec["shape"][0]
    lengths = torch.randint(1, steps + 1, (rows,), generator=g)
    lengths[0] = steps  # one full row
    real = torch.arange(steps)[None, :] < lengths[:, None]
    if spec["kind"] == "text":
        x = torch.randint(1, max(2, spec["vocab_size"]), (rows, steps), generator=g) * real
    else:
        x = torch.randn(rows, steps, *spec["shape"][1:], generator=g) * real[:, :, None]
    return x_num, x_cat, x, lengths


def sample_inputs(n_num: int, cat_cardinalities: list[int], rows: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs of the model's shapes (standardized-looking numbers, valid category codes)."""
    g = torch.Generator().manual_seed(seed)
    x_num = torch.randn(rows, n_num, generator=g)
    if not cat_cardinalities:
        return (x_num,)
    x_cat = torch.stack([torch.randint(0, c, (rows,), generator=g) for c in cat_cardinalities], dim=1)
    return x_num, x_cat


def _export(model: torch.nn.Module, inputs: tuple, names: list[str], path: Path, dynamo: bool,
            outputs: list[str] = ("output",)) -> None:
    """The batch dimension stays dynamic so any number of rows can be predicted."""
    import warnings

    kwargs: dict[str, Any] = {"input_names": names, "output_names": list(outputs), "dynamo": dynamo}
    if dynamo:
        batch = torch.export.Dim("batch", min=1)
        kwargs["dynamic_shapes"] = tuple({0: batch} for _ in names)
    else:
        kwargs["dynamic_axes"] = {n: {0: "batch"} for n in [*names, *outputs]}
    try:
        with warnings.catch_warnings(), _quiet_stderr():
            warnings.simplefilter("ignore")  # the exporter's deprecation notices are not the user's to act on
            torch.onnx.export(model, inputs, str(path), **kwargs)
    except Exception as e:  # exporters raise many types for an operator they cannot translate
        raise RunError("this model cannot be exported to ONNX", where=str(path),
                       found=f"{type(e).__name__}: {str(e)[:300]}",
                       hint="a custom module may use an operator ONNX lacks; try --dynamo, or export it yourself") from None


@contextlib.contextmanager
def _quiet_stderr():
    """The exporter's C++ shape-inference notices (PackPadded of a packed rnn) go to file
    descriptor 2, past Python's warnings filter: hold them back while it runs."""
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def max_abs_diff(model: torch.nn.Module, path: Path, inputs: tuple,
                 names: list[str] | None = None) -> tuple[float, list[str]]:
    """Largest |onnxruntime - PyTorch| over the outputs for `inputs` (named `names`), and the
    names of the inputs the graph kept (the exporter drops an input the model never reads)."""
    import onnxruntime as ort

    by_name = dict(zip(names or INPUT_NAMES, inputs))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    kept = [i.name for i in session.get_inputs()]
    onnx_outs = session.run(None, {n: by_name[n].numpy() for n in kept})
    with torch.inference_mode():
        torch_outs = model(*inputs)
    torch_outs = torch_outs if isinstance(torch_outs, tuple) else (torch_outs,)
    diffs = [float(np.abs(a - b.numpy()).max()) for a, b in zip(onnx_outs, torch_outs) if b.numel()]
    return max(diffs, default=0.0), kept


def _metadata(loaded: Any, names: list[str], outputs: list[str]) -> dict[str, Any]:
    from netfit.data.preprocess import input_spec

    pre = loaded.preprocessor
    spec = input_spec(pre) or {}
    described = {
        "x_num": {"dtype": "float32", "columns": pre.feature_names},
        "x_cat": {"dtype": "int64", "columns": pre.cat_names, "cardinalities": pre.cat_cardinalities},
        "x": {"dtype": "int64" if spec.get("kind") == "text" else "float32", "kind": spec.get("kind"),
              "shape": ["batch", *spec.get("shape", [])],
              **({"vocab_size": spec["vocab_size"], "padding_id": 0} if spec.get("kind") == "text" else {})},
        "lengths": {"dtype": "int64", "shape": ["batch"], "meaning": "real steps (or tokens) of each row; the "
                    "rest of x is padding"},
    }
    return {
        "inputs": {n: described[n] for n in names},
        "output": "output",
        "task": loaded.task,
        "classes": list(loaded.classes),
        "postprocess": OUTPUT_RULES[loaded.task],
        "target_mean": float(pre.target_mean), "target_std": float(pre.target_std),
        "input_columns": pre.input_columns,
        "preprocessor": pre.to_dict(),
        # the graph's output is already divided by it; kept to say so (1: not calibrated, or vector scaling)
        "temperature": loaded.temperature if loaded.task != "regression" else None,
        # model.json's calibration, which the graph's output already applies (null: raw logits)
        "calibration": loaded.calibration if loaded.task != "regression" else None,
        # split conformal: regression `quantile` in target units (the graph's `lower`/`upper` outputs apply it,
        # with the spread model when `method` is normalized_residual), classification `threshold` (LAC: the set
        # is every class whose probability reaches it) or `quantile` (APS: see its `rule`); null when off
        "conformal": loaded.conformal,
        "outputs": list(outputs),
    }
