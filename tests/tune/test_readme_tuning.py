"""The README's tuning section runs as written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.slow
def test_readme_tuning_block_runs(tmp_path):
    block = next(b for b in re.findall(r"```bash\n(.*?)```", README, flags=re.S) if "netfit tune" in b and "cat > tune.yaml" in b)
    script = block.replace(".venv/bin/netfit", f"{sys.executable} -m netfit")
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "best trial" in proc.stdout and "test accuracy" in proc.stdout and "lr:" in proc.stdout
    (tune_dir,) = (tmp_path / "runs").glob("run-tune-*")
    report = json.loads((tune_dir / "tune_report.json").read_text())
    assert len(report["trials"]) == 4 and (tune_dir / "best.yaml").is_file()
