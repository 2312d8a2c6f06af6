"""Probabilities you can trust and error bars on every prediction, fitted on the validation split.

- Temperature scaling (classifiers): one parameter T > 0 divides the logits before the softmax
  (binary: the one logit before the sigmoid). T is fitted by LBFGS on the validation log loss,
  over log T so that it stays positive. The argmax, and so every label prediction, is unchanged.
  Vector scaling on request: a scale and a bias per logit (2K parameters; binary: Platt scaling).
- Split conformal prediction: the validation rows' nonconformity scores give one threshold,
  with the finite-sample correction: the ceil((n+1)(1-alpha))-th smallest of n scores.
  Regression scores are absolute residuals (interval: prediction +/- q, in target units), or
  residuals divided by a spread model's estimate (normalized: prediction +/- q * spread(x), chosen
  on one half of the validation rows when narrower, calibrated on the other); classification
  scores are LAC, 1 - p(true class) on the calibrated probabilities (set: every class with
  p >= 1 - q; a set may be empty), or APS on request (the mass of the classes at least as likely).

The test split then checks both: log loss, Brier score and ECE before and after scaling, each
with a paired percentile bootstrap interval (`bootstrap.bootstrap_ci`), and the conformal
coverage on test with a Wilson interval.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch

from netfit.errors import NetfitWarning, emit

ECE_BINS = 15
FIT_ROWS = 50_000  # validation rows the temperature is fitted on, at most
BINNING = (f"{ECE_BINS} equal-width bins of the top-class probability on [0, 1] (a value on an inner edge "
           "goes to the lower bin); ECE = sum over bins of (rows in bin / rows) * |accuracy - mean confidence|")
BRIER = "mean over rows of sum over classes of (probability - one-hot label)^2 (binary: (p1 - y)^2)"


# ---------------------------------------------------------------- temperature and vector scaling
def _log_probs(logits: torch.Tensor) -> torch.Tensor:
    """(n, K) log probabilities of raw outputs: a binary model's one logit z is the pair (0, z)."""
    if logits.shape[1] == 1:
        logits = torch.cat([torch.zeros_like(logits), logits], dim=1)
    return torch.log_softmax(logits, dim=1)


