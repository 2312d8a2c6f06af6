"""Start from an earlier model: load its weights (`train.init_from`), freeze some (`train.freeze`).

Weights are matched by parameter name and shape. With `init_strict: true` (the default) any
mismatch is a RunError listing every one; with `false` the matching tensors are loaded and
the rest are reported (a warning, and `report.json["init_from"]`).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import torch
from torch import nn

from netfit.config import TrainConfig
from netfit.errors import ConfigError, NetfitWarning, RunError, emit, short_list


def start_from(model: nn.Module, cfg: TrainConfig) -> tuple[frozenset[str], dict[str, Any] | None]:
    """Apply `init_from` then `freeze` to `model`; return (loaded parameter names, summary for the report)."""
    loaded, summary = frozenset(), None
    if cfg.init_from:
        loaded, summary = load_pretrained(model, Path(cfg.init_from), cfg.init_strict)
    frozen = freeze(model, cfg.freeze)
    if summary is not None or frozen:
        summary = {**(summary or {}), "frozen": frozen}
    return loaded, summary


def load_pretrained(model: nn.Module, run_dir: Path, strict: bool) -> tuple[frozenset[str], dict[str, Any]]:
    """Copy the tensors of `run_dir/model.safetensors` whose names and shapes match into `model`."""
    weights = _read_weights(run_dir)
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    shapes = [f"{k}: saved {tuple(weights[k].shape)}, model {tuple(own[k].shape)}"
              for k in own if k in weights and weights[k].shape != own[k].shape]
    problems = ([f"not in the saved run: {k}" for k in missing] + [f"not in this model: {k}" for k in unexpected]
                + [f"shape differs, {s}" for s in shapes])
    if problems and strict:
        raise RunError(f"the weights of {run_dir} do not match this model ({len(problems)} mismatches)",
                       where="train.init_from", problems=problems[:20] + [f"... {len(problems) - 20} more"] * (len(problems) > 20),
                       hint="use the same model settings as that run, or set train.init_strict: false "
                            "to load what matches and train the rest from scratch")
    matching = {k: v for k, v in weights.items() if k in own and v.shape == own[k].shape}
    model.load_state_dict(matching, strict=False)
    if problems:
        emit(NetfitWarning(f"loaded {len(matching)} of {len(own)} tensors; not loaded: "
                                    f"{short_list(missing + [s.split(':')[0] for s in shapes])}",
                                    where=f"train.init_from: {run_dir}",
                                    hint="those start from scratch; use the same model settings as that run to load all"),
                      stacklevel=2)
    params = {n for n, _ in model.named_parameters()}
    summary = {"run": str(run_dir), "loaded": sorted(matching), "not_loaded": problems}
    return frozenset(params & set(matching)), summary


def _read_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    path = run_dir / "model.safetensors"
    if not path.is_file():
        # the config names the wrong folder: a config problem, not a damaged run
        raise ConfigError("init_from is not a finished run folder", where=f"train.init_from: {run_dir}",
                          expected="a folder holding model.safetensors", found="no such file",
                          hint="pass the folder printed at the end of `netfit train` (under runs/)")
    try:
        return load_file(str(path))
    except Exception as e:  # a damaged file surfaces as several error types; all mean the same here
        raise RunError("the weights to start from cannot be read", where=str(path),
                       found=f"{type(e).__name__}: {str(e)[:200]}", hint="retrain that run, or pick another") from None


def freeze(model: nn.Module, patterns: list[str]) -> list[str]:
    """Set requires_grad False on parameters matching any pattern; return their names.

    A pattern that matches nothing is an error (a typo would otherwise silently train everything).
    """
    if not patterns:
        return []
    names = [n for n, _ in model.named_parameters()]
    unmatched = [p for p in patterns if not fnmatch.filter(names, p)]
    if unmatched:
        raise ConfigError("freeze patterns match no parameter", where="train.freeze", found=short_list(unmatched),
                          expected=f"patterns over the parameter names {short_list(names)}",
                          hint="patterns use fnmatch: `body.0.*` freezes the first layer's weight and bias")
    frozen = [n for n, p in model.named_parameters() if any(fnmatch.fnmatchcase(n, pat) for pat in patterns)]
    if len(frozen) == len(names):
        raise ConfigError("freeze patterns match every parameter: nothing would train", where="train.freeze",
                          found=short_list(patterns), hint="leave at least one layer (e.g. `head.*`) unfrozen")
    for n, p in model.named_parameters():
        if n in frozen:
            p.requires_grad_(False)
    return frozen
