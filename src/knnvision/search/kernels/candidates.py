"""float32 matrix products: scanning tiles of estimates, and the exact re-check of candidates.

The brute force's and the torch index's Euclidean and cosine engines compute estimates from
matrix products; :func:`scan_products` keeps the best ones per query, and
:func:`recheck_candidates` measures the kept candidates exactly with
:func:`knnvision.search.kernels.lp.reduced_distance`. NumPy twin: :func:`scan_products_numpy`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .lp import SCRATCH_SIZE, reduced_distance
from .topk import empty_topk, topk_push

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
