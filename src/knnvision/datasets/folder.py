"""Image folders: one sub-folder per class, each holding image files.

Images are decoded with Pillow, converted to 8-bit grayscale and resized to one size.
Files come from outside, so decoding is guarded: only a few common formats are accepted,
the pixel count is checked from the header before any pixel is decoded, and any failure
is a :class:`ValueError` that names the file.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from knnvision.datasets.dataset import Dataset
from knnvision.progress import track

__all__ = ["load_image_folder", "read_image", "IMAGE_FORMATS", "MAX_PIXELS"]

#: Pillow formats accepted (PPM also reads PGM/PBM).
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "PPM", "GIF")

#: Default largest width * height accepted, checked before decoding.
MAX_PIXELS = 40_000_000

_JUNK = frozenset({"thumbs.db", "desktop.ini"})


class _ImageTooLarge(Exception):
    """An image whose header announces more pixels than allowed."""


def load_image_folder(
    path: str | os.PathLike,
    *,
    image_size: tuple[int, int] | int = (28, 28),
    max_pixels: int = MAX_PIXELS,
) -> Dataset:
    """Load a folder with one sub-folder of images per class.

    Parameters
    ----------
    path : str or path-like
        The root folder, laid out as ``path/<class name>/<image file>``. Images may also
        sit in deeper folders under a class folder. Hidden files and folders are skipped.
    image_size : (int, int) or int, default=(28, 28)
        ``(height, width)`` every image is resized to (aspect ratio is not kept).
    max_pixels : int, default=MAX_PIXELS
        Largest ``width * height`` accepted; larger images are refused before decoding.

    Returns
    -------
    Dataset
        uint8 grayscale images, class names the sorted sub-folder names.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a folder.
    ValueError
        If there are no class sub-folders, a class folder holds no files, or a file is not
        a supported image, is damaged, or is too large.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    size = _check_size(image_size)
    classes = _class_folders(root)
    files, labels = _list_images(classes)
    images = np.empty((len(files), *size), dtype=np.uint8)
    with track(total=len(files), description=f"reading images from {root.name}") as task:
        for i, file in enumerate(files):
            images[i] = read_image(file, size, max_pixels)
            task.advance()
    return Dataset(
        name=root.resolve().name,
        images=images,
        labels=np.asarray(labels, dtype=np.int64),
        class_names=tuple(folder.name for folder in classes),
    )


def _check_size(image_size: tuple[int, int] | int) -> tuple[int, int]:
    """Validate ``image_size`` and return it as (height, width)."""
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    size = tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ValueError(f"image_size must be (height, width) positive integers, got {image_size}")
    return size


def _visible(name: str) -> bool:
    """Whether a directory entry is neither hidden nor known operating-system clutter."""
    return not name.startswith(".") and name.lower() not in _JUNK


def _class_folders(root: Path) -> list[Path]:
    """Sorted visible sub-folders of ``root``; refuse a folder without any."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and _visible(p.name))
    if folders:
        return folders
    has_files = any(p.is_file() and _visible(p.name) for p in root.iterdir())
    what = "holds files but no class sub-folders" if has_files else "is empty"
    raise ValueError(
        f"{root} {what}; put the images of each class in their own sub-folder, "
        f"e.g. {root / 'cat' / '001.png'} and {root / 'dog' / '001.png'}"
    )


def _list_images(classes: list[Path]) -> tuple[list[Path], list[int]]:
    """All files under each class folder (sorted), with the class index of each."""
    files: list[Path] = []
    labels: list[int] = []
    for label, folder in enumerate(classes):
        found = _files_under(folder)
        if not found:
            raise ValueError(f"class folder {folder} holds no image files; add some or remove it")
        files += found
        labels += [label] * len(found)
    return files, labels


def _files_under(folder: Path) -> list[Path]:
    """Visible files below ``folder``, in a stable sorted order."""
    found = []
    for parent, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if _visible(d))
        found += [Path(parent, n) for n in sorted(names) if _visible(n)]
    return found


def read_image(
    file: str | os.PathLike,
    image_size: tuple[int, int] | int = (28, 28),
    max_pixels: int = MAX_PIXELS,
) -> np.ndarray:
    """Decode one image file safely to 8-bit grayscale of a given size.

    Parameters
    ----------
    file : str or path-like
        A PNG, JPEG, BMP, PGM/PPM or GIF file (first frame).
    image_size : (int, int) or int, default=(28, 28)
        ``(height, width)`` of the result (aspect ratio is not kept).
    max_pixels : int, default=MAX_PIXELS
        Largest ``width * height`` accepted, checked before any pixel is decoded.

    Returns
    -------
    numpy.ndarray of uint8, shape (height, width)
        Transparent areas are composed over white; 16-bit images are scaled to 8 bits.

    Raises
    ------
    ValueError
        If the file is not a supported image, is damaged, or has too many pixels; the
        message names the file.
    """
    file = Path(file)
    size = _check_size(image_size)
    try:
        return _decode(file, size, max_pixels)
    except _ImageTooLarge as exc:
        raise ValueError(str(exc)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(f"{file} is refused as a decompression bomb ({exc})") from None
    except UnidentifiedImageError:
        raise ValueError(
            f"{file} is not a supported image ({', '.join(IMAGE_FORMATS)}); "
            "remove it from the folder or convert it"
        ) from None
    except Exception as exc:  # Pillow raises many types on damaged data
        raise ValueError(
            f"{file} could not be decoded ({type(exc).__name__}: {exc}); remove or replace it"
        ) from exc


def _decode(file: Path, size: tuple[int, int], max_pixels: int) -> np.ndarray:
    """Open lazily, check the pixel count, then decode, convert and resize."""
    height, width = size
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(file, formats=IMAGE_FORMATS) as im:
            if im.width * im.height > max_pixels:
                raise _ImageTooLarge(
                    f"{file} is {im.width}x{im.height} pixels, more than the limit of "
                    f"{max_pixels}; shrink it or raise max_pixels"
                )
            im.draft("L", (width, height))  # JPEG: decode at a reduced scale when possible
            gray = to_gray(im)
            resized = gray.resize((width, height), Image.Resampling.BILINEAR)
            return np.asarray(resized, dtype=np.uint8)


def to_gray(im: Image.Image) -> Image.Image:
    """8-bit grayscale: transparency over white, 16-bit values scaled down, not clipped."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L"):
        values = np.asarray(im, dtype=np.float64) / 257.0
        return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("L")
    return im.convert("L")
