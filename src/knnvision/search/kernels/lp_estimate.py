"""Manhattan and Minkowski estimates: fast sums in any order, re-checked exactly afterwards.

``lp_estimate_topk`` sums in any order (reassociated, so LLVM vectorises), in float32 where
the rows are float32, so its values are estimates within :func:`lp_estimate_rel_error` of the
reference; the brute force re-checks every near-tie with the reference formula
(:mod:`knnvision.search.recheck`).

Oracle: :func:`knnvision.search.metrics.reduced_distances`, within that error bound (an
estimate has no exact twin to equal).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .metric_kinds import KIND_MANHATTAN
from .topk import empty_topk, merge_topk_into, topk_push

_EPS64 = 2.0**-53  # float64 unit roundoff


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
