"""Optional experiment loggers (TensorBoard, MLflow): ordinary callbacks, off by default.

They see what the progress display sees (epoch rows at epoch ends) and the final report, so
they add nothing to the training step. The training-health series (report.json's `diagnostics`,
docs/diagnostics.md) reach them with the report, at their optimizer steps. Both write under the run folder's `logs/`.
Enable them in the config (`log: {tensorboard: true, mlflow: true}`); they need the `track`
extra (`pip install 'netfit[track]'`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from netfit.config import Config
from netfit.errors import ConfigError
from netfit.config import flatten
from netfit.train.callbacks import Callback

MLFLOW_FLUSH_SECONDS = 5.0  # epoch rows are sent in batches: a database write per epoch would slow short epochs


def build_loggers(cfg: Config, run_dir: Path) -> list[Callback]:
    """The loggers the config enables, each checked for its library before training starts."""
    loggers: list[Callback] = []
    if cfg.log.tensorboard:
        _require("tensorboard", "log.tensorboard")
        loggers.append(TensorBoardLogger(run_dir / "logs" / "tensorboard", cfg))
    if cfg.log.mlflow:
        _require("mlflow", "log.mlflow")
        loggers.append(MLflowLogger(run_dir, cfg))
    return loggers


def _require(module: str, field: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"{field} is on but {module} is not installed", where=field,
                          expected=f"the {module} package", found="not importable",
                          hint=f"pip install 'netfit[track]', or set {field}: false")


def hparams(cfg: Config) -> dict[str, Any]:
    """The config flattened to scalar hyperparameters (lists and None as text)."""
    flat = flatten({k: v for k, v in cfg.to_dict().items() if k not in ("tune", "log")})
    return {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in flat.items()}


def final_scalars(report: dict[str, Any]) -> dict[str, float]:
    """`test_<metric>` for every test metric with a value."""
    metrics = (report.get("test") or {}).get("metrics") or {}
    return {f"test_{k}": float(m["value"]) for k, m in metrics.items() if m.get("value") is not None}


def health_series(report: dict[str, Any]) -> list[tuple[str, int, float]]:
    """(tag, optimizer step, value) of the training-health series: `health/<layer>/grad_norm`,
    `.../update_ratio`, `health/<activation>/dead_share` (or `saturated_share`); gaps left out."""
    diag = report.get("diagnostics") or {}
    out = []
    for layer in diag.get("layers") or []:
        for key in ("grad_norm", "update_ratio"):
            out += [(f"health/{layer['name']}/{key}", step, v) for step, v in zip(diag["steps"], layer[key]) if v is not None]
    for act in diag.get("activations") or []:
        out += [(f"health/{act['name']}/{act['measure']}_share", step, v)
                for step, v in zip(diag.get("activation_steps") or [], act["share"]) if v is not None]
    return out


def _scalars(row: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in row.items() if k != "epoch" and isinstance(v, (int, float))}


class TensorBoardLogger(Callback):
    """Scalars per epoch (the history.csv columns) and hparams with the test metrics at the end."""

    def __init__(self, log_dir: Path, cfg: Config) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(log_dir))
        self.cfg = cfg

    def on_epoch_end(self, logs: dict[str, Any]) -> None:
        for name, value in _scalars(logs).items():
            self.writer.add_scalar(name, value, global_step=logs["epoch"])

    def on_report(self, report: dict[str, Any]) -> None:
        for tag, step, value in health_series(report):
            self.writer.add_scalar(tag, value, global_step=step)
        metrics = final_scalars(report) or {"epochs_run": float(report.get("epochs_run") or 0)}
        self.writer.add_hparams(hparams(self.cfg), metrics, run_name="hparams")
        self.writer.close()


class MLflowLogger(Callback):
    """Params (the flattened config), epoch metrics, test metrics and the report files as artifacts.

    The store is MLflow's local SQLite backend (`logs/mlflow/mlflow.db`, artifacts beside it);
    `mlflow ui --backend-store-uri sqlite:///RUN/logs/mlflow/mlflow.db` browses it.
    """

    def __init__(self, run_dir: Path, cfg: Config) -> None:
        from mlflow.tracking import MlflowClient

        self.run_dir, folder = run_dir, run_dir / "logs" / "mlflow"
        folder.mkdir(parents=True, exist_ok=True)
        self.client = MlflowClient(tracking_uri=f"sqlite:///{folder.resolve() / 'mlflow.db'}")
        experiment = self.client.get_experiment_by_name(cfg.log.mlflow_experiment)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(
            cfg.log.mlflow_experiment, artifact_location=(folder.resolve() / "artifacts").as_uri())
        self.run_id = self.client.create_run(experiment_id, run_name=run_dir.name).info.run_id
        self.cfg, self.pending, self.last_flush = cfg, [], time.perf_counter()

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        from mlflow.entities import Param

        params = [Param(k, str(v)[:500]) for k, v in hparams(self.cfg).items()]  # MLflow caps values at 6000 chars
        for lo in range(0, len(params), 100):  # and a batch at 100 params
            self.client.log_batch(self.run_id, params=params[lo:lo + 100])

    def on_epoch_end(self, logs: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        self.pending += [Metric(k, v, stamp, logs["epoch"]) for k, v in _scalars(logs).items()]
        if time.perf_counter() - self.last_flush >= MLFLOW_FLUSH_SECONDS:
            self._flush()

    def on_train_end(self, logs: dict[str, Any]) -> None:
        self._flush()

    def on_report(self, report: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        self.pending += [Metric(k, v, stamp, 0) for k, v in final_scalars(report).items()]
        # MLflow metric names allow '/', but '.' reads like the config's dotted paths elsewhere in its UI
        self.pending += [Metric(tag.replace("/", "."), v, stamp, step) for tag, step, v in health_series(report)]
        self._flush()
        for name in ("report.json", "report.html", "history.csv", "config.yaml"):
            if (self.run_dir / name).is_file():
                self.client.log_artifact(self.run_id, str(self.run_dir / name))
        self.client.set_terminated(self.run_id, status="FAILED" if report.get("stop_reason") == "diverged" else "FINISHED")

    def _flush(self) -> None:
        for lo in range(0, len(self.pending), 1000):  # MLflow's batch limit
            self.client.log_batch(self.run_id, metrics=self.pending[lo:lo + 1000])
        self.pending, self.last_flush = [], time.perf_counter()
