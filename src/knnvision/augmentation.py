"""Training-set augmentation: shifted, rotated, scaled and mirrored copies of images.

A nearest-neighbour classifier has no notion of "the same digit, one pixel to the left";
adding such copies to the training set gives it one. The copies keep the input's dtype, so
``uint8`` images stay ``uint8``: MNIST with 8 one-pixel shifts is 540,000 x 784 bytes
(423 MB), and the search keeps its exact integer fast paths.

:func:`augment_images` builds the copies; :class:`AugmentedKNNClassifier` is a
:class:`~knnvision.KNNClassifier` that augments its training set at ``fit``.

>>> images, labels = augment_images(images, labels, shifts=(1,), directions=8)
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from . import progress
from .estimators import KNNClassifier
from .estimators._base import INPUT_DTYPES, check_weights
from .io import register_saveable
from .preprocessing import CHUNK_IMAGES, as_images, resolve_image_shape, sample_bilinear

__all__ = [
    "AugmentedKNNClassifier",
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
    n, height, width = images.shape
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
    # Inverse map: where in the source each output pixel comes from. Rows grow downwards, so a
    # counter-clockwise turn on screen is a clockwise one in (row, column) coordinates.
    src_y = centre_y + cos * y - sin * x
    src_x = centre_x + sin * y + cos * x
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
        Same layout as ``images`` (rows stay rows), ``n * factor`` of them: the originals
        first, then, for each original (and mirrored original), block by block: every shift
        in :func:`shift_offsets` order, every rotation, every scale.
    augmented_labels : ndarray of shape (n * factor,)
        Only when ``labels`` is given.
    """
    factor = augmentation_factor(shifts, directions, rotations, scales, flip)
    as_rows = np.ndim(images) == 2
    originals = as_images(np.asarray(images), image_shape)
    bases = [originals, originals[:, :, ::-1]] if flip else [originals]
    makers = [lambda b: b]
    makers += [lambda b, o=o: shift_images(b, *o) for o in shift_offsets(shifts, directions)]
    makers += [lambda b, a=a: warp_images(b, angle=a) for a in rotations]
    makers += [lambda b, s=s: warp_images(b, scale=s) for s in scales]
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
        raise ValueError(f"shifts must be a sequence of pixel distances such as (1, 2), got {shifts!r}.")
    for distance in shifts:
        if isinstance(distance, bool) or not isinstance(distance, numbers.Integral) or distance < 1:
            raise ValueError(f"shifts must hold positive whole pixel distances, got {distance!r}.")


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


@register_saveable
class AugmentedKNNClassifier(KNNClassifier):
    """A :class:`~knnvision.KNNClassifier` whose training set is augmented at ``fit``.

    ``fit`` adds shifted, rotated, scaled and/or mirrored copies of every training image
    (see :func:`augment_images`), each with its original's label; queries are searched
    against all of them. The model, and a saved model file, hold the augmented rows: the
    factor from :func:`augmentation_factor` times the training set.

    Parameters
    ----------
    n_neighbors, weights, algorithm, metric, p, n_jobs, working_memory
        As for :class:`~knnvision.KNNClassifier`.
    image_shape : (int, int), default=None
        ``(height, width)`` of the images the rows hold; ``None`` infers square images.
    shifts : tuple of int, default=(1,)
        Shift distances in pixels; ``()`` for none.
    directions : {4, 8}, default=8
        Directions of the shifts.
    rotations : tuple of float, default=()
        Rotation angles in degrees.
    scales : tuple of float, default=()
        Scale factors.
    flip : bool, default=False
        Add left-right mirrored copies (clothing yes, digits no).

    Attributes
    ----------
    augmentation_factor_ : int
        Training rows stored per training image.
    n_samples_fit_ : int
        Number of stored (augmented) training rows.
    image_shape_ : (int, int)
        Shape of the training images.
    """

    def __init__(
        self,
        n_neighbors=5,
        *,
        weights="uniform",
        algorithm="auto",
        metric="minkowski",
        p=2,
        n_jobs=None,
        working_memory=None,
        image_shape=None,
        shifts=(1,),
        directions=8,
        rotations=(),
        scales=(),
        flip=False,
    ):
        super().__init__(
            n_neighbors,
            weights=weights,
            algorithm=algorithm,
            metric=metric,
            p=p,
            n_jobs=n_jobs,
            working_memory=working_memory,
        )
        self.image_shape = image_shape
        self.shifts = shifts
        self.directions = directions
        self.rotations = rotations
        self.scales = scales
        self.flip = flip

    def fit(self, X, y):
        """Augment the training images ``X`` (rows) with their labels ``y`` and store them."""
        check_weights(self.weights)
        factor = augmentation_factor(
            tuple(self.shifts), self.directions, tuple(self.rotations), tuple(self.scales), self.flip
        )
        X, y = validate_data(self, X, y, dtype=INPUT_DTYPES)
        check_classification_targets(y)
        self.image_shape_ = resolve_image_shape(X.shape[1], self.image_shape)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        rows, self._y = augment_images(
            X, encoded, shifts=tuple(self.shifts), directions=self.directions,
            rotations=tuple(self.rotations), scales=tuple(self.scales), flip=self.flip,
            image_shape=self.image_shape_,
        )
        self.augmentation_factor_ = factor
        self._fit_training_rows(rows)
        return self

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """As :meth:`KNNClassifier.kneighbors`; indices refer to the augmented rows, whose
        first ``n_samples_fit_ / augmentation_factor_`` are the original training images."""
        if X is None and getattr(self, "augmentation_factor_", 1) > 1:
            raise ValueError(
                "Leave-one-out neighbours (X=None) are meaningless on an augmented training "
                "set: each image's shifted copies would vote for it. Pass query images."
            )
        return super().kneighbors(X, n_neighbors, return_distance)
