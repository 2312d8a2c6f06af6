"""`netfit repeat`: one config trained with several seeds on the same split, to see how far the
test metrics move between seeds and whether the verdict against the baselines survives that spread.

Every run keeps the rows of the config's split (`data.split.seed` is set to the config's seed), so
only the initialisation, the batch order and dropout change with the seed. The runs live in one
folder, `runs/<name>-repeat-<stamp>-<rand>/seed-<k>/`, beside `repeat.yaml` (the config),
`repeat.json` (each run's test metrics, their mean and standard deviation, the verdict) and
`report.html` (that summary, then the runs side by side, as `netfit compare` draws them). A seed whose folder holds
report.json is done: `--resume FOLDER` trains the others, continuing a run from its checkpoint
when it has one, so a killed repeat goes on where it stopped.

The verdict with the seed spread: each run's paired bootstrap gives the difference network -
baseline on the main metric and its interval. Over k seeds the mean difference d gets the
standard error sqrt(s_b^2 / k + se_w^2), s_b the standard deviation of the k differences
between seeds and se_w the mean bootstrap standard error of one run (its interval's width / 2z:
the test rows are the same in every run, so their sampling error does not average out), and
the interval d +/- t(k-1) * se, read as a run's verdict is ("better", "worse", "no better").
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from netfit.config import Config, load_config
from netfit.errors import ConfigError
from netfit.evaluate.compare import spread_section, write_compare
from netfit.evaluate.verdict import verdict
from netfit.io import write_json, write_text
from netfit.run import check_workers, run_into, run_workers, set_folder
from netfit.runfolder import make_run_dir

CONFIG = "repeat.yaml"
SUMMARY = "repeat.json"


def repeat(config: Any, overrides: Any = None, *, seeds: int = 5, resume: str | Path | None = None,
           workers: int = 1, quiet: bool = True) -> tuple[Path, dict[str, Any]]:
    """Train `config` with `seeds` seeds (the config's seed and the next ones) on one split; return
    the repeat folder and repeat.json's content.

    Example:
        >>> folder, summary = repeat("examples/digits_mlp.yaml", seeds=5)  # doctest: +SKIP
        >>> summary["metrics"]["accuracy"]["std"]  # doctest: +SKIP
    """
    if seeds < 2:
        raise ConfigError("a repeat needs at least two seeds", where="--seeds", found=str(seeds),
                          expected="2 or more (5 is usual)", hint="netfit repeat CONFIG --seeds 5")
    check_workers(workers, "seeds")
    if resume is not None:
        folder = set_folder(resume, CONFIG, "repeat")
        cfg = load_config(folder / CONFIG)
    else:
        cfg = load_config(config, overrides)
        split = cfg.data.split.model_copy(update={"seed": cfg.data.split.seed if cfg.data.split.seed is not None
                                                  else cfg.seed})
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"split": split})})
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = make_run_dir(Path(cfg.output_dir) / f"{cfg.name}-repeat-{stamp}-{secrets.token_hex(3)}")
        write_text(folder / CONFIG, cfg.to_yaml())
    todo = [s for s in seed_list(cfg, seeds) if not (folder / f"seed-{s}" / "report.json").is_file()]
    if workers == 1 or len(todo) < 2:
        for s in todo:
            run_seed(folder, cfg, s, quiet)
    else:
        _run_workers(folder, todo, workers)
    summary = summarize(folder, cfg, seed_list(cfg, seeds))
    write_json(folder / SUMMARY, summary)
    write_compare([folder / f"seed-{s}" for s in seed_list(cfg, seeds)], folder / "report.html",
                  lead=summary_section(summary))
    return folder, summary


def seed_list(cfg: Config, seeds: int) -> list[int]:
    return [cfg.seed + i for i in range(seeds)]


def run_seed(folder: Path, cfg: Config, seed: int, quiet: bool = True) -> None:
    """Train one seed into `folder/seed-<seed>` (continued from its checkpoint when a killed run left one)."""
    run_into(folder / f"seed-{seed}", cfg.model_copy(update={"seed": seed, "name": f"seed-{seed}"}), quiet)


def worker_main(folder: str, seeds: list[int]) -> None:
    """Entry point of one worker process of `repeat(..., workers=N)`: train its share of the seeds."""
    cfg = load_config(Path(folder) / CONFIG)
    for s in seeds:
        run_seed(Path(folder), cfg, s)


def _run_workers(folder: Path, todo: list[int], workers: int) -> None:
    codes = [f"from netfit.repeat import worker_main; worker_main({str(folder)!r}, {todo[i::workers]!r})"
             for i in range(min(workers, len(todo)))]
    run_workers(folder / "workers", codes, "repeat",
                f"fix the problem, then continue with `netfit repeat --resume {folder}`")


def summarize(folder: Path, cfg: Config, seeds: list[int]) -> dict[str, Any]:
    """Mean, standard deviation, min and max of every test metric over the seeds, each run's
    values, and the verdict against each baseline with the seed spread counted."""
    import json

    reports = {s: json.loads((folder / f"seed-{s}" / "report.json").read_text(encoding="utf-8")) for s in seeds}
    runs = [{"seed": s, "folder": f"seed-{s}", "metrics": {m: v["value"] for m, v in
                                                           ((r.get("test") or {}).get("metrics") or {}).items()}}
            for s, r in reports.items()]
    metrics: dict[str, Any] = {}
    for name in runs[0]["metrics"]:
        values = np.array([run["metrics"].get(name, np.nan) for run in runs], dtype=float)
        if np.isnan(values).any():
            continue
        metrics[name] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)),
                         "min": float(values.min()), "max": float(values.max())}
    confidence = cfg.evaluate.confidence
    return {"seeds": seeds, "split_seed": cfg.data.split.seed, "n": len(seeds), "confidence": confidence,
            "metrics": metrics, "verdict": _verdict(list(reports.values()), confidence), "runs": runs}


def _verdict(reports: list[dict[str, Any]], confidence: float) -> dict[str, Any] | None:
    """Per baseline: the mean paired difference over seeds and its interval with the seed spread."""
    verdicts = [r.get("verdict") for r in reports]
    if not all(verdicts):
        return None
    metric = verdicts[0]["metric"]
    z = stats.norm.ppf(0.5 + confidence / 2)
    out: dict[str, Any] = {"metric": metric, "against": {}}
    for name in verdicts[0]["against"]:
        rows = [v["against"].get(name) for v in verdicts]
        if not all(r and r.get("difference") is not None for r in rows):
            continue
        d = np.array([r["difference"] for r in rows], dtype=float)
        within = [(r["ci_high"] - r["ci_low"]) / (2 * z) for r in rows if r.get("ci_low") is not None]
        k = len(d)
        se = math.sqrt(d.var(ddof=1) / k + (float(np.mean(np.square(within))) if within else 0.0))
        half = float(stats.t.ppf(0.5 + confidence / 2, k - 1)) * se
        found = verdict(metric, {"value": float(d.mean()), "ci_low": float(d.mean() - half),
                                 "ci_high": float(d.mean() + half)}, name)
        found.update(text=f"{found['text']}, over {k} seeds", between_seeds_std=float(d.std(ddof=1)),
                     within_run_se=float(np.mean(within)) if within else None)
        out["against"][name] = found
    return out


def summary_section(summary: dict[str, Any]) -> str:
    """report.html's lead: the spread of each test metric over the seeds, and the verdict."""
    intro = (f"{summary['n']} runs of one config with seeds {', '.join(map(str, summary['seeds']))}, all on the "
             f"same split (split seed {summary['split_seed']}): only the initialisation, batch order and dropout differ.")
    return spread_section("repeat", "Seed spread", intro, summary["metrics"], summary.get("verdict"))
