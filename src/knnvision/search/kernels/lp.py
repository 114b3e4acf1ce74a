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

Oracles: :func:`reduced_distance_numpy` (the reference definition, one row pair) for the
distances, :func:`knnvision.search.reference_kneighbors` for ``generic_topk``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..metrics import Metric, reduced_distances
from .metric_kinds import (
    KIND_CHEBYSHEV,
    KIND_COSINE,
    KIND_EUCLIDEAN,
    KIND_HAMMING,
    KIND_MANHATTAN,
    KIND_MINKOWSKI,
    KIND_OF_METRIC,
)
from .topk import empty_topk, topk_push

# NumPy's pairwise summation: blocks up to this size use 8 interleaved accumulators.
PAIRWISE_BLOCK = 128
_EPS64 = 2.0**-53


def minkowski_rel_error(n_features: int) -> float:
    """Relative gap that can separate ``minkowski_estimate`` from the reference value.

    Both sum ``n_features`` non-negative terms, each within a few ulp of ``|x - y|^p``
    (libm ``pow`` here, NumPy's SIMD ``pow`` in the reference), so each is within
    ``(n_features + 8) * eps`` of the exact sum; twice that, doubled for safety, bounds the gap.
    """
    return 4.0 * (n_features + 8) * _EPS64


# ---------------------------------------------------------------------------------------------
# Exact float64 distances between row i of A and row j of B, in NumPy's pairwise order.
#
# NumPy sums a run of at most 128 terms with 8 interleaved accumulators (``_block_*``); a
# longer run is split at half its length rounded down to a multiple of 8 and the two halves'
# sums are added. The split is evaluated with an explicit stack in a caller-provided
# ``scratch`` buffer: numba cannot reload cached recursive functions, and allocating per
# distance would cost more than the distance.
# ---------------------------------------------------------------------------------------------

SCRATCH_SIZE = 256
_STACK_END = 192  # scratch[:192] holds (start, length, op) tasks, scratch[192:] partial sums
_OP_EXPAND = 0.0
_OP_COMBINE = 1.0


def new_scratch() -> np.ndarray:
    """A work buffer for the distance kernels; one per thread."""
    return np.empty(SCRATCH_SIZE)


@njit(cache=True)
def _sq(x, y):
    t = abs(np.float64(x) - np.float64(y))
    return t * t


@njit(cache=True)
def _block_sqdiff(A, i, B, j, lo, n):
    if n < 8:
        res = 0.0
        for f in range(lo, lo + n):
            res += _sq(A[i, f], B[j, f])
        return res
    r0 = _sq(A[i, lo], B[j, lo])
    r1 = _sq(A[i, lo + 1], B[j, lo + 1])
    r2 = _sq(A[i, lo + 2], B[j, lo + 2])
    r3 = _sq(A[i, lo + 3], B[j, lo + 3])
    r4 = _sq(A[i, lo + 4], B[j, lo + 4])
    r5 = _sq(A[i, lo + 5], B[j, lo + 5])
    r6 = _sq(A[i, lo + 6], B[j, lo + 6])
    r7 = _sq(A[i, lo + 7], B[j, lo + 7])
    stop = lo + n - (n % 8)
    for f in range(lo + 8, stop, 8):
        r0 += _sq(A[i, f], B[j, f])
        r1 += _sq(A[i, f + 1], B[j, f + 1])
        r2 += _sq(A[i, f + 2], B[j, f + 2])
        r3 += _sq(A[i, f + 3], B[j, f + 3])
        r4 += _sq(A[i, f + 4], B[j, f + 4])
        r5 += _sq(A[i, f + 5], B[j, f + 5])
        r6 += _sq(A[i, f + 6], B[j, f + 6])
        r7 += _sq(A[i, f + 7], B[j, f + 7])
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for f in range(stop, lo + n):
        res += _sq(A[i, f], B[j, f])
    return res


