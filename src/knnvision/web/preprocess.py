"""From an uploaded image or a JSON array of pixels to one feature row of the model.

Everything here works on data from outside, so every step is guarded: the pixel count is
read from the image header before any pixel is decoded, and every refusal is an
:class:`InputError` carrying the HTTP status that says what kind of problem it was.
"""

from __future__ import annotations

import base64
import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..io.images import (
    FRAMING_CHOICES,
    INVERT_CHOICES,
    ImageFormat,
    frame_color_image,
    frame_image,
    gray_pixels,
    rgb_pixels,
)

#: Pillow format of each accepted upload content type.
UPLOAD_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG"}

#: How a drawing is made to look like the training images; ``auto`` picks from the model
#: (see :func:`knnvision.io.images.frame_image`).
PREPROCESS_CHOICES = FRAMING_CHOICES


class InputError(ValueError):
    """Input the API refuses; ``status`` is the HTTP status code to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# --- decoding ---------------------------------------------------------------------------------


def decode_upload(
    data: bytes,
    content_type: str,
    max_pixels: int,
    model_format: ImageFormat | None = None,
    preprocess: str = "auto",
) -> np.ndarray:
    """An uploaded PNG or JPEG as an 8-bit grayscale array at (at most) a working size.

    For a colour model (``model_format.color``) it is RGB ``(height, width, 3)`` instead,
    read as ``knnvision predict`` reads a file for it (:func:`knnvision.io.images.rgb_pixels`):
    resized straight to the model's size, or kept at its own size with
    ``preprocess="none"`` (which then must be the model's).

    Raises
    ------
    InputError
        415 for a content type other than PNG/JPEG, 413 when the header announces more than
        ``max_pixels`` pixels, 400 when the data is not a valid image of the declared type.
    """
    image_format = UPLOAD_FORMATS.get(content_type.split(";")[0].strip().lower())
    if image_format is None:
        raise InputError(
            415,
            f"Upload a PNG or JPEG image (image/png or image/jpeg), "
            f"not {content_type or 'a file without a content type'}.",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=(image_format,)) as image:
                _check_pixel_count(image.width, image.height, max_pixels)
                if model_format is not None and model_format.color:
                    size = None if preprocess == "none" else model_format.image_shape
                    return rgb_pixels(image, size)  # as the command line reads files
                return gray_pixels(image)  # as the command line reads files
        except InputError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Pillow's own guard, for headers far beyond any sensible size.
            raise InputError(
                413,
                f"The image has more pixels than the limit of {max_pixels}; send a smaller image.",
            ) from None
        except UnidentifiedImageError:
            raise InputError(400, f"The upload is not a valid {image_format} image.") from None
        except Exception as error:  # Pillow raises many types on damaged data
            raise InputError(
                400, f"The upload is not a valid {image_format} image ({type(error).__name__})."
            ) from None


def _check_pixel_count(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise InputError(
            413,
            f"The image is {width}x{height} pixels, more than the limit of "
            f"{max_pixels}; send a smaller image.",
        )


def pixels_from_json(
    value, image_format: ImageFormat, preprocess: str, max_pixels: int
) -> np.ndarray:
    """A JSON array of pixels as a 2-D (or, for a colour model, 3-D) array of 8-bit values.

    A 2-D array is a grayscale image of any size; for a colour model a 3-D array
    ``(height, width, 3)`` is an RGB image of any size (and a 2-D one a gray image, taken
    as RGB). A flat array must hold exactly one image of the model's shape (``height *
    width * 3`` values in colour). Values are 0..255, or 0..``max_value`` with
    ``preprocess="none"``.

    Raises
    ------
    InputError
        422 when the value is not a rectangular array of numbers in range, 413 when it holds
        more than ``max_pixels`` pixels.
    """
    if not isinstance(value, list) or not value:
        raise InputError(
            422,
            "Send a JSON array of pixel rows (height x width), or one flat "
            f"array of {image_format.n_pixels} pixels.",
        )
    shape = _json_shape(value)
    # Checked before converting: rows x columns (the channels are bounded by the body size).
    _check_pixel_count(
        shape[1] if len(shape) > 1 else shape[0], shape[0] if len(shape) > 1 else 1, max_pixels
    )
    try:
        pixels = np.asarray(value)
    except ValueError:  # ragged rows
        pixels = None
    if pixels is None or pixels.dtype.kind not in "iuf":
        raise InputError(422, "The pixel array must be rectangular and hold only numbers.")
    if pixels.ndim == 1:
        if pixels.size != image_format.n_pixels:
            raise InputError(
                422,
                f"A flat pixel array must hold {image_format.n_pixels} values "
                f"(a {_size_words(image_format)} image), got {pixels.size}.",
            )
        pixels = pixels.reshape(image_format.array_shape)
    _check_dimensions(pixels.shape, image_format)
    top = image_format.max_value if preprocess == "none" else 255
    if not np.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > top:
        raise InputError(422, f"Pixel values must be numbers from 0 to {top}.")
    return np.rint(pixels).astype(np.uint8)


def _json_shape(value: list) -> tuple[int, ...]:
    """The shape a nested list claims from its first elements, read before converting it."""
    shape: list[int] = []
    while isinstance(value, list) and value and len(shape) < 3:
        shape.append(len(value))
        value = value[0]
    return tuple(shape)


def _check_dimensions(shape: tuple[int, ...], image_format: ImageFormat) -> None:
    """Refuse arrays that are not an image the model can read (2-D gray, or 3-D RGB)."""
    if len(shape) == 2 and min(shape) >= 1:
        return
    if len(shape) == 3 and image_format.color and min(shape) >= 1 and shape[2] == 3:
        return
    expected = (
        "2-D (height x width) or 3-D (height x width x 3, RGB)"
        if image_format.color
        else "2-D (height x width): the model reads grayscale images"
    )
    raise InputError(422, f"The pixel array must be {expected}, got shape {list(shape)}.")


def _size_words(image_format: ImageFormat) -> str:
    height, width = image_format.image_shape
    return f"{height}x{width} RGB" if image_format.color else f"{height}x{width}"


# --- preprocessing ----------------------------------------------------------------------------


def preprocess_image(
    image: np.ndarray, image_format: ImageFormat, preprocess: str = "auto", invert: str = "auto"
) -> np.ndarray:
    """One feature row ``(1, n_pixels)`` in the model's training range from an image.

    :func:`knnvision.io.images.frame_image` (which ``knnvision predict`` uses too), or
    :func:`knnvision.io.images.frame_color_image` for a colour model, with their refusals as
    :class:`InputError`. ``preprocess`` is its ``framing``: ``"auto"`` takes an
    image of exactly the model's size as it is and frames any other size the way the
    model's dataset was framed.

    Raises
    ------
    InputError
        422 for a bad option, a ``"none"`` image of the wrong shape, or an image without
        strokes when a framing needs them.
    """
    frame = frame_color_image if image_format.color else frame_image
    try:
        return frame(image, image_format, preprocess, invert)
    except ValueError as error:
        raise InputError(422, str(error)) from None


def image_to_display(row: np.ndarray, image_format: ImageFormat) -> np.ndarray:
    """A feature row as an 8-bit image for showing (training range stretched to 0..255):
    ``(height, width)`` gray, or ``(height, width, 3)`` RGB for a colour model."""
    scale = 255.0 / image_format.max_value
    pixels = np.rint(np.asarray(row, dtype=np.float64) * scale).clip(0, 255)
    return pixels.astype(np.uint8).reshape(image_format.array_shape)


def png_data_url(image: np.ndarray) -> str:
    """A small grayscale ``(h, w)`` or RGB ``(h, w, 3)`` image as a ``data:image/png;base64,...``
    URL."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


__all__ = [
    "ImageFormat",
    "INVERT_CHOICES",
    "InputError",
    "PREPROCESS_CHOICES",
    "UPLOAD_FORMATS",
    "decode_upload",
    "image_to_display",
    "pixels_from_json",
    "png_data_url",
    "preprocess_image",
]
