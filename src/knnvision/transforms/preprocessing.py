"""Image preprocessing transformers that sit in a ``Pipeline`` before a KNN classifier.

Each transformer takes a batch of images, either as rows of pixels (``(n, h * w)``, with the
``image_shape`` parameter, or square images inferred from the row length) or as an
``(n, h, w)`` array, treats every image on its own, and returns rows, so it fits scikit-learn's
``Pipeline``:

>>> from sklearn.pipeline import make_pipeline
>>> model = make_pipeline(Deskew(), GaussianBlur(sigma=1.0), KNNClassifier(n_neighbors=3))

The pixel-to-pixel transformers (:class:`Deskew`, :class:`GaussianBlur`, :class:`CenterOfMass`)
keep ``uint8`` images ``uint8`` (rounded), so the search keeps its exact integer fast paths and
a quarter of the memory of float32; float32 stays float32 and anything else becomes float64.
:class:`IntensityNormalizer` and :class:`GradientHistograms` produce real-valued features:
float32 for ``uint8`` or float32 input, float64 otherwise.

Large batches are processed in chunks of :data:`CHUNK_IMAGES` images, so temporary memory
stays bounded whatever the batch size, and report progress through :mod:`knnvision.progress`.
"""

from __future__ import annotations

import math
import numbers
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.ndimage
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    OneToOneFeatureMixin,
    TransformerMixin,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import progress
from ..io import register_saveable
from ..search.kernels.hog import gradient_histograms
from ..search.threads import get_num_threads

__all__ = [
    "CHUNK_IMAGES",
    "CenterOfMass",
    "Deskew",
    "GaussianBlur",
    "GradientHistograms",
    "IntensityNormalizer",
    "as_images",
    "image_moments",
    "resolve_image_shape",
    "sample_bilinear",
]

# The dtypes images are accepted in; anything else is converted to float64.
IMAGE_DTYPES = [np.float64, np.float32, np.uint8]
#: Images per chunk: bounds the float64 temporaries to a few tens of MB for 28 x 28 images.
CHUNK_IMAGES = 4096


# --- image batches -------------------------------------------------------------------------


def resolve_image_shape(n_features: int, image_shape=None) -> tuple[int, int]:
    """The ``(height, width)`` of images stored as rows of ``n_features`` pixels.

    Parameters
    ----------
    n_features : int
        Length of each row.
    image_shape : (int, int), optional
        The shape to check. ``None`` infers a square image when ``n_features`` is a perfect
        square and otherwise treats each row as an image one pixel high.

    Raises
    ------
    ValueError
        If ``image_shape`` is not two positive integers whose product is ``n_features``.
    """
    if image_shape is None:
        side = math.isqrt(n_features)
        return (side, side) if side * side == n_features else (1, n_features)
    try:
        height, width = (int(size) for size in image_shape)
        valid = all(isinstance(s, numbers.Integral) and int(s) > 0 for s in image_shape)
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(
            f"image_shape must be two positive integers (height, width), got {image_shape!r}."
        )
    if height * width != n_features:
        raise ValueError(
            f"image_shape={tuple(image_shape)} holds {height * width} pixels but the rows have "
            f"{n_features}; pass the shape of the images the rows were flattened from."
        )
    return height, width


def as_images(X, image_shape=None) -> np.ndarray:
    """View rows of pixels (or an ``(n, h, w)`` array) as an ``(n, h, w)`` array of images."""
    X = np.asarray(X)
    if X.ndim == 3:
        if image_shape is not None and tuple(image_shape) != X.shape[1:]:
            raise ValueError(
                f"Images of shape {X.shape[1:]} do not match image_shape={image_shape}."
            )
        return X
    if X.ndim != 2:
        raise ValueError(
            f"Expected rows of pixels (n, h*w) or images (n, h, w), got shape {X.shape}."
        )
    return X.reshape(len(X), *resolve_image_shape(X.shape[1], image_shape))


