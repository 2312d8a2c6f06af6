"""report.html: the run a person reads, rebuilt from the run folder's files alone.

Inputs: report.json, history.csv, config.yaml and test_predictions.csv (see `outputs`). The
page is self-contained (inline style, PNG data URIs, no network address), so it opens offline.

Tuning hook: when a `tune_report.json` sits in the run folder's parent or grandparent (a tune
folder's `final/` or `trials/<n>/`), its trials are shown. Keys read, all optional:
`metric`, `direction` ("minimize"/"maximize"), `best` ({"number", "value", "params"}),
`trials` ([{"number", "state", "value", "params": {path: value}, ...}]), `importances`
({path: float}).

Example:
    >>> from netfit.evaluate.report import write_report
    >>> write_report("runs/digits-mlp-20261125-101500-a1b2c3")  # doctest: +SKIP
    PosixPath('runs/digits-mlp-20261125-101500-a1b2c3/report.html')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from netfit.config.load import read_yaml_text
from netfit.data.summary import describe_validation
from netfit.errors import RunError
from netfit.evaluate import plots
from netfit.evaluate.html import esc, figure, fmt, grid, heat_table, metric_cell, page, section, table
from netfit.evaluate.outputs import Predictions, load_test_outputs
from netfit.evaluate.verdict import EXPLAINED
from netfit.io import write_text

FILENAME = "report.html"


@dataclass
class RunFiles:
    """What a report page reads from one run folder."""

    path: Path
    report: dict[str, Any]
    config: dict[str, Any]
    history: Any  # pandas DataFrame, possibly empty

    @property
    def label(self) -> str:
        return self.path.name


def read_run(run_dir: str | Path) -> RunFiles:
    """Read report.json, config.yaml and history.csv; RunError when the folder is not a run."""
    path = Path(run_dir)
    if not (path / "report.json").is_file():
        raise RunError("not a finished netfit run folder", where=str(path),
                       expected="a folder with report.json", found="no such folder" if not path.is_dir() else "no report.json",
                       hint="pass the folder printed at the end of `netfit train` (under runs/)")
    report = json.loads((path / "report.json").read_text(encoding="utf-8"))
    config_file = path / "config.yaml"
    config = read_yaml_text(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    return RunFiles(path, report, config or {}, _read_history(path / "history.csv"))


def _read_history(path: Path):
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):  # a run that diverged in its first epoch has no rows
        return pd.DataFrame()


def write_report(run_dir: str | Path) -> Path:
    """Build report.html from the run folder's files and write it there (atomically)."""
    run = read_run(run_dir)
    return write_text(run.path / FILENAME, render_report(run))


def render_report(run: RunFiles) -> str:
    """The whole page as a string."""
    task = run.report.get("task")
    parts = [summary_section(run), warnings_section(run), curves_section(run), health_section(run)]
    parts.append(regression_section(run) if task == "regression" else classification_section(run))
    parts += [calibration_section(run), conformal_section(run), selective_section(run), importance_section(run),
              slices_section(run)]
    parts += [data_section(run), tuning_section(run), config_section(run)]
    return page(f"netfit report: {run.report.get('name', run.label)}", "".join(p for p in parts if p))


# ---------------------------------------------------------------- summary
def summary_section(run: RunFiles) -> str:
    r, model = run.report, run.config.get("model", {})
    data = r.get("data") or {}
    sources = ", ".join(f"{k}: {v}" for k, v in (data.get("sources") or {}).items())
    sizes = ", ".join(f"{k} {v}" for k, v in (r.get("split_sizes") or {}).items())
    rows = [
        ("task", r.get("task")),
        ("data", f"{sources} (sha256 {str((r.get('fingerprint') or {}).get('data', ''))[:12]})"),
        ("rows per split", sizes),
        ("model", f"{r.get('model_type') or model.get('type', '?')} hidden {model.get('hidden')}, {r.get('n_params', 0):,} parameters"),
        ("epochs", f"{r.get('epochs_run')} (best {r.get('best_epoch')}); stop: {r.get('stop_reason')}: {r.get('stop_message')}"),
        ("train time", f"{fmt(r.get('train_seconds'), 2)} s, {fmt(r.get('samples_per_s'), 0)} samples/s (median epoch)"),
        ("run folder", str(run.path)),
    ]
    body = verdict_html(r) + table((), rows, numeric_from=2) + "<h3>Test metrics</h3>" + metrics_table(r)
    return section("summary", "Summary", body)


