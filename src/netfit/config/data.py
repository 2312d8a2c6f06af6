"""The `data` section: where the rows come from, which columns, how they are split and preprocessed."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional, Union

from pydantic import Field, ValidationInfo, field_validator, model_validator

from netfit.config.base import Section

SKLEARN_DATASETS = ("digits", "iris", "wine", "breast_cancer", "diabetes")


class SplitConfig(Section):
    train: float = Field(0.7, gt=0, le=1, description="Fraction of rows for training.")
    val: float = Field(
        0.15, ge=0, lt=1, description="Fraction of rows for validation (early stopping, tuning). Without validation rows "
                                      "(`data.train` without `data.val`, a split column without `val`), val/(train+val) "
                                      "of the training rows are carved out for validation; 0 turns that off. Beside "
                                      "`data.train` the fractions need not add up to 1."
    )
    test: float = Field(0.15, ge=0, lt=1, description="Fraction of rows for the final, once-only test.")
    calibration: float = Field(
        0.0, ge=0, lt=1, description="A share of the validation rows held out for calibration alone: temperature "
                                     "scaling and split conformal are fitted on them, and early stopping never sees them, "
                                     "so the conformal guarantee holds exactly (docs/calibration.md). 0: calibrate on the "
                                     "validation split."
    )
    stratify: Union[Literal["auto"], bool] = Field(
        "auto", description="Keep class proportions in every split; `auto`: for classification when every class can be split."
    )
    group_column: str | None = Field(None, description="Rows sharing a value of this column stay in one split (no group leakage).")
    order_column: str | None = Field(
        None, description="Time-ordered split: validation and test are the latest rows by this column; rows of the same "
                          "time stay in one split."
    )
    column: str | None = Field(None, description="A column holding `train`/`val`/`test` per row: a split given by the user.")
    method: Literal["random", "hash"] = Field(
        "random", description="`random`: seeded (stratified) shuffle, or by group/order/column when given; `hash`: each row's "
                              "split from a seeded hash of its id (`id_column`, else its row number in the source), the "
                              "same in memory and when streaming; split sizes are then approximate. Streaming data uses `hash`."
    )
    id_column: str | None = Field(None, description="`method: hash`: the column whose value identifies a row (default: the row number).")
    seed: Optional[int] = Field(
        None, ge=0, description="The split's own seed (default: the run's `seed`): runs with other seeds keep the same "
                                "rows in each split (`netfit repeat` sets it)."
    )

    @model_validator(mode="after")
    def _one_way_to_split(self) -> "SplitConfig":
        chosen = [n for n in ("group_column", "order_column", "column") if getattr(self, n)]
        if len(chosen) > 1:
            raise ValueError(f"choose one of group_column, order_column, column; found {', '.join(chosen)}")
        if self.method == "hash" and chosen:
            raise ValueError(f"method hash assigns rows by their id; it cannot be combined with {chosen[0]}")
        if self.id_column and self.method != "hash":
            raise ValueError("id_column is used by method: hash; set method: hash or remove id_column")
        return self

    def fractions_add_up(self) -> None:
        """Raise ValueError unless train + val + test is 1 (checked where `data.source` is split)."""
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"split fractions must add up to 1, found train {self.train} + val {self.val} + "
                f"test {self.test} = {total:g}; adjust them so they sum to 1"
            )

    def val_share(self) -> float:
        """The share of the training rows held out for validation when no validation rows are given:
        val / (train + val)."""
        return self.val / (self.train + self.val)

    def calibration_carving(self) -> "SplitConfig":
        """The split that carves the calibration rows from the validation rows: `calibration` of them."""
        return self.model_copy(update={"train": 1.0 - self.calibration, "val": self.calibration, "test": 0.0,
                                       "column": None})

    def carving(self) -> "SplitConfig":
        """The split that carves validation from training rows: val_share() of them, no test, the
        same stratification, group, order and hash settings (a split column is not carved by)."""
        share = self.val_share()
        return self.model_copy(update={"train": 1.0 - share, "val": share, "test": 0.0, "column": None})


class PreprocessConfig(Section):
    numeric: Literal["standardize", "minmax", "robust", "none"] = Field(
        "robust", description="Scaling of numeric columns, fitted on the training split: `robust` centres on the median "
        "and divides by the interquartile range (the default since 2026-12-07; `standardize` before: mean and std)."
    )
    clip: float | None = Field(
        3.0, gt=0, description="Smooth clipping of scaled numeric columns, x / sqrt(1 + (x / clip)^2): outliers are "
                               "bounded by +/-clip, values near 0 are kept (RealMLP, Holzmueller et al. 2024); null: off "
                               "(the default until 2026-12-07). Not applied with `numeric: none` (unscaled columns)."
    )
    categorical: Literal["auto", "onehot", "codes"] = Field(
        "auto", description="`onehot`, integer `codes` (for embeddings), or `auto`: one-hot up to `max_onehot` categories, codes above."
    )
    max_onehot: int = Field(50, ge=1, description="Cardinality cap for one-hot encoding under `categorical: auto`.")
    missing: Literal["median", "mean", "constant"] = Field("median", description="Imputation of missing numeric values.")
    fill_value: float = Field(0.0, description="The value used by `missing: constant`.")
    missing_categorical: Literal["most_frequent", "category"] = Field(
        "category", description="Imputation of missing categories: the most frequent one, or a category of its own."
    )
    missing_indicator: bool = Field(False, description="Add a 0/1 column per numeric column that had missing values in training.")
    drop_duplicates: bool = Field(False, description="Drop exact duplicate rows before splitting.")
    drop_constant: bool = Field(True, description="Drop columns with a single value in training (with a warning).")


# the label column of bundled, generated, array and image-folder data, and of data given in Python
DEFAULT_TARGET = "target"


class DataConfig(Section):
    source: str | None = Field(
        None, description="One source to split: a `.csv`, `.parquet` or `.npz` path, an image folder, `sklearn:NAME` "
                          "(see `netfit datasets`) or `synthetic:order` / `synthetic:sentences` (generated). A relative "
                          "path (here and in train, val, test) is read from the current folder, else beside the config file."
    )
    train: str | None = Field(None, description="A separate training source (instead of `source`).")
    val: str | None = Field(None, description="A separate validation source (with `train`).")
    test: str | None = Field(None, description="A separate test source (with `train`).")
    target: str | None = Field(None, description="The target column; `target` for bundled data sets and `.npz` arrays.")
    features: list[str] | None = Field(None, description="Feature columns; default: every other column.")
    ignore: list[str] = Field(default_factory=list, description="Columns to leave out.")
    weight_column: str | None = Field(None, description="A column of per-row sample weights used by the loss.")
    types: dict[str, Literal["numeric", "categorical", "boolean"]] = Field(
        default_factory=dict, description="Per-column type overrides; declared columns are never dropped as ids or dates."
    )
    task: Literal["auto", "binary", "multiclass", "regression"] = Field(
        "auto", description="The task; `auto` infers it from the training data's target (all of `source`, or `train`; never "
                            "`val` or `test`): text and booleans are classes; numbers with fractions are regression; "
                            "integers are classes, unless a table's have more than 20 distinct values (then regression; "
                            "images' and sequences' integer labels are classes however many, with a warning above 20). "
                            "Classes are the training data's: a `val` label outside them is an error, "
                            "a `test` one a warning, and its rows count as wrong."
    )
    x_key: str = Field("x", description="Name of the feature array inside a `.npz` archive.")
    y_key: str = Field("y", description="Name of the target array inside a `.npz` archive.")
    split: SplitConfig = Field(default_factory=SplitConfig, description="How rows are split.")
    preprocess: PreprocessConfig = Field(default_factory=PreprocessConfig, description="Cleaning and preprocessing.")
    # images, sequences and text (netfit.data.arrays); tabular columns beside them are still used
    kind: Literal["auto", "table", "image", "sequence", "text"] = Field(
        "auto", description="Data kind; `auto`: `text` with text_column, `sequence` with sequence_column, `image` "
                            "with image_shape or an image folder, else `table`; arrays (`.npz`, `(X, y)`): (N, H, W, C) and "
                            "square-ish (N, H, W) are images, other 3-D arrays sequences (N, T, F) when model.type is "
                            "cnn, rnn or transformer (a cnn reads (N, A, B) within 4x as images), else flat columns."
    )
    image_shape: list[int] | None = Field(
        None, description="Image shape [H, W] or [H, W, C]: checked against image arrays, or used to reshape flat pixel columns into images."
    )
    image_size: list[int] | None = Field(
        None, description="Resize every image of an image folder to [H, W]; without it images of mixed sizes are an error."
    )
    pixel_max: float | None = Field(
        None, gt=0, description="Pixels are divided by this to scale them to [0, 1]; default 255 for 8-bit images, else the training maximum."
    )
    sequence_column: str | None = Field(
        None, description="A column holding one sequence per row (a list `[1, 2, 3]`, or `[[f1, f2], ...]` for several features)."
    )
    lengths_key: str = Field("lengths", description="Name of the optional array of sequence lengths inside a `.npz` archive.")
    text_column: str | None = Field(None, description="A column of texts to classify or regress on.")
    tokenizer: Literal["word", "char"] = Field("word", description="Text tokenizer: words (and punctuation marks) or characters.")
    lowercase: bool = Field(True, description="Lowercase texts before tokenizing.")
    vocab_min_freq: int = Field(1, ge=1, description="Tokens seen fewer times in the training split become `<unk>`.")
    vocab_max_size: int | None = Field(20000, ge=1, description="Keep at most this many of the most frequent training tokens (plus `<pad>`, `<unk>`).")
    max_len: int | None = Field(
        None, ge=1, description="Steps per sequence or tokens per text; default the longest in the training split (longer ones later are truncated)."
    )
    memory_budget: Union[Annotated[int, Field(ge=1)], str, None] = Field(
        None, description="Memory for the data, e.g. `2GB`, `500MB` or bytes: a Parquet file or folder larger than this "
                          "(uncompressed) streams in row groups instead of loading whole; default: always load whole."
    )
    shuffle_buffer: int | None = Field(
        None, ge=1, description="Streaming: rows shuffled together in memory (default: as many as fill an eighth of `memory_budget`)."
    )
    too_long: Literal["truncate", "error"] = Field(
        "truncate", description="Sequences or texts longer than max_len: truncate them (the count is reported) or stop with an error."
    )

    @field_validator("split")
    @classmethod
    def _fractions_add_up(cls, v: SplitConfig, info: ValidationInfo) -> SplitConfig:
        # beside data.train only val/(train+val) is used (to carve validation): no sum to check
        if not info.data.get("train"):
            v.fractions_add_up()
        return v

    @field_validator("memory_budget")
    @classmethod
    def _budget_bytes(cls, v: int | str | None) -> int | None:
        return v if v is None or isinstance(v, int) else parse_bytes(v)

    @model_validator(mode="after")
    def _one_way_to_get_data(self) -> "DataConfig":
        if self.source and self.train:
            raise ValueError("give either data.source (split by netfit) or data.train/val/test, not both")
        if (self.val or self.test) and not self.train:
            raise ValueError("data.val/data.test need data.train")
        for name in ("image_shape", "image_size"):
            shape = getattr(self, name)
            if shape is not None and (len(shape) not in (2, 3 if name == "image_shape" else 2) or min(shape) < 1):
                raise ValueError(f"{name} must be positive sizes [H, W]" + (" or [H, W, C]" if name == "image_shape" else "")
                                 + f", found {shape}")
        return self

    def target_name(self) -> str:
        """The target column: the configured one, else `DEFAULT_TARGET`."""
        return self.target or DEFAULT_TARGET


_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


def parse_bytes(text: str) -> int:
    """`500MB`, `2 GB`, `1.5GiB`, `1000` -> bytes (decimal units; KiB/MiB/GiB binary)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", str(text))
    unit = match.group(2).upper() if match else None
    if match is None or unit not in _UNITS or float(match.group(1)) * _UNITS[unit] < 1:
        raise ValueError("expected a size like 500MB, 2GB or a number of bytes")
    return int(float(match.group(1)) * _UNITS[unit])
