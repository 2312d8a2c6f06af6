"""The run folder: the one module that knows what a run leaves on disk, and reads it back.

    runs/<name>-<YYYYmmdd-HHMMSS>-<rand>/
      config.yaml, model.safetensors, model.json (FORMAT_VERSION), checkpoints/, history.csv,
      report.json, test_predictions.csv, report.html, logs/

Writing (create the folder, save the model, the history, the fingerprint and versions) and
reading (check model.json against its schema and format version, rebuild the model, reopen the
newest valid checkpoint for resume) live side by side so that the two cannot drift apart.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import platform
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Mapping, Optional

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from netfit._version import __version__
from netfit.config import Config
from netfit.data import Prepared
from netfit.errors import RunError
from netfit.io import atomic_write, write_json, write_text
from netfit.model import model_for
from netfit.train.checkpoint import Checkpoints, latest_valid

FORMAT_VERSION = 1


# --- creating and writing ---------------------------------------------------------------------

def new_run_dir(cfg: Config) -> Path:
    """A unique folder: parallel runs never collide (timestamp plus a random suffix)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return make_run_dir(Path(cfg.output_dir) / f"{cfg.name}-{stamp}-{secrets.token_hex(3)}")


def make_run_dir(path: Path) -> Path:
    """Create a run folder that must not exist yet (a run never writes into another's folder)."""
    try:
        path.mkdir(parents=True, exist_ok=False)
    except (FileExistsError, NotADirectoryError, PermissionError) as e:
        raise RunError("cannot create the run folder", where=str(path), found=f"{type(e).__name__}: {e}",
                       hint="set output_dir to a writable folder") from None
    return path


def save_model(run_dir: Path, model: torch.nn.Module, cfg: Config, prepared: Prepared,
               calibration: dict[str, Any] | None = None, conformal: dict[str, Any] | None = None) -> None:
    """model.safetensors (the weights) and model.json (all that rebuilds the model and its inputs).

    `calibration` ({"method": "temperature", "temperature": T}, or vector's `scale` and `bias`) and `conformal` (the validation
    split's conformal threshold, `netfit.evaluate.calibration.fit_conformal`) are optional keys: a
    model.json without them (an older run, or both turned off) predicts raw probabilities, no intervals."""
    from safetensors.torch import save_file

    from netfit.data.preprocess import input_spec
    from netfit.model import output_size

    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(run_dir / "model.safetensors", lambda tmp: save_file(weights, str(tmp)))
    pre = prepared.preprocessor
    write_json(run_dir / "model.json", {
        "format_version": FORMAT_VERSION,
        "netfit_version": __version__,
        "task": prepared.task,
        "model": cfg.model.model_dump(mode="json"),
        "n_num": pre.n_num,
        "cat_cardinalities": list(pre.cat_cardinalities),
        "input": input_spec(pre),
        "n_out": output_size(prepared.task, len(pre.classes)),
        "classes": list(pre.classes),
        "preprocessor": pre.to_dict(),
        "fingerprint": fingerprint(cfg, prepared),
        "versions": versions(),
        **({"calibration": calibration} if calibration else {}),
        **({"conformal": conformal} if conformal else {}),
    })


def write_history(path: Path, history: list[dict[str, float]]) -> None:
    """history.csv: one row per epoch (its header even when no epoch completed)."""
    columns = list(dict.fromkeys(k for row in history for k in row)) or ["epoch", "train_loss"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    writer.writerows(history)
    write_text(path, buf.getvalue())


def fingerprint(cfg: Config, prepared: Prepared) -> dict[str, Any]:
    """What the model was trained on: the data's fingerprint, the config's hash and the seed."""
    config_hash = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode()).hexdigest()
    return {**prepared.fingerprint, "config_sha256": config_hash, "seed": cfg.seed}


def versions() -> dict[str, str]:
    import pandas
    import sklearn

    return {"netfit": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "pandas": pandas.__version__, "scikit-learn": sklearn.__version__, "python": platform.python_version()}


def environment(device: torch.device) -> dict[str, Any]:
    return {"device": str(device), "threads": torch.get_num_threads(), "platform": platform.platform(),
            "cuda": torch.cuda.get_device_name(0) if device.type == "cuda" else None, "versions": versions()}


# --- reading back -----------------------------------------------------------------------------

@dataclass
class LoadedModel:
    model: torch.nn.Module
    preprocessor: Any
    task: str
    classes: list
    config: Any
    device: torch.device
    calibration: dict[str, Any] | None = None  # model.json's `calibration` (temperature or vector scaling)
    conformal: dict[str, Any] | None = None  # model.json's `conformal`: intervals or sets

    @property
    def temperature(self) -> float:
        """The temperature classifier logits are divided by (1: none, or vector scaling)."""
        cal = self.calibration or {}
        return float(cal["temperature"]) if cal.get("method") == "temperature" else 1.0


