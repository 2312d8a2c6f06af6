"""compare.html: several runs side by side (test metrics with intervals, overlaid curves, config
differences), read from their run folders. Self-contained like report.html.

Example:
    >>> from netfit.evaluate.compare import write_compare
    >>> write_compare(["runs/a-...", "runs/b-..."], "compare.html")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from netfit.config import flatten
from netfit.errors import RunError
from netfit.evaluate import plots
from netfit.evaluate.html import esc, figure, fmt, grid, metric_cell, page, section, table
from netfit.evaluate.report import RunFiles, monitored, read_run
from netfit.io import write_text

CURVES = ("train_loss", "val_loss", "val_accuracy", "val_rmse", "val_mae", "lr")


def write_compare(run_dirs: list[str | Path], output: str | Path, lead: str = "") -> Path:
    """Read the runs, write the comparison page to `output` (`lead`: a section put first, the
    summary of `netfit repeat` or `netfit cv`), return its path."""
    if len(run_dirs) < 2:
        raise RunError("compare needs at least two run folders", found=f"{len(run_dirs)}: {', '.join(map(str, run_dirs))}",
                       hint="netfit compare RUN1 RUN2 [RUN3 ...] -o compare.html")
    runs = [read_run(d) for d in run_dirs]
    return write_text(output, render_compare(runs, lead))


def render_compare(runs: list[RunFiles], lead: str = "") -> str:
    """The comparison page as a string."""
    labels = _labels(runs)
    body = lead + section("metrics", "Test metrics", metrics_side_by_side(runs, labels))
    body += section("curves", "Learning curves", overlaid_curves(runs, labels))
    body += section("config", "Config differences", config_differences(runs, labels))
    return page(f"netfit compare: {len(runs)} runs", body)


def spread_section(anchor: str, heading: str, intro: str, metrics: dict[str, dict[str, float]],
                   verdict: dict | None, extra: tuple[str, dict[str, float]] | None = None) -> str:
    """A set of runs summed up: per metric the mean, std, min and max over the runs (and an `extra`
    column, e.g. the final run's test value), then each verdict's sentence."""
    head = ["metric", "mean", "std", "min", "max", *([extra[0]] if extra else [])]
    rows = [[name, *(fmt(m[k], 4) for k in ("mean", "std", "min", "max")),
             *([fmt(extra[1].get(name), 4)] if extra else [])] for name, m in metrics.items()]
    said = "".join(f"<p>{esc(v['text'])}</p>" for v in ((verdict or {}).get("against") or {}).values())
    return section(anchor, heading, f"<p>{esc(intro)}</p>" + table(head, rows) + said)


def _labels(runs: list[RunFiles]) -> list[str]:
    """Folder names, made unique (two folders may share a name in different places)."""
    names = [r.label for r in runs]
    return [n if names.count(n) == 1 else f"{n} ({r.path.parent})" for n, r in zip(names, runs)]


def metrics_side_by_side(runs: list[RunFiles], labels: list[str]) -> str:
    blocks = [(r.report.get("test") or {}).get("metrics") or {} for r in runs]
    names = list(dict.fromkeys(name for b in blocks for name in b))
    rows = [[name, *(metric_cell(b.get(name)) for b in blocks)] for name in names]
    facts = [["epochs (best)", *(f"{r.report.get('epochs_run')} ({r.report.get('best_epoch')})" for r in runs)],
             ["stop reason", *(r.report.get("stop_reason") for r in runs)],
             ["train seconds", *(fmt(r.report.get("train_seconds"), 2) for r in runs)],
             ["parameters", *(f"{r.report.get('n_params', 0):,}" for r in runs)]]
    note = '<p class="muted">Intervals are percentile bootstrap intervals of each run\'s own test split; ' \
           "runs with different data or seeds were tested on different rows.</p>"
    return table(["metric", *labels], rows + facts) + note


def overlaid_curves(runs: list[RunFiles], labels: list[str]) -> str:
    figs = []
    for column in _curve_columns(runs):
        series = {label: (r.history["epoch"], r.history[column])
                  for label, r in zip(labels, runs) if column in r.history}
        figs.append(figure(plots.overlaid(series, column, log=column == "lr"), f"{column} per epoch, one line per run",
                           caption=f"{column}: {', '.join(series)}"))
    return grid(figs) if figs else '<p class="muted">No history recorded.</p>'


def _curve_columns(runs: list[RunFiles]) -> list[str]:
    """The losses, each run's monitored metric and the lr, in a stable order, where logged."""
    wanted = list(CURVES) + [m for r in runs if (m := monitored(r.config)) and m not in CURVES]
    return [c for c in wanted if any(c in r.history for r in runs)]


def config_differences(runs: list[RunFiles], labels: list[str]) -> str:
    flat = [flatten(r.config) for r in runs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    missing = object()
    differing = [k for k in keys if len({repr(f.get(k, missing)) for f in flat}) > 1]
    if not differing:
        return "<p>The resolved configs are identical.</p>"
    # config values exactly as written (repr of floats: 1e-05 must not round to 0.0000)
    rows = [[k, *(("null" if f[k] is None else str(f[k])) if k in f else "(absent)" for f in flat)] for k in differing]
    return table(["field", *labels], rows, numeric_from=len(labels) + 1) + \
        f'<p class="muted">{esc(len(differing))} of {esc(len(keys))} fields differ; the rest are equal.</p>'