@njit(cache=True)
def _block_absdiff(A, i, B, j, lo, n):
    if n < 8:
        res = 0.0
        for f in range(lo, lo + n):
            res += abs(np.float64(A[i, f]) - np.float64(B[j, f]))
        return res
    r0 = abs(np.float64(A[i, lo]) - np.float64(B[j, lo]))
    r1 = abs(np.float64(A[i, lo + 1]) - np.float64(B[j, lo + 1]))
    r2 = abs(np.float64(A[i, lo + 2]) - np.float64(B[j, lo + 2]))
    r3 = abs(np.float64(A[i, lo + 3]) - np.float64(B[j, lo + 3]))
    r4 = abs(np.float64(A[i, lo + 4]) - np.float64(B[j, lo + 4]))
    r5 = abs(np.float64(A[i, lo + 5]) - np.float64(B[j, lo + 5]))
    r6 = abs(np.float64(A[i, lo + 6]) - np.float64(B[j, lo + 6]))
    r7 = abs(np.float64(A[i, lo + 7]) - np.float64(B[j, lo + 7]))
    stop = lo + n - (n % 8)
    for f in range(lo + 8, stop, 8):
        r0 += abs(np.float64(A[i, f]) - np.float64(B[j, f]))
        r1 += abs(np.float64(A[i, f + 1]) - np.float64(B[j, f + 1]))
        r2 += abs(np.float64(A[i, f + 2]) - np.float64(B[j, f + 2]))
        r3 += abs(np.float64(A[i, f + 3]) - np.float64(B[j, f + 3]))
        r4 += abs(np.float64(A[i, f + 4]) - np.float64(B[j, f + 4]))
        r5 += abs(np.float64(A[i, f + 5]) - np.float64(B[j, f + 5]))
        r6 += abs(np.float64(A[i, f + 6]) - np.float64(B[j, f + 6]))
        r7 += abs(np.float64(A[i, f + 7]) - np.float64(B[j, f + 7]))
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for f in range(stop, lo + n):
        res += abs(np.float64(A[i, f]) - np.float64(B[j, f]))
    return res


@njit(cache=True)
def _block_powdiff(A, i, B, j, lo, n, p):
    if n < 8:
        res = 0.0
        for f in range(lo, lo + n):
            res += abs(np.float64(A[i, f]) - np.float64(B[j, f])) ** p
        return res
    r0 = abs(np.float64(A[i, lo]) - np.float64(B[j, lo])) ** p
    r1 = abs(np.float64(A[i, lo + 1]) - np.float64(B[j, lo + 1])) ** p
    r2 = abs(np.float64(A[i, lo + 2]) - np.float64(B[j, lo + 2])) ** p
    r3 = abs(np.float64(A[i, lo + 3]) - np.float64(B[j, lo + 3])) ** p
    r4 = abs(np.float64(A[i, lo + 4]) - np.float64(B[j, lo + 4])) ** p
    r5 = abs(np.float64(A[i, lo + 5]) - np.float64(B[j, lo + 5])) ** p
    r6 = abs(np.float64(A[i, lo + 6]) - np.float64(B[j, lo + 6])) ** p
    r7 = abs(np.float64(A[i, lo + 7]) - np.float64(B[j, lo + 7])) ** p
    stop = lo + n - (n % 8)
    for f in range(lo + 8, stop, 8):
        r0 += abs(np.float64(A[i, f]) - np.float64(B[j, f])) ** p
        r1 += abs(np.float64(A[i, f + 1]) - np.float64(B[j, f + 1])) ** p
        r2 += abs(np.float64(A[i, f + 2]) - np.float64(B[j, f + 2])) ** p
        r3 += abs(np.float64(A[i, f + 3]) - np.float64(B[j, f + 3])) ** p
        r4 += abs(np.float64(A[i, f + 4]) - np.float64(B[j, f + 4])) ** p
        r5 += abs(np.float64(A[i, f + 5]) - np.float64(B[j, f + 5])) ** p
        r6 += abs(np.float64(A[i, f + 6]) - np.float64(B[j, f + 6])) ** p
        r7 += abs(np.float64(A[i, f + 7]) - np.float64(B[j, f + 7])) ** p
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for f in range(stop, lo + n):
        res += abs(np.float64(A[i, f]) - np.float64(B[j, f])) ** p
    return res


