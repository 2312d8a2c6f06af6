"""The data stage's hand-off: `Split` (one preprocessed split) and `Prepared` (all of them); `LoadedTable`,
one source as the in-memory path loaded it.

Defined apart from `netfit.data` so the stage's modules can use them without import cycles;
`from netfit.data import Split, Prepared` is the way to import them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd


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
    x_array: images (n, C, H, W) float32, sequences (n, T, F) float32 or token ids (n, T) int64
        (0 = padding), or None for tables (netfit.data.arrays).
    lengths: int64 (n,) steps or tokens before padding (sequences and text), else None.
    unseen: object (n,) the label, as text, of each row whose class was not seen in training (its
        y is -1; None on the other rows), or None when every label was seen (only the test split
        keeps such rows: they count as wrong).
    """

    x_num: np.ndarray
    x_cat: np.ndarray
    y: np.ndarray | None
    w: np.ndarray | None
    rows: np.ndarray
    x_array: np.ndarray | None = None
    lengths: np.ndarray | None = None
    unseen: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.x_num)

    def subset(self, keep: np.ndarray) -> "Split":
        """The rows selected by `keep` (a boolean mask or positions), every array alike."""
        return Split(*(None if value is None else value[keep] for value in
                       (getattr(self, f.name) for f in fields(self))))

    def joined(self, other: "Split") -> "Split":
        """These rows followed by `other`'s (train.refit: training and validation rows together)."""
        def join(a, b):
            return None if a is None or b is None else np.concatenate([a, b])
        return Split(*(join(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)))

    def inputs(self) -> list[np.ndarray]:
        """The model's positional inputs, in the forward contract's order.

        Every model is called as `model(x_num, x_cat, x_array, lengths)` with trailing inputs
        left out when absent: `[x_num]` or `[x_num, x_cat]` for tables (the MLP contract
        `forward(x_num, x_cat=None)`), `[x_num, x_cat, x_array]` for images and
        `[x_num, x_cat, x_array, lengths]` for sequences and text. x_num and x_cat may have
        zero columns when the data has no tabular features.
        """
        if self.x_array is None:
            return [self.x_num, self.x_cat] if self.x_cat.shape[1] else [self.x_num]
        arrays = [self.x_num, self.x_cat, self.x_array]
        return arrays + [self.lengths] if self.lengths is not None else arrays


@dataclass
class Prepared:
    """What the data stage hands to the rest of the run."""

    task: str  # "binary" | "multiclass" | "regression"
    splits: dict[str, Split]  # "train", "val", "test" (test may be absent when not requested)
    preprocessor: Any  # netfit.data.preprocess.Preprocessor, fitted on train
    summary: dict[str, Any] = field(default_factory=dict)  # counts for the report's data section
    fingerprint: dict[str, str] = field(default_factory=dict)  # data and split hashes
    # a source larger than data.memory_budget: the training rows, read block by block
    # (netfit.data.shuffle.TrainStream); splits["train"] then holds a sample of them
    stream: Any = None

    def sizes(self) -> dict[str, int]:
        """Rows per split (all training rows when they stream)."""
        return {name: len(self.stream) if name == "train" and self.stream is not None else len(s)
                for name, s in self.splits.items()}


@dataclass
class LoadedTable:
    """One loaded source: its rows, its name for messages, its fingerprint."""

    frame: pd.DataFrame | None  # set to None once cleaned: the cleaned copy is what the run keeps
    label: str
    sha256: str
    rows: int = 0  # rows as loaded