def verdict_html(report: dict[str, Any]) -> str:
    """The verdict against each baseline, first on the page, and what each baseline is."""
    v = report.get("verdict") or {}
    against = v.get("against") or {}
    if not against:
        return ""
    lines = "".join(f'<p class="{"warn" if b["outcome"] in ("worse", "no better") else "verdict"}"><b>{esc(b["text"])}</b></p>'
                    for b in against.values())
    explained = "".join(f"<li><b>{esc(name)}</b>: {esc(EXPLAINED[name])}</li>" for name in against if name in EXPLAINED)
    return (f"<h3>Verdict on test {esc(v.get('metric'))}</h3>" + lines +
            '<p class="muted">Paired bootstrap: the network and each baseline are scored on the same resamples of '
            "the test rows, and the interval is of their difference; <i>better</i> or <i>worse</i> only when the "
            f"whole interval lies on one side of 0.</p><ul>{explained}</ul>")


def warnings_section(run: RunFiles) -> str:
    """The run's warnings: what, where, how to change it (a report.json older than its `warnings`
    list has the data's only, as text)."""
    found = run.report.get("warnings")
    if found is None:
        found = [{"message": w} for w in (run.report.get("data") or {}).get("warnings") or []]
    items = [[w["message"], *(f"{label}: {w[key]}" for key, label in (("where", "where"), ("hint", "how to change it"))
                              if w.get(key))] for w in found]
    body = "".join('<p class="warn">' + "<br>".join(esc(line) for line in lines) + "</p>" for lines in items)
    return section("warnings", "Warnings", body) if items else ""


def metrics_table(report: dict[str, Any]) -> str:
    """Test metrics with intervals beside the baselines (same split, same resamples)."""
    test = report.get("test") or {}
    metrics = test.get("metrics") or {}
    if not metrics:
        return '<p class="muted">No test split: nothing was evaluated.</p>'
    base = report.get("baselines") or {}
    level = int(round(100 * (test.get("bootstrap") or {}).get("confidence", 0.95)))
    header = ["metric", f"model [{level}% interval]", *base]
    rows = [[name, metric_cell(m), *(metric_cell(baseline_metric(base[b], name)) for b in base)]
            for name, m in metrics.items()]
    skipped = "".join(f'<p class="muted">{esc(b)}: {esc(NOT_FITTED)}.</p>' for b in base if base[b] is None)
    return table(header, rows) + f'<p class="muted">{test.get("n")} test rows; percentile bootstrap, ' \
        f'{(test.get("bootstrap") or {}).get("resamples")} resamples.</p>' + skipped + unseen_note(test)


def unseen_note(test: dict[str, Any]) -> str:
    """The test rows whose label the model never saw in training, and how the metrics treat them."""
    unseen = test.get("unseen_labels") or {}
    if not unseen:
        return ""
    labels = ", ".join(f"{label!r}: {n}" for label, n in unseen.items())
    return (f'<p class="warn">{sum(unseen.values())} test rows hold labels not seen in training ({esc(labels)}): '
            "the model cannot predict them, so accuracy, balanced accuracy, F1 and log loss count them as wrong; "
            "ROC AUC, PR AUC, the confusion matrix, the curves and custom metrics cover the other rows.</p>")


# a baseline is null in report.json when it could not be fitted: the linear one on a one-class training split
NOT_FITTED = "not fitted (the training split holds one class; a logistic regression needs two)"