def image_moments(images: np.ndarray) -> dict[str, np.ndarray]:
    """Mass, centroid and second central moments of each image (negative pixels count as 0).

    Returns a dict of arrays of shape ``(n,)``: ``mass``, ``cy``, ``cx`` (centroid row and
    column), ``mu20`` (column variance), ``mu02`` (row variance) and ``mu11`` (covariance of
    row and column), all in pixels. Images with no mass get a centroid at their centre and
    zero moments.
    """
    weights = np.clip(np.asarray(images, dtype=np.float64), 0.0, None)
    _, height, width = weights.shape
    rows, cols = np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64)
    by_row, by_col = weights.sum(axis=2), weights.sum(axis=1)
    mass = by_row.sum(axis=1)
    safe = np.where(mass > 0, mass, 1.0)
    cy = np.where(mass > 0, by_row @ rows / safe, (height - 1) / 2)
    cx = np.where(mass > 0, by_col @ cols / safe, (width - 1) / 2)
    mu02 = np.maximum(by_row @ rows**2 / safe - cy**2, 0.0) * (mass > 0)
    mu20 = np.maximum(by_col @ cols**2 / safe - cx**2, 0.0) * (mass > 0)
    mu11 = (np.einsum("nyx,y,x->n", weights, rows, cols) / safe - cy * cx) * (mass > 0)
    return {"mass": mass, "cy": cy, "cx": cx, "mu20": mu20, "mu02": mu02, "mu11": mu11}


def sample_bilinear(images: np.ndarray, src_y: np.ndarray, src_x: np.ndarray) -> np.ndarray:
    """Read each image at real-valued positions by bilinear interpolation (zero outside).

    Parameters
    ----------
    images : ndarray of shape (n, h, w)
    src_y, src_x : ndarray broadcastable to (n, h_out, w_out)
        Row and column in the source image of each output pixel.

    Returns
    -------
    ndarray of float64, shape (n, h_out, w_out)
    """
    n, height, width = images.shape
    src_y, src_x = np.broadcast_arrays(src_y, src_x)
    src_y = np.broadcast_to(src_y, (n, *src_y.shape[-2:]))
    src_x = np.broadcast_to(src_x, (n, *src_x.shape[-2:]))
    y0, x0 = np.floor(src_y), np.floor(src_x)
    fy, fx = src_y - y0, src_x - x0
    y0, x0 = y0.astype(np.int64), x0.astype(np.int64)
    flat = images.reshape(n, -1)
    result = np.zeros(src_y.shape)
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            yy, xx = y0 + dy, x0 + dx
            inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
            where = np.where(inside, yy * width + xx, 0).reshape(n, -1)
            values = np.take_along_axis(flat, where, axis=1).reshape(src_y.shape)
            result += np.where(inside, values, 0.0) * wy * wx
    return result


