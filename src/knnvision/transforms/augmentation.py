"""Training-set augmentation: shifted, rotated, scaled and mirrored copies of images.

A nearest-neighbour classifier has no notion of "the same digit, one pixel to the left";
adding such copies to the training set gives it one. The copies keep the input's dtype, so
``uint8`` images stay ``uint8``: MNIST with 8 one-pixel shifts is 540,000 x 784 bytes
(423 MB), and the search keeps its exact integer fast paths.

:func:`augment_images` builds the copies. :class:`~knnvision.neighbors.rerank.RerankKNNClassifier`
takes the same options and augments its training set at ``fit``, after any preprocessing steps of
its pipeline (so cross-validation never puts copies of a validation image in training).

>>> images, labels = augment_images(images, labels, shifts=(1,), directions=8)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from functools import partial

import numpy as np

from .. import progress
from .preprocessing import CHUNK_IMAGES, as_images, sample_bilinear

__all__ = [
    "augment_images",
    "augmentation_factor",
    "shift_images",
    "shift_offsets",
    "warp_images",
]

_DIRECTIONS = {
    4: ((-1, 0), (1, 0), (0, -1), (0, 1)),
    8: ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)),
}


def shift_offsets(shifts=(1,), directions: int = 8) -> list[tuple[int, int]]:
    """The ``(rows, columns)`` offsets of the shifted copies, in the order they are made.

    Parameters
    ----------
    shifts : sequence of int, default=(1,)
        Distances in pixels, e.g. ``(1, 2)``.
    directions : {4, 8}, default=8
        Up, down, left and right; with 8, also the four diagonals (moved ``d`` pixels along
        both axes).
    """
    _check_shifts(shifts, directions)
    return [(dy * d, dx * d) for d in shifts for dy, dx in _DIRECTIONS[directions]]


def shift_images(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Move every image ``dy`` pixels down and ``dx`` right (negative: up, left), filling
    with zeros; pixel values and dtype are kept exactly. Takes and returns ``(n, h, w)``."""
    _, height, width = images.shape
    moved = np.zeros_like(images)
    if abs(dy) >= height or abs(dx) >= width:
        return moved
    source_rows = slice(max(0, -dy), height - max(0, dy))
    source_cols = slice(max(0, -dx), width - max(0, dx))
    target_rows = slice(max(0, dy), height - max(0, -dy))
    target_cols = slice(max(0, dx), width - max(0, -dx))
    moved[:, target_rows, target_cols] = images[:, source_rows, source_cols]
    return moved


