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
* Integer kernels for ``uint8`` rows (sum of absolute or squared byte differences in int32/int64)
  are exact, so their float64 value equals the reference regardless of summation order.

Metric codes (``KIND_*``) are small ints so one compiled kernel serves every metric.
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
# Exact float64 distances between two rows, in NumPy's pairwise summation order.
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _pw_sqdiff(a, b, lo, n):
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            t = abs(np.float64(a[i]) - np.float64(b[i]))
            res += t * t
        return res
    if n <= _PW_BLOCK:
        r = np.empty(8)
        for j in range(8):
            t = abs(np.float64(a[lo + j]) - np.float64(b[lo + j]))
            r[j] = t * t
        stop = lo + n - (n % 8)
        i = lo + 8
        while i < stop:
            for j in range(8):
                t = abs(np.float64(a[i + j]) - np.float64(b[i + j]))
                r[j] += t * t
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < lo + n:
            t = abs(np.float64(a[i]) - np.float64(b[i]))
            res += t * t
            i += 1
        return res
    half = n // 2
    half -= half % 8
    return _pw_sqdiff(a, b, lo, half) + _pw_sqdiff(a, b, lo + half, n - half)


@njit(cache=True)
def _pw_absdiff(a, b, lo, n):
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += abs(np.float64(a[i]) - np.float64(b[i]))
        return res
    if n <= _PW_BLOCK:
        r = np.empty(8)
        for j in range(8):
            r[j] = abs(np.float64(a[lo + j]) - np.float64(b[lo + j]))
        stop = lo + n - (n % 8)
        i = lo + 8
        while i < stop:
            for j in range(8):
                r[j] += abs(np.float64(a[i + j]) - np.float64(b[i + j]))
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < lo + n:
            res += abs(np.float64(a[i]) - np.float64(b[i]))
            i += 1
        return res
    half = n // 2
    half -= half % 8
    return _pw_absdiff(a, b, lo, half) + _pw_absdiff(a, b, lo + half, n - half)


@njit(cache=True)
def _pw_powdiff(a, b, lo, n, p):
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += abs(np.float64(a[i]) - np.float64(b[i])) ** p
        return res
    if n <= _PW_BLOCK:
        r = np.empty(8)
        for j in range(8):
            r[j] = abs(np.float64(a[lo + j]) - np.float64(b[lo + j])) ** p
        stop = lo + n - (n % 8)
        i = lo + 8
        while i < stop:
            for j in range(8):
                r[j] += abs(np.float64(a[i + j]) - np.float64(b[i + j])) ** p
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < lo + n:
            res += abs(np.float64(a[i]) - np.float64(b[i])) ** p
            i += 1
        return res
    half = n // 2
    half -= half % 8
    return _pw_powdiff(a, b, lo, half, p) + _pw_powdiff(a, b, lo + half, n - half, p)


@njit(cache=True)
def _pw_cosprod(a, b, lo, n, norm_a, norm_b):
    # Terms are (a_i / |a|) * (b_i / |b|): unit rows first, as the reference builds them.
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += (np.float64(a[i]) / norm_a) * (np.float64(b[i]) / norm_b)
        return res
    if n <= _PW_BLOCK:
        r = np.empty(8)
        for j in range(8):
            r[j] = (np.float64(a[lo + j]) / norm_a) * (np.float64(b[lo + j]) / norm_b)
        stop = lo + n - (n % 8)
        i = lo + 8
        while i < stop:
            for j in range(8):
                r[j] += (np.float64(a[i + j]) / norm_a) * (np.float64(b[i + j]) / norm_b)
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < lo + n:
            res += (np.float64(a[i]) / norm_a) * (np.float64(b[i]) / norm_b)
            i += 1
        return res
    half = n // 2
    half -= half % 8
    return _pw_cosprod(a, b, lo, half, norm_a, norm_b) + _pw_cosprod(
        a, b, lo + half, n - half, norm_a, norm_b
    )


@njit(cache=True)
def sqeuclidean(a, b):
    """Squared Euclidean distance of two rows, bit-identical to the reference."""
    return _pw_sqdiff(a, b, 0, a.shape[0])


@njit(cache=True)
def manhattan(a, b):
    """Manhattan distance of two rows, bit-identical to the reference."""
    return _pw_absdiff(a, b, 0, a.shape[0])


