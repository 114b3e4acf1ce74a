"""Enlarging images by spline interpolation, so a deformation-aware distance can move pixels by
fractions of the original pixel.

The image distortion model (:mod:`knnvision.search.kernels.idm`) lets each pixel match a
neighbour within a whole number of pixels. On the 8 x 8 UCI digits one pixel is an eighth of
the digit, so the smallest allowed move is already large; on a 16 x 16 enlargement a warp of
2 moves by at most one original pixel, in half-pixel steps, and the gradient contexts become
smoother. ``benchmarks/digits_preset_cv.md`` measures what that buys.

>>> from sklearn.pipeline import make_pipeline
>>> model = make_pipeline(Upsample(factor=2), RerankKNNClassifier(1, warp=2))
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage
from sklearn.base import ClassNamePrefixFeaturesOutMixin
from sklearn.utils.validation import check_is_fitted

from ..io import register_saveable
from .preprocessing import _check_count, _ImageTransformer

__all__ = ["Upsample"]

#: Largest spline order scipy.ndimage interpolates with.
MAX_SPLINE_ORDER = 5


@register_saveable
class Upsample(ClassNamePrefixFeaturesOutMixin, _ImageTransformer):
    """Enlarge each image ``factor`` times along both axes by spline interpolation.

    Pixels are treated as squares: an ``h x w`` image becomes ``factor * h x factor * w``,
    each output pixel read at its centre's position in the input, with zeros outside the image
    (``scipy.ndimage.zoom`` with ``grid_mode=True`` and ``mode="grid-constant"``). Splines of
    order above 1 can overshoot a little near strokes (values slightly below 0 or above the
    input's largest); ``uint8`` images are rounded and clipped back to 0..255.

    Parameters
    ----------
    factor : int, default=2
        Enlargement along each axis; 1 leaves the images as they are.
    order : int in 0..5, default=3
        Spline order: 0 repeats pixels, 1 is bilinear, 3 cubic.
    image_shape : (int, int), default=None
        ``(height, width)`` of the images when they come as rows; ``None`` infers square
        images. The output rows hold ``(factor * height, factor * width)`` images, which the
        next step infers when they are square (pass it that shape otherwise).

    Attributes
    ----------
    image_shape_ : (int, int)
        Shape of the input images seen at ``fit``.
    output_shape_ : (int, int)
        Shape of the enlarged images.
    n_features_in_ : int
        Pixels per input image.
    n_features_out_ : int
        Pixels per enlarged image.
    """

    _description = "upsampling"

    def __init__(self, factor=2, order=3, image_shape=None):
        self.factor = factor
        self.order = order
        self.image_shape = image_shape

    def _check_parameters(self) -> None:
        _check_count(self.factor, "factor")
        _check_count(self.order, "order", minimum=0)
        if self.order > MAX_SPLINE_ORDER:
            raise ValueError(
                f"order must be a spline order from 0 to {MAX_SPLINE_ORDER}, got {self.order!r}."
            )

    @property
    def output_shape_(self) -> tuple[int, int]:
        check_is_fitted(self, "image_shape_")
        height, width = self.image_shape_
        return int(self.factor) * height, int(self.factor) * width

    def _n_outputs(self) -> int:
        height, width = self.output_shape_
        return height * width

    @property
    def n_features_out_(self) -> int:
        return self._n_outputs()

    @property
    def _n_features_out(self) -> int:
        return self.n_features_out_

    def _transform_images(self, images):
        if self.factor == 1:
            return images
        # One image at a time: zooming the whole batch as one 3-D array would also run the
        # spline's prefilter across images, so a result would depend on its neighbours.
        height, width = self.output_shape_
        enlarged = np.empty((len(images), height, width))
        for i, image in enumerate(images):
            enlarged[i] = scipy.ndimage.zoom(
                image, int(self.factor), order=int(self.order), mode="grid-constant", grid_mode=True
            )
        return enlarged
