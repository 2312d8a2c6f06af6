"""The terminal display: a rich progress bar on a TTY, one plain line per epoch otherwise.

It is an ordinary callback, called at log reads and epoch ends only.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from netfit.data.summary import describe_validation
from netfit.train.callbacks import Callback


# written to a pipe or a log, rich would wrap at 80 columns (or $COLUMNS) and split a table's
# intervals over two lines; there, lines are as long as they need to be
UNWRAPPED = 10_000


def console(stderr: bool = False) -> Console:
    """netfit's rich console: a terminal's width on a terminal; elsewhere no line is wrapped."""
    plain = Console(stderr=stderr, highlight=False)
    return plain if plain.is_terminal else Console(stderr=stderr, highlight=False, width=UNWRAPPED)


def _fmt(row: dict[str, Any]) -> str:
    keys = [k for k in row if k.startswith(("train_", "val_"))]
    return "  ".join(f"{k} {row[k]:.4f}" for k in keys)


class Progress(Callback):
    def __init__(self, *, quiet: bool, run_dir: Path | None, n_params: int, prepared: Any) -> None:
        """`run_dir` None: a folder deleted after the run, so no path to it is printed."""
        self.quiet = quiet
        self.console = console()
        self.live = sys.stdout.isatty() and not quiet
        self.run_dir, self.n_params, self.prepared = run_dir, n_params, prepared
        self.bar = None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        if self.quiet:
            return
        sizes = ", ".join(f"{k} {n}" for k, n in self.prepared.sizes().items())
        self.console.print(f"netfit: {self.prepared.task} task; rows: {sizes}; model: {self.n_params:,} parameters")
        validation = self.prepared.summary.get("validation") or {}
        if validation.get("from") in ("carved", "none"):  # validation not given as such: say where it comes from
            self.console.print(f"validation: {describe_validation(validation)}")
        if self.run_dir is not None:
            self.console.print(f"run folder: {self.run_dir}")
        self.epochs = logs["epochs"]
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeRemainingColumn

            self.bar = Bar(TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TimeRemainingColumn(),
                           TextColumn("{task.fields[info]}"), console=self.console, transient=False)
            self.task = self.bar.add_task("train", total=self.epochs, info="")
            self.bar.start()

    def on_log(self, logs: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.update(self.task, info=f"batch {logs['batch']}  train_loss {logs['train_loss']:.4f}")

    def on_epoch_end(self, logs: dict[str, Any]) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.update(self.task, completed=logs["epoch"], info=_fmt(logs))
        else:
            self.console.print(f"epoch {logs['epoch']}/{self.epochs}  {_fmt(logs)}  ({logs['seconds']:.2f} s)")

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.stop()
        if not self.quiet:
            self.console.print(f"stopped after {logs['epochs']} epochs: {logs['message']}")
            for line in health_lines(logs.get("findings") or [], saved=self.run_dir is not None):
                self.console.print(line, markup=False)

    def on_report(self, report: dict[str, Any]) -> None:
        if self.quiet:
            return
        if report.get("test"):  # without a test split nothing was evaluated
            self.console.print(summary_table(report))
        for line in verdict_lines(report):
            self.console.print(line, highlight=False)
        if self.run_dir is None:
            return
        html = self.run_dir / "report.html"  # absent with evaluate.report_html off
        self.console.print(f"report: {html if html.is_file() else self.run_dir / 'report.json'}")


def health_lines(findings: list[dict[str, Any]], saved: bool = True) -> list[str]:
    """The training-health findings as a short list: what was seen, and the fix (docs/diagnostics.md).
    `saved`: the run folder is kept, so report.json can be pointed to."""
    if not findings:
        return []
    where = " (report.json: diagnostics)" if saved else ""
    lines = [f"training health: {len(findings)} finding{'s' * (len(findings) > 1)}{where}"]
    for f in findings:
        lines += [f"  - {f['code']}: {f['message']}", f"    fix: {f['fix']}"]
    return lines


def summary_table(report: dict[str, Any], subject: str = "test metrics", rows: int | None = None) -> Table:
    """Test metrics with their intervals, beside the dummy and linear baselines.

    `subject` and `rows` head the table: `metrics on new.csv (4 rows; 95% bootstrap interval)`."""
    level = interval_level(report.get("test"))
    details = [f"{rows} rows"] * (rows is not None) + [f"{level} bootstrap interval"] * bool(level)
    title = subject + (f" ({'; '.join(details)})" if details else "")
    table = Table(title=title, min_width=len(title))  # a title wider than the columns stays on one line
    table.add_column("metric")
    table.add_column("model")
    base = report.get("baselines") or {}
    for name in base:
        table.add_column(name)
    for metric, m in ((report.get("test") or {}).get("metrics") or {}).items():
        cells = [_cell(m)] + [_cell((base[b] or {}).get("metrics", {}).get(metric)) for b in base]
        table.add_row(metric, *cells)
    # a null baseline could not be fitted: the linear one on a training split of one class
    notes = [f"{b}: not fitted (the training split holds one class; a logistic regression needs two)"
             for b in base if base[b] is None]
    unseen = (report.get("test") or {}).get("unseen_labels") or {}
    if unseen:
        notes.append(f"{sum(unseen.values())} test rows hold labels not seen in training "
                     f"({', '.join(f'{label!r}: {n}' for label, n in unseen.items())}): counted as wrong")
    if notes:
        table.caption = "; ".join(notes)
    return table


def verdict_lines(report: dict[str, Any]) -> list[str]:
    """report.json's verdict against each baseline, one line each: `verdict: better than the linear model by ...`."""
    against = (report.get("verdict") or {}).get("against") or {}
    return [f"verdict: {v['text']}" for v in against.values()]


def interval_level(test: dict[str, Any] | None) -> str | None:
    """The level the intervals were computed at, as printed ("95%", "97.5%"): `evaluate.confidence`
    as report.json's `test.bootstrap` records it; None when the metrics have no intervals."""
    boot = (test or {}).get("bootstrap") or {}
    if not boot.get("resamples") or boot.get("confidence") is None:
        return None
    return f"{100 * boot['confidence']:g}%"


def _cell(m: dict[str, Any] | None) -> str:
    if not m or m.get("value") is None:
        return "-"
    if m.get("ci_low") is None:
        return f"{m['value']:.4f}"
    return f"{m['value']:.4f} [{m['ci_low']:.4f}, {m['ci_high']:.4f}]"
