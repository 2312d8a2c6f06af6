"""The data stage's hand-off: `Split` (one preprocessed split) and `Prepared` (all of them).

Defined apart from `netfit.data` so the stage's modules can use them without import cycles;
`from netfit.data import Split, Prepared` is the way to import them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Split:
    """One split, preprocessed and ready to become tensors.

    x_num: float32 (n, n_num) numeric, one-hot and indicator columns.
    x_cat: int64 (n, n_cat) integer codes for embedded categorical columns (0 = unknown; missing
        values are 0 too unless they had their own category in training).
    y: int64 class indices (classification) or float32 (regression, standardized with the training
        mean and std: `Prepared.preprocessor.decode_target` maps back); None when unlabelled.
    w: float32 sample weights or None.
    rows: int64 positions of these rows in the cleaned source table (for fingerprints).
    """

    x_num: np.ndarray
    x_cat: np.ndarray
    y: np.ndarray | None
    w: np.ndarray | None
    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.x_num)


@dataclass
class Prepared:
    """What the data stage hands to the rest of the run."""

    task: str  # "binary" | "multiclass" | "regression"
    splits: dict[str, Split]  # "train", "val", "test" (test may be absent when not requested)
    preprocessor: Any  # netfit.data.preprocess.Preprocessor, fitted on train
    summary: dict[str, Any] = field(default_factory=dict)  # counts for the report's data section
    fingerprint: dict[str, str] = field(default_factory=dict)  # data and split hashes