def load_model(run_dir: Path) -> LoadedModel:
    """The model of a finished run with its preprocessing (safetensors + JSON, never pickle)."""
    from safetensors.torch import load_file

    from netfit.config import load_config
    from netfit.data.preprocess import Preprocessor
    from netfit.train.tensors import pick_device

    meta = check_model_json(_read_model_json(run_dir / "model.json"), run_dir / "model.json", FORMAT_VERSION)
    cfg = load_config(run_dir / "config.yaml", require_data=False, trained=True)
    device = pick_device("auto" if cfg.train.device == "auto" else "cpu")
    try:
        pre = Preprocessor.from_dict(meta["preprocessor"])
    except (KeyError, TypeError, ValueError) as e:  # a hand-edited or damaged preprocessing state
        raise RunError("model.json holds an unreadable preprocessing state", where=str(run_dir / "model.json"),
                       found=f"{type(e).__name__}: {str(e)[:200]}", hint="retrain, or restore the run folder") from None
    model = model_for(cfg.model, pre, meta["task"])
    try:
        model.load_state_dict(load_file(str(run_dir / "model.safetensors")))
    except Exception as e:  # a damaged weights file surfaces as several error types
        raise RunError("model weights cannot be read", where=str(run_dir / "model.safetensors"),
                       found=f"{type(e).__name__}: {str(e)[:200]}", hint="retrain, or restore the run folder") from None
    model.to(device).eval()
    return LoadedModel(model, pre, meta["task"], meta["classes"], cfg, device, meta.get("calibration"), meta.get("conformal"))


class Calibration(BaseModel):
    model_config = ConfigDict(extra="allow")
    method: Literal["temperature", "vector"]
    temperature: Optional[float] = Field(None, gt=0)  # temperature scaling
    scale: Optional[list[float]] = None  # vector scaling: one scale and one bias per logit
    bias: Optional[list[float]] = None

    @model_validator(mode="after")
    def _complete(self) -> "Calibration":
        if self.method == "temperature" and self.temperature is None:
            raise ValueError("temperature scaling needs `temperature`")
        if self.method == "vector" and (not self.scale or not self.bias or len(self.scale) != len(self.bias)):
            raise ValueError("vector scaling needs `scale` and `bias` of one length (one per logit)")
        return self


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
    calibration: Optional[Calibration] = None
    conformal: Optional[dict[str, Any]] = None


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


# --- checkpoints, for resume --------------------------------------------------------------------

def open_checkpoints(run_dir: Path, cfg: Config, prepared: Prepared, resume: bool, quiet: bool,
                     read_only: bool = False) -> Checkpoints:
    """The loop's checkpointer; when resuming, loaded with the newest valid checkpoint.

    `read_only`: a torchrun rank other than 0 only reads the checkpoint (rank 0 tidies the folder)."""
    folder = run_dir / "checkpoints"
    checkpoints = Checkpoints(folder, cfg.train.checkpoint, meta={"fingerprint": prepared.fingerprint})
    if not resume:
        return checkpoints
    if not read_only:
        checkpoints.clean_temp_files()
    path, payload, skipped = open_checkpoint(run_dir, prepared.fingerprint)
    if read_only:
        reopen(payload["state"], cfg)
        checkpoints.resume = payload
        return checkpoints
    for bad in skipped:  # set aside, so pruning by step number never keeps them over good ones
        (folder / bad["file"]).replace(folder / (bad["file"] + ".corrupt"))
    s = payload["state"]
    reopen(s, cfg)
    s["resumed"].append({"checkpoint": path.name, "epoch": s["epoch"], "batch": s["batch"], "step": s["step"],
                         "skipped": skipped})
    checkpoints.resume = payload
    if not quiet:
        print(f"resuming {run_dir} from {path.name} (epoch {s['epoch']} done, batch {s['batch']} of the next)")
    return checkpoints


def open_checkpoint(run_dir: str | Path, fingerprint: Mapping[str, Any]) -> tuple[Path, dict[str, Any], list[dict]]:
    """The newest valid checkpoint of `run_dir`, checked against the data it was trained on."""
    path, payload, skipped = latest_valid(Path(run_dir) / "checkpoints")
    saved = payload.get("meta", {}).get("fingerprint")
    if saved is not None and dict(saved) != dict(fingerprint):
        diff = [k for k in sorted(set(saved) | set(fingerprint)) if saved.get(k) != fingerprint.get(k)]
        raise RunError("cannot resume: the data or its split differ from the run's", where=str(path),
                       expected=f"the same data and split as at the start ({', '.join(diff)} differ)",
                       found="other rows", hint="resume with the same data, or start a new run")
    return path, payload, skipped


def reopen(state: dict[str, Any], cfg: Config) -> None:
    """Let a finished run train on when a safe change raised the limit it stopped at."""
    reason, t = state["stop_reason"], cfg.train
    es, wait = t.early_stopping, state["stopper"].get("wait", 0)
    if ((reason == "max_epochs" and t.epochs != "auto" and state["epoch"] < t.epochs)
            or (reason == "max_time" and (t.max_time is None or state["seconds"] < t.max_time))
            or (reason == "early_stopping" and es is not None and wait < es.patience)):
        state["stop_reason"], state["stop_message"] = None, ""
