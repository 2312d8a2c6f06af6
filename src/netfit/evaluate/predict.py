"""Load a saved model (safetensors + JSON, never pickle) and apply it to new data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from netfit.errors import DataError, RunError


@dataclass
class LoadedModel:
    model: torch.nn.Module
    preprocessor: Any
    task: str
    classes: list
    config: Any
    device: torch.device


def load_model(run_dir: Path) -> LoadedModel:
    from safetensors.torch import load_file

    from netfit.config import load_config
    from netfit.data.preprocess import Preprocessor
    from netfit.model import build_model
    from netfit.run import FORMAT_VERSION
    from netfit.train.tensors import pick_device

    meta = check_model_json(_read_model_json(run_dir / "model.json"), run_dir / "model.json", FORMAT_VERSION)
    cfg = load_config(run_dir / "config.yaml", require_data=False)
    device = pick_device("auto" if cfg.train.device == "auto" else "cpu")
    model = build_model(cfg.model, meta["n_num"], meta["cat_cardinalities"], meta["n_out"], meta.get("input"))
    try:
        model.load_state_dict(load_file(str(run_dir / "model.safetensors")))
    except Exception as e:  # a damaged weights file surfaces as several error types
        raise RunError("model weights cannot be read", where=str(run_dir / "model.safetensors"),
                       found=f"{type(e).__name__}: {str(e)[:200]}", hint="retrain, or restore the run folder") from None
    model.to(device).eval()
    try:
        pre = Preprocessor.from_dict(meta["preprocessor"])
    except (KeyError, TypeError, ValueError) as e:  # a hand-edited or damaged preprocessing state
        raise RunError("model.json holds an unreadable preprocessing state", where=str(run_dir / "model.json"),
                       found=f"{type(e).__name__}: {str(e)[:200]}", hint="retrain, or restore the run folder") from None
    return LoadedModel(model, pre, meta["task"], meta["classes"], cfg, device)


class ModelFile(BaseModel):
    """The schema of model.json (fields added later within a format version are allowed)."""

    model_config = ConfigDict(extra="allow")
    format_version: int = Field(ge=1)
    netfit_version: str
    task: Literal["binary", "multiclass", "regression"]
    model: dict[str, Any]
    n_num: int = Field(ge=0)
    cat_cardinalities: list[int]
    n_out: int = Field(ge=1)
    classes: list[Any]
    preprocessor: dict[str, Any]


def check_model_json(meta: Any, path: Path, supported: int) -> dict[str, Any]:
    """Refuse a model.json from a newer format (checked first: its fields may differ) or one that
    does not match the schema; return it unchanged."""
    if not isinstance(meta, dict):
        raise RunError("model.json is not a JSON object", where=str(path), found=type(meta).__name__,
                       hint="retrain, or restore the run folder")
    version = meta.get("format_version")
    if isinstance(version, int) and version > supported:
        raise RunError("this model was saved by a newer netfit", where=str(path),
                       expected=f"format_version <= {supported}", found=str(version),
                       hint=f"upgrade netfit (saved by netfit {meta.get('netfit_version')})")
    try:
        ModelFile.model_validate(meta)
    except ValidationError as e:
        problems = [f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()]
        raise RunError("model.json does not match its schema", where=str(path), problems=problems,
                       hint="retrain, or restore the run folder") from None
    return meta


def _read_model_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunError("model.json is corrupt", where=str(path), found=str(e)[:200],
                       hint="retrain, or restore the run folder") from None


def as_frame(data: Any, loaded: LoadedModel) -> pd.DataFrame:
    """Accept a DataFrame, a CSV/Parquet path, or a 2-D array in the training column order."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, Path)):
        from netfit.data.sources import load_table

        return load_table(str(data), loaded.config.data)
    arr = np.asarray(data)
    cols = list(loaded.preprocessor.input_columns)
    if arr.ndim != 2 or arr.shape[1] != len(cols):
        raise DataError("array input has the wrong shape", expected=f"(rows, {len(cols)}) in the order {cols[:5]}...",
                        found=str(arr.shape), hint="pass a DataFrame with the training column names")
    return pd.DataFrame(arr, columns=cols)


def predict_output(loaded: LoadedModel, data: Any, require_target: bool = False):
    """(output, split): class probabilities (n, K) or regression values in target units."""
    from netfit.train.tensors import predict_split

    frame = as_frame(data, loaded)
    split = loaded.preprocessor.transform(frame, require_target=require_target)
    bs = loaded.config.train.eval_batch_size
    return predict_split(loaded.model, split, loaded.task, loaded.preprocessor, loaded.device, bs), split


def predict_frame(loaded: LoadedModel, data: Any) -> pd.DataFrame:
    output, _ = predict_output(loaded, data)
    if loaded.task == "regression":
        return pd.DataFrame({"prediction": output})
    labels = loaded.preprocessor.decode_target(output.argmax(1))
    frame = pd.DataFrame({"prediction": labels})
    for k, c in enumerate(loaded.classes):
        frame[f"proba_{c}"] = output[:, k]
    return frame


def evaluate_data(loaded: LoadedModel, data: Any, *, resamples: int = 1000) -> dict[str, Any]:
    from netfit.evaluate.metrics import evaluate_predictions

    output, split = predict_output(loaded, data, require_target=True)
    pre = loaded.preprocessor
    y = pre.decode_target(split.y) if loaded.task == "regression" else split.y
    return evaluate_predictions(loaded.task, y, output, loaded.classes, resamples=resamples,
                                confidence=loaded.config.evaluate.confidence, seed=loaded.config.seed)
