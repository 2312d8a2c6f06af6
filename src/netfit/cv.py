"""`netfit cv`: k-fold cross-validation of one config on the training rows, then one final run
scored once on the untouched test split.

The config's split chooses the test rows as a run would (seeded, stratified, by group); the
other rows (train + val) are cut into `folds` folds, `repeats` times with a fresh shuffle
(scikit-learn's `StratifiedKFold` for classes, `KFold` for regression, `GroupKFold` /
`StratifiedGroupKFold` when `data.split.group_column` is set). Fold j trains on the other folds
(validation carved from them, as a run carves it) and is scored on its own fold: its report.json
test metrics are that fold's score. The test rows are never seen by a fold. Then one final run
trains on all of train + val, without validation, for the median of the folds' best epochs, and
is tested on the test split.

The folder `runs/<name>-cv-<stamp>-<rand>/` holds `cv.yaml` (the config), `plan.json` (folds,
repeats, row counts), `pool.parquet` (the train + val rows, one `__netfit_fold_<j>` column per fold
run saying train/test), `all.parquet` (every row, `__netfit_final` saying train/test),
`fold-<j>/` and `final/` run folders, `cv.json` (every fold's metrics, their mean and std, the
final run's test metrics, the verdict) and `report.html` (the summary, then the runs side by side).
A fold whose folder holds report.json is done: `--resume FOLDER` trains the others (continuing
from a checkpoint where one was left), so a killed cv goes on where it stopped.

The verdict: each fold's paired bootstrap gives the difference network - baseline on the main
metric. Over J = folds x repeats fold runs, the mean difference d gets the corrected resampled
t-test of Nadeau and Bengio (2003, "Inference for the generalization error", Machine Learning
52:239-281): variance (1/J + n_test/n_train) s^2, s the standard deviation of the J differences,
which accounts for the folds' training rows overlapping; the interval is d +/- t(J-1) se.
"""

from __future__ import annotations

import json
import math
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from netfit.config import Config, load_config
from netfit.errors import ConfigError, DataError
from netfit.evaluate.compare import spread_section, write_compare
from netfit.evaluate.verdict import verdict
from netfit.io import atomic_write, write_json, write_text
from netfit.run import check_workers, run_into, run_workers, set_folder
from netfit.runfolder import make_run_dir

CONFIG, PLAN, SUMMARY = "cv.yaml", "plan.json", "cv.json"
POOL, ALL = "pool.parquet", "all.parquet"
FOLD, FINAL = "__netfit_fold_", "__netfit_final"


def cv(config: Any, overrides: Any = None, *, folds: int = 5, repeats: int = 1, resume: str | Path | None = None,
       workers: int = 1, quiet: bool = True) -> tuple[Path, dict[str, Any]]:
    """Cross-validate `config` (`folds` folds, `repeats` times) on its train + val rows, then train the
    final run on them all and test it once; return the cv folder and cv.json's content.

    Example:
        >>> folder, summary = cv("examples/iris.yaml", folds=5)  # doctest: +SKIP
        >>> summary["metrics"]["accuracy"]["mean"], summary["final"]["metrics"]["accuracy"]  # doctest: +SKIP
    """
    check_workers(workers, "folds")
    if resume is not None:
        folder = set_folder(resume, PLAN, "cv")
        cfg, plan = load_config(folder / CONFIG), json.loads((folder / PLAN).read_text(encoding="utf-8"))
    else:
        if folds < 2 or repeats < 1:
            raise ConfigError("cross-validation needs at least two folds and one repeat", where="--folds/--repeats",
                              found=f"folds {folds}, repeats {repeats}", expected="--folds 2 or more (5 is usual), "
                              "--repeats 1 or more", hint="netfit cv CONFIG --folds 5")
        cfg = load_config(config, overrides)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = make_run_dir(Path(cfg.output_dir) / f"{cfg.name}-cv-{stamp}-{secrets.token_hex(3)}")
        plan = _write_data(folder, cfg, folds, repeats)
        write_text(folder / CONFIG, cfg.to_yaml())
        write_json(folder / PLAN, plan)
    names = fold_names(plan)
    todo = [n for n in names if not (folder / n / "report.json").is_file()]
    if workers == 1 or len(todo) < 2:
        for name in todo:
            run_fold(folder, cfg, plan, name, quiet)
    else:
        codes = [f"from netfit.cv import worker_main; worker_main({str(folder)!r}, {todo[i::workers]!r})"
                 for i in range(min(workers, len(todo)))]
        run_workers(folder / "workers", codes, "cv", f"fix the problem, then continue with `netfit cv --resume {folder}`")
    if not (folder / "final" / "report.json").is_file():
        run_fold(folder, cfg, plan, "final", quiet)
    summary = summarize(folder, cfg, plan)
    write_json(folder / SUMMARY, summary)
    write_compare([folder / n for n in [*names, "final"]], folder / "report.html", lead=summary_section(summary))
    return folder, summary


def fold_names(plan: dict[str, Any]) -> list[str]:
    return [f"fold-{j + 1}" for j in range(plan["folds"] * plan["repeats"])]


