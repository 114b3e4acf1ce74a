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
from PIL import Image

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


# --- framing drawings like the training images ----------------------------------------------

#: Weakest ink, out of 255 after the background is removed, that still counts as a stroke;
#: fainter pixels are paper grain or JPEG noise.
INK_THRESHOLD = 32


def isolate_ink(image: np.ndarray, invert: str = "auto") -> np.ndarray | None:
    """Light strokes on a black background from a drawing or photo of one glyph.

    The image is inverted when it is dark ink on light paper (``"auto"`` decides from its
    border), the background level (median of the border) is subtracted, faint noise is
    zeroed and the contrast is stretched so the strongest stroke is 255.

    Parameters
    ----------
    image : ndarray of uint8, shape (height, width)
        An 8-bit grayscale image.
    invert : {"auto", "yes", "no"}, default="auto"
        Whether the image is dark ink on a light background.

    Returns
    -------
    ndarray of uint8, shape (height, width), or None
        ``None`` when there is no stroke at all (a blank or uniform image).
    """
    if invert not in INVERT_CHOICES:
        raise ValueError(f"invert must be one of {', '.join(INVERT_CHOICES)}, got {invert!r}.")
    image = np.asarray(image, dtype=np.uint8)
    if invert == "yes" or (invert == "auto" and needs_inversion(image)):
        image = 255 - image
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    ink = image.astype(np.float64) - np.median(border)
    strongest = ink.max(initial=0.0)
    if strongest < INK_THRESHOLD:
        return None
    ink = ink * (255.0 / strongest)
    ink[ink < INK_THRESHOLD] = 0.0
    return np.rint(ink).astype(np.uint8)


def frame_like_mnist(ink: np.ndarray, image_shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    """Frame a glyph as MNIST's images were made.

    The glyph's bounding box is scaled, keeping its aspect ratio, to fit a 20x20 box (20/28
    of ``image_shape``) and placed so that its centre of mass is the image centre.

    Parameters
    ----------
    ink : ndarray of uint8, shape (height, width)
        Light strokes on black, as :func:`isolate_ink` returns; at least one non-zero pixel.
    image_shape : (int, int), default=(28, 28)
        ``(height, width)`` of the result.

    Returns
    -------
    ndarray of uint8 of shape ``image_shape``
    """
    height, width = image_shape
    box = (max(1, round(height * 20 / 28)), max(1, round(width * 20 / 28)))
    glyph = _scaled_glyph(ink, box)
    weights = glyph.astype(np.float64)
    rows, columns = np.indices(glyph.shape)
    # MNIST's centres of mass sit at (14.0, 14.0) in pixel-index coordinates.
    centre_row = (weights * rows).sum() / weights.sum()
    centre_column = (weights * columns).sum() / weights.sum()
    top = int(np.clip(round(height / 2 - centre_row), 0, height - glyph.shape[0]))
    left = int(np.clip(round(width / 2 - centre_column), 0, width - glyph.shape[1]))
    framed = np.zeros(image_shape, dtype=np.uint8)
    framed[top:top + glyph.shape[0], left:left + glyph.shape[1]] = glyph
    return framed


def frame_like_digits(ink: np.ndarray, image_shape: tuple[int, int] = (8, 8)) -> np.ndarray:
    """Frame a glyph as the UCI 8x8 digits were made, returning values 0..255.

    The glyph fills the height of a bitmap four times ``image_shape`` (32x32), keeping its
    aspect ratio, centred across; each 4x4 block's count of set pixels (0..16) is the pixel.
    The counts are returned scaled to 0..255 (``count * 255 / 16``), so that
    :func:`to_features` with ``max_value=16`` gives the counts back exactly.

    Parameters
    ----------
    ink : ndarray of uint8, shape (height, width)
        Light strokes on black, as :func:`isolate_ink` returns; at least one non-zero pixel.
    image_shape : (int, int), default=(8, 8)
        ``(height, width)`` of the result.

    Returns
    -------
    ndarray of uint8 of shape ``image_shape``
    """
    height, width = image_shape
    glyph = _scaled_glyph(ink, (4 * height, 4 * width)) > 127
    bitmap = np.zeros((4 * height, 4 * width), dtype=bool)
    top = (bitmap.shape[0] - glyph.shape[0]) // 2
    left = (bitmap.shape[1] - glyph.shape[1]) // 2
    bitmap[top:top + glyph.shape[0], left:left + glyph.shape[1]] = glyph
    counts = bitmap.reshape(height, 4, width, 4).sum(axis=(1, 3))
    return np.rint(counts * (255 / 16)).astype(np.uint8)


def _scaled_glyph(ink: np.ndarray, box: tuple[int, int]) -> np.ndarray:
    """The ink's bounding box, resized as large as fits in ``box`` with its aspect kept."""
    rows = np.flatnonzero(ink.any(axis=1))
    columns = np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        raise ValueError("The image holds no strokes; draw or photograph a glyph.")
    glyph = ink[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1]
    scale = min(box[0] / glyph.shape[0], box[1] / glyph.shape[1])
    size = (max(1, min(box[1], round(glyph.shape[1] * scale))),
            max(1, min(box[0], round(glyph.shape[0] * scale))))
    resized = Image.fromarray(glyph).resize(size, Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8)
