"""uint8 Euclidean and cosine in bulk: exact integer dot products with AVX-512 VNNI.

``vpdpbusd`` multiplies 64 unsigned bytes by 64 signed bytes and adds each group of four
products into a 32-bit lane: one instruction per 64 multiply-adds, exact. Training rows are
stored shifted to signed bytes, ``y - 128``, so ``x . y = x . (y - 128) + 128 sum(x)``, and
``||x - y||^2 = ||x||^2 + ||y||^2 - 2 x . y`` holds exactly in integers.

Euclidean and cosine top-k (:func:`u8_tiles_topk`, :func:`u8_tiles_cosine_topk`) read the
training rows in tiles of 16 rows interleaved by 4-byte groups (:func:`tile_rows`): one
``vpdpbusd`` gives 16 training rows' products with a broadcast group of one query, so 6
queries x 64 training rows keep 24 accumulators in registers, need no sums across lanes,
and each block of 6 queries skips the 4-byte groups blank in all of them (61% of MNIST's).
Radius searches, and rows wider than ``TILE_MAX_WIDTH`` (where int32 lanes could overflow),
read row-major shifted rows
(:func:`u8_dot_topk`, :func:`u8_dot_cosine_topk`, :func:`u8_dot_radius`): 4 x 4 blocks, 16
accumulators summed across lanes at the end, skipping 64-byte chunks blank in four queries.
On MNIST (60,000 x 10,000, 2 shared threads) the tiles took 0.31-0.43x the row-major
kernel's time for the same lists, for Euclidean and for cosine (``benchmarks/vnni_peak.py``
gives the rate against the machine's ``vpdpbusd`` peak).

The loop is compiled C++ (``_dot_u8.cpp``). Its VNNI path runs when the CPU has AVX-512
VNNI and ``KNNVISION_CPU`` does not ask for less (``HAVE_VNNI``, which the brute force
checks before choosing this engine); elsewhere plain loops give the same exact answer,
slower than :mod:`.integer`'s.
Cosine keeps float64 estimates from the same exact products.
Blank groups or chunks add nothing, so the loops skip them, and the queries run sorted by
their blank groups or chunks (MNIST's blank borders).
NumPy twins: :func:`u8_dot_topk_numpy`, :func:`u8_dot_cosine_topk_numpy`.
"""

from __future__ import annotations

import numpy as np

from ..threads import get_num_threads
from . import _dot_u8

DOT_ROWS = _dot_u8.DOT_ROWS  # query rows per block
DOT_COLS = _dot_u8.DOT_COLS  # training rows per block
DOT_WIDTH = _dot_u8.DOT_WIDTH  # bytes per chunk

TILE_ROWS = _dot_u8.TILE_ROWS  # training rows per tile of u8_tiles_topk
PANEL_TILES = _dot_u8.PANEL_TILES  # tiles per register block
PANEL_QUERIES = _dot_u8.PANEL_QUERIES  # queries per register block
TILE_MAX_WIDTH = _dot_u8.TILE_MAX_WIDTH  # widest rows u8_tiles_topk takes

# Whether u8_dot_topk takes the VNNI path (the CPU has it, KNNVISION_CPU allows it).
HAVE_VNNI = bool(_dot_u8.vnni_path())


def u8_dot_topk(queries, n_queries, train, n_train, train_sq, k, q_block):
    """Exact k nearest rows by squared Euclidean distance, via integer dot products.

    ``queries`` (uint8) and ``train`` (int8, ``y - 128``) are padded to multiples of
    ``DOT_WIDTH`` columns and 4 rows; only the first ``n_queries`` / ``n_train`` rows
    count. ``train_sq`` holds ``||y||^2`` of the real training rows. Parallel over blocks
    of ``q_block`` queries (a multiple of 4); training rows are visited in index order and
    only a strictly smaller distance displaces, so ties go to the smaller index.
    Returns exact squared distances (float64) and indices.
    """
    return _run_topk(_dot_u8.u8_dot_topk, queries, n_queries, train, n_train, train_sq, k, q_block)


def u8_dot_cosine_topk(queries, n_queries, train, n_train, train_sq, k, q_block):
    """The ``k`` smallest cosine estimates per query, via exact integer dot products.

    Rows, norms and blocks as for :func:`u8_dot_topk`. The estimate of a pair is
    ``1 - ((x.y) / ||y||) / ||x||`` in float64, from the exact integer ``x.y`` and correctly
    rounded ``1 / sqrt`` of the exact squared norms (zero rows count as norm 1, so their
    estimate is exactly 1, the reference's distance): within ``8.1 * 2^-53`` of ``1 - cos``.
    Ties go to the smaller index. Returns the estimates (float64) and indices, nearest first.
    NumPy twin: :func:`u8_dot_cosine_topk_numpy`.
    """
    return _run_topk(
        _dot_u8.u8_dot_cosine_topk, queries, n_queries, train, n_train, train_sq, k, q_block
    )