@njit(cache=True)
def minkowski_estimate(a, b, p):
    """``sum |a - b|^p`` with libm ``pow``: within ``minkowski_rel_error`` of the reference."""
    return _pw_powdiff(a, b, 0, a.shape[0], p)


@njit(cache=True)
def chebyshev(a, b):
    """Chebyshev distance of two rows (a maximum, so exact in any order)."""
    res = 0.0
    for i in range(a.shape[0]):
        t = abs(np.float64(a[i]) - np.float64(b[i]))
        if t > res:
            res = t
    return res


@njit(cache=True)
def hamming(a, b):
    """Fraction of coordinates that differ, bit-identical to the reference's mean."""
    count = 0
    for i in range(a.shape[0]):
        if np.float64(a[i]) != np.float64(b[i]):
            count += 1
    return count / a.shape[0]


@njit(cache=True)
def cosine(a, b, norm_a, norm_b):
    """Cosine distance given the rows' Euclidean norms (zero norms passed as 1)."""
    similarity = _pw_cosprod(a, b, 0, a.shape[0], norm_a, norm_b)
    return min(max(1.0 - similarity, 0.0), 2.0)


@njit(cache=True)
def reduced_distance(kind, a, b, p, norm_a, norm_b):
    """The reduced distance of metric code ``kind`` between rows ``a`` and ``b``."""
    if kind == KIND_EUCLIDEAN:
        return sqeuclidean(a, b)
    if kind == KIND_MANHATTAN:
        return manhattan(a, b)
    if kind == KIND_MINKOWSKI:
        return minkowski_estimate(a, b, p)
    if kind == KIND_CHEBYSHEV:
        return chebyshev(a, b)
    if kind == KIND_COSINE:
        return cosine(a, b, norm_a, norm_b)
    return hamming(a, b)


def reduced_distance_numpy(kind, a, b, p=2.0):
    """NumPy twin of :func:`reduced_distance`: the reference definition for one pair."""
    from .search.metrics import Metric, reduced_distances  # noqa: PLC0415 (avoid a cycle)

    name = [k for k, v in KIND_OF_METRIC.items() if v == kind][0]
    metric = Metric(name, p)
    return float(reduced_distances(a[None, :], b[None, :], metric)[0, 0])


@njit(cache=True)
def reduced_distances_to_rows(kind, query, rows, candidates, p, norm_q, norms):
    """Exact reduced distances from ``query`` to ``rows[candidates]`` (the re-check step)."""
    out = np.empty(candidates.shape[0])
    for c in range(candidates.shape[0]):
        j = candidates[c]
        norm_j = norms[j] if norms.shape[0] > 0 else 1.0
        out[c] = reduced_distance(kind, query, rows[j], p, norm_q, norm_j)
    return out


# ---------------------------------------------------------------------------------------------
# A sorted top-k list with the library's tie rule: order by (distance, index).
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def topk_push(best_d, best_i, d, i):
    """Insert ``(d, i)`` into the sorted lists if it beats the last entry; True if inserted.

    Entries are ordered by distance, then by index, so equal distances keep the smaller index.
    """
    last = best_d.shape[0] - 1
    if d > best_d[last] or (d == best_d[last] and i >= best_i[last]):
        return False
    pos = last
    while pos > 0 and (best_d[pos - 1] > d or (best_d[pos - 1] == d and best_i[pos - 1] > i)):
        best_d[pos] = best_d[pos - 1]
        best_i[pos] = best_i[pos - 1]
        pos -= 1
    best_d[pos] = d
    best_i[pos] = i
    return True


def topk_push_numpy(best_d, best_i, d, i):
    """NumPy twin of :func:`topk_push` (returns new arrays instead of updating in place)."""
    all_d = np.append(best_d, d)
    all_i = np.append(best_i, i)
    order = np.lexsort((all_i, all_d))[: len(best_d)]
    return all_d[order], all_i[order]


# ---------------------------------------------------------------------------------------------
# kd-tree and ball-tree queries (one kernel, the node bound depends on the tree kind).
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def box_bound(kind, q, lo, hi, p):
    """Lower bound on the reduced distance from ``q`` to any point in the box ``[lo, hi]``."""
    res = 0.0
    for j in range(q.shape[0]):
        gap = max(lo[j] - q[j], q[j] - hi[j], 0.0)
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
    """NumPy twin of :func:`box_bound`."""
    gap = np.maximum(np.maximum(lo - q, q - hi), 0.0)
    if kind == KIND_EUCLIDEAN:
        return float((gap * gap).sum())
    if kind == KIND_MANHATTAN:
        return float(gap.sum())
    if kind == KIND_CHEBYSHEV:
        return float(gap.max(initial=0.0))
    return float((gap**p).sum())


