"""The contenders of the quality benchmark, each at its own defaults, as one registry.

`LEARNERS`: name -> `Learner(kinds, fit, module)`. `fit(job, rows)` trains on `rows` ("train" or
"train+val") of a `Job` and returns test metrics ({accuracy, log_loss} or {rmse, r2}); netfit
always trains on train and early-stops on val. `module` is the package a learner needs: when it
is not installed the learner is reported as such (and ranks last) instead of failing the run.
Only resource settings are set (one thread, CPU, quiet); every quality setting is the default.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

SPLITS = ("train", "val", "test")


@dataclass
class Job:
    """One data set under one seed: features and encoded targets per split."""

    name: str
    kind: str  # "table" | "image" | "series"
    task: str  # "classification" | "regression"
    x: dict[str, Any]  # split -> DataFrame (tables) or array (N, H, W) / (N, T, F)
    y: dict[str, np.ndarray]  # split -> class codes 0..K-1, or floats
    seed: int
    threads: int = 1
    overrides: dict[str, Any] = field(default_factory=dict)  # netfit config fields (ablation)

    @property
    def n_classes(self) -> int:
        return int(max(v.max() for v in self.y.values())) + 1 if self.task == "classification" else 0


@dataclass(frozen=True)
class Learner:
    kinds: tuple[str, ...]
    fit: Callable[[Job, str], dict[str, float]]
    module: str | None = None  # the package it needs (None: always there)
    note: str = ""
    by_default: bool = True  # in a run without --learners


# ------------------------------------------------------------------ scoring and shared rows
def score(job: Job, pred: np.ndarray) -> dict[str, float]:
    """Test metrics from class probabilities (N, K) or predicted values (N,)."""
    from sklearn.metrics import log_loss, r2_score, root_mean_squared_error

    y = job.y["test"]
    if job.task == "regression":
        return {"rmse": float(root_mean_squared_error(y, pred)), "r2": float(r2_score(y, pred))}
    return {"accuracy": float(np.mean(pred.argmax(axis=1) == y)),
            "log_loss": float(log_loss(y, np.clip(pred, 1e-15, 1), labels=range(job.n_classes)))}


def as_table(x: Any) -> pd.DataFrame:
    """Tables as they are; images and series flattened into one column per pixel or step."""
    if isinstance(x, pd.DataFrame):
        return x
    flat = np.asarray(x).reshape(len(x), -1)
    return pd.DataFrame(flat, columns=[f"p{i}" for i in range(flat.shape[1])])


def fit_rows(job: Job, rows: str) -> tuple[pd.DataFrame, np.ndarray]:
    names = ("train", "val") if rows == "train+val" else ("train",)
    x = pd.concat([as_table(job.x[s]) for s in names], ignore_index=True)
    return x, np.concatenate([job.y[s] for s in names])


def full_proba(model: Any, proba: np.ndarray, k: int) -> np.ndarray:
    """Probabilities in columns 0..k-1 even when a class was absent from the fitted rows."""
    out = np.zeros((len(proba), k))
    out[:, np.asarray(model.classes_, dtype=int)] = proba
    return out


def categorical_columns(x: pd.DataFrame) -> list[str]:
    return [c for c in x.columns if not pd.api.types.is_numeric_dtype(x[c]) or pd.api.types.is_bool_dtype(x[c])]


# ------------------------------------------------------------------ netfit
QUIET = {"evaluate": {"bootstrap": 0, "baselines": False, "report_html": False}}


def netfit_fit(job: Job, rows: str, extra: dict | None = None) -> dict[str, float]:
    """netfit.fit on train, early stopping on val; tables through `data.split.column`."""
    import netfit

    config = {"data": {"target": "target", **(extra or {}).get("data", {})}, "seed": job.seed, **QUIET,
              **{k: v for k, v in (extra or {}).items() if k != "data"}}
    if job.kind == "table":
        frame = pd.concat([job.x[s].assign(target=job.y[s], split__=s) for s in SPLITS], ignore_index=True)
        config["data"]["split"] = {"column": "split__"}
        data: Any = frame
    else:
        data = {s: (job.x[s], job.y[s]) for s in SPLITS}
    overrides = {k.replace(".", "__"): v for k, v in job.overrides.items()}
    with tempfile.TemporaryDirectory() as out:
        run = netfit.fit(config, data=data, output_dir=out, **overrides)
        report, metrics, run_type = run.report, run.metrics, run.report.get("model_type", run.config.model.type)
    task = "regression" if report["task"] == "regression" else "classification"
    if task != job.task:
        raise RuntimeError(f"netfit inferred task {report['task']!r} for a {job.task} target "
                           f"({job.n_classes} integer classes)")
    if report["split_sizes"]["test"] != len(job.y["test"]):
        raise RuntimeError(f"netfit scored {report['split_sizes']['test']} test rows of {len(job.y['test'])}")
    names = ("rmse", "r2") if task == "regression" else ("accuracy", "log_loss")
    read_as = (report["data"].get("input") or {}).get("kind", f"table of {report['data'].get('n_num')} columns")
    return {**{n: float(metrics[n]["value"]) for n in names}, "via": f"{read_as}, model.type {run_type}"}


def netfit_cnn(job: Job, rows: str) -> dict[str, float]:
    """Not the defaults: the data kind and model type a user must set today for a CNN."""
    kind = "sequence" if job.kind == "series" else "image"
    return netfit_fit(job, rows, {"data": {"kind": kind}, "model": {"type": "cnn"}})


# ------------------------------------------------------------------ scikit-learn
def sklearn_pipeline(model: Any, x: pd.DataFrame) -> Any:
    """Median imputation and standard scaling of numbers, one-hot categories, then `model`."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cats = categorical_columns(x)
    nums = [c for c in x.columns if c not in cats]
    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), nums),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), cats),
    ])
    return make_pipeline(prep, model)


