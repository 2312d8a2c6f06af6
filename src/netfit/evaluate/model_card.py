"""model_card.md: the run's evidence as a short page a reader can check, with the parts only its
owner can write (intended use, limitations) left to fill in.

Written at the end of every finished run from report.json and config.yaml (`netfit report RUN`
writes it again). Every figure comes from report.json; nothing is estimated here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netfit.evaluate.report import RunFiles, read_run
from netfit.evaluate.verdict import EXPLAINED
from netfit.io import write_text

FILENAME = "model_card.md"
TOP_COLUMNS = 10  # the most important columns listed
TO_FILL = "_To fill in._"


def write_model_card(run_dir: str | Path) -> Path:
    """Write model_card.md into a finished run folder (atomically) and return its path."""
    run = read_run(run_dir)
    return write_text(run.path / FILENAME, render_model_card(run))


def render_model_card(run: RunFiles) -> str:
    r = run.report
    parts = [
        f"# Model card: {r.get('name', run.label)}\n\n"
        f"Written by netfit {_version(r)} from `{run.label}/report.json`: every figure below was measured "
        "in this run. The sections marked *to fill in* are the model owner's to write.\n",
        _model(r), _data(r), _performance(r, (run.config.get("evaluate") or {}).get("confidence", 0.95)), _uncertainty(r), _health(r), _importance(r), _slices(r),
        "## Variance across seeds\n\nNot measured: this card describes one training run (one seed). "
        "Train with other `seed` values to see how much the test metrics move between runs.\n",
        f"## Intended use\n\n{TO_FILL} Who uses the predictions, for what decision, on which population.\n",
        _limitations(r),
    ]
    return "\n".join(p for p in parts if p)


def _version(r: dict[str, Any]) -> str:
    return ((r.get("environment") or {}).get("versions") or {}).get("netfit", "")


def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}g}" if abs(x) >= 1e4 or 0 < abs(x) < 10 ** -digits else f"{x:.{digits}f}"
    return str(x)


def _interval(m: dict[str, Any] | None) -> str:
    if not m:
        return "-"
    ci = f" [{_num(m['ci_low'])}, {_num(m['ci_high'])}]" if m.get("ci_low") is not None else ""
    return _num(m.get("value")) + ci


def _model(r: dict[str, Any]) -> str:
    env = r.get("environment") or {}
    lines = [
        "## Model\n",
        f"- task: {r.get('task', '-')}; network: {r.get('model_type', '-')}, {r.get('n_params', 0):,} parameters",
        f"- training: {r.get('epochs_run', '-')} epochs ({r.get('steps', '-')} optimizer steps), best epoch "
        f"{r.get('best_epoch', '-')}; stopped: {r.get('stop_message') or r.get('stop_reason', '-')}",
        f"- trained on {env.get('device', '-')} in {_num(r.get('train_seconds'), 3)} s; versions: "
        + ", ".join(f"{k} {v}" for k, v in (env.get("versions") or {}).items()),
    ]
    return "\n".join(lines) + "\n"


def _data(r: dict[str, Any]) -> str:
    d, fp = r.get("data") or {}, r.get("fingerprint") or {}
    sizes = r.get("split_sizes") or d.get("split_sizes") or {}
    sources = ", ".join(f"`{v}`" if k == "all" else f"{k}: `{v}`" for k, v in (d.get("sources") or {}).items())
    lines = [
        "## Data\n",
        f"- source: {sources or '-'}; target `{d.get('target', '-')}`"
        + (f", classes {d['classes']}" if d.get("classes") else ""),
        f"- rows: {', '.join(f'{k} {v:,}' for k, v in sizes.items())} (split: {d.get('split_method', '-')}, "
        f"seed {fp.get('seed', '-')})",
        "- preprocessing: every statistic (scaling, imputation, encodings, vocabulary) was fitted on the training "
        "split only and is saved with the model (model.json); the test split was evaluated once, after training",
        f"- fingerprints (SHA-256): data `{str(fp.get('data', '-'))[:16]}`, split `{str(fp.get('split', '-'))[:16]}`, "
        f"config `{str(fp.get('config_sha256', '-'))[:16]}`",
    ]
    dup = {k: v for k, v in (d.get("duplicates_across_splits") or {}).items() if v}
    if dup:
        lines.append("- identical rows across splits: " + ", ".join(f"{k} {v}" for k, v in dup.items()))
    return "\n".join(lines) + "\n"


def _performance(r: dict[str, Any], level: float) -> str:
    test = (r.get("test") or {}).get("metrics")
    if not test:
        return "## Performance\n\nNo test split was evaluated.\n"
    base = r.get("baselines") or {}
    names = [n for n in ("dummy", "linear") if (base.get(n) or {}).get("metrics")]
    rows = ["| metric | network | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for metric, value in test.items():
        rows.append(f"| {metric} | {_interval(value)} | "
                    + " | ".join(_interval(base[n]["metrics"].get(metric)) for n in names) + " |")
    text = [f"## Performance\n\nOn the test split ({(r.get('split_sizes') or {}).get('test', '-')} rows), with "
            f"{level:.0%} bootstrap intervals:\n", "\n".join(rows), ""]
    against = (r.get("verdict") or {}).get("against") or {}
    for name, v in against.items():
        text.append(f"- **{v.get('text', '-')}** (paired bootstrap). The {name} baseline: {EXPLAINED.get(name, '')}")
    for name in ("dummy", "linear"):
        if name not in names and r.get("baselines") is not None:
            text.append(f"- no {name} baseline could be fitted on this training split")
    return "\n".join(text) + "\n"


def _uncertainty(r: dict[str, Any]) -> str:
    cal, conf = r.get("calibration"), r.get("conformal")
    if not cal and not conf:
        note = r.get("calibration_note")
        return f"## Probabilities and intervals\n\n{note or 'Not fitted in this run.'}\n"
    lines = ["## Probabilities and intervals\n"]
    if cal:
        ece = (cal.get("metrics") or {}).get("ece") or {}
        loss = (cal.get("metrics") or {}).get("log_loss") or {}
        how = ("vector scaling (a scale and a bias per logit)" if cal.get("method") == "vector"
               else f"one temperature ({_num(cal.get('temperature'), 3)})")
        lines.append(f"- probabilities: {how} fitted on the "
                     f"{cal.get('fitted_on', 'validation split')}; test log loss {_interval(loss.get('before'))} "
                     f"before, {_interval(loss.get('after'))} after"
                     + (f"; expected calibration error {_num((ece.get('before') or {}).get('value'))} before, "
                        f"{_num((ece.get('after') or {}).get('value'))} after" if ece else ""))
    if conf:
        test = conf.get("test") or {}
        size = (f"mean set size {_num(conf.get('mean_set_size'), 3)}" if "mean_set_size" in conf
                else f"mean interval width {_num(conf.get('mean_width'))}")
        lines.append(f"- split conformal ({conf.get('method', '-')}) at nominal coverage {_num(conf.get('nominal'), 2)}: "
                     f"test coverage {_num(test.get('coverage'), 3)} [{_num(test.get('ci_low'), 3)}, "
                     f"{_num(test.get('ci_high'), 3)}], {size}; calibrated on the {conf.get('calibrated_on', '-')}")
    return "\n".join(lines) + "\n"


def _health(r: dict[str, Any]) -> str:
    diag = r.get("diagnostics")
    if not diag:
        return "## Training health\n\nNot watched in this run (`train.diagnostics: off`).\n"
    found = diag.get("findings") or []
    if not found:
        return "## Training health\n\nNo findings: gradients, update sizes and units looked healthy on the sampled steps.\n"
    return "## Training health\n\n" + "\n".join(f"- {f['message']} (fix: {f['fix']})" for f in found) + "\n"


def _importance(r: dict[str, Any]) -> str:
    imp = r.get("importance")
    if not imp or not imp.get("columns"):
        return ""
    cols = imp["columns"]
    rows = ["| column | drop in " + imp.get("metric", "score") + " | interval |", "|---|---|---|"]
    for c in cols[:TOP_COLUMNS]:
        rows.append(f"| {c['column']} | {_num(c['drop'])} | [{_num(c.get('ci_low'))}, {_num(c.get('ci_high'))}] |")
    flat = sum(bool(c.get("flat")) for c in cols)
    sampled = (f" (a sample of {imp['rows']} of {imp['sampled_from']} test rows)" if imp.get("sampled_from") else "")
    return ("## Which columns matter\n\nPermutation importance on the test split" + sampled
            + f", {imp.get('repeats', '-')} shuffles; the {min(TOP_COLUMNS, len(cols))} most important of "
            f"{len(cols)} columns:\n\n" + "\n".join(rows)
            + f"\n\n{flat} of {len(cols)} columns have an interval that includes 0 (no measurable effect).\n")


def _slices(r: dict[str, Any]) -> str:
    found = r.get("slices")
    if not found or not found.get("slices"):
        return ""
    items, metric = found["slices"], found["metric"]
    worse = [s for s in items if s.get("worse")]
    head = (f"## Slices\n\nTest {metric} on {len(items)} slices (the most frequent levels of each categorical "
            f"column, the quartiles of the most important numeric columns) against {_num(found['overall'])} on all "
            "test rows; ")
    if not worse:
        return head + "no slice is worse than the other rows (Welch t-test, Holm-corrected).\n"
    return head + "worse than the other rows (Welch t-test, Holm-corrected):\n\n" + "\n".join(
        f"- {s['column']} = {s['slice']}: {_interval(s)} on {s['n']} rows" for s in worse) + "\n"


def _limitations(r: dict[str, Any]) -> str:
    known = [f"- {w['message']}" for w in r.get("warnings") or []]
    if r.get("conformal"):
        known.append("- the validation split that calibrated the intervals also chose the stopping epoch, so their "
                     "coverage guarantee is approximate")
    text = f"## Limitations\n\n{TO_FILL} Where the model should not be used, and known failure cases.\n"
    if known:
        text += "\nWhat netfit noticed during this run:\n\n" + "\n".join(known) + "\n"
    return text