@njit(cache=True)
def _block_cosprod(A, i, B, j, lo, n, norm_a, norm_b):
    if n < 8:
        res = 0.0
        for f in range(lo, lo + n):
            res += (np.float64(A[i, f]) / norm_a) * (np.float64(B[j, f]) / norm_b)
        return res
    r0 = (np.float64(A[i, lo]) / norm_a) * (np.float64(B[j, lo]) / norm_b)
    r1 = (np.float64(A[i, lo + 1]) / norm_a) * (np.float64(B[j, lo + 1]) / norm_b)
    r2 = (np.float64(A[i, lo + 2]) / norm_a) * (np.float64(B[j, lo + 2]) / norm_b)
    r3 = (np.float64(A[i, lo + 3]) / norm_a) * (np.float64(B[j, lo + 3]) / norm_b)
    r4 = (np.float64(A[i, lo + 4]) / norm_a) * (np.float64(B[j, lo + 4]) / norm_b)
    r5 = (np.float64(A[i, lo + 5]) / norm_a) * (np.float64(B[j, lo + 5]) / norm_b)
    r6 = (np.float64(A[i, lo + 6]) / norm_a) * (np.float64(B[j, lo + 6]) / norm_b)
    r7 = (np.float64(A[i, lo + 7]) / norm_a) * (np.float64(B[j, lo + 7]) / norm_b)
    stop = lo + n - (n % 8)
    for f in range(lo + 8, stop, 8):
        r0 += (np.float64(A[i, f]) / norm_a) * (np.float64(B[j, f]) / norm_b)
        r1 += (np.float64(A[i, f + 1]) / norm_a) * (np.float64(B[j, f + 1]) / norm_b)
        r2 += (np.float64(A[i, f + 2]) / norm_a) * (np.float64(B[j, f + 2]) / norm_b)
        r3 += (np.float64(A[i, f + 3]) / norm_a) * (np.float64(B[j, f + 3]) / norm_b)
        r4 += (np.float64(A[i, f + 4]) / norm_a) * (np.float64(B[j, f + 4]) / norm_b)
        r5 += (np.float64(A[i, f + 5]) / norm_a) * (np.float64(B[j, f + 5]) / norm_b)
        r6 += (np.float64(A[i, f + 6]) / norm_a) * (np.float64(B[j, f + 6]) / norm_b)
        r7 += (np.float64(A[i, f + 7]) / norm_a) * (np.float64(B[j, f + 7]) / norm_b)
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for f in range(stop, lo + n):
        res += (np.float64(A[i, f]) / norm_a) * (np.float64(B[j, f]) / norm_b)
    return res


@njit(cache=True, inline="always")
def _block(kind, A, i, B, j, lo, n, p, norm_a, norm_b):
    # One integer type for the row indices: callers pass prange's unsigned indices and plain
    # ints, and numba would compile each unrolled block once per combination. ``lo`` keeps
    # its type: a literal 0 from the short-row callers lets LLVM fold the offsets (casting
    # it made kd-tree queries on 10 features about 25% slower).
    i, j = np.int64(i), np.int64(j)
    if kind == KIND_EUCLIDEAN:
        return _block_sqdiff(A, i, B, j, lo, n)
    if kind == KIND_MANHATTAN:
        return _block_absdiff(A, i, B, j, lo, n)
    if kind == KIND_MINKOWSKI:
        return _block_powdiff(A, i, B, j, lo, n, p)
    return _block_cosprod(A, i, B, j, lo, n, norm_a, norm_b)


@njit(cache=True, inline="always")
def _pairwise(kind, A, i, B, j, p, norm_a, norm_b, scratch):
    """Sum of the metric's terms over a whole row pair, in NumPy's pairwise order."""
    # Inlined, so the cast happens in the caller and the loop below is compiled once for
    # int64 indices, whatever index types the callers have (see ``_block``).
    return _pairwise_sum(kind, A, np.int64(i), B, np.int64(j), p, norm_a, norm_b, scratch)


@njit(cache=True)
def _pairwise_sum(kind, A, i, B, j, p, norm_a, norm_b, scratch):
    n = A.shape[1]
    if n <= PAIRWISE_BLOCK:
        return _block(kind, A, i, B, j, 0, n, p, norm_a, norm_b)
    scratch[0], scratch[1], scratch[2] = 0.0, n, _OP_EXPAND
    top = 3
    n_values = 0
    while top > 0:
        top -= 3
        lo, m, op = int(scratch[top]), int(scratch[top + 1]), scratch[top + 2]
        if op == _OP_COMBINE:
            slot = _STACK_END + n_values
            scratch[slot - 2] = scratch[slot - 2] + scratch[slot - 1]
            n_values -= 1
        elif m <= PAIRWISE_BLOCK:
            scratch[_STACK_END + n_values] = _block(kind, A, i, B, j, lo, m, p, norm_a, norm_b)
            n_values += 1
        else:
            half = m // 2
            half -= half % 8
            # Pushed in reverse: the left half is summed first, then the right, then added.
            scratch[top], scratch[top + 1], scratch[top + 2] = lo, m, _OP_COMBINE
            scratch[top + 3], scratch[top + 4], scratch[top + 5] = lo + half, m - half, _OP_EXPAND
            scratch[top + 6], scratch[top + 7], scratch[top + 8] = lo, half, _OP_EXPAND
            top += 9
    return scratch[_STACK_END]


@njit(cache=True)
def sqeuclidean(A, i, B, j, scratch):
    """Squared Euclidean distance of ``A[i]`` and ``B[j]``, bit-identical to the reference."""
    return _pairwise(KIND_EUCLIDEAN, A, i, B, j, 2.0, 1.0, 1.0, scratch)


