"""What a first-time user trips over (issue 22): the version, override typos, data paths, choice
values in the docs, `netfit check`'s length, arrays a model asks to read as images or sequences."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from netfit._version import __version__
from netfit.config import render_docs

ROOT = Path(__file__).resolve().parents[1]


def netfit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netfit", *args], capture_output=True, text=True, cwd=cwd)


def test_version_prints_the_package_version():
    proc = netfit("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"netfit {__version__}"
    assert "--version" in netfit("--help").stdout


def test_a_typo_in_an_override_names_the_override(tmp_path):
    (tmp_path / "c.yaml").write_text("data: {source: 'sklearn:iris'}\n")
    proc = netfit("check", "c.yaml", "--set", "train.optimzer.lr=0.01", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "where: --set train.optimzer.lr=0.01" in proc.stderr, proc.stderr
    assert "did you mean `train.optimizer`" in proc.stderr
    # a problem of the file itself still points at the file
    (tmp_path / "c.yaml").write_text("data: {source: 'sklearn:iris'}\ntrian: {}\n")
    proc = netfit("check", "c.yaml", "--set", "train.epochs=3", cwd=tmp_path)
    assert proc.returncode == 2 and "where: c.yaml" in proc.stderr, proc.stderr


def test_the_config_page_lists_the_allowed_values_of_choice_fields():
    page = render_docs()
    assert "| field | default | allowed | meaning |" in page
    row = next(line for line in page.splitlines() if line.startswith("| `train.optimizer.name`"))
    assert "`sgd`, `adam`, `adamw`, `rmsprop`" in row
    row = next(line for line in page.splitlines() if line.startswith("| `data.preprocess.missing`"))
    assert "`median`, `mean`, `constant`" in row
    row = next(line for line in page.splitlines() if line.startswith("| `model.activation`"))
    assert "`gelu`" in row
    row = next(line for line in page.splitlines() if line.startswith("| `train.batch_size`"))
    assert "`auto`, an integer" in row
    # the page in the repository is this one (tests/test_config.py checks it is fresh)
    assert page == (ROOT / "docs" / "config.md").read_text()


def test_a_data_path_is_also_looked_up_beside_the_config(tmp_path):
    (tmp_path / "project").mkdir()
    rows = "".join(f"{i},{i % 2}\n" for i in range(60))
    (tmp_path / "project" / "train.csv").write_text("a,y\n" + rows)
    (tmp_path / "project" / "c.yaml").write_text("data: {source: train.csv, target: y}\n")
    proc = netfit("check", "project/c.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "source: project/train.csv" in proc.stdout  # the resolved config says which file it read
    # a typo: both places named, and the file it probably meant
    (tmp_path / "project" / "c.yaml").write_text("data: {source: trian.csv, target: y}\n")
    proc = netfit("check", "project/c.yaml", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "data file not found" in proc.stderr and "where: project/c.yaml: data.source" in proc.stderr
    assert str(tmp_path / "trian.csv") in proc.stderr and str(tmp_path / "project" / "trian.csv") in proc.stderr
    assert "did you mean `train.csv`" in proc.stderr, proc.stderr


def test_a_typo_in_a_data_file_name_gets_a_did_you_mean_from_python(tmp_path):
    import netfit as nf
    from netfit.errors import DataError

    (tmp_path / "houses.csv").write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(30)))
    with pytest.raises(DataError, match=r"did you mean `.*houses\.csv`"):
        nf.fit({"data": {"source": str(tmp_path / "house.csv"), "target": "y"}})


def test_tune_writes_the_tuned_values_apart_cleans_its_lock_and_qualifies_few_trial_importances(tmp_path):
    import yaml

    space = {"train.optimizer.lr": {"log_uniform": [1e-3, 1e-1]}, "model.hidden": {"choice": [[8], [16]]}}
    cfg = {"data": {"source": "sklearn:iris"}, "name": "iris", "output_dir": "runs", "train": {"epochs": 3},
           "evaluate": {"bootstrap": 0, "baselines": False, "report_html": False},
           "tune": {"trials": 4, "space": space, "pruner": "none"}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    proc = netfit("tune", "c.yaml", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (tune_dir,) = (tmp_path / "runs").iterdir()
    best = yaml.safe_load((tune_dir / "best_params.yaml").read_text())
    assert set(best) == {"train", "model"} and set(best["train"]) == {"optimizer"}  # the tuned values only
    assert best["model"]["hidden"] in ([8], [16]) and 1e-3 <= best["train"]["optimizer"]["lr"] <= 1e-1
    whole = yaml.safe_load((tune_dir / "best.yaml").read_text())
    assert whole["train"]["optimizer"]["lr"] == best["train"]["optimizer"]["lr"]
    assert f"tuned values: {Path('runs') / tune_dir.name / 'best_params.yaml'}" in proc.stdout, proc.stdout
    assert not (tune_dir / "claim.lock").exists()
    assert "importances (rough: from 4 complete trials; 20 or more make them steadier):" in proc.stdout, proc.stdout


def test_the_claim_lock_can_be_removed_while_others_wait_for_it(tmp_path):
    """A worker waiting on the lock file that the holder removes locks the new file instead: no two
    workers ever hold the lock at once."""
    import threading
    import time

    from netfit.tune.study import claim_lock

    held: dict[str, tuple[float, float]] = {}

    def hold(name: str, seconds: float) -> None:
        with claim_lock(tmp_path):
            start = time.monotonic()
            time.sleep(seconds)
            held[name] = (start, time.monotonic())

    with claim_lock(tmp_path) as remove:
        waiting = threading.Thread(target=hold, args=("waiting", 0.2))
        waiting.start()
        time.sleep(0.2)  # it now waits on the lock file
        remove()  # the study needs no more trials: the file goes when this holder lets go
    newcomer = threading.Thread(target=hold, args=("newcomer", 0.2))  # finds no file and makes a new one
    newcomer.start()
    waiting.join()
    newcomer.join()
    (a, b), (c, d) = held["waiting"], held["newcomer"]
    assert b <= c or d <= a, held  # never at the same time


def test_check_prints_the_plan_first_then_only_the_fields_of_the_model_type(tmp_path):
    (tmp_path / "c.yaml").write_text("data: {source: 'sklearn:iris'}\n")
    proc = netfit("check", "c.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("plan:") and out.index("steps per epoch") < out.index("name: run")
    assert "model: mlp (model.type auto, for table data)" in out
    assert "numeric_embedding:" in out and "hidden:" in out
    for other in ("kernel_size:", "d_model:", "cell:", "channels:", "pooling:"):
        assert other not in out, other
    assert "model fields that mlp does not read are left out (--full shows them)" in out
    full = netfit("check", "c.yaml", "--full", cwd=tmp_path).stdout
    assert "kernel_size:" in full and "d_model:" in full
    cnn = netfit("check", str(ROOT / "examples" / "digits_cnn.yaml"), "--no-plan", cwd=tmp_path).stdout
    assert "kernel_size:" in cnn and "d_model:" not in cnn and "numeric_embedding:" not in cnn


def test_the_model_fields_of_each_type_follow_their_descriptions():
    """A field described as `cnn: ...` (or `cnn, rnn: ...`) is listed for those types in the plan's table."""
    import re

    from netfit.config import ModelConfig
    from netfit.plan import MODEL_FIELD_TYPES

    assert set(MODEL_FIELD_TYPES) <= set(ModelConfig.model_fields)
    for name, field in ModelConfig.model_fields.items():
        prefix = re.match(r"((?:mlp|cnn|rnn|transformer)(?:, (?:mlp|cnn|rnn|transformer))*)( on \w+)?:", field.description)
        if prefix:
            assert set(prefix.group(1).split(", ")) <= set(MODEL_FIELD_TYPES.get(name, ())), name