def _write_data(folder: Path, cfg: Config, folds: int, repeats: int) -> dict[str, Any]:
    """Choose the test rows as a run would, cut the others into folds; write both tables; the plan."""
    from netfit.data.schema import infer_task
    from netfit.data.sources import load_table
    from netfit.data.split import split_rows
    from netfit.data.values import normalise_labels

    data = cfg.data
    problems = [f for f, bad in (("data.train/val/test (separate sources)", data.train or data.val or data.test),
                                 ("data.memory_budget (a streamed source)", data.memory_budget is not None),
                                 ("data.split.order_column (time order: folds would train on the future)",
                                  data.split.order_column),
                                 ("an image folder or image arrays", data.kind == "image" or data.image_shape
                                  or (data.source and Path(data.source).is_dir())))
                if bad]
    if problems or not data.source:
        raise ConfigError("this data cannot be cross-validated by netfit cv", where="data",
                          expected="one table source (data.source: a CSV, Parquet or .npz file, or sklearn:/synthetic: "
                                   "data) split at random or by group",
                          found=", ".join(problems) or "no data.source",
                          hint="use `netfit repeat` to measure the seed spread on one split instead")
    frame = load_table(data.source, data)
    target = data.target_name()
    known = (frame[frame[target].notna()] if target in frame.columns else frame).reset_index(drop=True)
    task, _ = infer_task(known[target], data.task, data.source)
    labels = None if task == "regression" else normalise_labels(known[target])
    if data.split.column:
        test = (known[data.split.column].astype(str).str.strip().str.lower() == "test").to_numpy()
    else:
        rows = split_rows(known, data.split, cfg.seed, labels).rows["test"]
        test = np.zeros(len(known), bool)
        test[rows] = True
    if not test.any():
        raise DataError("no test rows: the final run would be tested on nothing", where="data.split",
                        found=f"data.split.test {data.split.test}", hint="set data.split.test above 0 (0.15 is usual)")
    pool = known[~test].reset_index(drop=True)
    groups = pool[data.split.group_column] if data.split.group_column else None
    pool_labels = None if labels is None else labels[~test].reset_index(drop=True)
    columns, method = {}, None
    for r in range(repeats):
        splitter, method = _splitter(folds, cfg.seed + r, pool_labels, groups)
        for f, (_, held) in enumerate(splitter.split(np.zeros(len(pool)), pool_labels, groups)):
            column = np.full(len(pool), "train", dtype=object)
            column[held] = "test"
            columns[f"{FOLD}{r * folds + f + 1}"] = column
    pool = pool.assign(**columns)
    everything = known.assign(**{FINAL: np.where(test, "test", "train")}).reset_index(drop=True)
    for name, table in ((POOL, pool), (ALL, everything)):
        atomic_write(folder / name, lambda tmp, t=table: t.to_parquet(tmp, index=False))
    return {"folds": folds, "repeats": repeats, "method": method, "task": task, "pool_rows": len(pool),
            "test_rows": int(test.sum()), "fold_rows": [int((c == "test").sum()) for c in columns.values()]}