@njit(cache=True)
def ball_bound(kind, q, center, radius, p, shrink):
    """Lower bound on the reduced distance from ``q`` to any point within ``radius`` of ``center``.

    ``radius`` is a true (not reduced) distance; for Hamming both are coordinate counts.
    ``shrink`` (slightly below 1) scales the centre distance down and the radius up before
    subtracting: the difference of two rounded numbers can lose all relative accuracy, so the
    slack must go on the operands, not only on the result.
    """
    if kind == KIND_HAMMING:
        count = 0
        for j in range(q.shape[0]):
            if q[j] != center[j]:
                count += 1
        return max(count - radius, 0.0) / q.shape[0]
    if kind == KIND_EUCLIDEAN:
        gap = np.sqrt(sqeuclidean(q, center)) * shrink - radius / shrink
        return gap * gap if gap > 0.0 else 0.0
    if kind == KIND_MANHATTAN:
        return max(manhattan(q, center) * shrink - radius / shrink, 0.0)
    if kind == KIND_CHEBYSHEV:
        return max(chebyshev(q, center) * shrink - radius / shrink, 0.0)
    gap = minkowski_estimate(q, center, p) ** (1.0 / p) * shrink - radius / shrink
    return gap**p if gap > 0.0 else 0.0


def ball_bound_numpy(kind, q, center, radius, p=2.0, shrink=1.0):
    """NumPy twin of :func:`ball_bound`."""
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


@njit(cache=True)
def _node_bound(tree_kind, kind, q, node, lo, hi, centers, radii, p, shrink):
    # ``shrink`` (slightly below 1) absorbs rounding: the bound stays below the computed
    # distance of every point in the node, so pruning never drops a true neighbour.
    if tree_kind == TREE_KD:
        return box_bound(kind, q, lo[node], hi[node], p) * shrink
    return ball_bound(kind, q, centers[node], radii[node], p, shrink) * shrink


@njit(cache=True)
def _scan_leaf(kind, q, data, idx, start, end, p, best_d, best_i):
    for j in range(start, end):
        d = reduced_distance(kind, q, data[j], p, 1.0, 1.0)
        topk_push(best_d, best_i, d, idx[j])


@njit(cache=True)
def _tree_query_one(
    tree_kind, kind, q, data, idx, starts, ends, lo, hi, centers, radii, n_levels, k, p, shrink,
    slack, best_d, best_i,
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
        if stack_bound[top] > best_d[k - 1] * slack:
            continue
        if node >= first_leaf:
            _scan_leaf(kind, q, data, idx, starts[node], ends[node], p, best_d, best_i)
            continue
        left = 2 * node + 1
        right = left + 1
        bound_left = _node_bound(tree_kind, kind, q, left, lo, hi, centers, radii, p, shrink)
        bound_right = _node_bound(tree_kind, kind, q, right, lo, hi, centers, radii, p, shrink)
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
    tree_kind, kind, queries, data, idx, starts, ends, lo, hi, centers, radii, n_levels, k,
    k_keep, p, shrink, slack,
):
    """k nearest rows of each query in a kd-tree (``TREE_KD``) or ball tree (``TREE_BALL``).

    Returns the ``k_keep >= k`` best ``(reduced, index)`` pairs per query, sorted. Pruning
    compares node bounds with ``slack`` times the current k-th distance, so with ``slack > 1``
    every point within that factor of the final k-th distance is seen (the Minkowski re-check
    uses this); with ``k_keep == k`` and ``slack == 1`` the result is the exact answer.
    """
    n_queries = queries.shape[0]
    out_d = np.empty((n_queries, k_keep))
    out_i = np.empty((n_queries, k_keep), dtype=np.int64)
    for row in prange(n_queries):
        best_d = np.full(k_keep, np.inf)
        best_i = np.full(k_keep, np.iinfo(np.int64).max)
        _tree_query_one(
            tree_kind, kind, queries[row], data, idx, starts, ends, lo, hi, centers, radii,
            n_levels, k, p, shrink, slack, best_d, best_i,
        )
        out_d[row] = best_d
        out_i[row] = best_i
    return out_d, out_i
