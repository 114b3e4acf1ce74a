"""Metric codes shared by the kernel families.

Each metric has a small integer code (``KIND_*``) so that one compiled kernel serves every
metric; ``KIND_OF_METRIC`` maps the names of :mod:`knnvision.search.metrics` to the codes.
Constants only: there is nothing compiled here, so no NumPy twin either.
"""

from __future__ import annotations

KIND_EUCLIDEAN = 0
KIND_MANHATTAN = 1
KIND_MINKOWSKI = 2
KIND_CHEBYSHEV = 3
KIND_COSINE = 4
KIND_HAMMING = 5
KIND_OF_METRIC = {
    "euclidean": KIND_EUCLIDEAN,
    "manhattan": KIND_MANHATTAN,
    "minkowski": KIND_MINKOWSKI,
    "chebyshev": KIND_CHEBYSHEV,
    "cosine": KIND_COSINE,
    "hamming": KIND_HAMMING,
}