def test_a_model_that_reads_sequences_or_images_reads_a_3d_array_as_them(tmp_path):
    """(N, 30, 1) is a series of 30 steps, read as sequences under data.kind auto; (N, 5, 5) is too
    short for one, so data.kind auto flattens it, but a cnn asks for small images and gets them.
    The plan says what was inferred."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 6, 30)
    freq = rng.integers(0, 2, 160)
    x = np.sin(np.outer(1 + 2 * freq, t))[:, :, None] + 0.1 * rng.normal(size=(160, 30, 1))
    np.savez(tmp_path / "waves.npz", x=x.astype(np.float32), y=freq)
    (tmp_path / "rnn.yaml").write_text("data: {source: waves.npz}\nmodel: {type: rnn, units: 8, num_layers: 1, "
                                       "hidden: [8]}\ntrain: {epochs: 3}\nevaluate: {bootstrap: 0, report_html: false}\n")
    proc = netfit("check", "rnn.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "data kind: sequence (inferred: data.kind auto)" in proc.stdout, proc.stdout
    proc = netfit("train", "rnn.yaml", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run,) = (tmp_path / "runs").iterdir()
    proc = netfit("predict", str(run), "waves.npz", "-o", "p.csv", cwd=tmp_path)
    assert proc.returncode == 0 and "wrote 160 predictions" in proc.stdout, proc.stderr
    proc = netfit("train", "rnn.yaml", "-q", "--resume", str(run), "--set", "train.epochs=4", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr  # data.kind auto resumes as the sequence the run read

    np.savez(tmp_path / "small.npz", x=rng.normal(size=(60, 5, 5)).astype(np.float32), y=np.arange(60) % 2)
    (tmp_path / "cnn.yaml").write_text("data: {source: small.npz}\nmodel: {type: cnn, channels: [4]}\n")
    proc = netfit("check", "cnn.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "data kind: image (inferred: model.type cnn reads the (N, 5, 5) array as images" in proc.stdout
