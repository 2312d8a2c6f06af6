"""Text: a tokenizer and a vocabulary built on the training split, token ids padded with lengths.

Word tokens are runs of letters/digits and single punctuation marks (`"Not bad!"` ->
`not`, `bad`, `!`); char tokens are characters. The vocabulary keeps training tokens seen at
least `vocab_min_freq` times, most frequent first, at most `vocab_max_size`; id 0 is `<pad>`,
1 is `<unk>`. It is stored as a JSON list in model.json, so predict reproduces the ids::

    enc = TextEncoder("text", "word", True, 1, 20000, None, "truncate").fit(train_df)
    ids, lengths = enc.transform(val_df)          # (N, max_len) int64, (N,) int64
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from netfit.data.messages import row_where
from netfit.data.sequences import clip_lengths
from netfit.errors import DataError

TEXT_COLUMN = "text"  # the default text column
PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"\w+|[^\w\s]")


@dataclass
class TextEncoder:
    """Fitted text state: tokenizer settings, vocabulary (index = id) and max_len."""

    column: str
    tokenizer: str  # "word" | "char"
    lowercase: bool
    min_freq: int
    max_size: int | None
    max_len: int | None
    too_long: str  # "truncate" | "error"
    vocab: list[str] = field(default_factory=list)

    def tokenize(self, text: str) -> list[str]:
        """One text as tokens, by the fitted rules."""
        text = text.lower() if self.lowercase else text
        return _WORD.findall(text) if self.tokenizer == "word" else [c for c in text if not c.isspace() or c == " "]

    def fit(self, df: pd.DataFrame, where: str = "train split") -> "TextEncoder":
        tokens = self._tokens(df[self.column], where)
        counts = Counter(t for row in tokens for t in row)
        # most frequent first; ties in alphabetical order so the vocabulary is deterministic
        kept = sorted((t for t, n in counts.items() if n >= self.min_freq), key=lambda t: (-counts[t], t))
        self.vocab = [PAD, UNK] + kept[: self.max_size]
        if self.max_len is None:
            self.max_len = max(len(row) for row in tokens)
        return self

    def lengths(self, df: pd.DataFrame, where: str = "data") -> np.ndarray:
        """Each row's number of tokens, before any cut to max_len."""
        return np.array([len(row) for row in self._tokens(df[self.column], where)], dtype=np.int64)

    def transform(self, df: pd.DataFrame, where: str = "data") -> tuple[np.ndarray, np.ndarray]:
        tokens = self._tokens(df[self.column], where)
        lengths = np.array([len(row) for row in tokens], dtype=np.int64)
        lengths = clip_lengths(lengths, self.max_len, self.too_long, where, self.column, "data.max_len")
        index = {t: i for i, t in enumerate(self.vocab)}
        ids = np.zeros((len(tokens), self.max_len), dtype=np.int64)
        for i, (row, n) in enumerate(zip(tokens, lengths)):
            ids[i, :n] = [index.get(t, 1) for t in row[:n]]
        return ids, lengths

    @property
    def columns(self) -> list[str]:
        """The table columns this encoder reads."""
        return [self.column]

    @property
    def spec(self) -> dict[str, Any]:
        return {"kind": "text", "shape": [self.max_len], "vocab_size": len(self.vocab)}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "text", **asdict(self)}

    def _tokens(self, column: pd.Series, where: str) -> list[list[str]]:
        rows = []
        for i, value in enumerate(column):
            row = self.tokenize(value) if isinstance(value, str) else []
            if not row:
                raise DataError("empty text", where=row_where(where, self.column, i),
                                expected="a text with at least one token", found=repr(value),
                                hint="drop rows without text, or fill them (e.g. with a placeholder word)")
            rows.append(row)
        return rows
