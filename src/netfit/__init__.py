"""netfit: train neural networks end to end, the careful way, and report the result honestly.

Example:
    >>> import netfit
    >>> run = netfit.fit({"data": {"source": "sklearn:digits"}}, train__epochs=30)  # doctest: +SKIP
    >>> run.metrics["accuracy"]  # doctest: +SKIP
    >>> run.predict(frame)  # doctest: +SKIP
"""

from netfit._version import __version__
from netfit.api import Run, fit, load
from netfit.errors import (ConfigError, DataError, DivergenceError, NetfitError, NetfitWarning, RunError,
                           TrainingInterrupted, show_warnings)
from netfit.train.callbacks import Callback

__all__ = ["fit", "load", "Run", "Callback", "NetfitError", "ConfigError", "DataError", "RunError", "DivergenceError",
           "NetClassifier", "NetRegressor", "TrainingInterrupted", "NetfitWarning"]

show_warnings()  # netfit's own warnings print as `warning: what / where / how to change it`, without source lines


def __getattr__(name: str):
    # the estimators import scikit-learn (~0.8 s): loaded on first use, so the CLI starts fast
    if name in ("NetClassifier", "NetRegressor"):
        from netfit import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'netfit' has no attribute {name!r}")