def _run_topk(kernel, queries, n_queries, train, n_train, train_stats, k, q_block, tiles=False):
    """``kernel``'s top-k lists, the queries run in :func:`_in_blank_order` (4-byte groups in
    blocks of ``PANEL_QUERIES`` for the tile kernels, else chunks in blocks of ``DOT_ROWS``)."""
    span, block_rows = (4, PANEL_QUERIES) if tiles else (DOT_WIDTH, DOT_ROWS)
    order, queries = _in_blank_order(queries, n_queries, span, block_rows)
    best_d, best_i = _empty_lists(n_queries, k)
    kernel(
        queries,
        int(n_queries),
        np.ascontiguousarray(train),
        int(n_train),
        np.ascontiguousarray(train_stats),
        int(q_block),
        best_d,
        best_i,
        get_num_threads(),
    )
    return _in_caller_order(order, best_d, best_i)


def u8_tiles_topk(queries, n_queries, tiles, n_train, train_sq, k, q_block):
    """:func:`u8_dot_topk` on training tiles (:func:`tile_rows`), with VNNI only: the same
    exact squared distances and indices, ties to the smaller index.

    ``queries`` (uint8) are padded to ``DOT_WIDTH``-multiple columns and ``PANEL_QUERIES``-
    multiple rows, ``train_sq`` is :func:`tile_rows`' int32 norms, ``q_block`` a multiple
    of ``PANEL_QUERIES``. The queries run in :func:`_in_blank_order`.
    """
    return _run_topk(
        _dot_u8.u8_tiles_topk, queries, n_queries, tiles, n_train, train_sq, k, q_block, tiles=True
    )


def u8_tiles_cosine_topk(queries, n_queries, tiles, n_train, inv_train, k, q_block):
    """:func:`u8_dot_cosine_topk` on training tiles (VNNI only): the same float64 estimates
    and indices. Queries, tiles and blocks as for :func:`u8_tiles_topk`; ``inv_train`` is
    :func:`tile_inverse_norms`' ``1 / ||y||``."""
    return _run_topk(
        _dot_u8.u8_tiles_cosine_topk,
        queries,
        n_queries,
        tiles,
        n_train,
        inv_train,
        k,
        q_block,
        tiles=True,
    )


def u8_tiles_quantized_topk(codes, n_queries, train, n_train, k, q_block):
    """Lower bounds of the ``k`` smallest Euclidean distances of float rows, per query, from
    their bytes (:func:`quantize_rows`): ``codes`` the queries' ``(bytes, scale, norm_sq,
    residual, _)``, ``train`` the training rows' ``(tiles, scale, norm_sq, residual,
    col_sum)``. Every returned value is at most the distance of its row, rounding included;
    ties go to the smaller index. Returns ``(bounds, indices)``, smallest first."""
    queries, q_scale, q_norm_sq, q_residual, _ = codes
    tiles, t_scale, t_norm_sq, t_residual, t_col_sum = train
    order, queries = _in_blank_order(queries, n_queries, 4, PANEL_QUERIES)
    if order is not None:  # the row statistics follow their rows
        q_scale, q_norm_sq, q_residual = (
            np.concatenate([column[order], column[n_queries:]])
            for column in (q_scale, q_norm_sq, q_residual)
        )
    best_d, best_i = _empty_lists(n_queries, k)
    _dot_u8.u8_tiles_quantized_topk(
        queries,
        int(n_queries),
        tiles,
        int(n_train),
        t_scale,
        t_norm_sq,
        t_residual,
        t_col_sum,
        q_scale,
        q_norm_sq,
        q_residual,
        int(q_block),
        best_d,
        best_i,
        get_num_threads(),
    )
    return _in_caller_order(order, best_d, best_i)


