"""Transformers that run before the search: PCA, image preprocessing, augmentation.

- :mod:`.pca`: :class:`PCA`, written from scratch (exact SVD, or randomized).
- :mod:`.preprocessing`: image transformers (deskew, blur, intensity normalisation,
  centring by centre of mass, gradient histograms), each a scikit-learn transformer.
- :mod:`.resize`: :class:`Upsample`, images enlarged by spline interpolation.
- :mod:`.augmentation`: shifted, rotated, scaled and flipped copies of training images.
"""

from .augmentation import augment_images, augmentation_factor
from .pca import PCA
from .preprocessing import (
    CenterOfMass,
    Deskew,
    GaussianBlur,
    GradientHistograms,
    IntensityNormalizer,
)
from .resize import Upsample

__all__ = [
    "PCA",
    "CenterOfMass",
    "Deskew",
    "GaussianBlur",
    "GradientHistograms",
    "IntensityNormalizer",
    "Upsample",
    "augment_images",
    "augmentation_factor",
]
