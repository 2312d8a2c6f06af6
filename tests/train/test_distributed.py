"""Data-parallel training under torchrun (gloo on CPU): same weights as one process, two "nodes"
on loopback, and a dead rank that ends the whole job instead of hanging it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

pytestmark = pytest.mark.slow

CONFIG = """
name: ddp
seed: 3
data: {source: "sklearn:digits"}
model: {hidden: [32], dropout: 0.0, norm: none}
train:
  epochs: 3
  batch_size: 64
  optimizer: {name: sgd, lr: 0.05, momentum: 0.0, weight_decay: 0.0}
  schedule: {name: constant}
  early_stopping: null
  convergence: null
  threads: 1
evaluate: {bootstrap: 0, baselines: false, report_html: false}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train(tmp: Path, *extra: str, timeout: int = 300) -> Path:
    tmp.mkdir()
    cfg = tmp / "c.yaml"
    cfg.write_text(CONFIG + f"output_dir: {tmp / 'runs'}\n")
    proc = subprocess.run([sys.executable, "-m", "netfit", "train", str(cfg), "-q", *extra],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (tmp / "runs").iterdir()
    return run


def test_two_ranks_reach_the_weights_of_one_process(tmp_path):
    one = train(tmp_path / "one")
    two = train(tmp_path / "two", "--nproc", "2")
    a, b = load_file(str(one / "model.safetensors")), load_file(str(two / "model.safetensors"))
    for name in a:
        np.testing.assert_allclose(a[name].numpy(), b[name].numpy(), rtol=0, atol=1e-6, err_msg=name)
    assert json.loads((two / "report.json").read_text())["world_size"] == 2
    assert json.loads((one / "report.json").read_text())["world_size"] == 1
    # rank 0 reports training health; its gradients are the one process's
    health = [json.loads((run / "report.json").read_text())["diagnostics"] for run in (one, two)]
    assert health[1]["samples"] == health[0]["samples"] > 0 and "findings" in health[1]
    np.testing.assert_allclose(health[1]["layers"][0]["grad_norm"], health[0]["layers"][0]["grad_norm"], rtol=1e-4)
    tree = lambda run: sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())  # noqa: E731
    assert tree(one) == tree(two)


def two_nodes(cfg: Path) -> tuple[int, str]:
    """Node 1's exit status and stderr, once node 0 is done with (or stuck at the end of) the job."""
    port = free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node-rank", str(rank),
                               "--nproc-per-node", "1", "--master-addr", "127.0.0.1", "--master-port", str(port),
                               "-m", "netfit", "train", str(cfg), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for rank in (0, 1)]
    _, err1 = procs[1].communicate(timeout=300)
    try:
        _, err0 = procs[0].communicate(timeout=120)
        assert procs[0].returncode == 0, err0[-2000:]
    except subprocess.TimeoutExpired:
        # node 0's worker finished (its run folder is complete) but its torchrun agent can wait out the
        # 300 s exit barrier when node 1's agent left first: torch's race, pytorch/pytorch#69520 (open).
        # On a loaded 2-core machine it happened once in a CI run; it is not netfit's to fix.
        procs[0].kill()
        procs[0].communicate()
    return procs[1].returncode, err1


def test_two_nodes_on_loopback_train_together(tmp_path):
    for attempt in (1, 2):
        cfg = tmp_path / f"c{attempt}.yaml"
        cfg.write_text(CONFIG + f"output_dir: {tmp_path / f'runs{attempt}'}\n")
        code, err = two_nodes(cfg)
        # Once in ~30 CI runs node 1's worker aborted in gloo's C++ teardown after the process group was
        # destroyed ("terminate called without an active exception", SIGABRT), on a loaded 2-core
        # machine; the job had trained. Such an abort gets one more try; any other failure fails at once.
        if code == 0 or "SIGABRT" not in err or attempt == 2:
            break
    assert code == 0, err[-2000:]
    (run,) = (tmp_path / f"runs{attempt}").iterdir()  # only rank 0 writes a run folder
    assert json.loads((run / "report.json").read_text())["world_size"] == 2


