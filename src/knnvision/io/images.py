"""Turning new images (files a user drew or photographed) into a model's feature rows.

A model remembers the image shape, pixel range and dataset of its training images; a new
image is brought to the same: grayscale, dark background (the convention of MNIST and the
UCI digits), framed the way the training images were framed, and pixel values scaled to the
training range. :func:`frame_image` does all of it for one image; the command line
(``knnvision predict``) and the web API both use it, so one image gets one answer.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..datasets import read_idx
from ..datasets.folder import IMAGE_FORMATS, MAX_PIXELS, to_gray

# Each set of choices is a Literal type too, so that the web API can declare its options.
Invert = Literal["auto", "yes", "no"]
INVERT_CHOICES: tuple[str, ...] = get_args(Invert)

#: How an image is made to look like the training images (see :func:`frame_image`).
Framing = Literal["auto", "mnist", "digits", "resize", "none"]
FRAMING_CHOICES: tuple[str, ...] = get_args(Framing)

#: File name endings read as images (also what ``predict`` picks from a folder).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm"})

# Drawings and photos are shrunk to this side before framing: plenty for a 28x28 result,
# and it bounds the work a large image can cause.
WORKING_SIDE = 512


@dataclass(frozen=True)
class ImageFormat:
    """What a model's training images looked like.

    Parameters
    ----------
    image_shape : (int, int)
        ``(height, width)`` of the training images.
    max_value : int
        Brightest pixel value of the training images (16 for the UCI digits).
    framing : {"mnist", "digits", "resize"}
        How an image of another size is framed by default (see :func:`frame_image`).
    color : bool, default=False
        Whether the training images were RGB (``--color``): then each image is
        ``height * width * 3`` features and is resized, never framed like a drawing (see
        :func:`frame_color_image`).
    """

    image_shape: tuple[int, int]
    max_value: int
    framing: str
    color: bool = False

    @classmethod
    def from_metadata(cls, metadata: dict) -> ImageFormat:
        """Read the format from a model's metadata (``image_shape``, ``max_value``, ``dataset``).

        ``image_shape`` is ``[height, width]`` for grayscale models and
        ``[height, width, 3]`` for colour ones.
        """
        shape = tuple(int(side) for side in metadata.get("image_shape", ()))
        if len(shape) not in (2, 3) or min(shape) < 1:
            raise ValueError(
                "The model does not record the shape of its training images, so images cannot "
                "be turned into its features; fit it with `knnvision fit` or `knnvision run`."
            )
        if len(shape) == 3 and shape[2] != 3:
            raise ValueError(
                f"The model records images of shape {list(shape)}: knnvision reads grayscale "
                "[height, width] or RGB [height, width, 3] images; refit it with `knnvision fit`."
            )
        color = len(shape) == 3
        dataset = str(metadata.get("dataset", "")).lower()
        framing = dataset if dataset in ("mnist", "digits") and not color else "resize"
        return cls((shape[0], shape[1]), int(metadata.get("max_value", 255)), framing, color)

    @property
    def array_shape(self) -> tuple[int, ...]:
        """Shape of one image as an array: ``(height, width)``, or ``(height, width, 3)``."""
        return (*self.image_shape, 3) if self.color else self.image_shape

    @property
    def n_pixels(self) -> int:
        """Features of one image: ``height * width`` values (times 3 in colour)."""
        return int(np.prod(self.array_shape))


def needs_inversion(image: np.ndarray) -> bool:
    """True when the image is dark ink on a light background (its border is mostly light)."""
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    return float(border.mean()) > 127.5


def to_features(images: np.ndarray, max_value: int = 255, invert: str = "auto") -> np.ndarray:
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


# --- reading the inputs of `knnvision predict` ------------------------------------------------


def list_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """The files to read: each file as given, and the image files below each folder.

    A folder is searched recursively. Its image files (names ending as in
    :data:`IMAGE_SUFFIXES`, any case) come sorted by path; other files, and hidden files and
    folders (names starting with "."), are left out.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = _images_below(path)
            if not found:
                raise ValueError(
                    f"The folder {path} holds no image files "
                    f"({', '.join(sorted(IMAGE_SUFFIXES))}); add some or pass files."
                )
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"No such input file: {path}")
    if not files:
        raise ValueError(
            "No inputs given: pass image files, folders of images, IDX files or .npz files."
        )
    return files


def _images_below(folder: Path) -> list[Path]:
    found = []
    for parent, folders, names in os.walk(folder):  # never follows links to folders
        folders[:] = [name for name in folders if not name.startswith(".")]
        found += [
            Path(parent, name)
            for name in names
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES
        ]
    return sorted(found)


