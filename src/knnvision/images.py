"""Turning new images (files a user drew or photographed) into a model's feature rows.

A model remembers the image shape and pixel range of its training images; new images are
brought to the same: grayscale, resized, dark background (the convention of MNIST and the
UCI digits), and pixel values scaled to the training range.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .datasets import read_idx
from .datasets.folder import MAX_PIXELS, read_image

INVERT_CHOICES = ("auto", "yes", "no")


def needs_inversion(image: np.ndarray) -> bool:
    """True when the image is dark ink on a light background (its border is mostly light)."""
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    return float(border.mean()) > 127.5


def to_features(
    images: np.ndarray, max_value: int = 255, invert: str = "auto"
) -> np.ndarray:
    """Rows of pixels in the training range from 8-bit grayscale images ``(n, h, w)``.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, height, width)
        Images already at the model's size, values 0..255.
    max_value : int, default=255
        Brightest value of the training images (16 for the UCI digits).
    invert : {"auto", "yes", "no"}, default="auto"
        Make light-background images dark-background; ``"auto"`` decides per image from its
        border.
    """
    if invert not in INVERT_CHOICES:
        raise ValueError(f"invert must be one of {', '.join(INVERT_CHOICES)}, got {invert!r}.")
    images = np.asarray(images, dtype=np.uint8)
    out = images.astype(np.float64)
    for i, image in enumerate(images):
        if invert == "yes" or (invert == "auto" and needs_inversion(image)):
            out[i] = 255.0 - out[i]
    if max_value != 255:
        out = np.rint(out * (max_value / 255.0))
    return out.astype(np.uint8).reshape(len(images), -1)


def read_inputs(
    paths: Sequence[str | Path], image_shape: tuple[int, int]
) -> tuple[list[str], np.ndarray]:
    """Read image files, IDX image files or ``.npz`` files into ``(names, images)``.

    Image files are decoded safely and resized to ``image_shape``; IDX and npz files must
    already hold images of that shape (values 0..255). Returns one name per image.
    """
    names: list[str] = []
    batches: list[np.ndarray] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"No such input file: {path}")
        batch = _read_one(path, image_shape)
        batches.append(batch)
        names += [path.name] if len(batch) == 1 and _is_image_file(path) else [
            f"{path.name}[{i}]" for i in range(len(batch))
        ]
    if not batches:
        raise ValueError("No inputs given: pass image files, an IDX file or an .npz file.")
    return names, np.concatenate(batches)


def _is_image_file(path: Path) -> bool:
    return path.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm"}


def _read_one(path: Path, image_shape: tuple[int, int]) -> np.ndarray:
    if _is_image_file(path):
        return read_image(path, image_shape, MAX_PIXELS)[None]
    if path.suffix.lower() == ".npz":
        images = _npz_images(path)
    elif _looks_like_idx(path):
        images = read_idx(path)
    else:
        raise ValueError(
            f"{path} is not an image (PNG/JPEG/BMP/GIF), IDX or .npz file; convert it first."
        )
    return _check_shape(images, image_shape, path)


def _looks_like_idx(path: Path) -> bool:
    return "idx" in path.name.lower() or path.suffix.lower() in {".idx", ".gz", ".ubyte"}


def _npz_images(path: Path) -> np.ndarray:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} is not a readable .npz file ({error}).") from None
    with archive:
        if "X" not in archive.files:
            raise ValueError(f"{path} has no array named X (it holds {archive.files}).")
        try:
            return archive["X"]
        except ValueError:
            raise ValueError(
                f"{path}: array X holds Python objects, which knnvision never loads."
            ) from None


def _check_shape(images: np.ndarray, image_shape: tuple[int, int], path: Path) -> np.ndarray:
    height, width = image_shape
    if images.ndim == 2 and images.shape[1] == height * width:
        images = images.reshape(-1, height, width)
    if images.ndim != 3 or images.shape[1:] != (height, width):
        raise ValueError(
            f"{path} holds images of shape {images.shape[1:]}, but the model expects "
            f"{height}x{width} images."
        )
    if images.dtype.kind not in "ui" or images.min(initial=0) < 0 or images.max(initial=0) > 255:
        raise ValueError(f"{path} must hold 8-bit images (integers 0..255).")
    return images.astype(np.uint8)
