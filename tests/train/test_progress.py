"""The terminal summaries: the interval level printed is the one evaluated."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from netfit.cli import _print_headline
from netfit.train.progress import summary_table


def report_at(confidence: float, resamples: int = 50) -> dict:
    ci = {"ci_low": 0.8, "ci_high": 0.9} if resamples else {"ci_low": None, "ci_high": None}
    return {"test": {"metrics": {"accuracy": {"value": 0.85, **ci}},
                     "bootstrap": {"resamples": resamples, "confidence": confidence, "seed": 0}},
            "baselines": None}


def rendered(table) -> str:
    console = Console(width=200, record=True)
    console.print(table)
    return " ".join(console.export_text().split())  # the title may wrap


def test_summary_table_and_headline_print_the_configured_confidence_level(capsys):
    text = rendered(summary_table(report_at(0.9)))
    assert "90% bootstrap interval" in text and "95%" not in text
    assert "97.5% bootstrap interval" in rendered(summary_table(report_at(0.975)))
    _print_headline(report_at(0.9), Path("runs/x"))
    out = capsys.readouterr().out
    assert "test accuracy: 0.8500 (90% CI 0.8000 to 0.9000)" in out and "95%" not in out


def test_summary_table_without_bootstrap_claims_no_interval():
    text = rendered(summary_table(report_at(0.95, resamples=0)))
    assert "interval" not in text and "0.8500" in text
