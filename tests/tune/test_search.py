"""The search on real small models: finds good settings, prunes, resumes, shares one study, never tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState

from netfit.config import load_config
from netfit.data import preparation as loading  # the in-memory path's module, which reads every source
from netfit.tune.search import trial_value, tune

QUICK = {"bootstrap": 0, "baselines": False}


def iris(tmp_path: Path, trials: int, **tune_cfg) -> dict:
    """A small search on iris: widths and learning rate."""
    space = {"train.optimizer.lr": {"log_uniform": [1e-5, 1.0]}, "model.hidden": {"choice": [[8], [32]]}}
    return {"data": {"source": "sklearn:iris"}, "name": "iris", "output_dir": str(tmp_path / "runs"),
            "train": {"epochs": 10}, "evaluate": QUICK, "tune": {"trials": trials, "space": space, **tune_cfg}}


def load_study(tune_dir: Path) -> optuna.Study:
    storage = JournalStorage(JournalFileBackend(str(tune_dir / "study.journal")))
    return optuna.load_study(study_name="netfit", storage=storage)


def netfit_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netfit", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.slow
def test_search_rescues_a_bad_learning_rate_on_digits(tmp_path):
    cfg = {"data": {"source": "sklearn:digits"}, "name": "digits", "output_dir": str(tmp_path),
           "model": {"hidden": [64], "dropout": 0.1}, "train": {"epochs": 12, "optimizer": {"lr": 1e-5}},
           "evaluate": QUICK}
    # the starting point really is bad: < 0.5 validation accuracy within the epoch budget
    from netfit.run import train_run

    base = train_run(load_config(cfg), quiet=True, need_test=False)
    assert trial_value(base, "val_accuracy") < 0.5
    space = {"train.optimizer.lr": {"log_uniform": [1e-5, 1.0]},
             "model.hidden": {"layers": [1, 1], "units": {"choice": [32, 64, 128]}},
             "model.dropout": {"uniform": [0.0, 0.5]}}
    result = tune({**cfg, "tune": {"trials": 12, "metric": "val_accuracy", "space": space}})
    report = json.loads((result.path / "tune_report.json").read_text())
    assert len(report["trials"]) == 12
    assert report["best"]["value"] >= 0.93, report["best"]
    assert {"number", "state", "values", "params", "duration_s", "pruned_epoch"} <= set(report["trials"][0])
    assert set(report["importances"]) == {"train.optimizer.lr", "model.hidden.units_1", "model.dropout"}
    best = yaml.safe_load((result.path / "best.yaml").read_text())
    assert best["train"]["optimizer"]["lr"] == pytest.approx(report["best"]["params"]["train.optimizer.lr"])
    assert result.final.metrics["accuracy"]["value"] > 0.9  # the one test evaluation, in final/


def test_pruning_stops_poor_trials_early(tmp_path):
    cfg = iris(tmp_path, 8, sampler="random", startup_trials=2, warmup_epochs=1, metric="val_loss")
    cfg["train"]["epochs"] = 12
    result = tune(cfg)
    pruned = [t for t in result.study.trials if t.state == TrialState.PRUNED]
    assert pruned, [t.state for t in result.study.trials]
    for t in pruned:
        run_report = json.loads((result.path / t.user_attrs["run"] / "report.json").read_text())
        assert run_report["stop_reason"] == "pruned" and run_report["epochs_run"] < 12
        assert t.user_attrs["pruned_epoch"] == run_report["epochs_run"]
    assert result.report["counts"]["PRUNED"] == len(pruned)


def test_trials_never_read_the_test_source(tmp_path, monkeypatch):
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame.sample(frac=1.0, random_state=0)
    for name, part in (("train", frame[:90]), ("val", frame[90:120]), ("test", frame[120:])):
        part.to_csv(tmp_path / f"{name}.csv", index=False)
    reads = []
    real = loading.load_table
    monkeypatch.setattr(loading, "load_table", lambda source, cfg: reads.append(Path(source).name) or real(source, cfg))
    cfg = iris(tmp_path, 3)
    cfg["data"] = {"train": str(tmp_path / "train.csv"), "val": str(tmp_path / "val.csv"),
                   "test": str(tmp_path / "test.csv"), "target": "target"}
    result = tune(cfg)
    assert reads.count("train.csv") == 4 and reads.count("test.csv") == 1  # 3 trials + the final run
    assert reads[-3:] == ["train.csv", "val.csv", "test.csv"]  # ... and that one read is the final run's
    for t in result.study.trials:
        trial_report = json.loads((result.path / t.user_attrs["run"] / "report.json").read_text())
        assert trial_report["test"] is None and "test" not in trial_report["split_sizes"]
    assert result.final.report["split_sizes"]["test"] == 30 and result.final.metrics["accuracy"]


def test_multi_objective_search_reports_a_pareto_front(tmp_path):
    result = tune(iris(tmp_path, 4, metric=["val_accuracy", "params"], sampler="random"))
    report = result.report
    assert report["directions"] == ["maximize", "minimize"] and report["pruner"] == "none"
    assert report["pareto_front"] and all(len(row["values"]) == 2 for row in report["pareto_front"])
    assert report["best"]["number"] in [row["number"] for row in report["pareto_front"]]


def score(output, target):
    """Your own score, higher is better (netfit cannot know that from its name): the mean probability of the
    true class, which (unlike accuracy, 1.0 on iris's 23 validation rows for most rates) tells the rates apart."""
    return output.softmax(1).gather(1, target.view(-1, 1).long()).mean()


def test_the_study_maximises_a_custom_metric_monitored_with_mode_max(tmp_path):
    """The study's direction is early stopping's: a score with `mode: max` picks the trial that scored highest."""
    cfg = iris(tmp_path, 3, sampler="random", pruner="none", space={"train.optimizer.lr": {"log_uniform": [1e-5, 0.1]}})
    cfg["train"].update({"metrics": [score], "early_stopping": {"monitor": "val_score", "mode": "max", "patience": 10}})
    result = tune(cfg)
    values = {t.number: t.value for t in result.study.trials}
    assert len(set(values.values())) > 1, values  # the rates really score differently
    assert result.report["directions"] == ["maximize"]
    assert result.best.value == max(values.values()) and result.report["best"]["value"] == max(values.values())


@pytest.mark.parametrize("tune_cfg, needles", [
    ({"metric": "val_score"}, ["tune.direction", "val_score", "maximize"]),  # yours, no direction given
    ({"metric": "val_score", "direction": "minimize"}, ["train.early_stopping.mode", "max", "minimize"]),  # contradicts
])
def test_the_direction_of_a_tuned_custom_metric_is_never_guessed(tmp_path, tune_cfg, needles):
    from netfit.errors import ConfigError
    from netfit.tune.study import objectives

    cfg = iris(tmp_path, 2, **tune_cfg)
    cfg["train"].update({"metrics": [score], "early_stopping": {"monitor": "val_loss"}})
    if "direction" in tune_cfg:
        cfg["train"]["early_stopping"] = {"monitor": "val_score", "mode": "max"}
    with pytest.raises(ConfigError) as e:
        objectives(load_config(cfg))
    for needle in needles:
        assert needle in str(e.value), (needle, str(e.value))


def test_importances_of_a_multi_objective_search_follow_the_first_metrics_direction():
    """The first metric is maximised: what matters is what makes it high. Here x lifts the top values
    (y barely does), while below x = 0.5 only y moves them: importances for the low end would name y."""
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    from netfit.tune.report import importances

    study = optuna.create_study(directions=["maximize", "minimize"])
    space = {"x": FloatDistribution(0, 1), "y": FloatDistribution(0, 1)}
    for x in np.linspace(0, 1, 12):
        for y in np.linspace(0, 1, 12):
            params = {"x": float(x), "y": float(y)}
            study.add_trial(create_trial(params=params, distributions=space, values=[max(x, 0.5) + 0.1 * y, 1.0]))
    found = importances(study)
    assert found["x"] > found["y"], found


@pytest.mark.slow
def test_killed_study_resumes_without_losing_trials(tmp_path):
    cfg = iris(tmp_path, 6, pruner="none")
    cfg["train"].update({"epochs": 25, "early_stopping": None, "convergence": None})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.Popen([sys.executable, "-m", "netfit", "tune", "c.yaml", "-q"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list((tmp_path / "runs").glob("*/trials/2")) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)  # no clean-up at all: the worst case
    proc.wait()
    (tune_dir,) = (tmp_path / "runs").iterdir()
    before = {t.number: (t.state, t.values) for t in load_study(tune_dir).trials}
    assert sum(s == TrialState.COMPLETE for s, _ in before.values()) >= 2
    assert any(s == TrialState.RUNNING for s, _ in before.values())
    done = netfit_cli("tune", "c.yaml", "--resume", str(tune_dir), "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    after = load_study(tune_dir).trials
    assert len(after) > len(before)
    for t in after:  # every earlier trial is still there; completed ones keep their values
        if t.number in before and before[t.number][0] == TrialState.COMPLETE:
            assert (t.state, t.values) == before[t.number]
    interrupted = [t for t in after if t.user_attrs.get("interrupted")]
    assert len(interrupted) == 1 and interrupted[0].state == TrialState.FAIL
    retry = [t for t in after if t.user_attrs.get("retry_of") == interrupted[0].number]
    assert len(retry) == 1 and retry[0].params == interrupted[0].params
    assert sum(t.state == TrialState.COMPLETE for t in after) == 6
    assert (tune_dir / "final" / "report.json").is_file() and "best trial" in done.stdout


@pytest.mark.slow
def test_two_workers_share_one_study(tmp_path):
    cfg = iris(tmp_path, 6, pruner="none")
    cfg["train"].update({"epochs": 25, "early_stopping": None, "convergence": None})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    done = netfit_cli("tune", "c.yaml", "--workers", "2", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (tune_dir,) = (tmp_path / "runs").iterdir()
    trials = load_study(tune_dir).trials
    assert len(trials) == 6 and sorted(t.number for t in trials) == list(range(6))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    per_worker = {}
    for t in trials:
        per_worker[t.user_attrs["worker"]] = per_worker.get(t.user_attrs["worker"], 0) + 1
    assert len(per_worker) == 2 and min(per_worker.values()) >= 1, per_worker
    assert sorted(p.name for p in (tune_dir / "trials").iterdir()) == [str(n) for n in range(6)]
    assert not (tune_dir / "claim.lock").exists()  # the workers leave no lock behind


@pytest.mark.parametrize("extra, args, needles", [
    ({"tune": {"space": {}}}, [], ["nothing to tune", "tune.space", "how to fix"]),
    ({}, ["--set", "tune.metric=val_f1"], ["tune.metric is not a logged validation metric", "val_accuracy"]),
    ({}, ["--resume", "nowhere"], ["not a netfit tune folder", "nowhere"]),
    ({}, ["--set", "tune.direction=[minimize, maximize]"], ["one direction per metric"]),
])
def test_tune_mistakes_exit_2_with_a_message(tmp_path, extra, args, needles):
    cfg = iris(tmp_path, 1)
    cfg["train"]["epochs"] = 1
    cfg.update(extra)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    proc = netfit_cli("tune", "c.yaml", *args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)
