"""The UCI 8x8 handwritten digits (1,797 images) that ship with scikit-learn."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits as _sklearn_load_digits

from knnvision.datasets.dataset import Dataset

__all__ = ["load_digits"]


def load_digits() -> Dataset:
    """Load the UCI digits: 1,797 images of 8x8 pixels with raw values 0..16.

    The pixel values are kept as they are (not rescaled to 0..255), so distances and
    results match tutorials that use ``sklearn.datasets.load_digits`` directly.

    Returns
    -------
    Dataset
        ``images`` uint8 (1797, 8, 8) in 0..16, ``labels`` 0..9, class names ``"0"`` to
        ``"9"``, ``max_value=16``, no official test part.
    """
    bunch = _sklearn_load_digits()
    images = bunch.images
    if not np.array_equal(images, np.round(images)) or images.min() < 0 or images.max() > 16:
        raise ValueError("scikit-learn's digits are not integers in 0..16; unexpected version")
    return Dataset(
        name="digits",
        images=images.astype(np.uint8),
        labels=bunch.target.astype(np.int64),
        class_names=tuple(str(name) for name in bunch.target_names),
        max_value=16,
    )
