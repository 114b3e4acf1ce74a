"""Exact float64 distances between two rows, and the brute-force top-k loop over them.

``sqeuclidean``, ``manhattan``, ``chebyshev``, ``hamming`` and ``cosine`` (and
``reduced_distance``, which picks one by metric code) are *bit-identical* to
:func:`knnvision.search.metrics.reduced_distances`: each term is computed exactly as NumPy
computes it, and the terms are added in NumPy's own pairwise order (8 interleaved
accumulators on blocks of at most 128, halves above that). Identical bits mean that ties in
the reference stay ties here and are broken the same way (smaller index).

``minkowski_estimate`` is *not* bit-identical: NumPy raises to a power with a SIMD routine
that can differ from libm's ``pow`` by an ulp. Callers treat it as an estimate within
``minkowski_rel_error(d)`` of the reference and re-check near-ties with the reference formula.

``generic_topk`` is the brute force over :func:`reduced_distance` for any metric but cosine.

The arithmetic is C++ (``lp.hpp``, which the other compiled families include; bindings in
``_lp.cpp``); the functions here check dtypes, allocate outputs and pass threads. The per-pair
functions serve the tests and one-off calls: the compiled families inline ``lp.hpp`` instead.

Oracles: :func:`reduced_distance_numpy` (the reference definition, one row pair) for the
distances, :func:`knnvision.search.reference_kneighbors` for ``generic_topk``.
"""

from __future__ import annotations

import numpy as np

from ..metrics import Metric, reduced_distances
from ..threads import get_num_threads
from . import _lp
from .metric_kinds import (
    KIND_CHEBYSHEV,
    KIND_COSINE,
    KIND_EUCLIDEAN,
    KIND_HAMMING,
    KIND_MANHATTAN,
    KIND_MINKOWSKI,
    KIND_OF_METRIC,
)

# NumPy's pairwise summation: blocks up to this size use 8 interleaved accumulators.
PAIRWISE_BLOCK = 128
_EPS64 = 2.0**-53

# The work buffer the old numba kernels took (an explicit stack for the pairwise split). The C++
# kernels recurse instead and need none; the functions here accept and ignore it, so callers
# written for those signatures keep working.
SCRATCH_SIZE = 256

_ROW_DTYPES = (np.uint8, np.float32, np.float64)  # the element types compiled


def minkowski_rel_error(n_features: int) -> float:
    """Relative gap that can separate ``minkowski_estimate`` from the reference value.

    Both sum ``n_features`` non-negative terms, each within a few ulp of ``|x - y|^p``
    (libm ``pow`` here, NumPy's SIMD ``pow`` in the reference), so each is within
    ``(n_features + 8) * eps`` of the exact sum; twice that, doubled for safety, bounds the gap.
    """
    return 4.0 * (n_features + 8) * _EPS64


def new_scratch() -> np.ndarray:
    """A work buffer for the distance kernels; one per thread."""
    return np.empty(SCRATCH_SIZE)


def _rows(A):
    """``A`` as C-ordered rows of a compiled element type (others widen to float64: exact for
    the integer and float types NumPy's reference itself widens)."""
    A = np.asarray(A)
    if A.dtype.type not in _ROW_DTYPES:
        return np.ascontiguousarray(A, dtype=np.float64)
    return np.ascontiguousarray(A)


def _pair(kind, A, i, B, j, p=2.0, norm_a=1.0, norm_b=1.0):
    return _lp.reduced_distance(
        int(kind), _rows(A), int(i), _rows(B), int(j), float(p), float(norm_a), float(norm_b)
    )


def sqeuclidean(A, i, B, j, scratch=None):
    """Squared Euclidean distance of ``A[i]`` and ``B[j]``, bit-identical to the reference."""
    return _pair(KIND_EUCLIDEAN, A, i, B, j)


def manhattan(A, i, B, j, scratch=None):
    """Manhattan distance of ``A[i]`` and ``B[j]``, bit-identical to the reference."""
    return _pair(KIND_MANHATTAN, A, i, B, j)


def minkowski_estimate(A, i, B, j, p, scratch=None):
    """``sum |A[i] - B[j]|^p`` with libm ``pow``, within ``minkowski_rel_error`` of the
    reference."""
    return _pair(KIND_MINKOWSKI, A, i, B, j, p)


def chebyshev(A, i, B, j):
    """Chebyshev distance of ``A[i]`` and ``B[j]`` (a maximum: exact in any order)."""
    return _pair(KIND_CHEBYSHEV, A, i, B, j)


def hamming(A, i, B, j):
    """Fraction of coordinates where ``A[i]`` and ``B[j]`` differ, bit-identical to the
    reference."""
    return _pair(KIND_HAMMING, A, i, B, j)


def cosine(A, i, B, j, norm_a, norm_b, scratch=None):
    """Cosine distance of ``A[i]`` and ``B[j]`` given their norms (zero norms passed as 1)."""
    return _pair(KIND_COSINE, A, i, B, j, 1.0, norm_a, norm_b)


def reduced_distance(kind, A, i, B, j, p, norm_a, norm_b, scratch=None):
    """The reduced distance of metric code ``kind`` between ``A[i]`` and ``B[j]``."""
    return _pair(kind, A, i, B, j, p, norm_a, norm_b)


def reduced_distance_short(kind, A, i, B, j, p):
    """:func:`reduced_distance` for any metric but cosine, without norms or scratch buffer
    (the numba kernels' variant for rows of at most 128 features; here any length works)."""
    return _pair(kind, A, i, B, j, p)


def reduced_distance_numpy(kind, a, b, p=2.0):
    """NumPy twin of :func:`reduced_distance` for two 1-D rows: the reference definition."""
    name = next(key for key, value in KIND_OF_METRIC.items() if value == kind)
    return float(reduced_distances(a[None, :], b[None, :], Metric(name, p))[0, 0])


def generic_topk(kind, queries, train, k, p, q_block):
    """k nearest training rows by :func:`reduced_distance`, any metric but cosine.

    Parallel over blocks of ``q_block`` queries that stay in cache while the training rows
    stream past. Distances are bit-identical to the reference except Minkowski (estimates).
    """
    # float64 queries: exact (the kernel widens every element anyway), and one compiled
    # variant per training dtype instead of one per pair of dtypes.
    queries = np.ascontiguousarray(queries, dtype=np.float64)
    train = _rows(train)
    best_d = np.full((len(queries), int(k)), np.inf)
    best_i = np.full((len(queries), int(k)), np.iinfo(np.int64).max)
    _lp.generic_topk(
        int(kind), queries, train, float(p), int(q_block), best_d, best_i, get_num_threads()
    )
    return best_d, best_i