def _cast_like(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Pixel values back in the input's dtype: uint8 rounded and clipped to 0..255."""
    if dtype == np.uint8:
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return values.astype(dtype, copy=False)


def _feature_dtype(dtype: np.dtype) -> np.dtype:
    """Dtype of real-valued features computed from images of ``dtype``."""
    return np.dtype(np.float64 if dtype == np.float64 else np.float32)


# --- shared transformer machinery ----------------------------------------------------------


class _ImageTransformer(TransformerMixin, BaseEstimator):
    """Validation, chunking and progress shared by the image transformers.

    Subclasses implement ``_transform_images(images) -> array (n, ...)`` on float64 images
    (or ``_transform_into``, to write the output rows themselves) and may override
    ``_n_outputs``.
    """

    _description = "transforming images"
    _keeps_pixels = True  # output is an image of the input's shape and dtype

    def fit(self, X, y=None):
        """Check the parameters and learn the image shape and feature count of ``X``."""
        self._check_parameters()
        self._validate_images(X, reset=True)
        return self

    def transform(self, X):
        """Transform each image; returns rows of shape ``(n_samples, n_outputs)``."""
        check_is_fitted(self, "image_shape_")
        images = self._validate_images(X, reset=False)
        out_dtype = images.dtype if self._keeps_pixels else _feature_dtype(images.dtype)
        result = np.empty((len(images), self._n_outputs()), dtype=out_dtype)

        def transform_chunk(start: int) -> int:
            chunk = images[start : start + CHUNK_IMAGES]
            self._transform_into(chunk.astype(np.float64), result[start : start + len(chunk)])
            return len(chunk)

        starts = range(0, len(images), CHUNK_IMAGES)
        # Chunks are independent and NumPy and the kernels release the GIL, so threads (as many
        # as the kernels may use: thread_limit) share the chunks; the result does not depend
        # on their number.
        workers = min(get_num_threads(), len(starts))
        with progress.track(total=len(images), description=self._description) as task:
            if workers <= 1:  # one chunk (a drawn digit, a small batch): no pool to start
                for start in starts:
                    task.advance(transform_chunk(start))
                return result
            with ThreadPoolExecutor(workers) as pool:
                for done in pool.map(transform_chunk, starts):
                    task.advance(done)
        return result

    def _validate_images(self, X, reset: bool) -> np.ndarray:
        given_shape = None
        if getattr(X, "ndim", None) == 3:
            given_shape = tuple(X.shape[1:])
            X = np.asarray(X).reshape(len(X), -1)
        rows = validate_data(self, X, reset=reset, dtype=IMAGE_DTYPES)
        if reset:
            wanted = self.image_shape if given_shape is None else given_shape
            if given_shape is not None and self.image_shape is not None:
                resolve_image_shape(rows.shape[1], self.image_shape)
                if tuple(self.image_shape) != given_shape:
                    raise ValueError(
                        f"Images of shape {given_shape} do not match "
                        f"image_shape={tuple(self.image_shape)}."
                    )
            self.image_shape_ = resolve_image_shape(rows.shape[1], wanted)
        elif given_shape is not None and given_shape != tuple(self.image_shape_):
            raise ValueError(
                f"Images of shape {given_shape} do not match the {self.image_shape_} images "
                "this transformer was fitted on."
            )
        return rows.reshape(len(rows), *self.image_shape_)

    def _check_parameters(self) -> None:
        pass

    def _n_outputs(self) -> int:
        return self.image_shape_[0] * self.image_shape_[1]

    def _transform_into(self, images: np.ndarray, out: np.ndarray) -> None:
        """Write the rows of float64 ``images`` transformed into ``out`` (in its dtype)."""
        values = self._transform_images(images)
        out[:] = _cast_like(values.reshape(len(images), -1), out.dtype)

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _check_positive(value, name: str, allow_zero: bool = False) -> None:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}.")


