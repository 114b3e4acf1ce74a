"""kd-tree and ball-tree queries: one compiled kernel, the node bound depends on the tree kind.

``box_bound`` (kd-tree, ``TREE_KD``) and ``ball_bound`` (ball tree, ``TREE_BALL``) are lower
bounds on the reduced distance from a query to any point of a node; ``tree_query`` walks the
tree, pruning with them, and scans the leaves with the exact distances of ``lp.hpp``
(bit-identical to :func:`.lp.reduced_distance`). The loops are C++ (``_trees.cpp``); the
functions here allocate the outputs and pass the thread count.

NumPy twins: :func:`box_bound_numpy`, :func:`ball_bound_numpy`; ``tree_query`` is tested
against :func:`knnvision.search.reference_kneighbors` (``tests/test_search_trees.py``).
"""

from __future__ import annotations

import numpy as np

from ..threads import get_num_threads
from . import _trees
from .metric_kinds import KIND_CHEBYSHEV, KIND_EUCLIDEAN, KIND_HAMMING, KIND_MANHATTAN

TREE_KD = _trees.TREE_KD
TREE_BALL = _trees.TREE_BALL


def _f64(rows):
    return np.ascontiguousarray(rows, dtype=np.float64)


def box_bound(kind, Q, qi, LO, HI, node, p):
    """Lower bound on the reduced distance from ``Q[qi]`` to any point of box ``node``."""
    return _trees.box_bound(int(kind), _f64(Q), int(qi), _f64(LO), _f64(HI), int(node), float(p))


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


def ball_bound(kind, Q, qi, CENTERS, node, radius, p, shrink, scratch=None):
    """Lower bound on the reduced distance from ``Q[qi]`` to any point of ball ``node``.

    ``radius`` is a true (not reduced) distance; for Hamming both are coordinate counts.
    ``shrink`` (slightly below 1) scales the centre distance down and the radius up before
    subtracting: the difference of two rounded numbers can lose all relative accuracy, so the
    margin must go on the operands, not only on the result. ``scratch`` is accepted for the
    former signature and unused (the compiled distances need none).
    """
    return _trees.ball_bound(
        int(kind),
        _f64(Q),
        int(qi),
        _f64(CENTERS),
        int(node),
        float(radius),
        float(p),
        float(shrink),
    )


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
    Queries are dealt round-robin to ``n_chunks`` chunks, taken by the threads as they free
    up, so that slow and fast regions of the space spread evenly over the threads.
    """
    queries = _f64(queries)
    best_d = np.full((queries.shape[0], k_keep), np.inf)
    best_i = np.full((queries.shape[0], k_keep), np.iinfo(np.int64).max, dtype=np.int64)
    _trees.tree_query(
        int(tree_kind),
        int(kind),
        queries,
        _f64(data),
        np.ascontiguousarray(order, dtype=np.int64),
        np.ascontiguousarray(starts, dtype=np.int64),
        np.ascontiguousarray(ends, dtype=np.int64),
        _f64(LO),
        _f64(HI),
        _f64(CENTERS),
        _f64(radii),
        int(n_levels),
        int(k),
        float(p),
        float(shrink),
        float(slack),
        int(n_chunks),
        get_num_threads(),
        best_d,
        best_i,
    )
    return best_d, best_i


def tree_radius(
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
    limit,
    p,
    shrink,
    n_chunks,
    capacity=None,
):
    """Every point of a kd-tree or ball tree within reduced distance ``limit`` of each query.

    Nodes whose bound is strictly above ``limit`` are pruned; leaf distances are those of
    :func:`tree_query` (bit-identical to the reference except Minkowski). Returns
    ``(query rows, training indices, reduced distances)`` in no particular order; the compiled
    walk fills buffers of ``capacity`` (default: 128 a query) and runs again with larger ones
    when they overflow.
    """
    queries = _f64(queries)
    arrays = (
        _f64(data),
        np.ascontiguousarray(order, dtype=np.int64),
        np.ascontiguousarray(starts, dtype=np.int64),
        np.ascontiguousarray(ends, dtype=np.int64),
        _f64(LO),
        _f64(HI),
        _f64(CENTERS),
        _f64(radii),
    )
    if capacity is None:  # room for 128 neighbours a query before a second run
        capacity = max(1 << 16, 128 * int(len(queries)))
    while True:
        rows = np.empty(capacity, dtype=np.int64)
        indices = np.empty(capacity, dtype=np.int64)
        reduced = np.empty(capacity)
        found = _trees.tree_radius(
            int(tree_kind),
            int(kind),
            queries,
            *arrays,
            int(n_levels),
            float(limit),
            float(p),
            float(shrink),
            int(n_chunks),
            get_num_threads(),
            rows,
            indices,
            reduced,
        )
        if found <= capacity:
            return rows[:found], indices[:found], reduced[:found]
        capacity = found