STEPS = """
import sys
import torch
sys.path.insert(0, sys.argv[2])
import test_loss_of_a_step as t
from netfit.train import distributed

torch.set_num_threads(1)
d = distributed.from_env()
distributed.start(d, "cpu")
found = []
for c in t.DDP_CASES:
    x, y, w, _, cfg = t.case(*c)
    _, grads, state = t.run_steps(x, y, w, cfg, dist=d)
    found.append((grads, getattr(state, "skipped_steps", 0)))
if d.rank == 0:
    torch.save(found, sys.argv[1])
distributed.stop(d)
"""


def test_two_ranks_take_the_one_process_step_with_weights_class_weights_and_accumulation(tmp_path):
    """The loss of a step under DDP: sum(w*c_y*l)/sum(w*c_y) over every rank's rows (docs/reliability.md)."""
    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    import test_loss_of_a_step as t

    script, out = tmp_path / "steps.py", tmp_path / "steps.pt"
    script.write_text(STEPS)
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           str(script), str(out), str(Path(__file__).parent)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = torch.load(out, weights_only=False)
    for c, (grads, skipped) in zip(t.DDP_CASES, found, strict=True):
        x, y, w, cw, cfg = t.case(*c)
        model, _, _ = t.run_steps(x, y, w, cfg)  # the model the steps were taken at (lr 1e-12)
        theirs = t.hand_step_gradients(model, x, y, w, cw, cfg.batch_size, cfg.accumulate)
        t.assert_same_steps(grads, theirs)
        assert skipped == sum(g is None for g in theirs), c


KILLER = """
import os, signal, sys
import netfit

class KillRankOne(netfit.Callback):
    def on_epoch_end(self, logs):
        if os.environ["RANK"] == "1" and logs["epoch"] == 1:
            os.kill(os.getpid(), signal.SIGKILL)

netfit.fit(sys.argv[1], callbacks=[KillRankOne()], train__epochs=50)
"""


def test_a_dead_rank_ends_the_job_instead_of_hanging(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG + f"output_dir: {tmp_path / 'runs'}\n")
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           str(script), str(cfg)], capture_output=True, text=True, timeout=240)  # the hang guard
    assert proc.returncode != 0
    assert "Signals.SIGKILL" in proc.stderr or "SIGKILL" in proc.stderr or "exitcode" in proc.stderr


def test_two_ranks_resume_with_the_same_world_size(tmp_path):
    """2 ranks train 2 epochs; resumed to 4 epochs they end where an uninterrupted 4-epoch job ends."""
    full = train(tmp_path / "full", "--nproc", "2", "--set", "train.epochs=4")
    short = train(tmp_path / "short", "--nproc", "2", "--set", "train.epochs=2")
    proc = subprocess.run([sys.executable, "-m", "netfit", "train", str(tmp_path / "short" / "c.yaml"), "-q",
                           "--resume", str(short), "--nproc", "2", "--set", "train.epochs=4"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = load_file(str(full / "model.safetensors")), load_file(str(short / "model.safetensors"))
    for name in a:
        np.testing.assert_array_equal(a[name].numpy(), b[name].numpy(), err_msg=name)
    report = json.loads((short / "report.json").read_text())
    assert report["epochs_run"] == 4 and report["world_size"] == 2 and report["resumed"]


def test_batch_norm_trains_when_the_last_batch_leaves_a_rank_one_row(tmp_path):
    """digits' 1257 training rows in batches of 66 end with 3 rows: 2 for rank 0, 1 for rank 1,
    which batch norm cannot normalise; that batch is dropped and the job trains."""
    run = train(tmp_path / "bn", "--nproc", "2", "--set", "model.norm=batch", "--set", "train.batch_size=66",
                "--set", "train.epochs=1")
    report = json.loads((run / "report.json").read_text())
    assert report["world_size"] == 2 and report["stop_reason"] == "max_epochs"
