"""The report of the quality benchmark: summaries per set, ranks, the goals of issue 17, markdown.

`summarise(records)` -> {(set, learner): mean, std, seconds, failed}; `ranks(summary, sets, names)`
-> {(set, learner): rank}; `write_report(...)` -> the markdown text; `write_atomic(path, text)`.
"""

from __future__ import annotations

import os
import platform
import statistics
from datetime import datetime
from pathlib import Path

import numpy as np

from quality_data import DATASETS, PUBLISHED
from quality_learners import LEARNERS

PRIMARY = {"classification": "accuracy", "regression": "rmse"}  # rmse: lower is better


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
        worse = [f"{s} ({_f(summary[(s, 'netfit')]['mean'])} vs {_f(summary[(s, 'linear')]['mean'])}, slack "
                 f"{_f(_slack(summary, s, sizes.get(s)))})" for s in tables if _worse_than_linear(summary, s, sizes.get(s))]
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


def against_contenders(records: list[dict], sets: list[str], variants: list[str], contenders: list[str]) -> list[str]:
    """Each variant's mean rank among itself and the contenders (what netfit's rank would be with
    it as the default), and the sets where it is worse than the linear model beyond noise."""
    others = summarise([r for r in records if r.get("learner") and not r["learner"].startswith("netfit")])
    contenders = [n for n in contenders if any(k[1] == n and k[0] in sets for k in others)]
    if not contenders:
        return []
    mine = summarise([r for r in records if r.get("variant")], key="variant")
    lines = [f"Each variant ranked against {', '.join(contenders)} (1 best of {len(contenders) + 1}); "
             "sets where it is worse than linear by more than max(pooled seed std, 1/n_test):", "",
             "| variant | mean rank | best contender (its mean rank) | worse than linear |", "|---|---|---|---|"]
    for v in variants:
        combined = {**others, **{(s, "netfit"): c for (s, name), c in mine.items() if name == v}}
        rank = ranks(combined, sets, ["netfit", *contenders])
        best = min(contenders, key=lambda n: mean_rank(rank, sets, n) or np.inf)
        worse = [s for s in sets if _worse_than_linear(combined, s, n_test(records, s))]
        lines.append(f"| {v} | {_f(mean_rank(rank, sets, 'netfit'), 2)} | {best} ({_f(mean_rank(rank, sets, best), 2)}) "
                     f"| {', '.join(worse) or '-'} |")
    return lines + [""]


def _worse_than_linear(summary: dict, s: str, n: int | None) -> bool:
    """netfit below the linear model by more than max(pooled seed std, 1/n_test) (classification;
    the pooled std for regression, whose units 1/n_test does not share); a failed netfit fit is worse."""
    me, lin = summary.get((s, "netfit")), summary.get((s, "linear"))
    if not me or not lin or lin["failed"]:
        return False
    if me["failed"]:
        return True
    gap = lin["mean"] - me["mean"] if DATASETS[s].task == "classification" else me["mean"] - lin["mean"]
    return gap > _slack(summary, s, n) + 1e-9  # one test row of slack is exactly 1/n_test


def _slack(summary: dict, s: str, n: int | None) -> float:
    me, lin = summary[(s, "netfit")], summary[(s, "linear")]
    pooled = float(np.sqrt((me["std"] ** 2 + lin["std"] ** 2) / 2))
    return max(pooled, 1 / n) if DATASETS[s].task == "classification" and n else pooled


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
        if variants:
            lines += against_contenders(records, kind_sets, names, [n for n in learners if kind in LEARNERS[n].kinds
                                                                    and not n.startswith("netfit")])
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
