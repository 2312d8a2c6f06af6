"""Generated data sets for examples and tests (`data.source: synthetic:NAME`), small and seeded.

- `synthetic:order`: variable-length noisy sequences holding two patterns at random places;
  the label says which comes first. A model must read order, not just presence.
- `synthetic:sentences`: short sentences about a thing that is (or is `not`) good or bad;
  the label is the sentiment after negation.
- `write_linear_parquet(folder, rows)`: a folder of Parquet files too large for memory if you
  like (16 float32 features, a noisy linear label): for the streaming tests and benchmark.

    frame = order_sequences(n=1000, seed=0)      # columns sequence (arrays (T, 2)), target
    frame = sentences(n=1000, seed=0)             # columns text, target
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from netfit.data.sequences import SEQUENCE_COLUMN
from netfit.errors import DataError

def order_sequences(n: int = 1000, seed: int = 0, min_len: int = 16, max_len: int = 32) -> pd.DataFrame:
    """Two-feature N(0, 0.5) noise with a burst in each feature at random, non-overlapping steps;
    target 1 when feature 0's burst comes first.

    Each burst is 3 steps of +2.5 or -2.5 (random sign), so no weighted sum of the inputs tells
    the order: a linear model stays near chance, and a model must read the steps in order.
    """
    rng = np.random.default_rng(seed)
    cells, labels = [], rng.integers(0, 2, n)
    for label in labels:
        length = int(rng.integers(min_len, max_len + 1))
        x = rng.normal(0.0, 0.5, (length, 2)).astype(np.float32)
        first, second = sorted(rng.choice(length - 2, size=2, replace=False))
        while second - first < 3:  # bursts must not overlap
            first, second = sorted(rng.choice(length - 2, size=2, replace=False))
        lead = 0 if label else 1
        x[first:first + 3, lead] += 2.5 * rng.choice([-1, 1])
        x[second:second + 3, 1 - lead] += 2.5 * rng.choice([-1, 1])
        cells.append(x)
    return pd.DataFrame({SEQUENCE_COLUMN: pd.Series(cells, dtype=object), "target": labels})


_THINGS = ["movie", "book", "meal", "hotel", "phone", "song", "game", "show", "car", "trip"]
_GOOD = ["good", "great", "fine", "lovely", "superb", "fun"]
_BAD = ["bad", "awful", "poor", "boring", "terrible", "dull"]
_FILLER = ["honestly", "i", "think", "that", "really", "overall", "today", "we", "felt", "again", "so"]


def sentences(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    """`... the movie was not great ...`: target `positive`/`negative` after negation."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        good, negated = rng.random() < 0.5, rng.random() < 0.5
        words = list(rng.choice(_FILLER, rng.integers(0, 4)))
        words += ["the", str(rng.choice(_THINGS)), "was"] + ["not"] * negated
        words += [str(rng.choice(_GOOD if good else _BAD))] + list(rng.choice(_FILLER, rng.integers(0, 4)))
        texts.append(" ".join(words) + rng.choice([".", "!", ""]))
        labels.append("positive" if good != negated else "negative")
    return pd.DataFrame({"text": texts, "target": labels})


GENERATORS = {"order": order_sequences, "sentences": sentences}


def write_linear_parquet(folder, rows: int, files: int = 8, group: int = 50_000, seed: int = 0) -> None:
    """`files` Parquet files of `group`-row row groups under a new `folder`: 16 N(0, 1) float32
    features `f0`..`f15` and a binary `y`, the sign of a fixed linear rule plus N(0, 0.5) noise."""
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    weights = rng.normal(size=16)
    folder = Path(folder)
    folder.mkdir()
    for i in range(files):
        x = rng.normal(size=(rows // files, 16)).astype(np.float32)
        y = (x @ weights + 0.5 * rng.normal(size=len(x)) > 0).astype(np.int64)
        pq.write_table(pa.table({f"f{j}": x[:, j] for j in range(16)} | {"y": y}), folder / f"part-{i:02d}.parquet",
                       row_group_size=group)


def load_synthetic(source: str) -> pd.DataFrame:
    """The frame of `synthetic:NAME` (seed 0, 1,000 rows)."""
    name = source.split(":", 1)[1]
    if name not in GENERATORS:
        raise DataError("unknown generated data set", where=source,
                        expected=", ".join(f"synthetic:{n}" for n in GENERATORS), found=source,
                        hint="pick one of the generated data sets, or point data.source at a file")
    return GENERATORS[name]()