def quantize_rows(rows, as_queries):
    """Float rows as bytes with a scale per row, for :func:`u8_tiles_quantized_topk`.

    Row ``x`` gets ``s = max |x| / 127`` (1 for a zero row) and ``q = round(x / s)`` in
    ``[-127, 127]``; ``x^ = s q``. Returns ``(codes, scale, norm_sq, residual, col_sum)``:
    ``codes`` the bytes ``q + 128`` (queries: uint8, rows padded to ``PANEL_QUERIES``) or the
    tiles of ``q`` (training, :func:`tile_rows`), ``norm_sq`` = ``s^2 ||q||^2``,
    ``residual`` >= ``||x - x^||`` (see below), ``col_sum`` = ``128 sum q`` (training only,
    int32, else None), all padded like the codes (training padding: scale 0, norm_sq +inf,
    so no padded row is ever a candidate; query padding: scale 1, zeros).

    Compiled (``_dot_u8.quantize_rows``), parallel over rows. The residual is ``s ||e||``
    with ``e = fl(x / s) - q`` (exact by Sterbenz's lemma), plus
    ``127 u`` per value for the rounding of ``x / s``, the rounding of the norm
    (``(d + 8) u``, relative) and of the product with ``s`` (``2^-1070`` absolute, for
    subnormal scales); ``d 2^-1000`` under the root stands for squares that underflow. A
    zero row's residual is 0.
    """
    if rows.dtype not in (np.float32, np.float64):
        rows = rows.astype(np.float64)
    rows = np.ascontiguousarray(rows)
    n_rows, n_cols = rows.shape
    width = max(DOT_WIDTH, -(-n_cols // DOT_WIDTH) * DOT_WIDTH)
    multiple = PANEL_QUERIES if as_queries else PANEL_TILES * TILE_ROWS
    n_padded = -(-n_rows // multiple) * multiple
    if as_queries:
        codes = np.zeros((n_padded, width), np.uint8)
        tiles = np.zeros((0, 0), np.int8)
        col_sum = np.zeros(0, np.int32)
    else:
        codes = np.zeros((0, 0), np.uint8)
        tiles = np.zeros((n_padded // TILE_ROWS, TILE_ROWS * width), np.int8)
        col_sum = np.zeros(n_padded, np.int32)
    scale = np.full(n_padded, 1.0 if as_queries else 0.0)
    norm_sq = np.full(n_padded, 0.0 if as_queries else np.inf)
    residual = np.zeros(n_padded)
    _dot_u8.quantize_rows(rows, codes, tiles, scale, norm_sq, residual, col_sum, get_num_threads())
    if as_queries:
        return codes, scale, norm_sq, residual, None
    return tiles, scale, norm_sq, residual, col_sum


def tile_inverse_norms(tile_norms, n_train):
    """``1 / ||y||`` (correctly rounded; 1 for zero rows, as the reference's unit rows) of the
    first ``n_train`` of :func:`tile_rows`' norms, padded with 1 like them."""
    inverse = np.ones(len(tile_norms))
    squared = np.ascontiguousarray(tile_norms[:n_train], dtype=np.int64)
    _dot_u8.inverse_norms(squared, inverse)
    return inverse


def tile_rows(rows, train_sq, shift=128):
    """``(tiles, norms)``: the byte rows ``rows - shift`` (uint8 rows, shift 128; or int8
    rows already shifted, shift 0) as int8 in the layout of :func:`u8_tiles_topk`, and
    ``train_sq`` as int32, padded to whole panels with ``2^31 - 1`` (so no padded row is
    ever below a limit).

    Tile ``t`` is one row of ``TILE_ROWS * width`` bytes (``width``: the columns rounded up
    to ``DOT_WIDTH``): for each 4-byte group ``g``, bytes ``4g .. 4g + 3`` of rows
    ``TILE_ROWS * t`` to ``TILE_ROWS * t + TILE_ROWS - 1`` in turn. Padding is 0.
    """
    tiles = _tiles_of(rows, shift)
    n_rows = rows.shape[0]
    norms = np.full(len(tiles) * TILE_ROWS, np.iinfo(np.int32).max, dtype=np.int32)
    norms[:n_rows] = train_sq[:n_rows]
    return tiles, norms


def _tiles_of(rows, shift):
    """The bytes of ``rows`` less ``shift`` in tiles (see :func:`tile_rows`)."""
    rows = np.ascontiguousarray(rows)
    n_rows, n_cols = rows.shape
    width = max(DOT_WIDTH, -(-n_cols // DOT_WIDTH) * DOT_WIDTH)
    n_tiles = -(-n_rows // (PANEL_TILES * TILE_ROWS)) * PANEL_TILES
    tiles = np.zeros((n_tiles, TILE_ROWS * width), dtype=np.int8)
    _dot_u8.tile_rows(rows.view(np.uint8), int(shift), tiles)
    return tiles


def _in_blank_order(queries, n_queries, span, block_rows):
    """``(order, rows)``: the query rows sorted by which whole ``span``-byte pieces are all
    zero (padded as before), so that blocks of ``block_rows`` queries share blank pieces, which
    the VNNI products skip; ``order`` is None where sorting would change nothing (no VNNI, one
    pattern for all rows, a single block). On MNIST: 4-byte groups of the tiles (blocks of
    6), 39% of a block's groups stay sorted, 49% in the caller's order; 64-byte chunks of the
    row-major kernels (blocks of 4), 28% of a block's chunks are skipped sorted, 19%
    unsorted."""
    queries = np.ascontiguousarray(queries)
    whole = queries.shape[1] // span * span
    if not HAVE_VNNI or n_queries < 2 * block_rows or whole == 0:
        return None, queries
    nonzero = np.empty((n_queries, whole // span), dtype=bool)
    for r0 in range(0, n_queries, 4096):  # no wide temporary copy of the rows
        block = queries[r0 : min(r0 + 4096, n_queries), :whole]
        nonzero[r0 : r0 + len(block)] = block.reshape(len(block), -1, span).any(axis=2)
    if (nonzero == nonzero[0]).all():  # one pattern (dense rows, bytes + 128): nothing to sort
        return None, queries
    keys = np.packbits(nonzero, axis=1)
    order = np.lexsort(keys.T[::-1])  # stable: equal patterns keep the caller's order
    rows = np.zeros_like(queries)
    np.take(queries, order, axis=0, out=rows[:n_queries])
    return order, rows


def _in_caller_order(order, best_d, best_i):
    """Top-k lists of rows sorted by :func:`_in_blank_order`, back in the caller's order."""
    if order is None:
        return best_d, best_i
    out_d, out_i = np.empty_like(best_d), np.empty_like(best_i)
    out_d[order], out_i[order] = best_d, best_i
    return out_d, out_i


def _empty_lists(n_queries, k):
    """Top-k lists the kernels fill: distances inf, indices int64 max."""
    best_d = np.full((n_queries, k), np.inf)
    best_i = np.full((n_queries, k), np.iinfo(np.int64).max, dtype=np.int64)
    return best_d, best_i


def u8_dot_radius(queries, n_queries, train, n_train, train_sq, limit, q_block, capacity=None):
    """Every (query, training row) pair with squared Euclidean distance at most ``limit``.

    Rows and norms as for :func:`u8_dot_topk`; the distances are exact integers (as float64).
    Returns ``(query rows, training indices, squared distances)``: each query's pairs
    contiguous and sorted by (distance, index), the queries in no particular order. The
    compiled loop fills buffers of ``capacity`` (default: 128 pairs a query) and runs again
    with larger ones when they overflow. NumPy twin: :func:`u8_dot_topk_numpy`'s distances,
    filtered.
    """
    queries = np.ascontiguousarray(queries)
    train = np.ascontiguousarray(train)
    train_sq = np.ascontiguousarray(train_sq, dtype=np.int64)
    if capacity is None:  # room for 128 neighbours a query before a second run
        capacity = max(1 << 16, 128 * int(n_queries))
    while True:
        rows = np.empty(capacity, dtype=np.int64)
        indices = np.empty(capacity, dtype=np.int64)
        squared = np.empty(capacity)
        found = _dot_u8.u8_dot_radius(
            queries,
            int(n_queries),
            train,
            int(n_train),
            train_sq,
            int(q_block),
            float(limit),
            rows,
            indices,
            squared,
            get_num_threads(),
        )
        if found <= capacity:
            return rows[:found], indices[:found], squared[:found]
        capacity = found


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


def squared_norms_u8(rows):
    """Exact ``||row||^2`` of every uint8 row, as int64."""
    rows = np.ascontiguousarray(rows)
    out = np.zeros(rows.shape[0], dtype=np.int64)
    _dot_u8.squared_norms_u8(rows, out)
    return out


def u8_dot_topk_numpy(queries, train, k):
    """NumPy twin of :func:`u8_dot_topk` on unpadded uint8 rows (float64 products are exact
    for uint8 data)."""
    q = queries.astype(np.float64)
    t = train.astype(np.float64)
    d = (q * q).sum(1)[:, None] + (t * t).sum(1)[None, :] - 2.0 * q @ t.T
    order = np.lexsort((np.broadcast_to(np.arange(len(t)), d.shape), d), axis=1)[:, :k]
    return np.take_along_axis(d, order, axis=1), order


def u8_dot_cosine_topk_numpy(queries, train, k):
    """NumPy twin of :func:`u8_dot_cosine_topk` on unpadded uint8 rows: the same float64
    operations in the same order, on exact int64 products."""
    q, t = queries.astype(np.int64), train.astype(np.int64)
    inverse_q, inverse_t = _inverse_norms_numpy(q), _inverse_norms_numpy(t)
    estimate = 1.0 - ((q @ t.T).astype(np.float64) * inverse_t[None, :]) * inverse_q[:, None]
    order = np.argsort(estimate, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(estimate, order, axis=1), order


def _inverse_norms_numpy(rows):
    squared = (rows * rows).sum(axis=1).astype(np.float64)
    inverse = np.ones(len(rows))
    nonzero = squared > 0
    inverse[nonzero] = 1.0 / np.sqrt(squared[nonzero])
    return inverse
