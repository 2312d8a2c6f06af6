"""The config: a Pydantic schema with defaults that work, loading, overrides and errors.

The smallest valid config is a data source and a target::

    data: {source: data.csv, target: y}

`load_config` reads YAML (or takes a dict or a `Config`), applies overrides
(`train.optimizer.lr=3e-4`), validates everything at once and raises one `ConfigError`
listing every problem, with the closest valid key for a typo.

Modules, from the bottom up: `base` (what every section shares), `space` (the `tune.space`
grammar), the stage sections `data`, `model`, `train`, the root `schema`, then `load`
(reading, overrides, messages) and `docs` (docs/config.md). Import from `netfit.config`.
"""

from netfit.config.base import ImportPath, Section
from netfit.config.data import DEFAULT_TARGET, SKLEARN_DATASETS, DataConfig, PreprocessConfig, SplitConfig, parse_bytes
from netfit.config.docs import render_docs
from netfit.config.load import flatten, load_config
from netfit.config.model import Activation, Init, ModelConfig
from netfit.config.schema import Config, EvaluateConfig, LogConfig, TuneConfig
from netfit.config.space import KINDS, check_space, section_type
from netfit.config.train import (KNOWN_MODES, CheckpointConfig, ConvergenceConfig, DivergenceConfig, EarlyStoppingConfig,
                                 OptimizerConfig, ScheduleConfig, TrainConfig, metric_mode)

__all__ = [
    "DEFAULT_TARGET", "KINDS", "KNOWN_MODES", "SKLEARN_DATASETS", "Activation", "CheckpointConfig", "Config",
    "ConvergenceConfig", "DataConfig", "DivergenceConfig", "EarlyStoppingConfig", "EvaluateConfig", "ImportPath", "Init", "LogConfig", "ModelConfig",
    "OptimizerConfig", "PreprocessConfig", "ScheduleConfig", "Section", "SplitConfig", "TrainConfig", "TuneConfig",
    "check_space", "flatten", "load_config", "metric_mode", "parse_bytes", "render_docs", "section_type",
]
