"""Manhattan and Minkowski estimates: fast sums in any order, re-checked exactly afterwards.

``lp_estimate_topk`` sums in any order (several independent lanes, compiled in
``_lp_estimate.cpp``), in float32 where the rows are float32, so its values are estimates within
:func:`lp_estimate_rel_error` of the reference; the brute force re-checks every near-tie with the
reference formula (:mod:`knnvision.search.recheck`). The order is fixed, the same on every CPU
code path, so the estimates are reproducible.

Oracle: :func:`knnvision.search.metrics.reduced_distances`, within that error bound (an
estimate has no exact twin to equal).
"""

from __future__ import annotations

import numpy as np

from ..threads import get_num_threads
from . import _lp_estimate

_EPS64 = 2.0**-53  # float64 unit roundoff


def lp_estimate_rel_error(n_features: int, p: float, float32: bool) -> float:
    """Relative gap between :func:`lp_estimate_topk`'s sums and the exact sums.

    Each term rounds once for the difference and at most ``ceil(p) + 1`` more times for the
    power (products, or ``pow`` within an ulp or two), and adding ``n_features`` non-negative
    terms in any order is within ``(n_features - 1)`` unit roundoffs; doubled for safety.
    Underflow in the power is not covered, as for the reference itself.
    """
    unit = 2.0**-24 if float32 else _EPS64
    return 2.0 * (n_features + 2 * int(np.ceil(p)) + 8) * unit


# The (query, training) dtype pairs compiled: float32 queries against float32 or uint8 rows
# (Manhattan sums in float32), float64 queries against any rows. Other pairs are widened to
# float64 queries, which sums in float64 as numba did for them.
_COMPILED_PAIRS = {
    (np.float32, np.float32),
    (np.float32, np.uint8),
    (np.float64, np.float64),
    (np.float64, np.float32),
    (np.float64, np.uint8),
}


def _empty_topk(n_rows, k):
    return np.full((n_rows, k), np.inf), np.full((n_rows, k), np.iinfo(np.int64).max)


def lp_estimate_topk(kind, queries, train, k, p, q_block, t_block, n_parts):
    """The ``k`` smallest Manhattan (``kind=KIND_MANHATTAN``) or Minkowski-``p`` estimates.

    Manhattan sums run in the rows' common type (float32 for float32 queries against float32
    or uint8 rows, float64 otherwise), Minkowski sums in float64, so values are within
    :func:`lp_estimate_rel_error` of the reference, and equal estimates keep the smaller index.
    Work is split into blocks of ``q_block`` queries times ``n_parts`` ranges of training rows,
    run in parallel; inside a block, tiles of ``t_block`` training rows stay in cache while
    every query of the block passes over them. Pairs whose running sum already exceeds the
    query's current k-th estimate stop early.
    """
    queries = np.ascontiguousarray(queries)
    train = np.ascontiguousarray(train)
    if (queries.dtype.type, train.dtype.type) not in _COMPILED_PAIRS:
        queries = np.ascontiguousarray(queries, dtype=np.float64)
    if train.dtype.type not in (np.float32, np.float64, np.uint8):
        train = np.ascontiguousarray(train, dtype=np.float64)
    n_queries = queries.shape[0]
    part_d, part_i = _empty_topk(int(n_parts) * n_queries, int(k))
    best_d, best_i = (part_d, part_i) if n_parts == 1 else _empty_topk(n_queries, int(k))
    _lp_estimate.lp_estimate_topk(
        int(kind),
        queries,
        train,
        float(p),
        int(q_block),
        int(t_block),
        int(n_parts),
        part_d,
        part_i,
        best_d,
        best_i,
        get_num_threads(),
    )
    return best_d, best_i