def warp_images(images: np.ndarray, angle: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """Rotate every image by ``angle`` degrees (counter-clockwise as displayed) and scale it by
    ``scale`` about its centre, with bilinear interpolation and zeros outside.

    ``uint8`` images come back ``uint8`` (rounded); other dtypes are kept. Takes and returns
    ``(n, h, w)``.
    """
    n, height, width = images.shape
    centre_y, centre_x = (height - 1) / 2, (width - 1) / 2
    theta = math.radians(angle)
    cos, sin = math.cos(theta) / scale, math.sin(theta) / scale
    y = np.arange(height, dtype=np.float64)[:, None] - centre_y
    x = np.arange(width, dtype=np.float64)[None, :] - centre_x
    # Inverse map: where in the source each output pixel comes from. Rows grow downwards, so
    # for a counter-clockwise turn on screen the pixel at (y, x) comes from (x, -y) at 90 degrees.
    src_y = centre_y + cos * y + sin * x
    src_x = centre_x - sin * y + cos * x
    warped = np.empty_like(images)
    for start in range(0, n, CHUNK_IMAGES):
        chunk = images[start : start + CHUNK_IMAGES]
        values = sample_bilinear(chunk.astype(np.float64), src_y[None], src_x[None])
        if images.dtype == np.uint8:
            values = np.clip(np.rint(values), 0, 255)
        warped[start : start + len(chunk)] = values
    return warped


def augmentation_factor(shifts=(), directions=8, rotations=(), scales=(), flip=False) -> int:
    """How many rows :func:`augment_images` makes from each image (itself included)."""
    _check_parameters(shifts, directions, rotations, scales, flip)
    per_base = 1 + len(shifts) * directions + len(rotations) + len(scales)
    return per_base * (2 if flip else 1)


def augment_images(
    images,
    labels=None,
    *,
    shifts=(1,),
    directions: int = 8,
    rotations=(),
    scales=(),
    flip: bool = False,
    image_shape=None,
):
    """The images followed by their augmented copies, with matching labels.

    Parameters
    ----------
    images : ndarray of shape (n, h, w), or rows (n, h * w) with ``image_shape``
        The originals; their dtype is kept (uint8 stays uint8).
    labels : ndarray of shape (n,), optional
        Labels to repeat for the copies.
    shifts : sequence of int, default=(1,)
        Shift distances in pixels; see :func:`shift_offsets`.
    directions : {4, 8}, default=8
        Directions of the shifts.
    rotations : sequence of float, default=()
        Angles in degrees, e.g. ``(-10, 10)``.
    scales : sequence of float, default=()
        Scale factors about the centre, e.g. ``(0.9, 1.1)``.
    flip : bool, default=False
        Also mirror every image left to right (then every other copy is made of the
        mirrored images too). Right for clothing, wrong for digits.
    image_shape : (int, int), optional
        Shape of the images when they come as rows; ``None`` infers square images.

    Returns
    -------
    augmented : ndarray
        Same layout as ``images`` (rows stay rows), ``n * factor`` of them, in blocks of
        ``n``: the originals, each shift in :func:`shift_offsets` order, each rotation, each
        scale; then, with ``flip``, the same blocks made from the mirrored images.
    augmented_labels : ndarray of shape (n * factor,)
        Only when ``labels`` is given.
    """
    factor = augmentation_factor(shifts, directions, rotations, scales, flip)
    as_rows = np.ndim(images) == 2
    originals = as_images(np.asarray(images), image_shape)
    bases = [originals, originals[:, :, ::-1]] if flip else [originals]
    makers: list[Callable[[np.ndarray], np.ndarray]] = [lambda b: b]
    makers += [partial(shift_images, dy=dy, dx=dx) for dy, dx in shift_offsets(shifts, directions)]
    makers += [partial(warp_images, angle=a) for a in rotations]
    makers += [partial(warp_images, scale=s) for s in scales]
    n = len(originals)
    out = np.empty((n * factor, *originals.shape[1:]), dtype=originals.dtype)
    with progress.track(total=factor, description="augmenting images") as task:
        for b, base in enumerate(bases):
            for m, make in enumerate(makers):
                block = b * len(makers) + m
                out[block * n : (block + 1) * n] = make(base)
                task.advance()
    if as_rows:
        out = out.reshape(len(out), -1)
    if labels is None:
        return out
    return out, np.tile(np.asarray(labels), factor)


def _check_parameters(shifts, directions, rotations, scales, flip) -> None:
    _check_shifts(shifts, directions)
    for name, values in (("rotations", rotations), ("scales", scales)):
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
            raise ValueError(f"{name} must be a sequence of numbers, got {values!r}.")
        for value in values:
            if not _is_real(value) or (name == "scales" and value <= 0):
                what = "positive numbers" if name == "scales" else "numbers (degrees)"
                raise ValueError(f"{name} must hold finite {what}, got {value!r}.")
    if not isinstance(flip, (bool, np.bool_)):
        raise ValueError(f"flip must be True or False, got {flip!r}.")


def _check_shifts(shifts, directions) -> None:
    if directions not in _DIRECTIONS or isinstance(directions, bool):
        raise ValueError(f"directions must be 4 or 8, got {directions!r}.")
    if isinstance(shifts, (str, bytes)) or not hasattr(shifts, "__len__"):
        raise ValueError(
            f"shifts must be a sequence of pixel distances such as (1, 2), got {shifts!r}."
        )
    for distance in shifts:
        if isinstance(distance, bool) or not isinstance(distance, numbers.Integral) or distance < 1:
            raise ValueError(f"shifts must hold positive whole pixel distances, got {distance!r}.")


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