def _check_count(value, name: str, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")


# --- transformers --------------------------------------------------------------------------


@register_saveable
class Deskew(OneToOneFeatureMixin, _ImageTransformer):
    """Straighten slanted images by undoing the shear their second moments show.

    Each image's centroid ``(cy, cx)`` and moments ``mu11`` (row-column covariance) and
    ``mu02`` (row variance) give its slant ``alpha = mu11 / mu02``: how far, in columns, the
    ink moves per row. Row ``y`` is then shifted by ``alpha * (y - cy)`` columns (bilinear
    interpolation, zeros outside), which makes ``mu11`` zero and keeps the centroid row in
    place. Images with no ink, or ink on one row only, are left as they are.

    Parameters
    ----------
    image_shape : (int, int), default=None
        ``(height, width)`` of the images when they come as rows; ``None`` infers square
        images. Not needed for ``(n, h, w)`` input.
    max_slant : float, default=1.0
        Largest ``|alpha|`` applied (columns per row, 1.0 is 45 degrees); a larger measured
        slant is clipped to it, so a stray blob cannot smear an image across its frame.

    Attributes
    ----------
    image_shape_ : (int, int)
        Shape of the images seen at ``fit``.
    n_features_in_ : int
        Pixels per image.
    """

    _description = "deskewing"

    def __init__(self, image_shape=None, max_slant=1.0):
        self.image_shape = image_shape
        self.max_slant = max_slant

    def _check_parameters(self) -> None:
        _check_positive(self.max_slant, "max_slant", allow_zero=True)

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        _, height, width = images.shape
        moments = image_moments(images)
        has_slant = moments["mu02"] > 1e-12
        alpha = np.where(
            has_slant, moments["mu11"] / np.where(has_slant, moments["mu02"], 1.0), 0.0
        )
        alpha = np.clip(alpha, -self.max_slant, self.max_slant)
        rows = np.arange(height, dtype=np.float64)[None, :, None]
        cols = np.arange(width, dtype=np.float64)[None, None, :]
        shift = alpha[:, None, None] * (rows - moments["cy"][:, None, None])
        return sample_bilinear(images, np.broadcast_to(rows, shift.shape), cols + shift)


@register_saveable
class GaussianBlur(OneToOneFeatureMixin, _ImageTransformer):
    """Blur each image with a Gaussian of standard deviation ``sigma`` pixels.

    The kernel is separable, truncated at ``truncate * sigma`` pixels and normalised to sum 1;
    pixels outside the image count as 0. The total intensity is therefore unchanged unless
    ink lies within the kernel's reach of the border. Blurring makes small misalignments cost
    less in a Euclidean distance, which is why it helps nearest-neighbour search.

    Parameters
    ----------
    sigma : float, default=1.0
        Standard deviation in pixels; 0 leaves the images unchanged.
    truncate : float, default=3.0
        Kernel radius in standard deviations.
    image_shape : (int, int), default=None
        As for :class:`Deskew`.
    """

    _description = "blurring"

    def __init__(self, sigma=1.0, truncate=3.0, image_shape=None):
        self.sigma = sigma
        self.truncate = truncate
        self.image_shape = image_shape

    def _check_parameters(self) -> None:
        _check_positive(self.sigma, "sigma", allow_zero=True)
        _check_positive(self.truncate, "truncate")

    def kernel(self) -> np.ndarray:
        """The normalised 1-D kernel applied along rows and then columns."""
        if self.sigma == 0:
            return np.ones(1)
        radius = max(1, int(self.truncate * self.sigma + 0.5))
        offsets = np.arange(-radius, radius + 1, dtype=np.float64)
        weights = np.exp(-0.5 * (offsets / self.sigma) ** 2)
        return weights / weights.sum()

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        # scipy's correlate1d with our own kernel (not gaussian_filter, which computes its
        # weights its own way): the transform runs 2.3-2.9x faster than with summed shifted
        # copies in NumPy. It adds the two pixels a symmetric kernel weights alike before
        # multiplying, so it rounds less: uint8 and float32 results were unchanged on every
        # image measured, float64 ones move by a few units in the last place, closer to
        # exact on average (benchmarks/preprocessing.md).
        kernel = self.kernel()
        rows_done = scipy.ndimage.correlate1d(images, kernel, axis=1, mode="constant", cval=0.0)
        return scipy.ndimage.correlate1d(rows_done, kernel, axis=2, mode="constant", cval=0.0)


NORMALIZATIONS = ("minmax", "l2", "standard")


@register_saveable
class IntensityNormalizer(OneToOneFeatureMixin, _ImageTransformer):
    """Rescale the intensities of each image on its own.

    Parameters
    ----------
    method : {"minmax", "l2", "standard"}, default="minmax"
        ``"minmax"``: map the image's darkest pixel to 0 and brightest to 1. ``"l2"``: divide
        by the image's Euclidean norm (then the squared Euclidean distance between two images
        is ``2 - 2 cos``). ``"standard"``: subtract the image's mean and divide by its standard
        deviation. A constant image becomes all zeros.
    image_shape : (int, int), default=None
        As for :class:`Deskew`.
    """

    _description = "normalising intensities"
    _keeps_pixels = False

    def __init__(self, method="minmax", image_shape=None):
        self.method = method
        self.image_shape = image_shape

    def _check_parameters(self) -> None:
        if self.method not in NORMALIZATIONS:
            raise ValueError(
                f"method must be one of {', '.join(NORMALIZATIONS)}, got {self.method!r}."
            )

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        rows = images.reshape(len(images), -1)
        if self.method == "minmax":
            shifted = rows - rows.min(axis=1, keepdims=True)
            scale = shifted.max(axis=1, keepdims=True)
        elif self.method == "l2":
            shifted = rows
            scale = np.sqrt((rows * rows).sum(axis=1, keepdims=True))
        else:
            shifted = rows - rows.mean(axis=1, keepdims=True)
            scale = rows.std(axis=1, keepdims=True)
        return shifted / np.where(scale > 0, scale, np.inf)


@register_saveable
class CenterOfMass(OneToOneFeatureMixin, _ImageTransformer):
    """Move each image so that its centre of mass lies at the centre of the frame.

    The move is by whole pixels (the rounded offset), so pixel values are kept exactly;
    what leaves the frame is lost and what enters it is 0. MNIST digits are already centred
    this way; the transformer matters for images centred by their bounding box.

    Parameters
    ----------
    image_shape : (int, int), default=None
        As for :class:`Deskew`.
    """

    _description = "centring"

    def __init__(self, image_shape=None):
        self.image_shape = image_shape

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        _, height, width = images.shape
        moments = image_moments(images)
        dy = np.rint((height - 1) / 2 - moments["cy"]).astype(np.int64)
        dx = np.rint((width - 1) / 2 - moments["cx"]).astype(np.int64)
        return _shift_each_image(images, dy, dx)


def _shift_each_image(images: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Move image ``i`` by ``dy[i]`` rows down and ``dx[i]`` columns right (negative: up,
    left), zeros filling what enters the frame; values are copied, never interpolated.

    Images sharing an offset are moved together by one slice copy: centring leaves few
    distinct offsets (a handful on MNIST), so this is a few copies rather than the four
    gathers and weightings of bilinear sampling.
    """
    _, height, width = images.shape
    moved = np.zeros_like(images)
    offsets, group_of_image = np.unique(np.stack([dy, dx], axis=1), axis=0, return_inverse=True)
    for group, (rows, cols) in enumerate(offsets):
        if abs(rows) >= height or abs(cols) >= width:
            continue  # moved wholly out of the frame: stays zeros
        members = np.flatnonzero(group_of_image.ravel() == group)
        moved[members, _landing(rows, height), _landing(cols, width)] = images[
            members, _landing(-rows, height), _landing(-cols, width)
        ]
    return moved


def _landing(shift: int, size: int) -> slice:
    """The part of an axis of ``size`` that a move by ``shift`` lands on inside the frame
    (and, with ``-shift``, the part it comes from)."""
    return slice(max(0, shift), size + min(0, shift))


@register_saveable
class GradientHistograms(ClassNamePrefixFeaturesOutMixin, _ImageTransformer):
    """Histograms of oriented gradients (HOG-style features) of each image.

    Gradients are central differences (zeros outside the image). Each pixel votes with its
    gradient magnitude for the two orientation bins nearest its gradient angle (linear
    interpolation). Votes are summed over square cells of ``cell_size`` pixels (the image is
    padded with zeros to whole cells), then every ``block_size x block_size`` group of cells
    (stride one cell) is L2-normalised, clipped at 0.2 and normalised again (L2-Hys, as in
    Dalal and Triggs, 2005). The features are the concatenated blocks.

    Parameters
    ----------
    cell_size : int, default=4
        Cell side in pixels.
    n_orientations : int, default=9
        Orientation bins over 180 degrees (or 360 with ``signed=True``).
    block_size : int, default=2
        Block side in cells; 1 normalises each cell on its own.
    signed : bool, default=False
        Tell a dark-to-light edge from a light-to-dark one (bins over 360 degrees).
    image_shape : (int, int), default=None
        As for :class:`Deskew`.

    Attributes
    ----------
    n_features_out_ : int
        Number of features per image.
    """

    _description = "gradient histograms"
    _keeps_pixels = False

    def __init__(self, cell_size=4, n_orientations=9, block_size=2, signed=False, image_shape=None):
        self.cell_size = cell_size
        self.n_orientations = n_orientations
        self.block_size = block_size
        self.signed = signed
        self.image_shape = image_shape

    def _check_parameters(self) -> None:
        _check_count(self.cell_size, "cell_size")
        _check_count(self.n_orientations, "n_orientations", minimum=2)
        _check_count(self.block_size, "block_size")

    def _cell_grid(self) -> tuple[int, int]:
        return tuple(-(-size // self.cell_size) for size in self.image_shape_)

    def _n_outputs(self) -> int:
        cells_y, cells_x = self._cell_grid()
        blocks_y = max(cells_y - self.block_size + 1, 1)
        blocks_x = max(cells_x - self.block_size + 1, 1)
        block_cells = min(self.block_size, cells_y) * min(self.block_size, cells_x)
        return blocks_y * blocks_x * block_cells * self.n_orientations

    @property
    def n_features_out_(self) -> int:
        check_is_fitted(self, "image_shape_")
        return self._n_outputs()

    @property
    def _n_features_out(self) -> int:
        return self.n_features_out_

    def _transform_into(self, images: np.ndarray, out: np.ndarray) -> None:
        # One thread per chunk: transform() already shares the chunks among threads.
        gradient_histograms(
            images, self.cell_size, self.n_orientations, self.block_size, self.signed, out
        )
