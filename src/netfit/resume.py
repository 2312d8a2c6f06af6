"""Resuming a run: the stored config (changes refused unless safe), the newest valid checkpoint.

    netfit train CONFIG --resume RUN          # or: netfit.fit(resume=RUN)

The run continues in its own folder (its newest valid checkpoint is reopened by
`netfit.runfolder.open_checkpoints`). The config must match the one stored there except for
fields that cannot change what has been computed so far (`SAFE_TO_CHANGE`); `auto` batch size
and learning rate compare as the values the run resolved them to (config.yaml holds those).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from netfit.config import Config, load_config
from netfit.errors import ConfigError, RunError

# prefixes of dotted config paths that may differ on resume: limits, display, checkpoint cadence,
# where runs go, and the final evaluation (which has not happened yet)
SAFE_TO_CHANGE = ("train.epochs", "train.steps", "train.early_stopping.patience", "train.max_time", "train.log_every",
                  "train.threads", "train.diagnostics", "train.checkpoint.", "output_dir", "evaluate.")


def resume_config(run_dir: str | Path, config: Any = None, overrides: Any = None) -> Config:
    """The config to resume `run_dir` with: the stored one, or `config` when only safe fields differ.

    Raises:
        RunError: `run_dir` is not a run folder.
        ConfigError: `config` changes fields that are not safe to change; all are listed.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise RunError("cannot resume: not a netfit run folder", where=str(run_dir),
                       expected="a folder with config.yaml and checkpoints/", found="no config.yaml",
                       hint="pass the run folder printed when the run started (under runs/)")
    stored = load_config(run_dir / "config.yaml", require_data=False)
    if config is None:
        return load_config(stored, overrides, require_data=False)
    given = _resolved_as_stored(load_config(config, overrides, require_data=False), stored)
    given.data.target = given.data.target or stored.data.target  # fit(data=...) fills it in the same way
    changed = _diff(stored.to_dict(), given.to_dict())
    unsafe = [f"{path}: {old!r} -> {new!r}" for path, (old, new) in changed.items() if not _safe(path)]
    if unsafe:
        raise ConfigError(
            f"cannot resume: the config differs from the one the run started with ({len(unsafe)} field"
            f"{'s' * (len(unsafe) > 1)})", where=str(run_dir / "config.yaml"), problems=unsafe,
            hint="resume with the run's own config (only " + ", ".join(SAFE_TO_CHANGE) + " may change), "
                 "or start a new run")
    return given


def _resolved_as_stored(given: Config, stored: Config) -> Config:
    """`auto` batch size and learning rate (and data kind) compare as the values the run resolved them to.

    The finders ran once, when the run started, and config.yaml holds what they found; the run
    resumes with those values (re-running a finder would change the run), so `auto` is no change.
    """
    if given.data.kind == "auto" and stored.data.kind != "auto":  # the kind the model asked for (kind_for_model)
        given = given.model_copy(update={"data": given.data.model_copy(update={"kind": stored.data.kind})})
    train, update = given.train, {}
    if train.batch_size == "auto" and stored.train.batch_size != "auto":
        update["batch_size"] = stored.train.batch_size
    if train.optimizer.lr == "auto" and stored.train.optimizer.lr != "auto":
        update["optimizer"] = train.optimizer.model_copy(update={"lr": stored.train.optimizer.lr})
    return given.model_copy(update={"train": train.model_copy(update=update)}) if update else given


def _diff(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> dict[str, tuple[Any, Any]]:
    """{dotted path: (old, new)} for every leaf that differs."""
    changed = {}
    for key in sorted(set(old) | set(new)):
        a, b, path = old.get(key), new.get(key), f"{prefix}{key}"
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            changed.update(_diff(a, b, path + "."))
        elif a != b:
            changed[path] = (a, b)
    return changed


def _safe(path: str) -> bool:
    return any(path == p or (p.endswith(".") and path.startswith(p)) or path.startswith(p + ".") for p in SAFE_TO_CHANGE)