def _splitter(folds: int, seed: int, labels: pd.Series | None, groups: pd.Series | None) -> tuple[Any, str]:
    """scikit-learn's k-fold splitter for the data: stratified where every class fills the folds, by group when asked."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

    stratify = labels is not None and labels.value_counts().min() >= folds
    if groups is not None:
        if groups.nunique() < folds:
            raise DataError("fewer groups than folds", where="data.split.group_column",
                            found=f"{groups.nunique()} groups, {folds} folds", hint="lower --folds")
        if stratify:
            return StratifiedGroupKFold(folds, shuffle=True, random_state=seed), "stratified group k-fold"
        return GroupKFold(folds, shuffle=True, random_state=seed), "group k-fold"
    if stratify:
        return StratifiedKFold(folds, shuffle=True, random_state=seed), "stratified k-fold"
    return KFold(folds, shuffle=True, random_state=seed), "k-fold"


def fold_config(folder: Path, cfg: Config, plan: dict[str, Any], name: str) -> Config:
    """The config of one fold run (its split column, the other fold columns ignored) or of the final run
    (all train + val rows, no validation, the median of the folds' best epochs)."""
    others = [f"{FOLD}{j + 1}" for j in range(plan["folds"] * plan["repeats"])]
    ignore = [*cfg.data.ignore, *([cfg.data.split.column] if cfg.data.split.column else [])]
    # the fold's split column decides the rows; a group column kept beside it would make the saved config
    # invalid (one way to split), so the validation carved from the fold's training rows is not by group
    # (the held-out fold is: the folds were cut by group)
    ignore += [c for c in (cfg.data.split.group_column,) if c]
    plain = {"group_column": None, "order_column": None, "method": "random", "id_column": None}
    if name == "final":
        epochs = int(np.median([json.loads((folder / n / "report.json").read_text(encoding="utf-8"))["best_epoch"]
                                for n in fold_names(plan)]))
        test = cfg.data.split.test
        split = cfg.data.split.model_copy(update={**plain, "column": FINAL, "train": 1.0 - test, "val": 0.0})
        data = cfg.data.model_copy(update={"source": str(folder / ALL), "split": split, "ignore": ignore})
        train = cfg.train.model_copy(update={"epochs": max(1, epochs)})
        return cfg.model_copy(update={"data": data, "train": train, "name": "final"})
    column = f"{FOLD}{name.split('-')[1]}"
    split = cfg.data.split.model_copy(update={**plain, "column": column})
    data = cfg.data.model_copy(update={"source": str(folder / POOL), "split": split,
                                       "ignore": ignore + [c for c in others if c != column]})
    return cfg.model_copy(update={"data": data, "name": name})


def run_fold(folder: Path, cfg: Config, plan: dict[str, Any], name: str, quiet: bool = True) -> None:
    run_into(folder / name, fold_config(folder, cfg, plan, name), quiet)


def worker_main(folder: str, names: list[str]) -> None:
    """Entry point of one worker process of `cv(..., workers=N)`: train its share of the folds."""
    cfg = load_config(Path(folder) / CONFIG)
    plan = json.loads((Path(folder) / PLAN).read_text(encoding="utf-8"))
    for name in names:
        run_fold(Path(folder), cfg, plan, name)


def summarize(folder: Path, cfg: Config, plan: dict[str, Any]) -> dict[str, Any]:
    """Every fold's test metrics (its held-out fold), their mean and std, the final run's test metrics,
    and the verdict against each baseline with the corrected resampled t-test."""
    names = fold_names(plan)
    reports = {n: json.loads((folder / n / "report.json").read_text(encoding="utf-8")) for n in names}
    final = json.loads((folder / "final" / "report.json").read_text(encoding="utf-8"))

    def values(report: dict[str, Any]) -> dict[str, float]:
        return {m: v["value"] for m, v in ((report.get("test") or {}).get("metrics") or {}).items()}

    runs = [{"fold": n, "rows": rows, "best_epoch": r.get("best_epoch"), "metrics": values(r)}
            for (n, r), rows in zip(reports.items(), plan["fold_rows"])]
    metrics: dict[str, Any] = {}
    for metric in runs[0]["metrics"]:
        v = np.array([run["metrics"].get(metric, np.nan) for run in runs], dtype=float)
        if not np.isnan(v).any():
            metrics[metric] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)), "min": float(v.min()),
                               "max": float(v.max())}
    confidence = cfg.evaluate.confidence
    return {"folds": plan["folds"], "repeats": plan["repeats"], "method": plan["method"], "n": len(runs),
            "pool_rows": plan["pool_rows"], "test_rows": plan["test_rows"], "confidence": confidence,
            "metrics": metrics, "verdict": _verdict(list(reports.values()), plan, confidence), "runs": runs,
            "final": {"folder": "final", "epochs": final.get("epochs_run"), "metrics": values(final),
                      "intervals": (final.get("test") or {}).get("metrics"), "verdict": final.get("verdict")}}


def _verdict(reports: list[dict[str, Any]], plan: dict[str, Any], confidence: float) -> dict[str, Any] | None:
    """Per baseline: the mean paired difference over the folds and its Nadeau-Bengio interval."""
    verdicts = [r.get("verdict") for r in reports]
    if not all(verdicts):
        return None
    metric = verdicts[0]["metric"]
    n_test = float(np.mean(plan["fold_rows"]))
    correction = n_test / (plan["pool_rows"] - n_test)  # held-out rows / training rows of a fold
    out: dict[str, Any] = {"metric": metric, "test": "corrected resampled t-test (Nadeau and Bengio 2003)",
                           "against": {}}
    for name in verdicts[0]["against"]:
        rows = [v["against"].get(name) for v in verdicts]
        if not all(r and r.get("difference") is not None for r in rows):
            continue
        d = np.array([r["difference"] for r in rows], dtype=float)
        J = len(d)
        se = math.sqrt((1 / J + correction) * d.var(ddof=1))
        half = float(stats.t.ppf(0.5 + confidence / 2, J - 1)) * se
        found = verdict(metric, {"value": float(d.mean()), "ci_low": float(d.mean() - half),
                                 "ci_high": float(d.mean() + half)}, name)
        found.update(text=f"{found['text']}, over {J} folds", folds_std=float(d.std(ddof=1)), standard_error=se)
        out["against"][name] = found
    return out


def summary_section(summary: dict[str, Any]) -> str:
    """report.html's lead: the folds' spread per metric beside the final run's test value, the verdict."""
    intro = (f"{summary['n']} fold runs ({summary['folds']} folds x {summary['repeats']}, {summary['method']}) on "
             f"{summary['pool_rows']} train + val rows, each scored on its held-out fold; the final run trained on "
             f"them all for {summary['final']['epochs']} epochs and was tested once on the {summary['test_rows']} "
             "test rows.")
    return spread_section("cv", "Cross-validation", intro, summary["metrics"], summary.get("verdict"),
                          ("final (test)", summary["final"]["metrics"]))
