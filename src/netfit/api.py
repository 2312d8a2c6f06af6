"""The Python API: `fit`, `load` and the `Run` they return.

Example:
    >>> import netfit
    >>> run = netfit.fit({"data": {"source": "sklearn:iris"}}, train__epochs=20)  # doctest: +SKIP
    >>> run.metrics["accuracy"]["value"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping



from netfit.errors import RunError

MODEL_FILES = ("model.json", "model.safetensors", "config.yaml")


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
    if data is not None and cfg.data.target is None:
        cfg.data.target = "target"
    return train_run(cfg, data, quiet=quiet, callbacks=list(callbacks), resume=resume)


def load(run_dir: str | Path) -> "Run":
    """Open a finished run folder (model, preprocessing, metrics) for predict and evaluate."""
    return Run(run_dir)


class Run:
    """A finished run: its folder, metrics, history, and a model that predicts."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        missing = [f for f in MODEL_FILES if not (self.path / f).is_file()]
        if not self.path.is_dir() or missing:
            raise RunError("not a finished netfit run folder", where=str(self.path),
                           expected=", ".join(MODEL_FILES), found=f"missing {', '.join(missing)}" if self.path.is_dir() else "no such folder",
                           hint="pass the folder printed at the end of `netfit train` (under runs/)")
        self._model = None

    def __repr__(self) -> str:
        return f"Run('{self.path}')"

    @property
    def report(self) -> dict[str, Any]:
        path = self.path / "report.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    @property
    def metrics(self) -> dict[str, Any]:
        """Test metrics: {name: {"value", "ci_low", "ci_high"}}."""
        test = self.report.get("test") or {}
        return test.get("metrics", {})

    @property
    def history(self):
        import pandas as pd

        return pd.read_csv(self.path / "history.csv")

    @property
    def config(self):
        from netfit.config import load_config

        return load_config(self.path / "config.yaml", require_data=False)

    def predict(self, data: Any):
        """Predictions for a DataFrame, CSV/Parquet path or array: a DataFrame with `prediction`
        and, for classification, one `proba_<class>` column per class."""
        from netfit.evaluate.predict import predict_frame

        return predict_frame(self._loaded(), data)

    def predict_proba(self, data: Any) -> "np.ndarray":
        from netfit.evaluate.predict import predict_output

        return predict_output(self._loaded(), data)[0]

    def evaluate(self, data: Any, *, resamples: int = 1000) -> dict[str, Any]:
        """Score labelled data with the saved preprocessing: metrics with bootstrap intervals."""
        from netfit.evaluate.predict import evaluate_data

        return evaluate_data(self._loaded(), data, resamples=resamples)

    def _loaded(self):
        if self._model is None:
            from netfit.evaluate.predict import load_model

            self._model = load_model(self.path)
        return self._model
