"""Numba-compiled loops that NumPy cannot express fast.

Small, flat, typed functions in the style of PyNNDescent, each jitted with ``cache=True`` and
each paired with a pure-NumPy twin (suffix ``_numpy``) that the tests use as the oracle.

Exactness rules every kernel here keeps:

* The float64 distance kernels (``sqeuclidean``, ``manhattan``, ``chebyshev``, ``hamming``,
  ``cosine``) are *bit-identical* to :func:`knnvision.search.metrics.reduced_distances`: they
  compute each term exactly as NumPy does and add the terms in NumPy's own pairwise order
  (8 interleaved accumulators on blocks of at most 128, halves above that). Identical bits
  mean ties in the reference stay ties here and are broken the same way (smaller index).
* ``minkowski_estimate`` is *not* bit-identical: NumPy raises to a power with a SIMD routine
  that can differ from libm's ``pow`` by an ulp. Callers treat it as an estimate within
  ``minkowski_rel_error(d)`` of the reference and re-check near-ties with the reference formula.
* ``lp_estimate_topk`` (Manhattan on floats, Minkowski) sums in any order, in float32 where
  the rows are float32, so its values are estimates within ``lp_estimate_rel_error``; the
  brute force re-checks every near-tie with the reference formula.
* Integer kernels for ``uint8`` rows (sum of absolute or squared byte differences in int32/int64)
  are exact, so their float64 value equals the reference regardless of summation order.

Metric codes (``KIND_*``) are small ints so one compiled kernel serves every metric.

Conventions that keep the loops fast: kernels take whole 2-D arrays plus row numbers
(``A, i, B, j``) rather than row views. A view taken inside a parallel loop updates the
parent array's reference count atomically, and two cores doing that on one array cost
hundreds of nanoseconds per pair. Top-k state is likewise 2-D, one row per query.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

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

TREE_KD = 0
TREE_BALL = 1

# NumPy's pairwise summation: blocks up to this size use 8 interleaved accumulators.
_PW_BLOCK = 128
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
    if n <= _PW_BLOCK:
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
        elif m <= _PW_BLOCK:
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
    """``sum |A[i] - B[j]|^p`` with libm ``pow``: within ``minkowski_rel_error`` of the reference."""
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
    """Fraction of coordinates where ``A[i]`` and ``B[j]`` differ, bit-identical to the reference."""
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
    from .metrics import Metric, reduced_distances

    name = next(key for key, value in KIND_OF_METRIC.items() if value == kind)
    return float(reduced_distances(a[None, :], b[None, :], Metric(name, p))[0, 0])


# ---------------------------------------------------------------------------------------------
# Sorted top-k lists with the library's tie rule: order by (distance, index).
# ---------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def topk_push(best_d, best_i, row, d, index):
    """Insert ``(d, index)`` into row ``row`` of the sorted lists if it beats the last entry.

    Entries are ordered by distance, then index, so equal distances keep the smaller index.
    Returns True when inserted.
    """
    last = best_d.shape[1] - 1
    if d > best_d[row, last] or (d == best_d[row, last] and index >= best_i[row, last]):
        return False
    pos = last
    while pos > 0 and (
        best_d[row, pos - 1] > d or (best_d[row, pos - 1] == d and best_i[row, pos - 1] > index)
    ):
        best_d[row, pos] = best_d[row, pos - 1]
        best_i[row, pos] = best_i[row, pos - 1]
        pos -= 1
    best_d[row, pos] = d
    best_i[row, pos] = index
    return True


def topk_push_numpy(best_d, best_i, d, index):
    """NumPy twin of :func:`topk_push` for one row (returns new arrays)."""
    all_d = np.append(best_d, d)
    all_i = np.append(best_i, index)
    order = np.lexsort((all_i, all_d))[: len(best_d)]
    return all_d[order], all_i[order]


@njit(cache=True)
def empty_topk(n_rows, k):
    """Top-k lists with every slot empty (infinite distance, largest index)."""
    return np.full((n_rows, k), np.inf), np.full((n_rows, k), np.iinfo(np.int64).max)


@njit(cache=True)
def merge_topk_into(best_d, best_i, other_d, other_i):
    """Merge sorted top-k lists ``other`` into ``best`` row by row, with the tie rule."""
    for r in range(best_d.shape[0]):
        for c in range(other_d.shape[1]):
            if not topk_push(best_d, best_i, r, other_d[r, c], other_i[r, c]):
                break  # ``other`` is sorted: nothing after this entry can enter either


# ---------------------------------------------------------------------------------------------
# kd-tree and ball-tree queries (one kernel; the node bound depends on the tree kind).
# ---------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def box_bound(kind, Q, qi, LO, HI, node, p):
    """Lower bound on the reduced distance from ``Q[qi]`` to any point of box ``node``."""
    res = 0.0
    for f in range(Q.shape[1]):
        q = Q[qi, f]
        gap = max(LO[node, f] - q, q - HI[node, f], 0.0)
        if kind == KIND_EUCLIDEAN:
            res += gap * gap
        elif kind == KIND_MANHATTAN:
            res += gap
        elif kind == KIND_CHEBYSHEV:
            res = max(res, gap)
        else:
            res += gap**p
    return res


def box_bound_numpy(kind, q, lo, hi, p=2.0):
    """NumPy twin of :func:`box_bound` for one row and one box."""
    gap = np.maximum(np.maximum(lo - q, q - hi), 0.0)
    if kind == KIND_EUCLIDEAN:
        return float((gap * gap).sum())
    if kind == KIND_MANHATTAN:
        return float(gap.sum())
    if kind == KIND_CHEBYSHEV:
        return float(gap.max(initial=0.0))
    return float((gap**p).sum())


@njit(cache=True)
def ball_bound(kind, Q, qi, CENTERS, node, radius, p, shrink, scratch):
    """Lower bound on the reduced distance from ``Q[qi]`` to any point of ball ``node``.

    ``radius`` is a true (not reduced) distance; for Hamming both are coordinate counts.
    ``shrink`` (slightly below 1) scales the centre distance down and the radius up before
    subtracting: the difference of two rounded numbers can lose all relative accuracy, so the
    margin must go on the operands, not only on the result.
    """
    if kind == KIND_HAMMING:
        count = hamming(Q, qi, CENTERS, node) * Q.shape[1]
        return max(count - radius, 0.0) / Q.shape[1]
    if Q.shape[1] <= _PW_BLOCK:
        reduced = reduced_distance_short(kind, Q, qi, CENTERS, node, p)
    else:
        reduced = reduced_distance(kind, Q, qi, CENTERS, node, p, 1.0, 1.0, scratch)
    if kind == KIND_MANHATTAN or kind == KIND_CHEBYSHEV:
        return max(reduced * shrink - radius / shrink, 0.0)
    power = 2.0 if kind == KIND_EUCLIDEAN else p
    gap = reduced ** (1.0 / power) * shrink - radius / shrink
    return gap**power if gap > 0.0 else 0.0


def ball_bound_numpy(kind, q, center, radius, p=2.0, shrink=1.0):
    """NumPy twin of :func:`ball_bound` for one row and one ball."""
    if kind == KIND_HAMMING:
        return max(float((q != center).sum()) - radius, 0.0) / len(q)
    diff = np.abs(q - center)
    if kind == KIND_CHEBYSHEV:
        dist = float(diff.max(initial=0.0))
    elif kind == KIND_MANHATTAN:
        dist = float(diff.sum())
    else:
        power = 2.0 if kind == KIND_EUCLIDEAN else p
        dist = float((diff**power).sum()) ** (1.0 / power)
    gap = dist * shrink - radius / shrink
    if gap <= 0.0:
        return 0.0
    if kind in (KIND_MANHATTAN, KIND_CHEBYSHEV):
        return gap
    return gap ** (2.0 if kind == KIND_EUCLIDEAN else p)


@njit(cache=True, inline="always")
def _node_bound(tree_kind, kind, Q, qi, node, LO, HI, CENTERS, radii, p, shrink, scratch):
    # ``shrink`` (slightly below 1) absorbs rounding: the bound stays below the computed
    # distance of every point in the node, so pruning never drops a true neighbour.
    if tree_kind == TREE_KD:
        return box_bound(kind, Q, qi, LO, HI, node, p) * shrink
    return ball_bound(kind, Q, qi, CENTERS, node, radii[node], p, shrink, scratch) * shrink


@njit(cache=True)
def _scan_leaf(kind, Q, qi, data, order, start, end, p, best_d, best_i, scratch):
    last = best_d.shape[1] - 1
    if data.shape[1] <= _PW_BLOCK:
        for j in range(start, end):
            d = reduced_distance_short(kind, Q, qi, data, j, p)
            if d <= best_d[qi, last]:
                topk_push(best_d, best_i, qi, d, order[j])
    else:
        for j in range(start, end):
            d = reduced_distance(kind, Q, qi, data, j, p, 1.0, 1.0, scratch)
            if d <= best_d[qi, last]:
                topk_push(best_d, best_i, qi, d, order[j])


@njit(cache=True)
def _tree_query_one(
    tree_kind,
    kind,
    Q,
    qi,
    data,
    order,
    starts,
    ends,
    LO,
    HI,
    CENTERS,
    radii,
    n_levels,
    k,
    p,
    shrink,
    slack,
    best_d,
    best_i,
    scratch,
):
    n_nodes = starts.shape[0]
    first_leaf = n_nodes // 2
    stack_node = np.empty(2 * n_levels + 2, dtype=np.int64)
    stack_bound = np.empty(2 * n_levels + 2)
    stack_node[0] = 0
    stack_bound[0] = 0.0
    top = 1
    while top > 0:
        top -= 1
        node = stack_node[top]
        # Prune only when strictly farther than the k-th: a point at exactly the k-th
        # distance with a smaller index must still be found (the tie rule).
        if stack_bound[top] > best_d[qi, k - 1] * slack:
            continue
        if node >= first_leaf:
            _scan_leaf(
                kind, Q, qi, data, order, starts[node], ends[node], p, best_d, best_i, scratch
            )
            continue
        left = 2 * node + 1
        right = left + 1
        bound_left = _node_bound(
            tree_kind, kind, Q, qi, left, LO, HI, CENTERS, radii, p, shrink, scratch
        )
        bound_right = _node_bound(
            tree_kind, kind, Q, qi, right, LO, HI, CENTERS, radii, p, shrink, scratch
        )
        # Push the farther child first so the nearer one is searched first.
        if bound_left <= bound_right:
            stack_node[top], stack_bound[top] = right, bound_right
            stack_node[top + 1], stack_bound[top + 1] = left, bound_left
        else:
            stack_node[top], stack_bound[top] = left, bound_left
            stack_node[top + 1], stack_bound[top + 1] = right, bound_right
        top += 2


@njit(cache=True, parallel=True)
def tree_query(
    tree_kind,
    kind,
    queries,
    data,
    order,
    starts,
    ends,
    LO,
    HI,
    CENTERS,
    radii,
    n_levels,
    k,
    k_keep,
    p,
    shrink,
    slack,
    n_chunks,
):
    """k nearest rows of each query in a kd-tree (``TREE_KD``) or ball tree (``TREE_BALL``).

    Returns the ``k_keep >= k`` best ``(reduced, index)`` pairs per query, sorted. Pruning
    compares node bounds with ``slack`` times the current k-th distance, so with ``slack > 1``
    every point within that factor of the final k-th distance is seen (the Minkowski re-check
    uses this); with ``k_keep == k`` and ``slack == 1`` the result is the exact answer.
    Queries are dealt round-robin to ``n_chunks`` parallel chunks so that slow and fast
    regions of the space spread evenly over the threads.
    """
    n_queries = queries.shape[0]
    best_d, best_i = empty_topk(n_queries, k_keep)
    n_chunks = max(1, min(n_queries, n_chunks))
    for chunk in prange(n_chunks):
        scratch = np.empty(SCRATCH_SIZE)
        for qi in range(chunk, n_queries, n_chunks):
            _tree_query_one(
                tree_kind,
                kind,
                queries,
                qi,
                data,
                order,
                starts,
                ends,
                LO,
                HI,
                CENTERS,
                radii,
                n_levels,
                k,
                p,
                shrink,
                slack,
                best_d,
                best_i,
                scratch,
            )
    return best_d, best_i


# ---------------------------------------------------------------------------------------------
# uint8 rows: exact integer distances with SIMD byte instructions.
#
# numba widens small integers to 64 bits before arithmetic, which leaves the compiler 8 lanes
# per vector; the x86 instructions made for this job work on 32 bytes at once: ``psadbw``
# sums absolute byte differences, ``pmaddwd`` sums products of 16-bit pairs. They are emitted
# through numba intrinsics when the CPU has AVX2, and plain loops stand in elsewhere. Rows
# must be C-contiguous and padded with zeros to a multiple of ``U8_WIDTH`` bytes (padding
# adds nothing to either sum).
# ---------------------------------------------------------------------------------------------

U8_WIDTH = 32


def _host_has_avx2() -> bool:
    import platform

    from llvmlite import binding
    from numba.core import config

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    if config.CPU_NAME not in (None, "host"):
        return False  # compiling for another CPU: stay portable
    try:
        return bool(binding.get_host_cpu_features().get("avx2", False))
    except RuntimeError:
        return False


HAVE_SIMD_U8 = _host_has_avx2()


def _u8_rows_intrinsic(n_rows: int, squared: bool):
    """An intrinsic ``f(q_addr, q_stride, t_addr, n_chunks) -> (sum_0, ..., sum_{n_rows-1})``.

    Sums, over ``n_chunks`` chunks of 32 bytes, ``|q_r - t|`` (``squared=False``) or
    ``(q_r - t)^2`` (``squared=True``) for ``n_rows`` query rows ``q_addr + r * q_stride``
    against one training row ``t_addr``, loading each training chunk once for all rows.
    """
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    bytes_t = ir.VectorType(ir.IntType(8), U8_WIDTH)
    half_t = ir.VectorType(ir.IntType(16), U8_WIDTH // 2)
    if squared:
        acc_t = ir.VectorType(ir.IntType(32), 8)
        op_name, op_type = "llvm.x86.avx2.pmadd.wd", ir.FunctionType(acc_t, [half_t, half_t])
    else:
        acc_t = ir.VectorType(ir.IntType(64), 4)
        op_name, op_type = "llvm.x86.avx2.psad.bw", ir.FunctionType(acc_t, [bytes_t, bytes_t])

    def chunk_sum(builder, op, q, t):
        if not squared:
            return builder.call(op, [q, t])
        # |q - t| as bytes (max - min cannot wrap), widened to 16 bits, squared and pair-summed.
        greater = builder.icmp_unsigned(">", q, t)
        diff = builder.sub(builder.select(greater, q, t), builder.select(greater, t, q))
        wide = builder.zext(diff, ir.VectorType(ir.IntType(16), U8_WIDTH))
        lanes_t = ir.VectorType(ir.IntType(32), U8_WIDTH // 2)
        lo = builder.shuffle_vector(wide, wide, ir.Constant(lanes_t, list(range(U8_WIDTH // 2))))
        hi = builder.shuffle_vector(
            wide, wide, ir.Constant(lanes_t, list(range(U8_WIDTH // 2, U8_WIDTH)))
        )
        return builder.add(builder.call(op, [lo, lo]), builder.call(op, [hi, hi]))

    @intrinsic
    def rows_kernel(typingctx, q_addr, q_stride, t_addr, n_chunks):
        result_type = types.UniTuple(types.int64, n_rows)
        sig = result_type(types.uintp, types.intp, types.uintp, types.intp)

        def codegen(context, builder, signature, args):
            q_int, stride, t_int, n = args
            op = cgutils.get_or_insert_function(builder.module, op_type, op_name)
            ptr_t = bytes_t.as_pointer()
            t_ptr = builder.inttoptr(t_int, ptr_t)
            q_ptrs = [
                builder.inttoptr(
                    builder.add(q_int, builder.mul(stride, ir.Constant(stride.type, r))), ptr_t
                )
                for r in range(n_rows)
            ]
            entry = builder.basic_block
            loop = builder.append_basic_block("u8_loop")
            done = builder.append_basic_block("u8_done")
            zero_i = ir.Constant(n.type, 0)
            zero_acc = ir.Constant(acc_t, None)
            builder.cbranch(builder.icmp_signed(">", n, zero_i), loop, done)
            builder.position_at_end(loop)
            i = builder.phi(n.type)
            accs = [builder.phi(acc_t) for _ in range(n_rows)]
            t_vec = builder.load(builder.gep(t_ptr, [i]), align=1)
            updated = []
            for r in range(n_rows):
                q_vec = builder.load(builder.gep(q_ptrs[r], [i]), align=1)
                updated.append(builder.add(accs[r], chunk_sum(builder, op, q_vec, t_vec)))
            i_next = builder.add(i, ir.Constant(n.type, 1))
            i.add_incoming(zero_i, entry)
            i.add_incoming(i_next, loop)
            for acc, new in zip(accs, updated):
                acc.add_incoming(zero_acc, entry)
                acc.add_incoming(new, loop)
            builder.cbranch(builder.icmp_signed("<", i_next, n), loop, done)
            builder.position_at_end(done)
            finals = []
            for new in updated:  # all phi nodes first: LLVM requires them at the block top
                final = builder.phi(acc_t)
                final.add_incoming(zero_acc, entry)
                final.add_incoming(new, loop)
                finals.append(final)
            totals = []
            for final in finals:
                lanes = [
                    builder.extract_element(final, ir.Constant(ir.IntType(32), lane))
                    for lane in range(acc_t.count)
                ]
                total = builder.sext(lanes[0], ir.IntType(64)) if squared else lanes[0]
                for lane in lanes[1:]:
                    total = builder.add(
                        total, builder.sext(lane, ir.IntType(64)) if squared else lane
                    )
                totals.append(total)
            return context.make_tuple(builder, result_type, totals)

        return sig, codegen

    return rows_kernel


if HAVE_SIMD_U8:
    _sad_rows_2 = _u8_rows_intrinsic(2, squared=False)
    _sad_rows_1 = _u8_rows_intrinsic(1, squared=False)
    _sqd_rows_1 = _u8_rows_intrinsic(1, squared=True)

    @njit(cache=True)
    def sad_u8_x2(Q, i, T, j):
        """``(sum |Q[i] - T[j]|, sum |Q[i+1] - T[j]|)``, loading ``T[j]`` once."""
        stride = Q.strides[0]
        return _sad_rows_2(
            Q.ctypes.data + i * stride,
            stride,
            T.ctypes.data + j * T.strides[0],
            T.shape[1] // U8_WIDTH,
        )

    @njit(cache=True)
    def sad_u8(Q, i, T, j):
        """``sum |Q[i] - T[j]|`` for padded uint8 rows, exact."""
        return _sad_rows_1(
            Q.ctypes.data + i * Q.strides[0],
            0,
            T.ctypes.data + j * T.strides[0],
            T.shape[1] // U8_WIDTH,
        )[0]

    @njit(cache=True)
    def sqd_u8(Q, i, T, j):
        """``sum (Q[i] - T[j])^2`` for padded uint8 rows, exact."""
        return _sqd_rows_1(
            Q.ctypes.data + i * Q.strides[0],
            0,
            T.ctypes.data + j * T.strides[0],
            T.shape[1] // U8_WIDTH,
        )[0]

else:  # the same functions as plain loops, for CPUs without AVX2

    @njit(cache=True)
    def sad_u8(Q, i, T, j):
        """``sum |Q[i] - T[j]|`` for uint8 rows, exact."""
        acc = 0
        for f in range(T.shape[1]):
            acc += abs(np.int64(Q[i, f]) - np.int64(T[j, f]))
        return acc

    @njit(cache=True)
    def sad_u8_x2(Q, i, T, j):
        """``(sum |Q[i] - T[j]|, sum |Q[i+1] - T[j]|)`` for uint8 rows."""
        return sad_u8(Q, i, T, j), sad_u8(Q, i + 1, T, j)

    @njit(cache=True)
    def sqd_u8(Q, i, T, j):
        """``sum (Q[i] - T[j])^2`` for uint8 rows, exact."""
        acc = 0
        for f in range(T.shape[1]):
            diff = np.int64(Q[i, f]) - np.int64(T[j, f])
            acc += diff * diff
        return acc


def sad_u8_numpy(q, t):
    """NumPy twin of :func:`sad_u8` for two 1-D rows."""
    return int(np.abs(q.astype(np.int64) - t.astype(np.int64)).sum())


def sqd_u8_numpy(q, t):
    """NumPy twin of :func:`sqd_u8` for two 1-D rows."""
    diff = q.astype(np.int64) - t.astype(np.int64)
    return int((diff * diff).sum())


def pad_u8(rows: np.ndarray) -> np.ndarray:
    """C-contiguous uint8 ``rows`` with zero columns up to a multiple of ``U8_WIDTH``.

    Returns ``rows`` itself when it already qualifies.
    """
    width = max(U8_WIDTH, -(-rows.shape[1] // U8_WIDTH) * U8_WIDTH)
    if width == rows.shape[1] and rows.flags.c_contiguous:
        return rows
    padded = np.zeros((rows.shape[0], width), dtype=np.uint8)
    padded[:, : rows.shape[1]] = rows
    return padded


# ---------------------------------------------------------------------------------------------
# Brute-force top-k loops.
# ---------------------------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def u8_topk(squared, queries, train, k, q_block):
    """Exact k nearest padded uint8 rows by sum of absolute (or squared) byte differences.

    Parallel over blocks of ``q_block`` queries; each block stays in L1/L2 while every
    training row streams past it once, and each training chunk is loaded once per two
    queries. Returns integer-valued float64 distances and int64 indices, ties to the smaller
    index (rows are visited in index order and only a strictly smaller distance displaces).
    """
    n_queries = queries.shape[0]
    best_d, best_i = empty_topk(n_queries, k)
    last = k - 1
    n_blocks = (n_queries + q_block - 1) // q_block
    for block in prange(n_blocks):
        q0 = block * q_block
        q1 = min(q0 + q_block, n_queries)
        for j in range(train.shape[0]):
            i = q0
            while i < q1:
                if squared or i + 1 == q1:
                    d0 = sqd_u8(queries, i, train, j) if squared else sad_u8(queries, i, train, j)
                    if d0 < best_d[i, last]:
                        topk_push(best_d, best_i, i, np.float64(d0), j)
                    i += 1
                    continue
                d0, d1 = sad_u8_x2(queries, i, train, j)
                if d0 < best_d[i, last]:
                    topk_push(best_d, best_i, i, np.float64(d0), j)
                if d1 < best_d[i + 1, last]:
                    topk_push(best_d, best_i, i + 1, np.float64(d1), j)
                i += 2
    return best_d, best_i


@njit(cache=True, parallel=True)
def u8_topk_few(squared, queries, train, k, n_parts):
    """:func:`u8_topk` for a handful of queries: parallel over ``n_parts`` training ranges.

    Each range keeps its own top-k per query; merging the ranges keeps the tie rule. This is
    the single-query fast path (one image against all training images).
    """
    n_queries = queries.shape[0]
    n_train = train.shape[0]
    part_d, part_i = empty_topk(n_parts * n_queries, k)
    step = (n_train + n_parts - 1) // n_parts
    for part in prange(n_parts):
        for j in range(part * step, min(n_train, (part + 1) * step)):
            for i in range(n_queries):
                d = sqd_u8(queries, i, train, j) if squared else sad_u8(queries, i, train, j)
                row = part * n_queries + i
                if d < part_d[row, k - 1]:
                    topk_push(part_d, part_i, row, np.float64(d), j)
    best_d, best_i = empty_topk(n_queries, k)
    for part in range(n_parts):
        rows = slice(part * n_queries, (part + 1) * n_queries)
        merge_topk_into(best_d, best_i, part_d[rows], part_i[rows])
    return best_d, best_i


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
    if train.shape[1] <= _PW_BLOCK:
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


# ---------------------------------------------------------------------------------------------
# Manhattan and Minkowski estimates: fast sums in any order, re-checked exactly afterwards.
# ---------------------------------------------------------------------------------------------

# Only reassociation: it lets LLVM vectorise the sums with several partial accumulators. No
# flag that assumes away NaN or infinity, and no fused multiply-adds (each term is rounded
# as the error bound in ``lp_estimate_rel_error`` assumes).
_REASSOC = {"reassoc"}
# Features per step between two checks of the early exit. The loops over features count with
# unsigned integers: a signed index makes numba handle negative (wrap-around) indices on every
# access, which stops LLVM from vectorising (measured 1.9 against 12 G terms/s per core).
_LP_CHUNK = 128
# Integer powers with a product form (about 20x faster than ``pow``); others call ``pow``.
_POW_CUBE = 3
_POW_FOURTH = 4


def lp_estimate_rel_error(n_features: int, p: float, float32: bool) -> float:
    """Relative gap between :func:`lp_estimate_topk`'s sums and the exact sums.

    Each term rounds once for the difference and at most ``ceil(p) + 1`` more times for the
    power (products, or ``pow`` within an ulp or two), and adding ``n_features`` non-negative
    terms in any order is within ``(n_features - 1)`` unit roundoffs; doubled for safety.
    Underflow in the power is not covered, as for the reference itself.
    """
    unit = 2.0**-24 if float32 else _EPS64
    return 2.0 * (n_features + 2 * int(np.ceil(p)) + 8) * unit


# Not inlined at numba level: the caller's flags (no ``reassoc``) would replace these.
@njit(cache=True, fastmath=_REASSOC)
def _abs_diff_sum(A, i, B, j, lo, hi):
    acc = A[i, lo] - A[i, lo]  # zero in the rows' dtype: float32 rows are summed in float32
    for f in range(np.uint64(lo), np.uint64(hi)):  # unsigned: see _LP_CHUNK
        acc += abs(A[i, f] - B[j, f])
    return acc


@njit(cache=True, fastmath=_REASSOC)
def _pow_diff_sum(A, i, B, j, lo, hi, p):
    acc = 0.0
    if p == _POW_CUBE:
        for f in range(np.uint64(lo), np.uint64(hi)):
            t = abs(np.float64(A[i, f]) - np.float64(B[j, f]))
            acc += t * t * t
    elif p == _POW_FOURTH:
        for f in range(np.uint64(lo), np.uint64(hi)):
            t = abs(np.float64(A[i, f]) - np.float64(B[j, f]))
            t2 = t * t
            acc += t2 * t2
    else:
        for f in range(np.uint64(lo), np.uint64(hi)):
            acc += abs(np.float64(A[i, f]) - np.float64(B[j, f])) ** p
    return acc


@njit(cache=True, inline="always")
def _lp_estimate(kind, A, i, B, j, p, worst):
    """``sum |A[i] - B[j]|^p`` (p = 1 for Manhattan), or any value >= ``worst`` as soon as
    the running sum reaches it: the terms are non-negative, so the sum can only grow."""
    n = A.shape[1]
    acc = 0.0
    for lo in range(0, n, _LP_CHUNK):
        hi = min(lo + _LP_CHUNK, n)
        if kind == KIND_MANHATTAN:
            acc += np.float64(_abs_diff_sum(A, i, B, j, lo, hi))
        else:
            acc += _pow_diff_sum(A, i, B, j, lo, hi, p)
        if acc >= worst:
            return acc
    return acc


@njit(cache=True, parallel=True)
def lp_estimate_topk(kind, queries, train, k, p, q_block, t_block, n_parts):
    """The ``k`` smallest Manhattan (``kind=KIND_MANHATTAN``) or Minkowski-``p`` estimates.

    ``queries`` and ``train`` share one dtype (float32 rows are summed in float32, others in
    float64), so values are within :func:`lp_estimate_rel_error` of the reference, and equal
    estimates keep the smaller index. Work is split into blocks of ``q_block`` queries times
    ``n_parts`` ranges of training rows, run in parallel; inside a block, tiles of ``t_block``
    training rows stay in cache while every query of the block passes over them. Pairs whose
    running sum already exceeds the query's current k-th estimate stop early.
    """
    n_queries, n_train = queries.shape[0], train.shape[0]
    n_blocks = (n_queries + q_block - 1) // q_block
    part_d, part_i = empty_topk(n_parts * n_queries, k)
    step = (n_train + n_parts - 1) // n_parts
    last = k - 1
    for task in prange(n_blocks * n_parts):
        block, part = task // n_parts, task % n_parts
        q0, q1 = block * q_block, min(block * q_block + q_block, n_queries)
        offset = part * n_queries
        for t0 in range(part * step, min(n_train, (part + 1) * step), t_block):
            t1 = min(t0 + t_block, (part + 1) * step, n_train)
            for i in range(q0, q1):
                row = offset + i
                for j in range(t0, t1):
                    d = _lp_estimate(kind, queries, i, train, j, p, part_d[row, last])
                    if d < part_d[row, last]:
                        topk_push(part_d, part_i, row, d, j)
    if n_parts == 1:
        return part_d, part_i
    best_d, best_i = empty_topk(n_queries, k)
    for part in range(n_parts):
        merge_topk_into(
            best_d,
            best_i,
            part_d[part * n_queries : (part + 1) * n_queries],
            part_i[part * n_queries : (part + 1) * n_queries],
        )
    return best_d, best_i


# ---------------------------------------------------------------------------------------------
# float32 matrix products: scanning tiles of estimates, and the exact re-check.
# ---------------------------------------------------------------------------------------------

_SCAN_CHUNK = 64


@njit(cache=True, nogil=True, inline="always")
def _count_below(offsets, scale, products, r, c0, n, worst):
    # Branch-free, so it vectorises: how many estimates in the run beat ``worst``.
    hits = 0
    for c in range(c0, c0 + n):
        hits += (offsets[c] + scale * np.float64(products[r, c])) < worst
    return hits


@njit(cache=True, nogil=True)
def scan_products(products, offsets, scale, first_index, best_e, best_i):
    """Fold one tile of float32 products into running top-k lists of estimates.

    The estimate for tile row ``r`` and column ``c`` is ``offsets[c] + scale * products[r, c]``
    in float64 (``||y||^2 - 2 x.y`` for Euclidean, ``-x.y`` for cosine); its training index is
    ``first_index + c``. Most rows of a tile hold nothing better than the current worst kept
    estimate: a vectorised count over the row, then over 64-column chunks, skips them without
    a branch per element. Releases the GIL so workers run tiles side by side.
    """
    n_rows, n_cols = products.shape
    last = best_e.shape[1] - 1
    for r in range(n_rows):
        worst = best_e[r, last]
        if _count_below(offsets, scale, products, r, 0, n_cols, worst) == 0:
            continue
        for c0 in range(0, n_cols, _SCAN_CHUNK):
            width = min(_SCAN_CHUNK, n_cols - c0)
            if _count_below(offsets, scale, products, r, c0, width, worst) == 0:
                continue
            for c in range(c0, c0 + width):
                e = offsets[c] + scale * np.float64(products[r, c])
                if e < worst:
                    topk_push(best_e, best_i, r, e, first_index + c)
                    worst = best_e[r, last]


def scan_products_numpy(products, offsets, scale, first_index, best_e, best_i):
    """NumPy twin of :func:`scan_products` (returns new lists)."""
    e = offsets[None, :] + scale * products.astype(np.float64)
    idx = np.broadcast_to(first_index + np.arange(products.shape[1]), e.shape)
    all_e = np.concatenate([best_e, e], axis=1)
    all_i = np.concatenate([best_i, idx], axis=1)
    out_e = np.empty_like(best_e)
    out_i = np.empty_like(best_i)
    for r in range(len(all_e)):
        order = np.lexsort((all_i[r], all_e[r]))[: best_e.shape[1]]
        out_e[r], out_i[r] = all_e[r, order], all_i[r, order]
    return out_e, out_i


@njit(cache=True, parallel=True)
def recheck_candidates(
    kind, queries, train, cand_e, cand_i, limits, k, p, query_norms, train_norms
):
    """Exact top-k among the candidates whose estimate is at most ``limits[row]``.

    Distances come from :func:`reduced_distance` (bit-identical to the reference), so ties are
    settled exactly as the reference settles them. ``query_norms`` / ``train_norms`` are the
    rows' Euclidean norms for cosine (zeros replaced by 1) and may be empty otherwise.
    """
    n_queries = queries.shape[0]
    best_d, best_i = empty_topk(n_queries, k)
    for row in prange(n_queries):
        scratch = np.empty(SCRATCH_SIZE)
        norm_q = query_norms[row] if query_norms.shape[0] > 0 else 1.0
        for c in range(cand_e.shape[1]):
            if cand_e[row, c] > limits[row]:
                break  # candidates are sorted by estimate
            j = cand_i[row, c]
            norm_t = train_norms[j] if train_norms.shape[0] > 0 else 1.0
            d = reduced_distance(kind, queries, row, train, j, p, norm_q, norm_t, scratch)
            topk_push(best_d, best_i, row, d, j)
    return best_d, best_i


# ---------------------------------------------------------------------------------------------
# Few queries: a projection lower bound filters the training rows.
# ---------------------------------------------------------------------------------------------


@njit(cache=True, fastmath=_REASSOC)
def projected_bounds(proj, residuals, query_proj, query_residual, slack):
    """Lower bounds of the squared Euclidean distance from one query to every row.

    With an orthonormal basis ``V`` and residual norms ``r(y) = ||y - V V^T y||``,
    ``||x - y||^2 = ||V^T (x - y)||^2 + ||(x - y) - V V^T (x - y)||^2
    >= ||V^T (x - y)||^2 + (r(x) - r(y))^2``. ``slack`` is subtracted from the residual gap
    first: residual norms come from a difference of squares and carry that much error.
    """
    n, m = proj.shape
    out = np.empty(n)
    for j in range(n):
        acc = 0.0
        # Vectorised (any summation order: its rounding is far below the caller's margin);
        # unsigned indices for the reason given at _LP_CHUNK.
        for f in range(np.uint64(0), np.uint64(m)):
            diff = proj[j, f] - query_proj[f]
            acc += diff * diff
        gap = max(abs(residuals[j] - query_residual) - slack, 0.0)
        out[j] = acc + gap * gap
    return out


def projected_bounds_numpy(proj, residuals, query_proj, query_residual, slack):
    """NumPy twin of :func:`projected_bounds`."""
    gap = np.maximum(np.abs(residuals - query_residual) - slack, 0.0)
    return ((proj - query_proj) ** 2).sum(axis=1) + gap**2


@njit(cache=True)
def filtered_euclidean_topk(queries, qi, train, bounds, candidates, k, shrink, margin, use_u8):
    """Exact k nearest rows of ``queries[qi]`` by squared Euclidean distance, measuring only
    ``candidates`` (row numbers sorted by their lower bound ``bounds``).

    ``candidates`` must hold every row whose bound, shrunk by ``shrink`` and ``margin`` for
    rounding, does not exceed some upper bound of the k-th distance. Rows are measured in
    order of their bound and the loop stops at the first bound above the current k-th
    distance: no later row can come closer, nor tie. With ``use_u8`` rows are padded uint8
    and distances exact integers (:func:`sqd_u8`); otherwise :func:`sqeuclidean`,
    bit-identical to the reference. Returns ``(reduced, indices)`` of shape ``(k,)`` and the
    number of rows measured.
    """
    best_d, best_i = empty_topk(1, k)
    scratch = np.empty(SCRATCH_SIZE)
    measured = 0
    for c in range(candidates.shape[0]):
        j = candidates[c]
        if bounds[j] * shrink - margin > best_d[0, k - 1]:
            break
        d = (
            np.float64(sqd_u8(queries, qi, train, j))
            if use_u8
            else sqeuclidean(queries, qi, train, j, scratch)
        )
        measured += 1
        topk_push(best_d, best_i, 0, d, j)
    return best_d[0], best_i[0], measured


# ---------------------------------------------------------------------------------------------
# uint8 Euclidean in bulk: exact integer dot products with AVX-512 VNNI.
#
# ``vpdpbusd`` multiplies 64 unsigned bytes by 64 signed bytes and adds each group of four
# products into a 32-bit lane: one instruction per 64 multiply-adds, exact. Training rows are
# stored shifted to signed bytes, ``y - 128``, so ``x . y = x . (y - 128) + 128 sum(x)``, and
# ``||x - y||^2 = ||x||^2 + ||y||^2 - 2 x . y`` holds exactly in integers. A 4 x 4 block of
# query and training rows keeps 16 accumulators in registers and loads each 64-byte chunk of
# a row once for four products. Measured here (one core, CPU time): 140 G multiply-adds/s,
# against 57 for the float32 matrix product.
# ---------------------------------------------------------------------------------------------

DOT_ROWS = 4  # query rows per block
DOT_COLS = 4  # training rows per block
DOT_WIDTH = 64  # bytes per chunk


def _host_has_vnni() -> bool:
    if not HAVE_SIMD_U8:
        return False
    from llvmlite import binding

    features = binding.get_host_cpu_features()
    return all(features.get(name, False) for name in ("avx512f", "avx512bw", "avx512vnni"))


HAVE_VNNI = _host_has_vnni()


def _fold_lanes(builder, ir, vectors):
    """Sum each of 16 ``<16 x i32>`` vectors into one lane of a single vector.

    Pairs of vectors are folded together (half of each vector's lanes added to the other
    half) until one vector remains; about 45 shuffles and adds instead of 16 full horizontal
    sums. Returns the vector and, per lane, which input vector it sums.
    """
    v16 = ir.VectorType(ir.IntType(32), 16)
    layouts = [[index] * 16 for index in range(len(vectors))]
    width = 16
    while len(vectors) > 1:
        folded, folded_layouts = [], []
        for a in range(0, len(vectors), 2):
            first, second, layout = [], [], []
            for offset, lanes in ((0, layouts[a]), (16, layouts[a + 1])):
                for owner in dict.fromkeys(lanes):  # owners in lane order
                    positions = [lane for lane in range(16) if lanes[lane] == owner]
                    first += [offset + lane for lane in positions[: width // 2]]
                    second += [offset + lane for lane in positions[width // 2 :]]
                    layout += [owner] * (width // 2)
            low = builder.shuffle_vector(vectors[a], vectors[a + 1], ir.Constant(v16, first))
            high = builder.shuffle_vector(vectors[a], vectors[a + 1], ir.Constant(v16, second))
            folded.append(builder.add(low, high))
            folded_layouts.append(layout)
        vectors, layouts, width = folded, folded_layouts, width // 2
    return vectors[0], layouts[0]


def _dot_block_intrinsic():
    """Intrinsic ``f(q_addr, q_stride, t_addr, t_stride, n_chunks, out_addr)``: the 16 dot
    products of 4 uint8 query rows with 4 int8 training rows, stored as int32 at ``out_addr``
    in the order ``out[r * 4 + c]``."""
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    v16 = ir.VectorType(ir.IntType(32), 16)

    @intrinsic
    def dot_block(typingctx, q_addr, q_stride, t_addr, t_stride, n_chunks, out_addr):
        sig = types.void(types.uintp, types.intp, types.uintp, types.intp, types.intp, types.uintp)

        def codegen(context, builder, signature, args):
            q_int, q_step, t_int, t_step, n, out_int = args
            op = cgutils.get_or_insert_function(
                builder.module,
                ir.FunctionType(v16, [v16, v16, v16]),
                "llvm.x86.avx512.vpdpbusd.512",
            )
            ptr_t = v16.as_pointer()
            q_ptrs = [
                builder.inttoptr(
                    builder.add(q_int, builder.mul(q_step, ir.Constant(q_step.type, r))), ptr_t
                )
                for r in range(DOT_ROWS)
            ]
            t_ptrs = [
                builder.inttoptr(
                    builder.add(t_int, builder.mul(t_step, ir.Constant(t_step.type, c))), ptr_t
                )
                for c in range(DOT_COLS)
            ]
            entry = builder.basic_block
            loop = builder.append_basic_block("dot_loop")
            done = builder.append_basic_block("dot_done")
            zero = ir.Constant(v16, None)
            builder.branch(loop)  # callers guarantee n_chunks >= 1
            builder.position_at_end(loop)
            i = builder.phi(n.type)
            accs = [builder.phi(v16) for _ in range(DOT_ROWS * DOT_COLS)]
            q_vecs = [builder.load(builder.gep(p, [i]), align=1) for p in q_ptrs]
            t_vecs = [builder.load(builder.gep(p, [i]), align=1) for p in t_ptrs]
            updated = [
                builder.call(op, [accs[r * DOT_COLS + c], q_vecs[r], t_vecs[c]])
                for r in range(DOT_ROWS)
                for c in range(DOT_COLS)
            ]
            i_next = builder.add(i, ir.Constant(n.type, 1))
            i.add_incoming(ir.Constant(n.type, 0), entry)
            i.add_incoming(i_next, loop)
            for acc, new in zip(accs, updated):
                acc.add_incoming(zero, entry)
                acc.add_incoming(new, loop)
            builder.cbranch(builder.icmp_signed("<", i_next, n), loop, done)
            builder.position_at_end(done)
            sums, layout = _fold_lanes(builder, ir, updated)
            # Put lane order right: lane L must hold the sum of accumulator L.
            order = [layout.index(owner) for owner in range(16)]
            sums = builder.shuffle_vector(sums, sums, ir.Constant(v16, order))
            builder.store(sums, builder.inttoptr(out_int, ptr_t), align=4)
            return context.get_dummy_value()

        return sig, codegen

    return dot_block


if HAVE_VNNI:
    _dot_block = _dot_block_intrinsic()

    @njit(cache=True)
    def u8_dot_block(Q, i, T, j, out):
        """Dot products of ``Q[i:i+4]`` (uint8) with ``T[j:j+4]`` (int8) into ``out[16]``."""
        _dot_block(
            Q.ctypes.data + i * Q.strides[0],
            Q.strides[0],
            T.ctypes.data + j * T.strides[0],
            T.strides[0],
            T.shape[1] // DOT_WIDTH,
            out.ctypes.data,
        )

    @njit(cache=True, parallel=True)
    def u8_dot_topk(queries, n_queries, train, n_train, train_sq, k, q_block):
        """Exact k nearest rows by squared Euclidean distance, via VNNI dot products.

        ``queries`` (uint8) and ``train`` (int8, ``y - 128``) are padded to multiples of
        ``DOT_WIDTH`` columns and 4 rows; only the first ``n_queries`` / ``n_train`` rows
        count. ``train_sq`` holds ``||y||^2`` of the real training rows. Parallel over blocks
        of ``q_block`` queries (a multiple of 4); training rows are visited in index order and
        only a strictly smaller distance displaces, so ties go to the smaller index.
        Returns exact squared distances (float64) and indices.
        """
        best_d, best_i = empty_topk(n_queries, k)
        n_blocks = (n_queries + q_block - 1) // q_block
        for block in prange(n_blocks):
            q0 = block * q_block
            _u8_dot_block_rows(
                queries, q0, min(q0 + q_block, n_queries), train, n_train, train_sq, best_d, best_i
            )
        return best_d, best_i

    @njit(cache=True)
    def _u8_dot_block_rows(queries, q0, q1, train, n_train, train_sq, best_d, best_i):
        last = best_d.shape[1] - 1
        # Per query: ||x||^2 - 256 sum(x), the part of the distance not in the products,
        # and the k-th distance minus it: a product beats the list when
        # ||y||^2 - 2 x.(y - 128) < limit, an integer comparison without conversions.
        base = np.zeros(q1 - q0, dtype=np.int64)
        limit = np.empty(q1 - q0)
        for i in range(q0, q1):
            for f in range(queries.shape[1]):
                x = np.int64(queries[i, f])
                base[i - q0] += x * x - 256 * x
            limit[i - q0] = best_d[i, last] - base[i - q0]
        out = np.empty(DOT_ROWS * DOT_COLS, dtype=np.int32)
        for j in range(0, n_train, DOT_COLS):
            full_cols = j + DOT_COLS <= n_train
            for i in range(q0, q1, DOT_ROWS):
                u8_dot_block(queries, i, train, j, out)
                if full_cols and i + DOT_ROWS <= q1:
                    hit = False
                    for r in range(DOT_ROWS):  # constant bounds: unrolled and vectorised
                        for c in range(DOT_COLS):
                            e = train_sq[j + c] - 2 * np.int64(out[r * DOT_COLS + c])
                            hit |= e < limit[i + r - q0]
                    if not hit:
                        continue
                for r in range(min(DOT_ROWS, q1 - i)):
                    row = i + r
                    for c in range(min(DOT_COLS, n_train - j)):
                        e = train_sq[j + c] - 2 * np.int64(out[r * DOT_COLS + c])
                        if e < limit[row - q0]:
                            topk_push(best_d, best_i, row, np.float64(base[row - q0] + e), j + c)
                            limit[row - q0] = best_d[row, last] - base[row - q0]


def pad_rows_u8(
    rows: np.ndarray, width: int, row_multiple: int, shift: int = 0, dtype=np.uint8
) -> np.ndarray:
    """``rows - shift`` as ``dtype``, zero-padded to ``width``-multiple columns and
    ``row_multiple``-multiple rows (the layout :func:`u8_dot_topk` reads).

    Converted a block of rows at a time, so no wide temporary copy of ``rows`` is made.
    """
    n_rows = -(-rows.shape[0] // row_multiple) * row_multiple
    n_cols = max(width, -(-rows.shape[1] // width) * width)
    padded = np.zeros((n_rows, n_cols), dtype=dtype)
    for r0 in range(0, rows.shape[0], 4096):
        block = rows[r0 : r0 + 4096]
        padded[r0 : r0 + len(block), : rows.shape[1]] = block.astype(np.int16) - shift
    return padded


@njit(cache=True)
def squared_norms_u8(rows):
    """Exact ``||row||^2`` of every uint8 row, as int64."""
    out = np.zeros(rows.shape[0], dtype=np.int64)
    for r in range(rows.shape[0]):
        acc = 0
        for f in range(rows.shape[1]):
            x = np.int64(rows[r, f])
            acc += x * x
        out[r] = acc
    return out


def u8_dot_topk_numpy(queries, train, k):
    """NumPy twin of :func:`u8_dot_topk` on unpadded uint8 rows (float64 products are exact
    for uint8 data)."""
    q = queries.astype(np.float64)
    t = train.astype(np.float64)
    d = (q * q).sum(1)[:, None] + (t * t).sum(1)[None, :] - 2.0 * q @ t.T
    order = np.lexsort((np.broadcast_to(np.arange(len(t)), d.shape), d), axis=1)[:, :k]
    return np.take_along_axis(d, order, axis=1), order
