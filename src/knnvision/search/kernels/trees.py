"""kd-tree and ball-tree queries: one compiled kernel, the node bound depends on the tree kind.

``box_bound`` (kd-tree, ``TREE_KD``) and ``ball_bound`` (ball tree, ``TREE_BALL``) are lower
bounds on the reduced distance from a query to any point of a node; ``tree_query`` walks the
tree, pruning with them, and scans the leaves with :func:`.lp.reduced_distance`.

NumPy twins: :func:`box_bound_numpy`, :func:`ball_bound_numpy`; ``tree_query`` is tested
against :func:`knnvision.search.reference_kneighbors` (``tests/test_search_trees.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .lp import PAIRWISE_BLOCK, SCRATCH_SIZE, hamming, reduced_distance, reduced_distance_short
from .metric_kinds import KIND_CHEBYSHEV, KIND_EUCLIDEAN, KIND_HAMMING, KIND_MANHATTAN
from .topk import empty_topk, topk_push

TREE_KD = 0
TREE_BALL = 1


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
    if Q.shape[1] <= PAIRWISE_BLOCK:
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
    if data.shape[1] <= PAIRWISE_BLOCK:
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