@njit(cache=True)
def manhattan(A, i, B, j, scratch):
    """Manhattan distance of ``A[i]`` and ``B[j]``, bit-identical to the reference."""
    return _pairwise(KIND_MANHATTAN, A, i, B, j, 1.0, 1.0, 1.0, scratch)


@njit(cache=True)
def minkowski_estimate(A, i, B, j, p, scratch):
    """``sum |A[i] - B[j]|^p`` with libm ``pow``, within ``minkowski_rel_error`` of the
    reference."""
    return _pairwise(KIND_MINKOWSKI, A, i, B, j, p, 1.0, 1.0, scratch)


@njit(cache=True, inline="always")
def chebyshev(A, i, B, j):
    """Chebyshev distance of ``A[i]`` and ``B[j]`` (a maximum: exact in any order)."""
    res = 0.0
    for f in range(A.shape[1]):
        t = abs(np.float64(A[i, f]) - np.float64(B[j, f]))
        res = max(res, t)
    return res


@njit(cache=True, inline="always")
def hamming(A, i, B, j):
    """Fraction of coordinates where ``A[i]`` and ``B[j]`` differ, bit-identical to the
    reference."""
    count = 0
    for f in range(A.shape[1]):
        count += np.float64(A[i, f]) != np.float64(B[j, f])
    return count / A.shape[1]


@njit(cache=True)
def cosine(A, i, B, j, norm_a, norm_b, scratch):
    """Cosine distance of ``A[i]`` and ``B[j]`` given their norms (zero norms passed as 1)."""
    similarity = _pairwise(KIND_COSINE, A, i, B, j, 1.0, norm_a, norm_b, scratch)
    return min(max(1.0 - similarity, 0.0), 2.0)


@njit(cache=True)
def reduced_distance(kind, A, i, B, j, p, norm_a, norm_b, scratch):
    """The reduced distance of metric code ``kind`` between ``A[i]`` and ``B[j]``."""
    if kind == KIND_CHEBYSHEV:
        return chebyshev(A, i, B, j)
    if kind == KIND_HAMMING:
        return hamming(A, i, B, j)
    if kind == KIND_COSINE:
        return cosine(A, i, B, j, norm_a, norm_b, scratch)
    return _pairwise(kind, A, i, B, j, p, norm_a, norm_b, scratch)


@njit(cache=True, inline="always")
def reduced_distance_short(kind, A, i, B, j, p):
    """:func:`reduced_distance` for rows of at most 128 features, any metric but cosine.

    Needs no scratch buffer. Hot loops call this one when rows are short: an array such as
    ``scratch`` that is merely mentioned in an inlined per-pair call costs two atomic
    reference-count updates per pair, more than a short distance itself.
    """
    if kind == KIND_CHEBYSHEV:
        return chebyshev(A, i, B, j)
    if kind == KIND_HAMMING:
        return hamming(A, i, B, j)
    return _block(kind, A, i, B, j, 0, A.shape[1], p, 1.0, 1.0)


def reduced_distance_numpy(kind, a, b, p=2.0):
    """NumPy twin of :func:`reduced_distance` for two 1-D rows: the reference definition."""
    name = next(key for key, value in KIND_OF_METRIC.items() if value == kind)
    return float(reduced_distances(a[None, :], b[None, :], Metric(name, p))[0, 0])


@njit(cache=True, parallel=True)
def generic_topk(kind, queries, train, k, p, q_block):
    """k nearest training rows by :func:`reduced_distance`, any metric but cosine.

    Parallel over blocks of ``q_block`` queries that stay in cache while the training rows
    stream past. Distances are bit-identical to the reference except Minkowski (estimates).
    """
    n_queries = queries.shape[0]
    best_d, best_i = empty_topk(n_queries, k)
    n_blocks = (n_queries + q_block - 1) // q_block
    for block in prange(n_blocks):
        q0 = block * q_block
        _generic_block(kind, queries, q0, min(q0 + q_block, n_queries), train, p, best_d, best_i)
    return best_d, best_i


@njit(cache=True)
def _generic_block(kind, queries, q0, q1, train, p, best_d, best_i):
    last = best_d.shape[1] - 1
    if train.shape[1] <= PAIRWISE_BLOCK:
        for j in range(train.shape[0]):
            for i in range(q0, q1):
                d = reduced_distance_short(kind, queries, i, train, j, p)
                if d < best_d[i, last]:
                    topk_push(best_d, best_i, i, d, j)
        return
    scratch = np.empty(SCRATCH_SIZE)
    for j in range(train.shape[0]):
        for i in range(q0, q1):
            d = reduced_distance(kind, queries, i, train, j, p, 1.0, 1.0, scratch)
            if d < best_d[i, last]:
                topk_push(best_d, best_i, i, d, j)
