"""Your own module, loss and metric by import path: train, save, load and predict through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import torch

import netfit
from netfit.config import ModelConfig
from netfit.errors import ConfigError
from netfit.model import build_model

MODULE = textwrap.dedent('''
    import torch
    from torch import nn
    import torch.nn.functional as F


    class Net(nn.Module):
        """A residual two-layer net: the contract is forward(x_num, x_cat=None)."""

        def __init__(self, n_num, cat_cardinalities, n_out, width=16):
            super().__init__()
            self.inp = nn.Linear(n_num, width)
            self.mid = nn.Linear(width, width)
            self.out = nn.Linear(width, n_out)

        def forward(self, x_num, x_cat=None):
            h = torch.relu(self.inp(x_num))
            return self.out(h + torch.relu(self.mid(h)))


    def smooth_ce(output, target):
        return F.cross_entropy(output, target, label_smoothing=0.05)


    def top2_accuracy(output, target):
        return (output.topk(2, dim=1).indices == target[:, None]).any(dim=1).float().mean()
''')


def cli(*args: str, cwd: Path, pythonpath: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    paths = [p for p in (pythonpath, env.get("PYTHONPATH")) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return subprocess.run([sys.executable, "-m", "netfit", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_custom_module_loss_and_metric_train_save_load_predict_through_the_cli(tmp_path):
    (tmp_path / "mymods.py").write_text(MODULE)
    (tmp_path / "c.yaml").write_text(
        "data: {source: 'sklearn:iris'}\n"
        "model: {module: 'mymods:Net', kwargs: {width: 32}}\n"
        "train: {epochs: 40, loss: 'mymods:smooth_ce', metrics: ['mymods:top2_accuracy'], optimizer: {lr: 0.01}}\n"
        "evaluate: {bootstrap: 50, baselines: false}\n")
    proc = cli("train", "c.yaml", "-q", cwd=tmp_path, pythonpath=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "model.json").read_text())["model"]["module"] == "mymods:Net"
    history = pd.read_csv(run / "history.csv")
    assert history["val_top2_accuracy"].iloc[-1] >= 0.9  # the custom metric is logged every epoch
    report = json.loads((run / "report.json").read_text())
    assert report["test"]["metrics"]["accuracy"]["value"] >= 0.85
    assert report["test"]["metrics"]["top2_accuracy"]["value"] >= 0.9

    from sklearn.datasets import load_iris

    load_iris(as_frame=True).frame.drop(columns="target").to_csv(tmp_path / "x.csv", index=False)
    other = tmp_path / "elsewhere"
    other.mkdir()  # predict from another folder: the module comes from PYTHONPATH, not the cwd
    proc = cli("predict", str(run), str(tmp_path / "x.csv"), "-o", "p.csv", cwd=other, pythonpath=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    pred = pd.read_csv(other / "p.csv")
    assert (pred["prediction"] == load_iris().target).mean() >= 0.85

    # without the module on the path, loading says which component is missing and how to fix it
    proc = cli("predict", str(run), str(tmp_path / "x.csv"), "-o", "p.csv", cwd=other, pythonpath=None)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "model.module" in proc.stderr and "mymods" in proc.stderr and "PYTHONPATH" in proc.stderr


class Tiny(torch.nn.Module):
    def __init__(self, n_num, cat_cardinalities, n_out, width=8):
        super().__init__()
        self.lin = torch.nn.Linear(n_num, n_out)

    def forward(self, x_num, x_cat=None):
        return self.lin(x_num)


def test_a_class_given_in_python_becomes_its_import_path(tmp_path):
    run = netfit.fit({"data": {"source": "sklearn:iris"}, "model": {"module": Tiny}}, output_dir=str(tmp_path),
                     train__epochs=5, evaluate__bootstrap=0, evaluate__baselines=False)
    assert run.config.model.module == f"{__name__}:Tiny"
    from sklearn.datasets import load_iris

    assert len(run.predict(load_iris(as_frame=True).data.head(4))) == 4  # loading imports the class again


@pytest.mark.parametrize("module, kwargs, needles", [
    ("no_such_pkg.mod:Net", {}, ["cannot import", "no_such_pkg", "PYTHONPATH"]),
    ("torch.nn:NoSuchNet", {}, ["not found", "NoSuchNet"]),
    (f"{__name__}:Tiny", {"depth": 3}, ["cannot be built", "depth", "model.kwargs"]),
    ("torch:zeros", {}, ["model.module"]),
])
def test_custom_module_mistakes_are_config_errors(module, kwargs, needles):
    with pytest.raises(ConfigError) as err:
        build_model(ModelConfig(module=module, kwargs=kwargs), n_num=4, cat_cardinalities=[], n_out=3)
    for needle in needles:
        assert needle in str(err.value), (needle, str(err.value))


def test_a_lambda_is_refused_with_a_hint():
    with pytest.raises(ConfigError) as err:
        netfit.config.load_config({"data": {"source": "sklearn:iris"}, "train": {"loss": lambda o, t: o.sum()}})
    assert "train.loss" in str(err.value) and "top level of a module" in str(err.value)


def abs_error(output, target):
    """Your own mean absolute error, on the values exactly as netfit hands them over."""
    return (output.squeeze(1) - target).abs().mean()


def target_mean(output, target):
    return target.mean()


def test_custom_metrics_on_regression_see_the_target_in_its_units(tmp_path):
    """diabetes' target is ~150 +/- 77: your metric sees those numbers, not standardised ones, so it
    agrees with netfit's own MAE on validation (every epoch) and on the test split."""
    run = netfit.fit({"data": {"source": "sklearn:diabetes"}, "model": {"hidden": [16]},
                      "train": {"epochs": 3, "metrics": [abs_error, target_mean]},
                      "evaluate": {"bootstrap": 0, "baselines": False}}, output_dir=str(tmp_path))
    history = run.history
    assert history["val_abs_error"].tolist() == pytest.approx(history["val_mae"].tolist(), rel=1e-4)
    assert history["val_target_mean"].iloc[0] == pytest.approx(150, abs=30)
    metrics = run.metrics
    assert metrics["abs_error"]["value"] == pytest.approx(metrics["mae"]["value"], rel=1e-4)
    assert metrics["target_mean"]["value"] == pytest.approx(150, abs=30)
