"""float32 matrix products: scanning tiles of estimates, and the exact re-check of candidates.

The brute force's and the torch index's Euclidean and cosine engines compute estimates from
matrix products; :func:`scan_products` keeps the best ones per query, and
:func:`recheck_candidates` measures the kept candidates exactly with the float64 distances of
``lp.hpp`` (those of :func:`knnvision.search.kernels.lp.reduced_distance`). Both are compiled
(``_candidates.cpp``). NumPy twin: :func:`scan_products_numpy`.
"""

from __future__ import annotations

import numpy as np

from ..threads import get_num_threads
from . import _candidates

# Element types the compiled scan takes as they are (the torch index hands over int32 tiles);
# other products are widened to float64, which is how each element is read anyway.
_PRODUCT_DTYPES = (np.float32, np.int32, np.float64)
# Training-row types of the compiled re-check; queries are always read as float64.
_TRAIN_DTYPES = (np.uint8, np.float32, np.float64)


def _rows_of(array, dtypes) -> np.ndarray:
    """``array`` C-contiguous in its own dtype if the kernel takes it, else as float64."""
    array = np.asarray(array)
    dtype = array.dtype if array.dtype in dtypes else np.float64
    return np.ascontiguousarray(array, dtype=dtype)


def scan_products(products, offsets, scale, first_index, best_e, best_i):
    """Fold one tile of float32 products into running top-k lists of estimates.

    The estimate for tile row ``r`` and column ``c`` is ``offsets[c] + scale * products[r, c]``
    in float64 (``||y||^2 - 2 x.y`` for Euclidean, ``-x.y`` for cosine); its training index is
    ``first_index + c``. Most rows of a tile hold nothing better than the current worst kept
    estimate: a vectorised count over the row, then over 64-column chunks, skips them without
    a branch per element. ``best_e`` / ``best_i`` (C-contiguous float64 / int64, one row per
    tile row) are updated in place. Releases the GIL so workers run tiles side by side.
    """
    products = np.asarray(products)
    if (
        products.dtype not in _PRODUCT_DTYPES
        or products.ndim != 2
        or (products.shape[1] > 1 and products.strides[1] != products.itemsize)
        or products.strides[0] < 0
    ):
        # Rows may be strided (column slices of a larger tile); columns must be adjacent.
        products = _rows_of(products, _PRODUCT_DTYPES)
    _candidates.scan_products(
        products,
        np.ascontiguousarray(offsets, dtype=np.float64),
        float(scale),
        int(first_index),
        best_e,
        best_i,
    )


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


def recheck_candidates(
    kind, queries, train, cand_e, cand_i, limits, k, p, query_norms, train_norms
):
    """Exact top-k among the candidates whose estimate is at most ``limits[row]``.

    ``cand_e`` / ``cand_i`` hold each query's candidates sorted by estimate. Distances come
    from ``lp.hpp``'s ``reduced_distance`` (bit-identical to the reference), so ties are
    settled exactly as the reference settles them. ``query_norms`` / ``train_norms`` are the
    rows' Euclidean norms for cosine (zeros replaced by 1) and may be empty otherwise.
    Parallel over queries. Returns ``(distances, indices)``, ``(n_queries, k)``.
    """
    queries = np.ascontiguousarray(queries, dtype=np.float64)
    best_d = np.full((queries.shape[0], k), np.inf)
    best_i = np.full((queries.shape[0], k), np.iinfo(np.int64).max)
    _candidates.recheck_candidates(
        int(kind),
        queries,
        _rows_of(train, _TRAIN_DTYPES),
        np.ascontiguousarray(cand_e, dtype=np.float64),
        np.ascontiguousarray(cand_i, dtype=np.int64),
        np.ascontiguousarray(limits, dtype=np.float64),
        2.0 if p is None else float(p),
        np.ascontiguousarray(query_norms, dtype=np.float64),
        np.ascontiguousarray(train_norms, dtype=np.float64),
        best_d,
        best_i,
        get_num_threads(),
    )
    return best_d, best_i


def scan_within(products, offsets, scale, limits, capacity=1 << 16):
    """Every ``(row, column)`` of a tile whose estimate is at most ``limits[row]``.

    The estimate is that of :func:`scan_products` (``offsets[c] + scale * products[r, c]`` in
    float64, computed the same way), so a bound on its error carries over. With float64
    ``products``, zero offsets and ``scale=1`` it selects the entries of a distance block at
    most the row's limit. Returns ``(rows, cols)`` (int64, row-major order); the compiled scan
    fills buffers of ``capacity`` pairs and runs again with larger ones when they overflow.
    NumPy twin: :func:`scan_within_numpy`.
    """
    products = np.asarray(products)
    if (
        products.dtype not in _PRODUCT_DTYPES
        or products.ndim != 2
        or (products.shape[1] > 1 and products.strides[1] != products.itemsize)
        or products.strides[0] < 0
    ):
        products = _rows_of(products, _PRODUCT_DTYPES)
    offsets = np.ascontiguousarray(offsets, dtype=np.float64)
    limits = np.ascontiguousarray(limits, dtype=np.float64)
    while True:
        rows = np.empty(capacity, dtype=np.int64)
        cols = np.empty(capacity, dtype=np.int64)
        found = _candidates.scan_within(products, offsets, float(scale), limits, rows, cols)
        if found <= capacity:
            return rows[:found], cols[:found]
        capacity = found


def scan_within_numpy(products, offsets, scale, limits):
    """NumPy twin of :func:`scan_within`."""
    estimates = offsets[None, :] + scale * products.astype(np.float64)
    rows, cols = np.nonzero(estimates <= limits[: len(products), None])
    return rows.astype(np.int64), cols.astype(np.int64)


def pair_distances(kind, queries, train, rows, cols, p, query_norms, train_norms):
    """Exact reduced distances of the pairs ``(queries[rows[i]], train[cols[i]])``.

    The distances of :func:`recheck_candidates` (``lp.hpp``, bit-identical to the reference;
    Minkowski: libm estimates), for any list of pairs. Norms as there. Parallel over pairs.
    NumPy twin: :func:`knnvision.search.kernels.lp.reduced_distance_numpy` per pair.
    """
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    out = np.empty(len(rows))
    _candidates.pair_distances(
        int(kind),
        np.ascontiguousarray(queries, dtype=np.float64),
        _rows_of(train, _TRAIN_DTYPES),
        rows,
        np.ascontiguousarray(cols, dtype=np.int64),
        2.0 if p is None else float(p),
        np.ascontiguousarray(query_norms, dtype=np.float64),
        np.ascontiguousarray(train_norms, dtype=np.float64),
        out,
        get_num_threads(),
    )
    return out


def distance_block(kind, queries, train, p, query_norms, train_norms):
    """The ``(len(queries), len(train))`` block of :func:`pair_distances` of every pair."""
    queries = np.ascontiguousarray(queries, dtype=np.float64)
    out = np.empty((len(queries), len(train)))
    _candidates.distance_block(
        int(kind),
        queries,
        _rows_of(train, _TRAIN_DTYPES),
        2.0 if p is None else float(p),
        np.ascontiguousarray(query_norms, dtype=np.float64),
        np.ascontiguousarray(train_norms, dtype=np.float64),
        out,
        get_num_threads(),
    )
    return out