def read_inputs(
    paths: Sequence[str | Path],
    image_format: ImageFormat,
    framing: str = "auto",
    invert: str = "auto",
    max_pixels: int = MAX_PIXELS,
) -> tuple[list[str], np.ndarray]:
    """Names and feature rows of image files, folders of images, IDX and ``.npz`` files.

    Each image file becomes one row through :func:`frame_image`, named by its path. The
    images of an IDX file or of an ``.npz`` file's ``X`` array are the model's training
    format already: they must have the model's image shape and are taken as they are (values
    0..255, scaled to the training range and inverted as ``invert`` says; with
    ``framing="none"`` values 0..max_value used unchanged); row ``i`` is named ``path[i]``.
    """
    names: list[str] = []
    batches: list[np.ndarray] = []
    for path in list_inputs(paths):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            batches.append(_framed_file(path, image_format, framing, invert, max_pixels))
            names.append(str(path))
        else:
            batch = _batch_features(path, image_format, framing, invert)
            batches.append(batch)
            names += [f"{path}[{i}]" for i in range(len(batch))]
    return names, np.concatenate(batches)


def _framed_file(
    path: Path, image_format: ImageFormat, framing: str, invert: str, max_pixels: int
) -> np.ndarray:
    image = read_gray(path, max_pixels)
    try:
        return frame_image(image, image_format, framing, invert)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def read_gray(file: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """An image file as 8-bit grayscale, decoded exactly as the web API decodes an upload.

    Raises
    ------
    ValueError
        Naming the file, when it is not a supported image, is damaged, or has more than
        ``max_pixels`` pixels (read from its header, before any pixel is decoded).
    """
    return _decode_file(file, max_pixels, gray_pixels)


def _decode_file(file: str | Path, max_pixels: int, decode) -> np.ndarray:
    """``decode(image)`` of an opened image file, with :func:`read_gray`'s refusals."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(file, formats=IMAGE_FORMATS) as image:
                width, height = image.size
                if width * height <= max_pixels:
                    return decode(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ValueError(f"{file} has more pixels than Pillow accepts; shrink it.") from None
        except UnidentifiedImageError:
            raise ValueError(
                f"{file} is not a supported image ({', '.join(IMAGE_FORMATS)}); convert it."
            ) from None
        except Exception as error:  # Pillow raises many types on damaged data
            raise ValueError(
                f"{file} could not be decoded ({type(error).__name__}); replace it."
            ) from error
    raise ValueError(
        f"{file} is {width}x{height} pixels, more than the limit of {max_pixels}; shrink it."
    )


def gray_pixels(image: Image.Image) -> np.ndarray:
    """An opened image as 8-bit grayscale, shrunk (aspect kept) to fit :data:`WORKING_SIDE`.

    Every image file and upload goes through here, so the same bytes give the same pixels
    on the command line and in the web API.
    """
    image.draft("L", (WORKING_SIDE, WORKING_SIDE))  # JPEG: decode at a reduced scale
    gray = to_gray(image)
    gray.thumbnail((WORKING_SIDE, WORKING_SIDE))
    return np.asarray(gray, dtype=np.uint8)


def _batch_features(path: Path, image_format: ImageFormat, framing: str, invert: str) -> np.ndarray:
    if path.suffix.lower() == ".npz":
        images = _npz_images(path)
    elif _looks_like_idx(path):
        images = read_idx(path)
    else:
        raise ValueError(
            f"{path} is not an image (PNG/JPEG/BMP/GIF), IDX or .npz file; convert it first."
        )
    if framing == "none":  # the values are the model's features already
        images = _check_shape(images, image_format.image_shape, path, image_format.max_value)
        return images.reshape(len(images), -1)
    images = _check_shape(images, image_format.image_shape, path, 255)
    return to_features(images, image_format.max_value, invert)


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


def _check_shape(
    images: np.ndarray, image_shape: tuple[int, int], path: Path, top: int
) -> np.ndarray:
    """The images as ``(n, height, width)`` uint8, refusing other shapes and values > top."""
    height, width = image_shape
    if images.ndim == 2 and images.shape[1] == height * width:
        images = images.reshape(-1, height, width)
    if images.ndim != 3 or images.shape[1:] != (height, width):
        raise ValueError(
            f"{path} holds images of shape {images.shape[1:]}, but the model expects "
            f"{height}x{width} images."
        )
    if images.dtype.kind not in "ui" or images.min(initial=0) < 0 or images.max(initial=0) > top:
        raise ValueError(f"{path} must hold images of integers 0..{top}.")
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
    framed[top : top + glyph.shape[0], left : left + glyph.shape[1]] = glyph
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
    bitmap[top : top + glyph.shape[0], left : left + glyph.shape[1]] = glyph
    counts = bitmap.reshape(height, 4, width, 4).sum(axis=(1, 3))
    return np.rint(counts * (255 / 16)).astype(np.uint8)


def _scaled_glyph(ink: np.ndarray, box: tuple[int, int]) -> np.ndarray:
    """The ink's bounding box, resized as large as fits in ``box`` with its aspect kept."""
    rows = np.flatnonzero(ink.any(axis=1))
    columns = np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        raise ValueError("The image holds no strokes; draw or photograph a glyph.")
    glyph = ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    scale = min(box[0] / glyph.shape[0], box[1] / glyph.shape[1])
    size = (
        max(1, min(box[1], round(glyph.shape[1] * scale))),
        max(1, min(box[0], round(glyph.shape[0] * scale))),
    )
    resized = Image.fromarray(glyph).resize(size, Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8)


# --- one image, framed for a model ------------------------------------------------------------


def frame_image(
    image: np.ndarray, image_format: ImageFormat, framing: str = "auto", invert: str = "auto"
) -> np.ndarray:
    """One feature row ``(1, n_pixels)`` of a model from a grayscale image of any size.

    ``knnvision predict`` and the web API both call this, so a file gets the same answer
    from either.

    Parameters
    ----------
    image : ndarray of uint8, shape (height, width)
        Grayscale pixels, 0..255 (0..``max_value`` with ``framing="none"``).
    image_format : ImageFormat
        The model's training images.
    framing : {"auto", "mnist", "digits", "resize", "none"}, default="auto"
        ``"mnist"``: the strokes' bounding box is scaled into 20x20 and centred by its centre
        of mass in 28x28. ``"digits"``: the strokes fill the height of a 32x32 bitmap whose
        4x4 blocks are counted (0..16). ``"resize"``: the whole image is resized (left as it
        is when it has the model's size already). ``"none"``: the pixels already are the
        model's features. ``"auto"``: an image of exactly the model's image size is taken
        as it is (as ``"resize"``: only inverted and scaled), since it is then most likely
        an image like the training ones; any other size gets the framing of the model's
        dataset (MNIST, digits, else resize).
    invert : {"auto", "yes", "no"}, default="auto"
        Whether the image is dark ink on a light background; ``"auto"`` reads the border.

    Raises
    ------
    ValueError
        For a bad option, a ``"none"`` image of the wrong shape or range, or an image
        without strokes when a framing needs them.
    """
    _check_choice("preprocess", framing, FRAMING_CHOICES)
    _check_choice("invert", invert, INVERT_CHOICES)
    image = np.asarray(image, dtype=np.uint8)
    shape, max_value = image_format.image_shape, image_format.max_value
    chosen = framing_for(image.shape, image_format, framing)
    if chosen == "none":
        return _raw_features(image, image_format)
    if chosen == "resize":
        if image.shape != shape:
            image = np.asarray(
                Image.fromarray(image).resize(shape[::-1], Image.Resampling.BILINEAR)
            )
        return to_features(image[None], max_value, invert)
    ink = isolate_ink(image, invert)
    if ink is None:
        raise ValueError("The image is blank: no strokes were found. Draw a digit first.")
    frame = frame_like_mnist if chosen == "mnist" else frame_like_digits
    return to_features(frame(ink, shape)[None], max_value, "no")


def framing_for(size: tuple[int, ...], image_format: ImageFormat, framing: str = "auto") -> str:
    """The framing :func:`frame_image` applies to an image of ``size`` (height, width)."""
    if framing != "auto":
        return framing
    if tuple(size) == image_format.image_shape:
        return "resize"  # taken as it is
    return image_format.framing


def _check_choice(option: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{option} must be one of {', '.join(choices)}, got {value!r}.")


def _raw_features(image: np.ndarray, image_format: ImageFormat) -> np.ndarray:
    if image.shape != image_format.image_shape:
        height, width = image_format.image_shape
        raise ValueError(
            f"With preprocess=none the image must be {height}x{width} pixels, "
            f"got {'x'.join(map(str, image.shape))}."
        )
    if image.max(initial=0) > image_format.max_value:
        raise ValueError(f"With preprocess=none pixel values must be 0..{image_format.max_value}.")
    return image.reshape(1, -1).astype(np.uint8)


def class_labels(classes: np.ndarray, names) -> list[str]:
    """Display name of each class: the dataset's name for an integer label when known."""
    classes = np.asarray(classes)
    if names and classes.dtype.kind in "iu" and classes.min() >= 0 and classes.max() < len(names):
        return [str(names[label]) for label in classes]
    return [str(label) for label in classes]


# --- colour models ----------------------------------------------------------------------------


def read_color_inputs(
    paths: Sequence[str | Path],
    image_format: ImageFormat,
    framing: str = "auto",
    invert: str = "auto",
    max_pixels: int = MAX_PIXELS,
) -> tuple[list[str], np.ndarray]:
    """Names and feature rows of image files (and folders of them) for an RGB model.

    Each image is read as its training images were (:func:`rgb_pixels`): RGB, resized to
    the model's height and width, flattened to ``height * width * 3`` values. It is not
    inverted or framed like a drawing: a colour photo has no strokes on paper to find. The
    web API reads an upload to a colour model the same way, so both give the same answer;
    ``framing`` and ``invert`` mean what they mean there (:func:`frame_color_image`).
    """
    # With framing "none" the file must already have the model's size: not resized here.
    size = None if framing == "none" else image_format.image_shape
    names, rows = [], []
    for path in list_inputs(paths):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise ValueError(
                f"{path}: a colour model reads image files (PNG, JPEG, ...), not IDX or .npz files."
            )
        image = _decode_file(path, max_pixels, lambda opened: rgb_pixels(opened, size))
        rows.append(frame_color_image(image, image_format, framing, invert))
        names.append(str(path))
    return names, np.concatenate(rows)


def rgb_pixels(image: Image.Image, size: tuple[int, int] | None = None) -> np.ndarray:
    """An opened image as 8-bit RGB ``(height, width, 3)``, resized to ``size`` if given.

    The conversion is the one a folder's training images get with ``color=True``
    (:func:`~knnvision.datasets.read_image`): transparency over white, 16-bit values scaled
    down, bilinear resizing straight from the full image. Image files for ``predict`` and
    uploads to the web API both come through here.
    """
    # The folder reader's own conversion, so that a training file read again gives its row.
    from ..datasets.folder import _small_rgb

    size = (image.height, image.width) if size is None else (size[0], size[1])
    image.draft("RGB", size[::-1])  # JPEG: decode at a reduced scale, as the folder reader
    return _small_rgb(image, size)


#: Framings a colour image accepts: it is resized (or taken as it is), never framed like a
#: drawing, since a photo has no strokes on paper to find.
COLOR_FRAMING_CHOICES = ("auto", "resize", "none")


def frame_color_image(
    image: np.ndarray, image_format: ImageFormat, framing: str = "auto", invert: str = "auto"
) -> np.ndarray:
    """One feature row ``(1, height * width * 3)`` of an RGB model from an RGB image.

    Parameters
    ----------
    image : ndarray of uint8, shape (height, width, 3), or (height, width) for gray
        RGB pixels 0..255 (0..``max_value`` with ``framing="none"``); a grayscale image is
        taken as RGB with three equal channels.
    image_format : ImageFormat
        The model's training images (``color=True``).
    framing : {"auto", "resize", "none"}, default="auto"
        ``"auto"`` and ``"resize"``: resized to the model's size (bilinear; unchanged when
        it has that size). ``"none"``: the pixels already are the model's features, so the
        image must have the model's size. ``"mnist"`` and ``"digits"`` are refused.
    invert : {"auto", "yes", "no"}, default="auto"
        ``"yes"`` inverts every channel; ``"auto"`` and ``"no"`` leave the image as it is
        (a photo's border says nothing about ink and paper).
    """
    _check_choice("invert", invert, INVERT_CHOICES)
    if framing not in COLOR_FRAMING_CHOICES:
        raise ValueError(
            f"A colour model's images are resized, not framed like a drawing: "
            f"preprocess must be one of {', '.join(COLOR_FRAMING_CHOICES)}, "
            f"got {framing!r}."
        )
    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    height, width = image_format.image_shape
    if framing == "none":
        if image.shape != (height, width, 3):
            raise ValueError(
                f"With preprocess=none the image must be {height}x{width} RGB "
                f"pixels, got {'x'.join(map(str, image.shape))}."
            )
        if image.max(initial=0) > image_format.max_value:
            raise ValueError(
                f"With preprocess=none pixel values must be 0..{image_format.max_value}."
            )
        return image.reshape(1, -1)
    if image.shape[:2] != (height, width):
        image = rgb_pixels(Image.fromarray(image), (height, width))
    if invert == "yes":
        image = 255 - image
    if image_format.max_value != 255:
        image = np.rint(image * (image_format.max_value / 255.0)).astype(np.uint8)
    return image.reshape(1, -1)
