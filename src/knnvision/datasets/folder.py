"""Image folders: one sub-folder per class, each holding image files.

Images are decoded with Pillow, converted to 8-bit grayscale (or, with ``color=True``, to
8-bit RGB) and resized to one size. Colour images converted to grayscale are counted, and the
dataset carries a note saying so.
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
    color: bool = False,
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
    color : bool, default=False
        Keep the colours: RGB images of shape ``(n, height, width, 3)`` (grayscale files are
        repeated in the three channels). Without it, colour images are converted to
        grayscale and the dataset's ``note`` says how many were.

    Returns
    -------
    Dataset
        uint8 grayscale (or RGB) images, class names the sorted sub-folder names, ``source``
        the folder's absolute path.

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
    images = np.empty((len(files), *size, *((3,) if color else ())), dtype=np.uint8)
    n_colour = 0
    with track(total=len(files), description=f"reading images from {root.name}") as task:
        for i, file in enumerate(files):
            images[i], had_colour = _read_checked(file, size, max_pixels, color)
            n_colour += had_colour
            task.advance()
    return Dataset(
        name=root.resolve().name,
        images=images,
        labels=np.asarray(labels, dtype=np.int64),
        class_names=tuple(folder.name for folder in classes),
        source=str(root.resolve()),
        note=None if color or not n_colour else grayscale_note(n_colour),
    )


def grayscale_note(n_colour: int) -> str:
    """The one-line notice that colour images lost their colours."""
    images = "colour image" if n_colour == 1 else "colour images"
    return f"{n_colour:,} {images} converted to grayscale; pass --color to keep RGB"


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
    *,
    color: bool = False,
) -> np.ndarray:
    """Decode one image file safely to 8-bit grayscale (or RGB) of a given size.

    Parameters
    ----------
    file : str or path-like
        A PNG, JPEG, BMP, PGM/PPM or GIF file (first frame).
    image_size : (int, int) or int, default=(28, 28)
        ``(height, width)`` of the result (aspect ratio is not kept).
    max_pixels : int, default=MAX_PIXELS
        Largest ``width * height`` accepted, checked before any pixel is decoded.
    color : bool, default=False
        Return RGB, shape ``(height, width, 3)``, instead of grayscale.

    Returns
    -------
    numpy.ndarray of uint8, shape (height, width) or (height, width, 3)
        Transparent areas are composed over white; 16-bit images are scaled to 8 bits.

    Raises
    ------
    ValueError
        If the file is not a supported image, is damaged, or has too many pixels; the
        message names the file.
    """
    return _read_checked(Path(file), _check_size(image_size), max_pixels, color)[0]


def _read_checked(
    file: Path, size: tuple[int, int], max_pixels: int, color: bool
) -> tuple[np.ndarray, bool]:
    """:func:`read_image`, and whether the file held colours (lost unless ``color``)."""
    try:
        return _decode(file, size, max_pixels, color)
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


def _decode(
    file: Path, size: tuple[int, int], max_pixels: int, color: bool
) -> tuple[np.ndarray, bool]:
    """Open lazily, check the pixel count, then decode, convert and resize; also say whether
    the image held colours."""
    height, width = size
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(file, formats=IMAGE_FORMATS) as im:
            if im.width * im.height > max_pixels:
                raise _ImageTooLarge(
                    f"{file} is {im.width}x{im.height} pixels, more than the limit of "
                    f"{max_pixels}; shrink it or raise max_pixels"
                )
            may_have_colour = im.mode not in _GRAY_MODES
            # JPEG: decode at a reduced scale when possible (in colour when it has colours,
            # so that their loss can be told).
            im.draft("RGB" if may_have_colour else "L", (width, height))
            has_colour = False
            if may_have_colour or color:
                rgb = _small_rgb(im, size)
                has_colour = may_have_colour and _has_colour(rgb)
                if color:
                    return rgb, has_colour
            gray = to_gray(im)
            resized = gray.resize((width, height), Image.Resampling.BILINEAR)
            return np.asarray(resized, dtype=np.uint8), has_colour


#: Pillow modes that hold no colour (the rest may, palette images included).
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"})


def _small_rgb(im: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """The image as 8-bit RGB at ``size`` (transparency over white, as :func:`to_gray`)."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L"):
        rgb = to_gray(im).convert("RGB")
    elif im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(white, rgba).convert("RGB")
    else:
        rgb = im.convert("RGB")
    resized = rgb.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


#: Largest difference between a pixel's red, green and blue that still counts as gray: JPEG
#: decoding can leave a step of rounding between the channels of a gray image.
_GRAY_TOLERANCE = 2


def _has_colour(rgb: np.ndarray) -> bool:
    """Whether some pixel's red, green and blue differ by more than the tolerance (resizing
    cannot make a gray image coloured: each channel is filtered alike)."""
    channels = rgb.astype(np.int16)
    spread = channels.max(axis=-1) - channels.min(axis=-1)
    return bool(spread.max(initial=0) > _GRAY_TOLERANCE)


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
