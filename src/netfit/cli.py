"""The `netfit` command line. Heavy libraries (torch, pandas, sklearn) load only inside commands.

User mistakes (`NetfitError`) print a short message and exit 2 (3 for a diverged run);
bugs keep their traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from netfit.errors import DivergenceError, NetfitError, show_warnings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train neural networks end to end, the careful way, and report the result honestly.",
)

def _print_version(value: bool) -> None:
    if value:
        from netfit._version import __version__

        typer.echo(f"netfit {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print netfit's version and exit."),
) -> None:
    """Train neural networks end to end, the careful way, and report the result honestly."""


SET_HELP = "Override a config field, e.g. --set train.optimizer.lr=3e-4 (repeatable)."


@app.command()
def train(
    config: Path = typer.Argument(..., help="YAML config file."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help=SET_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue this run folder from its newest checkpoint."),
    nproc: int = typer.Option(1, "--nproc", help="Data-parallel processes on this machine (starts torchrun)."),
) -> None:
    """Train a model: data -> split -> preprocess -> train -> test once -> run folder with report."""
    import os

    from netfit.config import load_config
    from netfit.run import train_run

    if nproc > 1 and "WORLD_SIZE" not in os.environ:  # not yet under torchrun: start it, same command
        from netfit.train.distributed import launch

        args = ["train", str(config), *[a for s in (set_ or []) for a in ("--set", s)], *(["-q"] if quiet else []),
                *(["--resume", str(resume)] if resume else [])]
        raise typer.Exit(launch(nproc, args))

    if resume is not None:
        from netfit.resume import resume_config

        cfg = resume_config(resume, config, set_ or [])
    else:
        cfg = load_config(config, set_ or [])
    try:
        run = train_run(cfg, quiet=quiet, resume=resume)
    except KeyboardInterrupt:  # a second Ctrl-C: stopped at once, without a new checkpoint
        typer.secho("error: interrupted twice: stopped at once (the last checkpoint written is kept)",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(130) from None
    if run is None:  # a torchrun rank other than 0: rank 0 reports
        return
    report = run.report
    if report.get("stop_reason") == "diverged":  # the run folder is complete; main() prints this and exits 3
        raise DivergenceError(f"training diverged: {report['stop_message']}.\n  the best weights (epoch "
                              f"{report.get('best_epoch')}) were kept in {run.path}",
                              hint="lower train.optimizer.lr, or set train.grad_clip (e.g. 1.0)")
    _print_headline(report, run.path)


def _print_headline(report: dict, path: Path) -> None:
    from netfit.train.progress import interval_level

    metrics = (report.get("test") or {}).get("metrics") or {}
    key = "accuracy" if "accuracy" in metrics else "r2" if "r2" in metrics else None
    level = interval_level(report.get("test"))
    if key:
        m = metrics[key]
        ci = f" ({level} CI {m['ci_low']:.4f} to {m['ci_high']:.4f})" if level and m.get("ci_low") is not None else ""
        typer.echo(f"test {key}: {m['value']:.4f}{ci}")
    typer.echo(f"run folder: {path}")


@app.command()
def check(
    config: Path = typer.Argument(..., help="YAML config file."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help=SET_HELP),
    plan: bool = typer.Option(True, help="Also load the data and build the model to print the plan."),
    full: bool = typer.Option(False, "--full", help="Print every model field, also those the model type does not read."),
) -> None:
    """Validate a config; print the training plan, then the config resolved (all defaults filled in)."""
    from netfit.config import load_config
    from netfit.plan import describe_plan, resolved_config

    cfg = load_config(config, set_ or [])
    model_type = None if cfg.model.type == "auto" or cfg.model.module else cfg.model.type
    if plan:
        text, model = describe_plan(cfg)
        typer.echo(text + "\n")
        model_type = None if cfg.model.module else model.type
    typer.echo(resolved_config(cfg, None if full else model_type), nl=False)


@app.command()
def predict(
    run: Path = typer.Argument(..., help="Run folder."),
    data: Path = typer.Argument(..., help="CSV, Parquet or .npz file to predict (no target needed)."),
    output: Path = typer.Option(..., "--output", "-o", help="CSV file to write."),
    keep: list[str] = typer.Option([], "--keep", help="An input column to copy into the output (an id, say); repeatable."),
    intervals: bool = typer.Option(True, "--intervals/--no-intervals",
                                   help="Write the conformal `lower`/`upper` (regression) or `set` (classification) "
                                        "columns when the run fitted them (evaluate.conformal)."),
    min_confidence: Optional[float] = typer.Option(None, "--min-confidence",
                                                   help="Classification: add an `abstain` column, true where the "
                                                        "top-class probability is below this value."),
) -> None:
    """Apply a trained run's preprocessing and model to new data; write predictions (calibrated probabilities,
    conformal intervals or sets)."""
    from netfit.api import load
    from netfit.io import write_text

    frame = load(run).predict(data, keep=keep, intervals=intervals, min_confidence=min_confidence)
    write_text(output, frame.to_csv(index=False))
    typer.echo(f"wrote {len(frame)} predictions to {output}")


@app.command()
def evaluate(
    run: Path = typer.Argument(..., help="Run folder."),
    data: Path = typer.Argument(..., help="Labelled CSV or Parquet file."),
    resamples: int = typer.Option(1000, help="Bootstrap resamples for the intervals."),
) -> None:
    """Score a labelled file with a trained run: metrics with bootstrap intervals (at the run's evaluate.confidence).

    Fewer than 30 rows get a warning: metrics and intervals from so few rows mean little."""
    from netfit.api import load
    from netfit.train.progress import console, summary_table

    result = load(run).evaluate(data, resamples=resamples)
    console().print(summary_table({"test": result}, subject=f"metrics on {data}", rows=result["n"]))
    cover = result.get("conformal")
    if cover and cover["test"]["coverage"] is not None:
        t = cover["test"]
        typer.echo(f"conformal coverage: {t['coverage']:.3f} [{t['ci_low']:.3f}, {t['ci_high']:.3f}] on {t['n']} rows "
                   f"(nominal {cover['nominal']:.2f})")


@app.command()
def report(run: Path = typer.Argument(..., help="Run folder.")) -> None:
    """Show a run's test report and rebuild its report.html and model_card.md (no retraining)."""
    from netfit.api import load
    from netfit.evaluate.model_card import write_model_card
    from netfit.evaluate.report import write_report
    from netfit.train.progress import console, summary_table

    rep = load(run).report
    console().print(summary_table(rep))
    typer.echo(f"stop reason: {rep.get('stop_reason')} ({rep.get('stop_message')}); epochs: {rep.get('epochs_run')}")
    typer.echo(f"report: {write_report(run)}")
    typer.echo(f"model card: {write_model_card(run)}")


@app.command()
def compare(
    runs: List[Path] = typer.Argument(..., help="Two or more run folders."),
    output: Path = typer.Option(Path("compare.html"), "--output", "-o", help="HTML file to write."),
) -> None:
    """Write a page comparing runs: test metrics with intervals, overlaid curves, config differences."""
    from netfit.evaluate.compare import write_compare

    typer.echo(f"wrote {write_compare(runs, output)}")


@app.command()
def export(
    run: Path = typer.Argument(..., help="Run folder."),
    format_: str = typer.Option("onnx", "--format", help="Export format: onnx."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Folder to write (default: RUN/export)."),
    dynamo: bool = typer.Option(False, help="Use torch's dynamo exporter (slower here; the default is the TorchScript one)."),
) -> None:
    """Export a run's model (ONNX) with its preprocessing metadata beside it; checks it with onnxruntime."""
    from netfit.errors import ConfigError

    if format_ != "onnx":
        raise ConfigError("unknown export format", where="--format", expected="onnx", found=format_,
                          hint="use --format onnx")
    from netfit.export import export_onnx

    result = export_onnx(run, output, dynamo=dynamo)
    typer.echo(f"wrote {result['onnx']} and {result['metadata']} ({result['exporter']} exporter, {result['seconds']:.2f} s)")
    typer.echo(f"onnxruntime vs PyTorch: max abs difference {result['max_abs_diff']:.2e}")


@app.command()
def serve(
    run: Path = typer.Argument(..., help="Run folder."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (127.0.0.1: this machine only)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    max_rows: int = typer.Option(10000, min=1, help="Most rows accepted in one /predict request."),
    max_body: int = typer.Option(16 * 1024 * 1024, min=1, help="Largest request body in bytes; a larger one gets "
                                 "413 before it is parsed."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, show_default="min(4, CPU count)",
                                          help="Predictions running at once in each process (its inference "
                                          "thread pool); /health answers meanwhile."),
    workers: int = typer.Option(1, "--workers", min=1, help="Server processes; /metrics adds up all of them."),
    log_format: str = typer.Option("text", "--log-format", help="Access log: text, or json (one object a line)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No start-up line and no access log."),
) -> None:
    """Serve predictions over HTTP: POST /predict, GET /health, GET /schema, GET /metrics, GET /docs (OpenAPI)."""
    import json
    import os
    import shutil
    import tempfile

    import uvicorn

    from netfit.serve import ENV_SETTINGS, THREADS, access_logger, create_app

    if log_format not in ("text", "json"):
        raise typer.BadParameter(f"expected text or json, got {log_format!r}", param_hint="--log-format")
    threads = threads or THREADS
    # loaded here in every case, so a wrong run folder is an error before any worker starts
    application = create_app(run, max_rows=max_rows, max_body=max_body, threads=threads,
                             access_log=None if quiet else access_logger(log_format))
    if not quiet:
        typer.echo(f"netfit serve: {Path(run).name} listening on http://{host}:{port} "
                   f"({workers} worker{'s' if workers > 1 else ''} x {threads} inference threads; Ctrl-C stops)")
    if workers == 1:
        uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False)
        return
    del application
    # several processes: each builds the app from these settings, and Prometheus' multiprocess mode
    # (a folder of per-process files, wiped at start and removed at exit) lets /metrics sum them
    metrics_dir = tempfile.mkdtemp(prefix="netfit-serve-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    os.environ[ENV_SETTINGS] = json.dumps({"run": str(Path(run).resolve()), "max_rows": max_rows,
                                           "max_body": max_body, "threads": threads,
                                           "log_format": log_format, "quiet": quiet})
    try:
        uvicorn.run("netfit.serve:app_from_env", factory=True, workers=workers, host=host, port=port,
                    log_level="warning", access_log=False)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


@app.command()
def datasets() -> None:
    """List the data sets bundled with scikit-learn that netfit can use as `sklearn:NAME`."""
    from netfit.data.sources import list_datasets

    for row in list_datasets():
        typer.echo("  ".join(f"{k}={v}" for k, v in row.items()))


@app.command()
def tune(
    config: Path = typer.Argument(..., help="YAML config file with a tune: section."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help=SET_HELP),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the study of this tune folder."),
    workers: int = typer.Option(1, "--workers", help="Local processes sharing the study."),
    storage: Optional[str] = typer.Option(None, "--storage", help="Shared study database for workers on many "
                                          "machines, e.g. postgresql://user:pw@host/db (sets tune.storage)."),
    no_final: bool = typer.Option(False, "--no-final", help="Only run trials (a helper machine): no best.yaml, "
                                  "final run or report; the first machine writes those."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display for the final run."),
) -> None:
    """Search hyperparameters on validation, retrain the best config and test it once."""
    from netfit.train.progress import console
    from netfit.tune.report import trial_table
    from netfit.tune.search import tune as run_search

    overrides = [*(set_ or []), *([f"tune.storage={storage}"] if storage else [])]
    result = run_search(config, overrides, resume=resume, workers=workers, quiet=quiet, final=not no_final)
    if no_final:
        typer.echo(f"this worker's trials are done; tune folder: {result.path}")
        return
    console().print(trial_table(result.report))
    best = result.report["best"]
    typer.echo(f"best trial: {best['number']} ({', '.join(result.report['metrics'])} "
               f"{', '.join(f'{v:.4f}' for v in best['values'])}); config: {result.path / 'best.yaml'}")
    typer.echo(f"tuned values: {result.path / 'best_params.yaml'}")
    if result.report["importances"]:
        note = f" ({result.report['importances_note']})" if result.report.get("importances_note") else ""
        typer.echo(f"importances{note}: " + ", ".join(f"{k} {v:.2f}" for k, v in result.report["importances"].items()))
    _print_headline(result.final.report, result.final.path)
    typer.echo(f"tune folder: {result.path}")


@app.command()
def repeat(
    config: Optional[Path] = typer.Argument(None, help="YAML config file (left out with --resume)."),
    seeds: int = typer.Option(5, "--seeds", help="Runs, with the config's seed and the next ones."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help=SET_HELP),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Train the missing seeds of this repeat folder."),
    workers: int = typer.Option(1, "--workers", help="Local processes training seeds at once."),
    quiet: bool = typer.Option(True, "--quiet/--progress", "-q", help="Progress display of each run (off by default)."),
) -> None:
    """Train a config with several seeds on the same split: mean and spread of the test metrics, and
    the verdict against the baselines with the seed spread counted."""
    from netfit.errors import ConfigError
    from netfit.repeat import repeat as run_repeat

    if config is None and resume is None:
        raise ConfigError("no config given", where="netfit repeat", expected="CONFIG or --resume FOLDER",
                          hint="netfit repeat examples/digits_mlp.yaml --seeds 5")
    folder, summary = run_repeat(config, set_ or [], seeds=seeds, resume=resume, workers=workers, quiet=quiet)
    _print_spread(f"test metrics over {summary['n']} seeds (same split)", summary)
    typer.echo(f"repeat folder: {folder} (repeat.json, report.html)")


@app.command()
def cv(
    config: Optional[Path] = typer.Argument(None, help="YAML config file (left out with --resume)."),
    folds: int = typer.Option(5, "--folds", help="Folds of the train + val rows."),
    repeats: int = typer.Option(1, "--repeats", help="Times the folds are drawn again, shuffled anew."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help=SET_HELP),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Train the missing folds of this cv folder."),
    workers: int = typer.Option(1, "--workers", help="Local processes training folds at once."),
    quiet: bool = typer.Option(True, "--quiet/--progress", "-q", help="Progress display of each run (off by default)."),
) -> None:
    """Cross-validate a config on its train + val rows (k folds, each scored on its held-out fold), then
    train on them all and test once: the folds' mean and spread, the verdict with the corrected
    resampled t-test, and the final run's test metrics."""
    from netfit.cv import cv as run_cv
    from netfit.errors import ConfigError

    if config is None and resume is None:
        raise ConfigError("no config given", where="netfit cv", expected="CONFIG or --resume FOLDER",
                          hint="netfit cv examples/iris.yaml --folds 5")
    folder, summary = run_cv(config, set_ or [], folds=folds, repeats=repeats, resume=resume, workers=workers,
                             quiet=quiet)
    _print_spread(f"{summary['n']} folds ({summary['method']}), and the final run on the test split", summary,
                  ("final (test)", summary["final"]["metrics"]))
    typer.echo(f"cv folder: {folder} (cv.json, report.html; the final model: {folder / 'final'})")


def _print_spread(title: str, summary: dict, extra: tuple[str, dict] | None = None) -> None:
    """A set of runs (`repeat`, `cv`): each metric's mean, std, min and max (and an `extra` column), then
    each verdict's sentence."""
    from rich.table import Table

    from netfit.train.progress import console

    table = Table(title=title)
    for column in ("metric", "mean", "std", "min", "max", *([extra[0]] if extra else [])):
        table.add_column(column)
    for name, m in summary["metrics"].items():
        values = [f"{m[k]:.4f}" for k in ("mean", "std", "min", "max")]
        if extra:
            values.append(f"{extra[1][name]:.4f}" if name in extra[1] else "-")
        table.add_row(name, *values)
    console().print(table)
    for found in ((summary.get("verdict") or {}).get("against") or {}).values():
        typer.echo(found["text"])


@app.command("find-lr")
def find_lr(
    config: Path = typer.Argument(..., help="YAML config file."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help=SET_HELP),
) -> None:
    """Run the learning-rate range test on the training split and print the rate it picks."""
    from netfit.config import load_config
    from netfit.run import range_test

    finding = range_test(load_config(config, set_ or []))
    for lr, loss in list(zip(finding.lrs, finding.losses))[:: max(1, len(finding.lrs) // 12)]:
        typer.echo(f"  lr {lr:.2e}  smoothed loss {loss:.4f}")
    typer.echo(f"lr: {finding.lr:.3g} ({finding.method})")


def main() -> None:
    """Console entry point: user errors become a message and an exit code, bugs keep their traceback.

    Typer (standalone) already turns usage errors into exit code 2 and `typer.Exit` into its code.
    Every warning prints as `warning: ...`, once, never as a raw Python warning with a source line.
    """
    show_warnings(every=True)
    try:
        app()
    except NetfitError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        sys.exit(err.exit_code)