def baseline_metric(block: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    """A baseline's entry for one metric; None for a baseline that was not fitted."""
    return (block or {}).get("metrics", {}).get(name)


# ---------------------------------------------------------------- importance
def importance_section(run: RunFiles) -> str:
    """Permutation importance per source column, with intervals; columns with no evidence flagged."""
    found = run.report.get("importance")
    if not found or not found.get("columns"):
        return ""
    metric, columns = found["metric"], found["columns"]
    rows = [[c["column"], fmt(c["drop"]), f"[{fmt(c['ci_low'])}, {fmt(c['ci_high'])}]" if c.get("ci_low") is not None else "-",
             "no evidence it matters (interval reaches 0)" if c.get("flat") else ""] for c in columns]
    sample = f" (a seeded sample of the {found['sampled_from']} test rows)" if found.get("sampled_from") else ""
    level = f"{100 * found['confidence']:g}% " if found.get("confidence") else ""
    body = (f'<p class="muted">How much test {esc(metric)} gets worse when one column is shuffled across the '
            f"{found['rows']} test rows{esc(sample)}, averaged over {found['repeats']} shuffles, with a {level}"
            "bootstrap interval over the rows. A one-hot block, a missing-value indicator and an embedding count as "
            "their source column; an image, sequence or text input as one. Shuffling breaks correlated columns "
            "apart, so two columns that carry the same signal can each look unimportant.</p>"
            + figure(plots.column_importances(columns, metric), "permutation importance per column")
            + table(["column", f"{metric} lost", "interval", ""], rows))
    return section("importance", "Feature importance", body)


def slices_section(run: RunFiles) -> str:
    """The test metric per categorical level and numeric quartile; slices worse than the rest flagged."""
    found = run.report.get("slices")
    if not found or not found.get("slices"):
        return ""
    metric, items = found["metric"], found["slices"]
    worse = [s for s in items if s.get("worse")]
    rows = [[s["column"], s["slice"], s["n"], fmt(s["value"]),
             f"[{fmt(s['ci_low'])}, {fmt(s['ci_high'])}]" if s.get("ci_low") is not None else "-",
             fmt(s["p_holm"], 3), "worse than the other rows" if s.get("worse") else ""] for s in items]
    verdict = (f"{len(worse)} of {len(items)} slices are worse than the other test rows: "
               + ", ".join(f"{s['column']} = {s['slice']}" for s in worse) if worse
               else f"No slice of the {len(items)} is worse than the other test rows.")
    body = (f"<p><strong>{esc(verdict)}</strong></p>"
            f'<p class="muted">Test {esc(metric)} on the most frequent levels of each categorical column and on the '
            f"quartiles of the most important numeric columns (slices of at least {found['min_rows']} rows), against "
            f"{fmt(found['overall'])} on all test rows. Worse: a {esc(found['test'])} p-value below "
            f"{1 - found['confidence']:.2g}.</p>"
            + figure(plots.slice_metrics(items, metric, found["overall"]), "test metric per slice")
            + table(["column", "slice", "rows", metric, "interval", "p (Holm)", ""], rows, numeric_from=2))
    return section("slices", "Slices", body)


# ---------------------------------------------------------------- curves
def monitored(config: dict[str, Any]) -> str | None:
    stopping = (config.get("train") or {}).get("early_stopping") or {}
    return stopping.get("monitor")


def curves_section(run: RunFiles) -> str:
    h = run.history
    if h.empty or "epoch" not in h:
        return section("curves", "Learning curves", '<p class="muted">No history recorded.</p>')
    best = run.report.get("best_epoch")
    figs = [figure(plots.learning_curves(h, monitored(run.config), best), "train and validation loss per epoch")]
    metric = monitored(run.config)
    if metric in h and metric not in ("train_loss", "val_loss"):
        figs.append(figure(plots.metric_curve(h, metric, best), f"{metric} per epoch"))
    else:  # the monitor is a loss: show the task's validation metric instead
        figs += [figure(plots.metric_curve(h, c, best), f"{c} per epoch") for c in ("val_accuracy", "val_rmse") if c in h]
    if "lr" in h:
        figs.append(figure(plots.metric_curve(h, "lr", best), "learning rate per epoch"))
    note = f'<p class="muted">Dashed line: the best epoch ({best}), whose weights were kept.</p>' if best else ""
    return section("curves", "Learning curves", grid(figs) + note)


# ---------------------------------------------------------------- training health
def health_section(run: RunFiles) -> str:
    """report.json's `diagnostics` (train.diagnostics): the findings with their fixes and evidence, and
    per-layer plots over the sampled steps. Absent for a report.json from before diagnostics."""
    diag = run.report.get("diagnostics")
    if not diag:
        return ""
    found = diag.get("findings") or []
    if found:
        rows = [[f["code"], f["message"], f["fix"], ", ".join(f"{k}: {_short(v)}" for k, v in (f.get("evidence") or {}).items())]
                for f in found]
        body = table(["finding", "what was seen", "fix", "evidence"], rows, numeric_from=4)
    else:
        body = "<p>No finding: none of the rules of docs/diagnostics.md held for this run.</p>"
    if diag.get("mode") == "off":
        return section("health", "Training health", body + '<p class="muted">train.diagnostics: off; only the '
                       "rules on the epoch history were checked.</p>")
    steps, layers, acts = diag.get("steps") or [], diag.get("layers") or [], diag.get("activations") or []
    figs = []
    if steps and layers:
        figs.append(figure(plots.layer_series(steps, {l["name"]: l["grad_norm"] for l in layers}, "gradient norm"),
                           "gradient norm per layer over the sampled steps"))
        figs.append(figure(plots.layer_series(steps, {l["name"]: l["update_ratio"] for l in layers}, "update / weight"),
                           "update-to-weight ratio per layer over the sampled steps"))
    if diag.get("activation_steps") and acts:
        for measure in ("dead", "saturated"):
            chosen = {a["name"]: a["share"] for a in acts if a.get("measure") == measure}
            if chosen:
                figs.append(figure(plots.layer_series(diag["activation_steps"], chosen, f"{measure} unit share", log=False),
                                   f"share of {measure} units per activation layer"))
    notes = "; ".join(diag.get("notes") or [])
    body += grid(figs) + (f'<p class="muted">{diag.get("samples", 0)} sampled steps (every {esc(diag.get("sample_every"))}, '
                          f'train.diagnostics: {esc(diag.get("mode"))}){"; " + esc(notes) if notes else ""}. '
                          "Healthy update/weight ratios are about 1e-3.</p>")
    return section("health", "Training health", body)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------- task sections
def classification_section(run: RunFiles) -> str:
    test = run.report.get("test") or {}
    classes = test.get("classes") or []
    if not classes:
        return ""
    rows = [[c, fmt(s["precision"]), fmt(s["recall"]), fmt(s["f1"]), fmt(s["support"], 0)]
            for c, s in (test.get("per_class") or {}).items()]
    body = ("<h3>Confusion matrix</h3><p class=\"muted\">Rows: true class; columns: predicted class; "
            "each cell: count and share of its row (recall on the diagonal).</p>"
            + heat_table(test["confusion_matrix"], classes, "true", "predicted") + "<h3>Per class</h3>")
    body += table(["class", "precision", "recall", "f1", "support"], rows)
    preds = load_test_outputs(run.path, run.report.get("task"), classes, list(test.get("unseen_labels") or ()))
    if preds is None:
        body += '<p class="muted">No test_predictions.csv: ROC, precision-recall and calibration need it.</p>'
    else:
        known = preds.y >= 0  # the curves rank the model's classes; an unseen label has no score
        preds = Predictions(preds.task, preds.y[known], preds.output[known], preds.classes)
        curves = [figure(plots.roc_curves(preds.y, preds.output, classes), "ROC curves"),
                  figure(plots.pr_curves(preds.y, preds.output, classes), "precision-recall curves"),
                  figure(plots.reliability(preds.y, preds.output), "reliability diagram")]
        scope = "" if len(classes) == 2 else f" (one class against the rest; up to {plots.MAX_CURVES} classes)"
        body += f"<h3>ROC, precision-recall{esc(scope)} and calibration</h3>" + grid(curves)
    return section("classification", "Classification", body)


def regression_section(run: RunFiles) -> str:
    preds = load_test_outputs(run.path, "regression", None)
    if preds is None:
        return section("regression", "Regression", '<p class="muted">No test_predictions.csv: nothing to plot.</p>')
    figs = [figure(plots.predicted_vs_true(preds.y, preds.output), "predicted against true values"),
            figure(plots.residuals(preds.y, preds.output), "residual histogram")]
    return section("regression", "Regression", grid(figs))


# ---------------------------------------------------------------- calibration and conformal
CAL_NAMES = {"log_loss": "log loss", "brier": "Brier score", "ece": "ECE"}


def calibration_section(run: RunFiles) -> str:
    """Temperature scaling: the fitted T, test log loss, Brier and ECE before/after, the reliability diagram."""
    cal = run.report.get("calibration")
    if not cal:
        note = run.report.get("calibration_note")
        return section("calibration", "Calibration", f'<p class="muted">{esc(note)}.</p>') if note else ""
    level = int(round(100 * (cal.get("bootstrap") or {}).get("confidence", 0.95)))
    rows = [[CAL_NAMES.get(name, name), *(metric_cell(m.get(w)) for w in ("before", "after", "change"))]
            for name, m in (cal.get("metrics") or {}).items()]
    val = cal.get("validation_log_loss") or {}
    if cal.get("method") == "vector":
        scale, bias = cal.get("scale") or [], cal.get("bias") or []
        what = (f"Vector scaling, fitted on the validation split: each logit times its scale plus its bias "
                f"({len(scale)} of each; scales {esc(fmt(min(scale, default=None)))} to {esc(fmt(max(scale, default=None)))}, "
                f"biases {esc(fmt(min(bias, default=None)))} to {esc(fmt(max(bias, default=None)))}; predicted labels may change).")
    else:
        what = (f"Temperature scaling, fitted on the validation split: T = {esc(fmt(cal.get('temperature')))} "
                f"(T &gt; 1 softens over-confident probabilities; predictions divide the logits by T, the predicted "
                f"labels do not change).")
    body = (f"<p>{what} Validation log loss {esc(fmt(val.get('before')))} before, "
            f"{esc(fmt(val.get('after')))} after.</p>"
            + table(["test metric (lower is better)", f"before [{level}% interval]", "after", "change (after - before)"], rows)
            + f'<p class="muted">{cal.get("n")} test rows; paired percentile bootstrap, '
              f'{(cal.get("bootstrap") or {}).get("resamples")} resamples. ECE binning: {esc(cal.get("ece_binning"))}. '
              f'Brier score: {esc(cal.get("brier"))}.</p>')
    rel = cal.get("reliability") or {}
    if rel.get("before") and rel.get("after"):
        body += grid([figure(plots.reliability_before_after(rel["before"], rel["after"]),
                             f"reliability diagram before and after {'vector' if cal.get('method') == 'vector' else 'temperature'} scaling")])
    return section("calibration", "Calibration", body)


def conformal_section(run: RunFiles) -> str:
    """Split conformal: nominal and test coverage, mean width or set size, coverage per group."""
    c = run.report.get("conformal")
    if not c:
        return ""
    test = c.get("test") or {}
    regression = run.report.get("task") == "regression"
    size = (f"mean interval width {fmt(c.get('mean_width'))} (prediction &plusmn; {fmt(c.get('quantile'))}, "
            "absolute residuals)" if regression else
            f"mean set size {fmt(c.get('mean_set_size'))} ({c.get('empty_sets')} empty sets; LAC: every class "
            f"with probability &ge; {fmt(c.get('threshold'))})")
    body = (f"<p>Split conformal, calibrated on {c.get('n')} validation rows. Nominal coverage "
            f"{fmt(c.get('nominal'), 3)}; test coverage <b>{fmt(test.get('coverage'), 3)}</b> "
            f"[{fmt(test.get('ci_low'), 3)}, {fmt(test.get('ci_high'), 3)}] ({esc(test.get('interval'))} interval, "
            f"{test.get('n')} rows); {size}.</p>"
            '<p class="muted">The validation split also chose the best epoch (early stopping) and, for classifiers, '
            "the temperature, so its rows are not fully exchangeable with test rows: the coverage guarantee is "
            "approximate, usually slightly optimistic.</p>")
    rows = [[name, g.get("n"), fmt(g.get("coverage"), 3)] for name, g in (c.get("groups") or {}).items()]
    body += f"<h3>Coverage per {esc(c.get('by'))}</h3>" + table([c.get("by"), "rows", "coverage"], rows)
    return section("conformal", "Conformal prediction", body)


def selective_section(run: RunFiles) -> str:
    """Risk-coverage on test: the error rate when only the most confident rows are answered."""
    sel = run.report.get("selective")
    if not sel or not sel.get("curve"):
        return ""
    curve = sel["curve"]
    picks = [c for c in curve if any(abs(c["coverage"] - q) < 0.5 / len(curve) for q in (0.5, 0.8, 0.9, 1.0))]
    rows = [[fmt(c["coverage"], 3), fmt(c["risk"], 4), fmt(c["min_confidence"], 4)] for c in picks]
    body = (f"<p>Test rows ranked by {esc(sel.get('ranked_by'))}; answering only the most confident share gives the "
            f"error rate below. Area under the risk-coverage curve (AURC, lower is better): {fmt(sel.get('aurc'))}. "
            "<code>netfit predict --min-confidence P</code> marks the rows below P (<code>abstain</code>).</p>"
            + table(["coverage", "error rate among answered", "--min-confidence"], rows)
            + grid([figure(plots.risk_coverage(curve), "risk-coverage curve")]))
    return section("selective", "Selective prediction", body)


# ---------------------------------------------------------------- data
def data_section(run: RunFiles) -> str:
    d = run.report.get("data") or {}
    missing = d.get("missing_in_train") or {}
    dropped_cols = d.get("dropped_columns") or {}
    rows = [(c, kind, missing.get(c, 0)) for kind, cols in (d.get("columns") or {}).items() for c in cols]
    rows += [(c, f"dropped: {why}", "-") for c, why in dropped_cols.items()]
    loaded = ", ".join(f"{k} {v}" for k, v in (d.get("rows_loaded") or {}).items())
    body = f"<p>Target <code>{esc(d.get('target'))}</code>; split: {esc(d.get('split_method'))}; " \
           f"rows loaded: {esc(loaded)}; rows used: {esc(d.get('rows_used'))}.</p>"
    validation = describe_validation(d.get("validation"))
    if validation:  # a run without validation rows trained without early stopping: say so where it shows
        css = ' class="warn"' if d["validation"]["from"] == "none" else ""
        body += f"<p{css}>Validation: {esc(validation)}.</p>"
    body += _columns_table(rows, d.get("columns") or {}, missing)
    dropped = {k: n for k, n in (d.get("rows_dropped") or {}).items() if n}
    body += "<h3>Rows dropped</h3>" + (table(["reason", "rows"], dropped.items()) if dropped else "<p>None.</p>")
    body += _leakage(d.get("duplicates_across_splits") or {})
    if d.get("class_balance"):
        balance = d["class_balance"]
        classes = list(next(iter(balance.values())))
        body += "<h3>Class balance</h3>" + table(["split", *classes], [[s, *c.values()] for s, c in balance.items()])
    return section("data", "Data", body)


def _columns_table(rows: list, columns: dict[str, list], missing: dict[str, int]) -> str:
    """Every column with its type and imputed count; wide data get a per-type summary first and
    the full list folded (a native <details>, no script)."""
    full = table(["column", "type", "missing in train (imputed)"], rows, numeric_from=2)
    if len(rows) <= 20:
        return full
    summary = [(kind, len(cols), sum(missing.get(c, 0) for c in cols)) for kind, cols in columns.items() if cols]
    return (table(["type", "columns", "missing in train (imputed)"], summary)
            + f"<details><summary>All {len(rows)} columns</summary>{full}</details>")


def _leakage(duplicates: dict[str, int]) -> str:
    total = sum(duplicates.values())
    rows = table(["splits", "duplicate rows"], duplicates.items())
    if total:
        return (f'<h3>Duplicates across splits</h3><p class="warn">Leakage warning: {total} row(s) occur in more than '
                "one split; test scores may be optimistic.</p>" + rows)
    return "<h3>Duplicates across splits</h3><p>None found.</p>" + rows


# ---------------------------------------------------------------- config, environment, tuning
def config_section(run: RunFiles) -> str:
    env = run.report.get("environment") or {}
    versions = env.get("versions") or {}
    rows = [(k, env.get(k)) for k in ("device", "cuda", "threads", "platform") if env.get(k) is not None]
    rows += [(k, v) for k, v in versions.items()]
    fp = run.report.get("fingerprint") or {}
    body = "<h3>Environment</h3>" + table((), rows, numeric_from=2)
    body += "<h3>Fingerprint</h3>" + table((), fp.items(), numeric_from=2)
    body += "<h3>Resolved config</h3><pre>" + esc(yaml.safe_dump(run.config, sort_keys=False)) + "</pre>"
    return section("config", "Config and environment", body)


def find_tune_report(run_dir: Path) -> Path | None:
    """tune_report.json in the run folder's parent or grandparent (a tune folder's final/ or trials/<n>/)."""
    for folder in (run_dir.parent, run_dir.parent.parent):
        if (folder / "tune_report.json").is_file():
            return folder / "tune_report.json"
    return None


def tuning_section(run: RunFiles) -> str:
    found = find_tune_report(run.path.resolve())
    if found is None:
        return ""
    tune = json.loads(found.read_text(encoding="utf-8"))
    trials = [t for t in tune.get("trials") or [] if isinstance(t, dict)]
    params = list(dict.fromkeys(p for t in trials for p in (t.get("params") or {})))
    rows = [[t.get("number"), t.get("state", ""), fmt(t.get("value")), *(fmt((t.get("params") or {}).get(p)) for p in params)]
            for t in trials]
    best = tune.get("best") or {}
    body = f"<p>From <code>{esc(found)}</code>: metric <code>{esc(tune.get('metric'))}</code> " \
           f"({esc(tune.get('direction'))}); best trial {esc(best.get('number'))} with {esc(fmt(best.get('value')))}.</p>"
    scored = [(t["number"], t["value"]) for t in trials if isinstance(t.get("value"), (int, float)) and "number" in t]
    figs = []
    if scored:
        numbers, values = zip(*sorted(scored))
        figs.append(figure(plots.optimisation_history(list(numbers), list(values), tune.get("direction") != "maximize"),
                           "optimisation history"))
    if tune.get("importances"):
        note = f" ({tune['importances_note']})" if tune.get("importances_note") else ""
        figs.append(figure(plots.importances(tune["importances"]), "hyperparameter importances" + note))
    body += grid(figs) + "<h3>Trials</h3>" + table(["trial", "state", "value", *params], rows)
    return section("tuning", "Tuning", body)
