"""benchmarks/quality.py on one small set and one seed: the report is written and tells the truth.

The benchmark itself is not a test (its full run takes ~30 minutes); this runs netfit and the
scikit-learn contenders, which the test install has, plus a learner whose package is missing.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def quality(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("quality", BENCH / "quality.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "quality", module)
    spec.loader.exec_module(module)
    threads = torch.get_num_threads()
    yield module
    torch.set_num_threads(threads)  # main() limits torch to --threads for the whole process


def test_one_set_one_seed_writes_an_honest_report(quality, tmp_path, monkeypatch):
    from quality_learners import LEARNERS, Learner
    from quality_report import ranks, summarise

    monkeypatch.setitem(LEARNERS, "ghost", Learner(("table",), lambda job, rows: {}, "no_such_package_q17"))
    seen = []
    real = quality.run_benchmark
    monkeypatch.setattr(quality, "run_benchmark", lambda *a, **k: seen.extend(real(*a, **k)) or seen)
    out = tmp_path / "q.md"

    assert quality.main(["--sets", "breast_cancer", "--seeds", "1", "--learners",
                         "netfit,sklearn-mlp,linear,ghost", "--out", str(out)]) == 0

    text = out.read_text()
    assert "| breast_cancer | accuracy | 86 |" in text  # 15% of 569 rows
    netfit = next(r for r in seen if r["learner"] == "netfit")
    assert netfit["error"] is None and netfit["metrics"]["accuracy"] > 0.9, netfit
    linear = [r for r in seen if r["learner"] == "linear"]
    assert {r["rows"] for r in linear} == {"train", "train+val"} and all(r["metrics"]["accuracy"] > 0.9 for r in linear)

    summary = summarise(seen)
    names = ["netfit", "sklearn-mlp", "linear", "ghost"]
    rank = ranks(summary, ["breast_cancer"], names)
    assert rank[("breast_cancer", "ghost")] == 4  # not installed: last
    assert sum(rank.values()) == 10 and all(1 <= r <= 4 for r in rank.values())  # 1+2+3+4, ties averaged
    best = max(names[:3], key=lambda n: summary[("breast_cancer", n)]["mean"])
    assert rank[("breast_cancer", best)] == min(rank.values())
    ranks_row = next(line for line in text.splitlines() if line.startswith("| breast_cancer | ") and " s) |" in line)
    assert ranks_row.split(" | ")[1].startswith(f"{rank[('breast_cancer', 'netfit')]:g} (")  # the file says the same
    assert ranks_row.rstrip(" |").endswith(" 4")  # ghost: ranked, no seconds
    assert "| not installed |" in text
    verdict = next(line for line in text.splitlines() if "tables: netfit mean rank" in line)
    assert verdict.startswith(("- PASS", "- FAIL"))


def test_bad_command_lines_exit_2(quality, capsys):
    for argv in (["--sets", "no_such_set"], ["--learners", "nope"], ["--seeds", "0"], ["--set", "train.epochs=3"],
                 ["--ablate", "--set", "novalue"]):
        with pytest.raises(SystemExit) as stop:
            quality.parse_args(argv)
        assert stop.value.code == 2, argv
    assert "expected some of" in capsys.readouterr().err


def test_ablation_variants_apply_netfit_overrides(quality):
    args = quality.parse_args(["--ablate", "--sets", "iris", "--set", "train.optimizer.lr=3e-3", "--set", "model.hidden=[64]"])
    assert args.variants["defaults"] == {}
    assert args.variants["--set train.optimizer.lr=3e-3 model.hidden=[64]"] == {"train.optimizer.lr": 3e-3,
                                                                                "model.hidden": [64]}
    assert args.out.name == "quality_ablation.md"
