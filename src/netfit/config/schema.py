"""The whole config: the root `Config` and the run-wide sections (evaluate, tune, log).

The stage sections live beside it (`data.py`, `model.py`, `train.py`); every field has a
default, so the smallest valid config is a data source and a target.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

import yaml
from pydantic import Field, field_validator

from netfit.config.base import Section
from netfit.config.data import DataConfig
from netfit.config.model import ModelConfig
from netfit.config.space import check_space
from netfit.config.train import TrainConfig


class ConformalConfig(Section):
    coverage: float = Field(0.9, gt=0, lt=1, description="Nominal coverage of the split-conformal intervals "
                            "(regression) or prediction sets (classification), calibrated on the validation split.")
    method: Literal["auto", "absolute", "normalized", "lac", "aps"] = Field(
        "auto", description="The nonconformity score. Regression: `absolute` residuals (one width for every row) or "
        "`normalized` (residuals divided by a spread model's estimate: wider intervals where errors are larger); "
        "classification: `lac` (1 - p(true class), the smallest sets) or `aps` (the mass of the classes at least as "
        "likely as the true one: sets that adapt to hard rows). `auto`: `lac`, and for regression whichever of "
        "absolute and normalized gives narrower intervals on one half of the validation rows, calibrated on the "
        "other half (from 100 validation rows and table features on). A method of the other task kind counts as auto.")


class EvaluateConfig(Section):
    bootstrap: int = Field(1000, ge=0, description="Bootstrap resamples for confidence intervals (0: none).")
    confidence: float = Field(0.95, gt=0, lt=1, description="Confidence level of the intervals.")
    baselines: bool = Field(True, description="Score a dummy and a linear model on the same split.")
    importance: bool = Field(
        True, description="Permutation importance of every source column on the test split (accuracy or RMSE drop, "
                          "3 shuffles, a bootstrap interval; a seeded sample of the test rows above 5,000 rows or when the "
                          "shuffled predictions would take more than about half a second)."
    )
    slices: bool = Field(
        True, description="The test metric per slice: the most frequent levels of each categorical column and the "
                          "quartiles of the 3 most important numeric columns, with intervals; slices worse than the other "
                          "rows (Welch t-test, Holm-corrected) are flagged."
    )
    calibration: Literal["temperature", "vector", "none"] = Field(
        "temperature", description="Classifiers: fit one temperature on the validation split's logits after training "
        "(predict, serve and the ONNX export apply it; the report shows log loss, Brier score and ECE before and "
        "after). `vector`: a scale and a bias per logit instead (2K parameters, Platt scaling for binary; it can "
        "change predicted labels and needs more validation rows). `none`: raw softmax probabilities.")
    conformal: Optional[ConformalConfig] = Field(
        default_factory=ConformalConfig, description="Split conformal prediction on the validation split: `predict` "
        "writes `lower`/`upper` (regression) or `set` (classification), the report checks coverage on test. "
        "`null` turns it off. The validation split also drives early stopping, so the guarantee is approximate.")
    report_html: bool = Field(True, description="Write report.html (plots, about a second) at the end of the run; when off, `netfit report RUN` builds it later.")


class TuneConfig(Section):
    trials: int = Field(40, ge=1, description="Number of trials (all workers together).")
    timeout: float | None = Field(None, gt=0, description="Stop starting new trials after this many seconds.")
    metric: Union[str, list[str], None] = Field(
        None, description="Validation metric to optimise (val_accuracy, val_loss, ..., or `params`); default: the "
        "early-stopping monitor. A list makes the search multi-objective (a Pareto front)."
    )
    direction: Union[Literal["minimize", "maximize"], list[Literal["minimize", "maximize"]], None] = Field(
        None, description="Derived when omitted, as early stopping's direction: `train.early_stopping.mode` for its "
        "monitor, else the known one of netfit's metrics (losses, errors and `params` minimise, accuracy maximises); "
        "your own metric needs one of the two. A direction contradicting a known one is an error."
    )
    sampler: Literal["tpe", "random", "grid", "cmaes"] = Field(
        "tpe", description="Optuna sampler; `grid` needs `choice` entries only, `cmaes` numeric ones."
    )
    pruner: Literal["median", "successive_halving", "hyperband", "none"] = Field(
        "median", description="Stops unpromising trials early from the per-epoch validation metric (single objective only)."
    )
    storage: str | None = Field(
        None, description="A database URL shared by workers on many machines (e.g. `postgresql://user:pw@host:5432/db`); "
                          "default: Optuna's journal file in the tune folder. The study is named after `name`."
    )
    startup_trials: int = Field(3, ge=0, description="Trials that run to the end before the median pruner may prune.")
    warmup_epochs: int = Field(2, ge=0, description="Epochs a trial always runs before it can be pruned.")
    space: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Config paths mapped to distributions: `{uniform: [lo, hi]}`, `{log_uniform: [lo, hi]}`, "
        "`{int: [lo, hi]}`, `{choice: [a, b]}`; `model.hidden: {layers: [1, 3], units: {choice: [64, 128]}}` "
        "samples a layer count and then each layer's width.",
    )

    @field_validator("space")
    @classmethod
    def _known_distributions(cls, space: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        problems = check_space(space, Config)  # paths are checked against the whole schema
        if problems:
            raise ValueError(f"{len(problems)} problem(s) in the search space:\n    " + "\n    ".join(problems))
        return space


class LogConfig(Section):
    tensorboard: bool = Field(False, description="Write TensorBoard scalars per epoch and hparams with the test metrics under the run's logs/tensorboard (needs `netfit[track]`).")
    mlflow: bool = Field(False, description="Log params, metrics and the report files to an MLflow store (SQLite) under the run's logs/mlflow (needs `netfit[track]`).")
    mlflow_experiment: str = Field("netfit", min_length=1, description="MLflow experiment that receives the run.")


class Config(Section):
    """The whole, resolved configuration of a run."""

    name: str = Field("run", description="Run name: the prefix of the run folder.")
    seed: int = Field(0, description="Seed for splitting, initialisation, shuffling and dropout.")
    output_dir: str = Field("runs", description="Folder that receives run folders.")
    data: DataConfig = Field(default_factory=DataConfig, description="Data source, columns, split, preprocessing.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="Architecture.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="Training loop.")
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig, description="Final test evaluation.")
    tune: TuneConfig = Field(default_factory=TuneConfig, description="Hyperparameter search.")
    log: LogConfig = Field(default_factory=LogConfig, description="Optional experiment loggers (off by default).")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)
