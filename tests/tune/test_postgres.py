"""Tuning workers sharing one study in a real PostgreSQL server (started here, on loopback)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _bin(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def _as_postgres(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; the tests (and CI) do run as root
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture
def postgres_url():
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not (initdb and pg_ctl):
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL server binaries are missing; .ci/run installs Debian's postgresql")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    root = Path(tempfile.mkdtemp(prefix="netfit-pg-", dir="/tmp"))
    root.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data = root / "data"
    subprocess.run(_as_postgres([initdb, "-D", str(data), "-U", "netfit", "--auth=trust"]), check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"]),
                   check=True, capture_output=True)
    try:
        yield f"postgresql://netfit@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_share_one_study_in_postgres(tmp_path, postgres_url):
    import optuna

    from netfit.tune.study import database_url

    cfg = tmp_path / "tune.yaml"
    cfg.write_text(f"""
name: pgsearch
output_dir: {tmp_path / 'runs'}
data: {{source: "sklearn:iris"}}
train: {{epochs: 4, threads: 1}}
evaluate: {{bootstrap: 0, baselines: false, report_html: false}}
tune:
  trials: 5
  pruner: none
  space:
    train.optimizer.lr: {{log_uniform: [1.0e-3, 1.0e-1]}}
""")
    proc = subprocess.run([sys.executable, "-m", "netfit", "tune", str(cfg), "--workers", "2", "--storage", postgres_url, "-q"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = optuna.load_study(study_name="pgsearch", storage=database_url(postgres_url))
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 5
    assert sorted(t.number for t in trials) == list(range(5))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2, workers  # each worker ran at least one trial
    (tune_dir,) = (tmp_path / "runs").iterdir()
    assert (tune_dir / "best.yaml").is_file() and (tune_dir / "tune_report.json").is_file()