def _strings(x: pd.DataFrame) -> pd.DataFrame:
    cats = categorical_columns(x)
    return x.assign(**{c: x[c].astype(str) for c in cats}) if cats else x


def sklearn_fit(make: Callable[[Job], Any]) -> Callable[[Job, str], dict[str, float]]:
    def fit(job: Job, rows: str) -> dict[str, float]:
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        x, y = fit_rows(job, rows)
        model = sklearn_pipeline(make(job), x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # MLP's 200-iteration default
            model.fit(_strings(x), y)
        test = _strings(as_table(job.x["test"]))
        if job.task == "regression":
            return score(job, model.predict(test))
        return score(job, full_proba(model, model.predict_proba(test), job.n_classes))
    return fit


def mlp(job: Job) -> Any:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    return (MLPRegressor if job.task == "regression" else MLPClassifier)(random_state=job.seed)


def linear(job: Job) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    if job.task == "regression":
        return Ridge()
    return LogisticRegression(max_iter=1000)  # 100 iterations often stop short of the optimum


def nearest_neighbour(job: Job, rows: str) -> dict[str, float]:
    """1-NN, Euclidean distance on the raw series (the archive's whole training split)."""
    from sklearn.neighbors import KNeighborsClassifier

    x, y = fit_rows(job, rows)
    model = KNeighborsClassifier(n_neighbors=1).fit(x.to_numpy(), y)
    return score(job, full_proba(model, model.predict_proba(as_table(job.x["test"]).to_numpy()), job.n_classes))


# ------------------------------------------------------------------ LightGBM and RealMLP-TD (raw frame)
def _category_frame(x: pd.DataFrame, categories: dict[str, Any] | None = None) -> pd.DataFrame:
    cats = categorical_columns(x)
    if categories is None:
        categories = {c: pd.Categorical(x[c].astype(str)).categories for c in cats}
    return x.assign(**{c: pd.Categorical(x[c].astype(str), categories=categories[c]) for c in cats})


def lightgbm_fit(job: Job, rows: str) -> dict[str, float]:
    import lightgbm

    x, y = fit_rows(job, rows)
    fx = _category_frame(x)
    test = _category_frame(as_table(job.x["test"]), {c: fx[c].cat.categories for c in categorical_columns(fx)})
    if job.task == "regression":
        model = lightgbm.LGBMRegressor(random_state=job.seed, n_jobs=job.threads, verbose=-1).fit(fx, y)
        return score(job, model.predict(test))
    model = lightgbm.LGBMClassifier(random_state=job.seed, n_jobs=job.threads, verbose=-1).fit(fx, y)
    return score(job, full_proba(model, model.predict_proba(test), job.n_classes))


def realmlp_fit(job: Job, rows: str) -> dict[str, float]:
    """RealMLP-TD (Holzmueller et al. 2024, pytabkit) at its defaults; numbers median-imputed."""
    from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor

    x, y = fit_rows(job, rows)
    fx = _category_frame(x)
    test = _category_frame(as_table(job.x["test"]), {c: fx[c].cat.categories for c in categorical_columns(fx)})
    nums = [c for c in fx.columns if c not in categorical_columns(fx)]
    medians = fx[nums].median()
    fx, test = fx.fillna(medians), test.fillna(medians)
    cls = RealMLP_TD_Regressor if job.task == "regression" else RealMLP_TD_Classifier
    model = cls(random_state=job.seed, n_threads=job.threads, device="cpu", verbosity=0).fit(fx, y)
    if job.task == "regression":
        return score(job, np.asarray(model.predict(test), dtype=float).ravel())
    return score(job, full_proba(model, model.predict_proba(test), job.n_classes))


TABLE_KINDS = ("table", "image")
LEARNERS: dict[str, Learner] = {
    "netfit": Learner(("table", "image", "series"), netfit_fit, "netfit"),
    # the cnn settings given explicitly; `model.type: auto` builds the same for series and images, so
    # its figures equal netfit's (2026-12-06 22:57 run): only with --learners
    "netfit-cnn": Learner(("image", "series"), netfit_cnn, "netfit",
                          note="data.kind image/sequence and model.type cnn given explicitly", by_default=False),
    "sklearn-mlp": Learner(TABLE_KINDS, sklearn_fit(mlp), "sklearn"),
    "linear": Learner(TABLE_KINDS, sklearn_fit(linear), "sklearn", note="LogisticRegression / Ridge"),
    "lightgbm": Learner(TABLE_KINDS, lightgbm_fit, "lightgbm"),
    "realmlp-td": Learner(TABLE_KINDS, realmlp_fit, "pytabkit"),
    "1-nn": Learner(("series",), nearest_neighbour, "sklearn", note="Euclidean"),
}
