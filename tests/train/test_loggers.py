"""TensorBoard and MLflow loggers: off by default; when enabled, their files are read back."""

from __future__ import annotations

import pytest

import netfit
from netfit.errors import ConfigError
from netfit.train.loggers import _require

IRIS = {"data": {"source": "sklearn:iris"}, "train": {"epochs": 3}, "evaluate": {"bootstrap": 0, "baselines": False}}


def test_loggers_are_off_by_default(tmp_path):
    run = netfit.fit(IRIS, output_dir=str(tmp_path), evaluate__report_html=False)
    assert not (run.path / "logs").exists()


def test_tensorboard_writes_scalars_per_epoch_and_hparams(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = netfit.fit(IRIS, output_dir=str(tmp_path), log__tensorboard=True, evaluate__report_html=False,
                     train__diagnostics="full")  # the default ensemble: its output layer is `head` too
    events = EventAccumulator(str(run.path / "logs" / "tensorboard")).Reload()
    assert {"train_loss", "val_loss", "val_accuracy", "lr"} <= set(events.Tags()["scalars"])
    # the training-health series, at their optimizer steps (full: every step)
    grad = events.Scalars("health/head/grad_norm")
    assert [e.step for e in grad] == list(range(1, run.report["steps"] + 1))
    assert [e.value for e in grad] == pytest.approx(next(layer["grad_norm"] for layer in run.report["diagnostics"]["layers"]
                                                          if layer["name"] == "head"), rel=1e-6)
    history = run.history
    logged = events.Scalars("val_loss")
    assert [e.step for e in logged] == list(history["epoch"])
    assert [e.value for e in logged] == pytest.approx(list(history["val_loss"]), rel=1e-6)
    hp = EventAccumulator(str(run.path / "logs" / "tensorboard" / "hparams")).Reload()
    assert hp.Scalars("test_accuracy")[0].value == pytest.approx(run.metrics["accuracy"]["value"], rel=1e-6)


@pytest.mark.slow
def test_mlflow_run_has_params_metrics_and_the_report(tmp_path):
    from mlflow.tracking import MlflowClient

    run = netfit.fit(IRIS, output_dir=str(tmp_path), log__mlflow=True, log__mlflow_experiment="iris")
    client = MlflowClient(tracking_uri=f"sqlite:///{run.path / 'logs' / 'mlflow' / 'mlflow.db'}")
    (logged,) = client.search_runs([client.get_experiment_by_name("iris").experiment_id])
    assert logged.info.status == "FINISHED" and logged.info.run_name == run.path.name
    assert logged.data.params["train.optimizer.lr"] == "0.001" and logged.data.params["train.epochs"] == "3"
    assert logged.data.metrics["test_accuracy"] == pytest.approx(run.metrics["accuracy"]["value"])
    steps = client.get_metric_history(logged.info.run_id, "train_loss")
    assert [m.step for m in steps] == [1, 2, 3]
    assert [m.value for m in steps] == pytest.approx(list(run.history["train_loss"]))
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert {"report.json", "report.html", "history.csv", "config.yaml"} <= artifacts


def test_a_missing_logger_library_is_a_config_error_with_the_install_hint():
    with pytest.raises(ConfigError) as e:
        _require("netfit_no_such_module", "log.tensorboard")
    text = str(e.value)
    assert "log.tensorboard is on but netfit_no_such_module is not installed" in text
    assert "pip install 'netfit[track]'" in text and "log.tensorboard: false" in text


def test_the_readme_logger_snippet_is_a_valid_config():
    import re
    from pathlib import Path

    import yaml

    from netfit.config import load_config

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (snippet,) = [b for b in re.findall(r"```yaml\n(.*?)```", readme, flags=re.S) if b.startswith("log:")]
    cfg = load_config({**yaml.safe_load(snippet), "data": {"source": "sklearn:iris"}})
    assert cfg.log.tensorboard and cfg.log.mlflow and cfg.log.mlflow_experiment == "netfit"
