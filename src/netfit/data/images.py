"""Images: image folders (one sub-folder per class, PNG/JPEG via Pillow), arrays and pixel columns.

Pixels are scaled to [0, 1] (divided by `data.pixel_max`: 255 for 8-bit images, else the
training maximum) and standardised per channel with the training mean and std. The result is
(N, C, H, W) float32, the layout of torch's convolutions::

    frame = read_image_folder(Path("digits/"), cfg)     # columns image (H, W[, C] arrays), target
    enc = ImageEncoder(["image"], None, None).fit(frame)
    x, _ = enc.transform(frame)                          # (N, C, H, W), lengths None
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from netfit.config import DataConfig
from netfit.data.messages import row_where
from netfit.errors import DataError

IMAGE_COLUMN = "image"  # the column image folders and image arrays are loaded into
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass
class ImageEncoder:
    """Fitted image scaling: x -> (x / pixel_max - mean[c]) / std[c], as (N, C, H, W) float32.

    columns: [`image`] (one array per cell) or the flat pixel columns in row-major H, W, C order.
    shape: [H, W, C] (from data.image_shape, else the first training image).
    """

    columns: list[str]
    shape: list[int] | None
    pixel_max: float | None
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)

    def fit(self, df: pd.DataFrame, where: str = "train split") -> "ImageEncoder":
        x = self._pixels(df, where, fitting=True)
        if self.pixel_max is None:
            self.pixel_max = 255.0 if x.dtype == np.uint8 else float(np.max(x, initial=0.0)) or 1.0
        x = x.astype(np.float32) / np.float32(self.pixel_max)
        self.mean = x.mean(axis=(0, 1, 2), dtype=np.float64).tolist()
        self.std = [s if s > 1e-8 else 1.0 for s in x.std(axis=(0, 1, 2), dtype=np.float64).tolist()]
        return self

    def transform(self, df: pd.DataFrame, where: str = "data") -> tuple[np.ndarray, None]:
        x = self._pixels(df, where).astype(np.float32) / np.float32(self.pixel_max)
        x = (x - np.float32(self.mean)) / np.float32(self.std)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), None

    @property
    def spec(self) -> dict[str, Any]:
        """What a model needs to know: kind and (channels, height, width)."""
        h, w, c = self.shape
        return {"kind": "image", "shape": [c, h, w]}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "image", **asdict(self)}

    # ------------------------------------------------------------ pixels as (N, H, W, C)
    def _pixels(self, df: pd.DataFrame, where: str, fitting: bool = False) -> np.ndarray:
        if self.columns == [IMAGE_COLUMN] and df[IMAGE_COLUMN].dtype == object:
            return self._stack_cells(df[IMAGE_COLUMN], where, fitting)
        hwc = _hwc(self.shape)
        values = df[self.columns].to_numpy(dtype=np.float32)
        if values.shape[1] != int(np.prod(hwc)):
            raise DataError("image shape does not match the pixel columns", where=f"{where}: data.image_shape",
                            expected=f"H*W*C = {int(np.prod(hwc))} pixel columns for image_shape {self.shape}",
                            found=f"{values.shape[1]} feature columns",
                            hint="fix data.image_shape, or list the pixel columns in data.features / others in data.ignore")
        if np.isnan(values).any():
            row, col = np.argwhere(np.isnan(values))[0]
            raise DataError("missing pixel value", where=row_where(where, self.columns[col], int(row)),
                            hint="images cannot have gaps; drop or repair those rows")
        self.shape = hwc
        return values.reshape(len(values), *hwc)

    def _stack_cells(self, cells: pd.Series, where: str, fitting: bool) -> np.ndarray:
        arrays = [np.asarray(a) for a in cells]
        arrays = [a[..., None] if a.ndim == 2 else a for a in arrays]
        if any(a.ndim != 3 for a in arrays):
            pos = next(i for i, a in enumerate(arrays) if a.ndim != 3)
            raise DataError("not an image", where=row_where(where, IMAGE_COLUMN, pos),
                            expected="an array (H, W) or (H, W, C)", found=f"shape {arrays[pos].shape}",
                            hint="give images as 2-D (grey) or 3-D (colour) arrays")
        expected = _hwc(self.shape) if self.shape else list(arrays[0].shape) if arrays else None
        bad = [i for i, a in enumerate(arrays) if list(a.shape) != expected]
        if bad:
            found = list(arrays[bad[0]].shape)
            raise DataError("images of different sizes" if fitting and not self.shape else "image shape mismatch",
                            where=row_where(where, IMAGE_COLUMN, bad[0]),
                            expected=f"(H, W, C) = {tuple(expected)}, the size the model was fitted on" if not fitting
                            else f"(H, W, C) = {tuple(expected)} for every image",
                            found=f"{tuple(found)} ({len(bad)} image(s) differ)",
                            hint="set data.image_size: [H, W] to resize an image folder, or fix data.image_shape")
        self.shape = expected
        return np.stack(arrays) if arrays else np.zeros((0, *expected), np.float32)


def _hwc(shape: list[int]) -> list[int]:
    return list(shape) if len(shape) == 3 else [*shape, 1]


# ---------------------------------------------------------------- image folders
def read_image_folder(path: Path, cfg: DataConfig, source: str) -> pd.DataFrame:
    """One sub-folder per class (`target` = its name), or images directly inside (no target).

    Columns: `image` (uint8 arrays (H, W) grey or (H, W, 3) colour), `file` (path relative to the
    folder), and `target` when there are class folders. All images share one colour mode: grey
    when every image is grey, else RGB.
    """
    classes = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    files = [(f, c.name) for c in classes for f in _images_in(c)] if classes else [(f, None) for f in _images_in(path)]
    if not files:
        raise DataError("data source is not a file, nor a folder of images", where=source,
                        expected=f"a .csv, .parquet or .npz file, or sub-folders (one per class) holding "
                                 f"{', '.join(IMAGE_EXTENSIONS)} files",
                        found="an empty folder" if not classes else f"class folders {[c.name for c in classes][:5]} without images",
                        hint="point data.source at a file inside the folder, or put each class's images in a "
                             "sub-folder named after the class")
    images = _open_images([f for f, _ in files], cfg, source)
    frame = pd.DataFrame({IMAGE_COLUMN: pd.Series(images, dtype=object),
                          "file": [str(f.relative_to(path)) for f, _ in files]})
    if classes:
        frame[cfg.target_name()] = [c for _, c in files]
    return frame


def _images_in(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)


def _open_images(files: list[Path], cfg: DataConfig, source: str) -> list[np.ndarray]:
    from PIL import Image, UnidentifiedImageError

    opened = []
    for f in files:
        try:
            with Image.open(f) as im:
                im.load()
                opened.append(im.copy())
        except (UnidentifiedImageError, OSError) as e:
            raise DataError("cannot read image", where=str(f), found=str(e).splitlines()[0],
                            hint="remove or re-save that file (PNG or JPEG)") from None
    grey = all(im.mode in ("L", "1", "I;16", "I") for im in opened)
    arrays = [_pixel_array(im, grey, cfg.image_size) for im in opened]
    _check_sizes(arrays, files, source)
    return arrays


def _pixel_array(im: Any, grey: bool, image_size: list[int] | None) -> np.ndarray:
    """A Pillow image as uint8 pixels, (H, W) grey or (H, W, 3) RGB, resized to `data.image_size` when set."""
    from PIL import Image

    im = im.convert("L" if grey else "RGB")
    size = tuple(image_size[::-1]) if image_size else None  # Pillow sizes are (W, H)
    if size and im.size != size:
        im = im.resize(size, Image.BILINEAR)
    return np.asarray(im, dtype=np.uint8)


def decode_image(content: bytes, where: str, channels: int, image_size: list[int] | None) -> np.ndarray:
    """An uploaded PNG/JPEG (any format Pillow reads) as a run's training images were read: grey
    for a 1-channel model, else RGB, resized to the run's `data.image_size` when it set one."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as im:
            im.load()
            return _pixel_array(im, channels == 1, image_size)
    except (UnidentifiedImageError, OSError) as e:
        raise DataError("cannot read image", where=where, expected="a PNG or JPEG file",
                        found=str(e).splitlines()[0], hint="send the image file's bytes as they are on disk") from None


def _check_sizes(arrays: list[np.ndarray], files: list[Path], source: str) -> None:
    first = arrays[0].shape
    bad = [i for i, a in enumerate(arrays) if a.shape != first]
    if bad:
        raise DataError("images of different sizes", where=str(files[bad[0]]),
                        expected=f"{first[1]}x{first[0]} pixels like {files[0].name}",
                        found=f"{arrays[bad[0]].shape[1]}x{arrays[bad[0]].shape[0]} ({len(bad)} of {len(arrays)} images differ)",
                        hint=f"set data.image_size: [H, W] to resize every image of {source}")