def _fit_rows(logits: torch.Tensor, y: np.ndarray, max_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows of known labels (y >= 0) as float logits and labels; beyond `max_rows` rows a seeded
    random subset of that many (the few parameters are settled well before; the cost stays bounded)."""
    y_t = torch.as_tensor(np.asarray(y), dtype=torch.long)
    known = y_t >= 0
    z, y_t = logits.detach().float().cpu()[known], y_t[known]
    if len(y_t) > max_rows:
        keep = torch.randperm(len(y_t), generator=torch.Generator().manual_seed(0))[:max_rows]
        z, y_t = z[keep], y_t[keep]
    return z, y_t


def _map_fit(params: torch.Tensor, scaled: Callable[[torch.Tensor], torch.Tensor], y: torch.Tensor) -> bool:
    """Fit `params` (in place) by LBFGS: the mean validation log loss of `scaled(params)` plus a
    standard normal prior on every parameter (weight 1/n: the MAP estimate). Without it, on a small
    validation split that every class separates, the log loss falls without end as the logits grow
    (wine, 27 rows: T = 0.02, and one wrong test row cost a log loss of 1.3). True when the fit is
    finite and no worse than no scaling on these rows (the caller then keeps it)."""
    loss_at = lambda p: torch.nn.functional.nll_loss(_log_probs(scaled(p)), y)  # noqa: E731
    start = params.detach().clone()
    opt = torch.optim.LBFGS([params], lr=0.5, max_iter=50, tolerance_change=1e-7, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = loss_at(params) + params.square().sum() / (2 * len(y))
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        return bool(torch.isfinite(params).all()) and loss_at(params).item() <= loss_at(start).item()


def fit_temperature(logits: torch.Tensor, y: np.ndarray, max_rows: int = FIT_ROWS) -> float:
    """The T minimising the mean log loss of softmax(logits / T) on the rows of known labels (y >= 0),
    with a standard normal prior on log T (a pull toward T = 1 on small splits, nothing on large
    ones). One parameter: a few LBFGS steps (about 20 passes over the rows), on at most `max_rows`
    rows. 1 when no temperature beats no scaling."""
    z, y_t = _fit_rows(logits, y, max_rows)
    if len(y_t) == 0 or not torch.isfinite(z).all():
        return 1.0
    log_t = torch.zeros(1, requires_grad=True)
    kept = _map_fit(log_t, lambda p: z / p.exp(), y_t)
    return float(log_t.detach().exp().item()) if kept else 1.0


def fit_vector(logits: torch.Tensor, y: np.ndarray, max_rows: int = FIT_ROWS) -> dict[str, list[float]] | None:
    """Vector scaling (Guo et al. 2017): each logit k becomes exp(s_k) * z_k + b_k, 2K parameters
    fitted as the temperature is (standard normal priors on s and b); a binary model's one logit is
    Platt scaling. The predicted label may change (the biases move the argmax). None when it does not
    beat no scaling on the validation rows."""
    z, y_t = _fit_rows(logits, y, max_rows)
    if len(y_t) == 0 or not torch.isfinite(z).all():
        return None
    k = z.shape[1]
    params = torch.zeros(2 * k, requires_grad=True)
    if not _map_fit(params, lambda p: z * p[:k].exp() + p[k:], y_t):
        return None
    p = params.detach()
    return {"scale": [float(v) for v in p[:k].exp()], "bias": [float(v) for v in p[k:]]}


def fit_calibration(method: str, logits: torch.Tensor, y: np.ndarray) -> dict[str, Any]:
    """model.json's `calibration` for `evaluate.calibration` (temperature or vector) on the
    validation logits; a vector fit that does not help falls back to T = 1."""
    if method == "vector":
        vector = fit_vector(logits, y)
        if vector is not None:
            return {"method": "vector", **vector}
    return {"method": "temperature", "temperature": fit_temperature(logits, y) if method == "temperature" else 1.0}


def log_loss_of(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean -log p(true class), clipped as scikit-learn clips."""
    eps = np.finfo(np.float64).eps
    p = np.asarray(proba, np.float64)[np.arange(len(y)), np.asarray(y)]
    return float(-np.log(np.clip(p, eps, 1 - eps)).mean()) if len(y) else math.nan


def calibration_report(y: np.ndarray, before: np.ndarray, after: np.ndarray, calibration: dict[str, Any], *,
                       val: dict[str, float], resamples: int, confidence: float, seed: int) -> dict[str, Any]:
    """report.json's `calibration` block: test log loss, Brier score and ECE before and after,
    their changes (after - before), each with a paired bootstrap interval; the reliability bins."""
    from netfit.evaluate.bootstrap import bootstrap_ci  # scikit-learn: not loaded where predict only applies T

    known = np.asarray(y) >= 0  # a label unseen in training has no probability column: left out here
    y, before, after = np.asarray(y)[known], np.asarray(before, float)[known], np.asarray(after, float)[known]
    rows = {"before": _row_terms(y, before), "after": _row_terms(y, after)}
    metrics: dict[str, Any] = {}
    fns = {}
    for name in ("log_loss", "brier", "ece"):
        for when in ("before", "after"):
            fns[f"{name}/{when}"] = _resample_fn(name, rows[when])
        fns[f"{name}/change"] = _difference(fns[f"{name}/after"], fns[f"{name}/before"])
    ci = bootstrap_ci(fns, len(y), resamples=resamples, confidence=confidence, seed=seed) if resamples and len(y) else {}
    every = np.arange(len(y))[None, :]
    for key, fn in fns.items():
        name, when = key.split("/")
        value = float(fn(every)[0]) if len(y) else math.nan
        low, high = (ci[key].low, ci[key].high) if key in ci else (None, None)
        metrics.setdefault(name, {})[when] = {"value": value, "ci_low": low, "ci_high": high}
    return {
        **calibration, "fitted_on": "validation split",
        "validation_log_loss": val, "n": int(len(y)), "metrics": metrics,
        "ece_binning": BINNING, "brier": BRIER,
        "reliability": {"bins": ECE_BINS, "before": reliability_bins(y, before), "after": reliability_bins(y, after)},
        "bootstrap": {"resamples": resamples, "confidence": confidence, "paired": True},
    }


def _row_terms(y: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row pieces every resample metric is a mean or a binned sum of."""
    n, K = p.shape
    eps = np.finfo(np.float64).eps
    onehot = np.zeros_like(p)
    onehot[np.arange(n), y] = 1.0
    brier = (p[:, 1] - onehot[:, 1]) ** 2 if K == 2 else ((p - onehot) ** 2).sum(axis=1)
    conf = p.max(axis=1)
    return {"log_loss": -np.log(np.clip(p[np.arange(n), y], eps, 1 - eps)), "brier": brier,
            "bin": _bin_of(conf), "gap": conf - (p.argmax(axis=1) == y)}


def _bin_of(conf: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.linspace(0, 1, ECE_BINS + 1)[1:-1], conf)


def _resample_fn(name: str, rows: dict[str, np.ndarray]):
    from netfit.evaluate.bootstrap import batched

    if name != "ece":
        return batched(lambda idx: rows[name][idx].mean(axis=1))

    def ece(idx: np.ndarray) -> np.ndarray:  # |sum of (confidence - hit)| per bin, one bincount for all resamples
        R, n = idx.shape
        codes = rows["bin"][idx] + (np.arange(R) * ECE_BINS)[:, None]
        sums = np.bincount(codes.ravel(), weights=rows["gap"][idx].ravel(), minlength=R * ECE_BINS)
        return np.abs(sums.reshape(R, ECE_BINS)).sum(axis=1) / n

    return batched(ece)


def _difference(a, b):
    from netfit.evaluate.bootstrap import batched

    return batched(lambda idx: a(idx) - b(idx))


def reliability_bins(y: np.ndarray, p: np.ndarray) -> dict[str, list]:
    """Per bin of the top-class probability: rows, mean confidence, accuracy (None where empty)."""
    which, conf, hit = _bin_of(p.max(axis=1)), p.max(axis=1), p.argmax(axis=1) == y
    count = np.bincount(which, minlength=ECE_BINS)
    mean = lambda v: [float(s / c) if c else None for s, c in zip(np.bincount(which, weights=v, minlength=ECE_BINS), count)]  # noqa: E731
    return {"count": count.tolist(), "confidence": mean(conf), "accuracy": mean(hit.astype(float))}


# ---------------------------------------------------------------- split conformal
def conformal_quantile(scores: np.ndarray, coverage: float, where: str) -> float:
    """The ceil((n+1) * coverage)-th smallest score: P(test score <= q) >= coverage for exchangeable rows.

    With too few rows for the level (that rank beyond n) the answer is inf: the interval is
    unbounded, every class is in the set, and a warning says so."""
    s = np.sort(np.asarray(scores, dtype=np.float64))
    n = len(s)
    rank = math.ceil((n + 1) * coverage)
    if rank > n:
        emit(NetfitWarning(f"{n} validation rows are too few for {coverage:.0%} conformal coverage: the intervals "
                           "are unbounded (every class in the set)", where=where,
                           hint=f"give the validation split at least {math.ceil(coverage / (1 - coverage))} rows, "
                                "or lower evaluate.conformal.coverage"))
        return math.inf
    return float(s[rank - 1])


def _bounded(q: float) -> float | None:
    """A threshold for model.json: None when unbounded (JSON has no infinity)."""
    return q if math.isfinite(q) else None


SPREAD_RIDGE = 1.0  # the ridge penalty of the spread model (features standardised by the preprocessing)
MIN_HALF = 50  # validation rows each half needs before a variant is chosen on one half


def fit_conformal(task: str, y: np.ndarray, output: np.ndarray, coverage: float, where: str,
                  x_num: np.ndarray | None = None, method: str = "auto", seed: int = 0) -> dict[str, Any]:
    """model.json's `conformal` entry from validation labels and predictions (target units, or
    calibrated probabilities).

    `method`: regression `absolute` (prediction +/- q) or `normalized` (prediction +/- q * spread(x),
    the spread a ridge model of log |residual| on the preprocessed features `x_num` and their absolute
    values, fitted on one seeded half of the rows and calibrated on the other; absolute below
    2 x MIN_HALF rows or without table features); classification `lac` (1 - p(true class)) or `aps`
    (the probability mass of the classes at least as likely as the true one). `auto`: classification
    `lac` (the smallest sets); regression chooses between absolute and normalized on the first half
    (the narrower mean interval) and calibrates the chosen one on the other half, so the choice does
    not spend the guarantee."""
    y = np.asarray(y)
    if task != "regression":
        known = y >= 0
        scores = class_scores(output[known], "aps" if method == "aps" else "lac")[np.arange(known.sum()), y[known]]
        q = conformal_quantile(scores, coverage, where)
        if method == "aps":
            return {"coverage": coverage, "method": "aps", "n": int(known.sum()), "quantile": _bounded(q),
                    "rule": "set = every class whose probability plus that of the classes more likely than it "
                            "is at most quantile"}
        return {"coverage": coverage, "method": "lac", "n": int(known.sum()), "quantile": _bounded(q),
                "threshold": 1.0 - q if math.isfinite(q) else 0.0,
                "rule": "set = every class with probability >= threshold"}
    residual = np.abs(y - output)
    usable = x_num is not None and x_num.ndim == 2 and x_num.shape[1] > 0
    spread, chose_on, calibrate = None, None, np.arange(len(y))
    if usable and method in ("auto", "normalized") and len(y) >= 2 * MIN_HALF:
        order = np.random.default_rng(seed).permutation(len(y))
        choose, calibrate = order[: len(y) // 2], order[len(y) // 2:]
        spread = fit_spread(x_num[choose], residual[choose])
        if method == "auto":
            sigma = spread_of(x_num[choose], spread)
            width_abs = conformal_quantile(residual[choose], coverage, where)
            width_norm = conformal_quantile(residual[choose] / sigma, coverage, where) * float(np.mean(sigma))
            chose_on = {"rows": int(len(choose)), "mean_width_absolute": 2 * width_abs,
                        "mean_width_normalized": 2 * width_norm}
            if not width_norm < width_abs:
                spread = None
    if spread is None:
        q = conformal_quantile(residual[calibrate], coverage, where)
        entry = {"coverage": coverage, "method": "absolute_residual", "n": int(len(calibrate)),
                 "quantile": _bounded(q),  # None: unbounded
                 "rule": "lower = prediction - quantile; upper = prediction + quantile"}
    else:
        q = conformal_quantile(residual[calibrate] / spread_of(x_num[calibrate], spread), coverage, where)
        entry = {"coverage": coverage, "method": "normalized_residual", "n": int(len(calibrate)),
                 "quantile": _bounded(q), "spread": spread,
                 "rule": "spread = exp(bias + weights . [x_num, |x_num|]); lower/upper = prediction -/+ quantile * spread"}
    if chose_on is not None:
        entry["chosen_on"] = chose_on
    return entry


def _spread_features(x: np.ndarray) -> np.ndarray:
    """What the spread model reads: the preprocessed table columns and their absolute values."""
    return np.hstack([x, np.abs(x)]).astype(np.float64)


def fit_spread(x: np.ndarray, residual: np.ndarray) -> dict[str, Any]:
    """A ridge regression of log |residual| on [x, |x|]: how wide the errors are where a row lies."""
    phi = _spread_features(x)
    mean = phi.mean(axis=0)
    t = np.log(residual + 1e-6 * (float(np.mean(residual)) + 1e-12))
    a = phi - mean
    w = np.linalg.solve(a.T @ a + SPREAD_RIDGE * len(t) ** 0.5 * np.eye(a.shape[1]), a.T @ (t - t.mean()))
    return {"weights": w.tolist(), "bias": float(t.mean() - mean @ w)}


def spread_of(x: np.ndarray, spread: dict[str, Any]) -> np.ndarray:
    return np.exp(np.clip(_spread_features(x) @ np.asarray(spread["weights"]) + spread["bias"], -50, 50))


def class_scores(proba: np.ndarray, method: str) -> np.ndarray:
    """(n, K) nonconformity of every class: LAC 1 - p; APS the mass of the classes at least as likely."""
    p = np.asarray(proba, dtype=np.float64)
    if method == "lac":
        return 1.0 - p
    order = np.argsort(-p, axis=1, kind="stable")
    mass = np.cumsum(np.take_along_axis(p, order, axis=1), axis=1)
    scores = np.empty_like(p)
    np.put_along_axis(scores, order, mass, axis=1)
    return scores


def intervals(output: np.ndarray, conformal: dict[str, Any], x_num: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) in target units; the normalized variant needs the rows' preprocessed `x_num`."""
    q = math.inf if conformal["quantile"] is None else conformal["quantile"]
    if conformal["method"] == "normalized_residual" and math.isfinite(q):
        half = q * spread_of(np.asarray(x_num), conformal["spread"])
        return output - half, output + half
    return output - q, output + q


def prediction_sets(proba: np.ndarray, conformal: dict[str, Any]) -> np.ndarray:
    """(n, K) booleans: class k is in row i's set."""
    if conformal["method"] == "aps":
        q = math.inf if conformal["quantile"] is None else conformal["quantile"]
        return class_scores(proba, "aps") <= q
    return proba >= conformal["threshold"]


def wilson(hits: int, n: int, confidence: float) -> tuple[float | None, float | None]:
    """The Wilson score interval of a binomial proportion."""
    if n == 0:
        return None, None
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


ON_VALIDATION = "validation split (also used for early stopping and, for classifiers, the temperature)"
ON_CALIBRATION = "calibration split (held out of training and early stopping: data.split.calibration)"


def coverage_report(task: str, y: np.ndarray, output: np.ndarray, conformal: dict[str, Any], classes: list,
                    confidence: float, x_num: np.ndarray | None = None) -> dict[str, Any]:
    """report.json's `conformal` block: nominal and test coverage (Wilson interval), mean width or
    set size, coverage per class or per decile of the true target."""
    y = np.asarray(y)
    out: dict[str, Any] = {k: conformal[k] for k in ("coverage", "method", "n", "quantile", "threshold", "chosen_on")
                           if k in conformal}
    out["nominal"] = out.pop("coverage")
    out["calibrated_on"] = conformal.get("calibrated_on", ON_VALIDATION)
    if task == "regression":
        low, high = intervals(output, conformal, x_num)
        covered = (y >= low) & (y <= high)
        out["mean_width"] = _bounded(float(np.mean(high - low))) if len(y) else None  # None: unbounded intervals
        edges = np.quantile(y, np.linspace(0, 1, 11)) if len(y) else np.array([])
        decile = np.clip(np.searchsorted(edges[1:-1], y, side="right"), 0, 9) if len(y) else y
        groups = [(f"decile {d + 1} [{edges[d]:.4g}, {edges[d + 1]:.4g}]", decile == d) for d in range(10 if len(y) else 0)]
        out["by"] = "decile of the true target"
    else:
        known = y >= 0  # an unseen label has no class to be in a set: those rows are left out
        y, output = y[known], output[known]
        sets = prediction_sets(output, conformal)
        covered = sets[np.arange(len(y)), y]
        sizes = sets.sum(axis=1)
        out["mean_set_size"] = float(sizes.mean()) if len(y) else None
        out["empty_sets"] = int((sizes == 0).sum())
        out["set_sizes"] = {str(k): int(c) for k, c in enumerate(np.bincount(sizes, minlength=len(classes))) if c}
        groups = [(str(c), y == k) for k, c in enumerate(classes)]
        out["by"] = "true class"
    hits, n = int(covered.sum()), int(len(covered))
    low_ci, high_ci = wilson(hits, n, confidence)
    out["test"] = {"coverage": hits / n if n else None, "ci_low": low_ci, "ci_high": high_ci, "n": n,
                   "interval": f"Wilson score, {confidence:.0%}"}
    out["groups"] = {name: {"n": int(m.sum()), "coverage": float(covered[m].mean()) if m.any() else None}
                     for name, m in groups}
    return out


# ---------------------------------------------------------------- selective prediction
def risk_coverage(y: np.ndarray, proba: np.ndarray, points: int = 20) -> dict[str, Any]:
    """The error rate among the rows kept when only the most confident are answered (classification).

    Rows are ranked by their top-class probability (calibrated); keeping the top k gives coverage
    k/n and risk = errors among them / k. `aurc` is the mean risk over every k (lower is better);
    `curve` lists `points` coverages with their risk and the confidence threshold that keeps them
    (`predict --min-confidence` with that value abstains on the rest)."""
    y, p = np.asarray(y), np.asarray(proba, float)
    known = y >= 0
    y, p = y[known], p[known]
    n = len(y)
    if not n:
        return {"n": 0, "aurc": None, "curve": []}
    conf = p.max(axis=1)
    order = np.argsort(-conf, kind="stable")
    errors = np.cumsum(p.argmax(axis=1)[order] != y[order])
    risk = errors / np.arange(1, n + 1)
    ks = np.unique(np.clip(np.ceil(np.linspace(1 / points, 1, points) * n).astype(int), 1, n))
    return {"n": int(n), "aurc": float(risk.mean()), "ranked_by": "top-class probability",
            "curve": [{"coverage": float(k / n), "risk": float(risk[k - 1]), "min_confidence": float(conf[order][k - 1])}
                      for k in ks]}
