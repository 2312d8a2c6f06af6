"""The Python API: `fit`, `load` and the `Run` they return.

Example:
    >>> import netfit
    >>> run = netfit.fit({"data": {"source": "sklearn:iris"}}, train__epochs=20)  # doctest: +SKIP
    >>> run.metrics["accuracy"]["value"]  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netfit.predict import Run

__all__ = ["fit", "load", "Run"]


def fit(config: Any = None, data: Any = None, *, quiet: bool = True, callbacks=(), resume: str | Path | None = None,
        **overrides: Any) -> "Run":
    """Train a model end to end and return its `Run`.

    Args:
        config: a YAML path, a dict or a `netfit.config.Config`.
        data: in place of the config's source: a DataFrame, `(X, y)` arrays, or a dict of splits
            `{"train": ..., "val": ..., "test": ...}` (each a DataFrame or `(X, y)`).
        quiet: no progress display (the default in Python; the CLI shows it).
        callbacks: `netfit.Callback` instances.
        resume: a run folder to continue from its newest valid checkpoint, in that folder; `config`
            may be omitted (the stored one is used) and may only change safe fields (train.epochs, ...).
        **overrides: config fields, dotted paths with `__` for dots: `train__epochs=20`.

    Under torchrun every rank calls `fit`; rank 0 gets the `Run`, the other ranks None.

    Example:
        >>> run = netfit.fit("examples/digits_mlp.yaml", train__epochs=5)  # doctest: +SKIP
    """
    from netfit.config import load_config
    from netfit.run import train_run

    if resume is not None:
        from netfit.resume import resume_config

        cfg = resume_config(resume, config, overrides)
    else:
        cfg = load_config(config, overrides, require_data=data is None)
    if data is not None:
        cfg.data.target = cfg.data.target_name()
    return train_run(cfg, data, quiet=quiet, callbacks=list(callbacks), resume=resume)


def load(run_dir: str | Path) -> "Run":
    """Open a finished run folder (model, preprocessing, metrics) for predict and evaluate."""
    return Run(run_dir)
