"""A saved run applied to new files: `Run.predict` / `Run.evaluate` and `netfit predict` on edge inputs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import netfit
from netfit.errors import DataError

TINY = {"model": {"hidden": [4], "dropout": 0.0}, "train": {"epochs": 1},
        "evaluate": {"bootstrap": 0, "baselines": False}}


@pytest.fixture(scope="module")
def arrays_run(tmp_path_factory):
    """A run fitted on (X, y) arrays: columns x0, x1, x2 and `target`."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    return netfit.fit(TINY, data=(x, (x[:, 0] > 0).astype(int)), output_dir=str(tmp_path_factory.mktemp("runs")))


def test_predict_and_evaluate_refuse_a_csv_row_with_a_missing_field(arrays_run, tmp_path):
    (tmp_path / "x.csv").write_text("x0,x1,x2\n0.1,0.2,0.3\n0.4,0.5\n0.7,0.8,0.9\n")
    with pytest.raises(DataError, match="ragged CSV row") as e:
        arrays_run.predict(str(tmp_path / "x.csv"))
    assert e.value.where == f"{tmp_path / 'x.csv'}: line 3"
    (tmp_path / "xy.csv").write_text("x0,x1,x2,target\n0.1,0.2,0.3,1\n0.4,0.5,0.6,0\n0.7,0.8,1\n")
    with pytest.raises(DataError, match="ragged CSV row") as e:
        arrays_run.evaluate(str(tmp_path / "xy.csv"), resamples=10)
    assert e.value.where == f"{tmp_path / 'xy.csv'}: line 4"
    proc = subprocess.run([sys.executable, "-m", "netfit", "predict", str(arrays_run.path), "x.csv", "-o", "p.csv"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "x.csv: line 3" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "p.csv").exists()


def test_predict_on_an_npz_without_y(arrays_run, tmp_path):
    x = np.random.default_rng(1).normal(size=(5, 3))
    np.savez(tmp_path / "x.npz", x=x)
    out = arrays_run.predict(str(tmp_path / "x.npz"))
    assert len(out) == 5 and {"prediction", "proba_0", "proba_1"} <= set(out.columns)
    np.testing.assert_allclose(out.filter(like="proba_").to_numpy(), arrays_run.predict_proba(x), atol=1e-6)
    proc = subprocess.run([sys.executable, "-m", "netfit", "predict", str(arrays_run.path), "x.npz", "-o", "p.csv"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "wrote 5 predictions" in proc.stdout
    # evaluate needs the labels: their absence stays an error naming the array
    with pytest.raises(DataError, match="arrays missing") as e:
        arrays_run.evaluate(str(tmp_path / "x.npz"), resamples=10)
    assert "'y'" in str(e.value)


def test_predict_refuses_booleans_where_a_number_was_trained(arrays_run, tmp_path):
    """True/False is not a number: a CSV column of them (read as booleans) where x1 trained on numbers
    is a DataError naming the file, the column and the rows, in Python and in the CLI."""
    (tmp_path / "x.csv").write_text("x0,x1,x2\n0.1,True,0.3\n0.4,False,0.6\n0.7,True,0.9\n")
    with pytest.raises(DataError, match="numeric column holds booleans") as e:
        arrays_run.predict(str(tmp_path / "x.csv"))
    assert e.value.where == f"{tmp_path / 'x.csv'}: column 'x1', row 1 (line 2)"
    assert "rows 1, 2, 3" in str(e.value)
    import pandas as pd  # a DataFrame with Python booleans among numbers too, as JSON would give them

    frame = pd.DataFrame({"x0": [0.1, 0.2], "x1": [0.5, True], "x2": [0.3, 0.4]})
    with pytest.raises(DataError, match="numeric column holds booleans") as e:
        arrays_run.predict(frame)
    assert "column 'x1', row 2" in e.value.where
    proc = subprocess.run([sys.executable, "-m", "netfit", "predict", str(arrays_run.path), "x.csv", "-o", "p.csv"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "x.csv: column 'x1'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "p.csv").exists()


def test_a_run_folder_whose_config_breaks_a_later_training_rule_still_predicts(arrays_run, tmp_path):
    """A run saved before netfit refused a custom monitor without a mode, or a metric named `mae`,
    still loads to predict; training with that config (resume included) is refused."""
    import shutil

    import yaml

    from netfit.config import load_config
    from netfit.errors import ConfigError

    run = tmp_path / "old-run"
    shutil.copytree(arrays_run.path, run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["train"]["metrics"] = ["mymetrics:mae", "mymetrics:top2"]
    cfg["train"]["early_stopping"] = {**cfg["train"]["early_stopping"], "monitor": "val_top2", "mode": "auto"}
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    x = np.random.default_rng(1).normal(size=(5, 3))
    np.testing.assert_allclose(netfit.load(run).predict_proba(x), arrays_run.predict_proba(x), atol=0)
    assert netfit.load(run).config.train.early_stopping.monitor == "val_top2"
    with pytest.raises(ConfigError) as e:
        load_config(run / "config.yaml", require_data=False)
    assert "'mae'" in str(e.value) and "val_top2" in str(e.value)
    with pytest.raises(ConfigError):
        netfit.fit(resume=run)


def test_a_run_folder_saved_before_the_table_defaults_changed_loads_its_plain_mlp(tmp_path):
    """Run folders written before `model.numeric_embedding`, `model.ensemble` and `data.preprocess.clip`
    existed have no such fields in config.yaml: they trained the plain MLP on unclipped columns, and
    must not load with today's defaults (periodic, 4 members, clip 3)."""
    import yaml

    x = np.random.default_rng(0).normal(size=(60, 3))
    x[0, 1] = 50.0  # an outlier that clipping would change
    plain = netfit.fit({**TINY, "model": {**TINY["model"], "numeric_embedding": "none", "ensemble": 1},
                        "data": {"preprocess": {"clip": None}}},
                       data=(x, (x[:, 0] > 0).astype(int)), output_dir=str(tmp_path))
    cfg = yaml.safe_load((plain.path / "config.yaml").read_text())
    del cfg["model"]["numeric_embedding"], cfg["model"]["ensemble"], cfg["data"]["preprocess"]["clip"]
    (plain.path / "config.yaml").write_text(yaml.safe_dump(cfg))
    old = netfit.load(plain.path)
    m = old.config.model
    assert (m.numeric_embedding, m.ensemble, old.config.data.preprocess.clip) == ("none", 1, None)
    np.testing.assert_allclose(old.predict_proba(x[:5]), plain.predict_proba(x[:5]), atol=0)


def test_a_model_fitted_on_arrays_with_constant_columns_predicts_arrays_of_the_same_layout(tmp_path):
    from netfit import NetClassifier, NetRegressor

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    x[:, 1], x[:, 3] = 0.0, 7.0  # constant: dropped by the preprocessing, as digits' blank pixels are
    y = (x[:, 0] > 0).astype(int)
    run = netfit.fit(TINY, data=(x, y), output_dir=str(tmp_path / "runs"))
    assert run.report["data"]["dropped_columns"] == {"x1": "constant in the training split",
                                                     "x3": "constant in the training split"}
    proba = run.predict_proba(x[:4])  # was: "expected (rows, 3), found (4, 5)"
    assert proba.shape == (4, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-6)
    assert list(run.predict(x[:4])["prediction"]) == list(proba.argmax(axis=1))
    with pytest.raises(DataError, match="wrong shape") as e:
        run.predict(x[:4, :4])
    assert "(rows, 5)" in e.value.expected and "x0, x1, x2, x3, x4" in e.value.expected
    clf = NetClassifier(hidden=(4,), epochs=1, random_state=0, output_dir=str(tmp_path / "clf")).fit(x, y)
    assert clf.predict(x[:4]).shape == (4,) and clf.run_.predict_proba(x[:4]).shape == (4, 2)
    reg = NetRegressor(hidden=(4,), epochs=1, random_state=0, output_dir=str(tmp_path / "reg")).fit(x, x[:, 0])
    assert np.allclose(reg.predict(x[:4]), reg.run_.predict(x[:4])["prediction"], atol=1e-6)


def test_predict_keeps_the_named_input_columns_row_for_row(arrays_run):
    import pandas as pd

    x = np.random.default_rng(2).normal(size=(4, 3))
    frame = pd.DataFrame(x, columns=["x0", "x1", "x2"]).assign(order_id=["a", "b", "c", "d"])
    frame.index = [10, 11, 12, 13]  # a filtered frame: predictions still line up by position
    out = arrays_run.predict(frame, keep=["order_id"])
    assert list(out.columns[:2]) == ["order_id", "prediction"] and list(out["order_id"]) == ["a", "b", "c", "d"]
    np.testing.assert_allclose(out.filter(like="proba_").to_numpy(), arrays_run.predict_proba(x), rtol=1e-6)
    with pytest.raises(DataError, match="order_id"):
        arrays_run.predict(frame, keep=["order"])
