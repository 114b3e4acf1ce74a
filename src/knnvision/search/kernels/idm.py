"""The image distortion model (IDM): a distance between images that forgives small local shifts.

Every pixel of the query is matched to the best-fitting pixel of the reference image within
``warp`` rows and columns, comparing the *local context* of each: the patch of vertical and
horizontal Sobel gradients (radius ``context``) around it (Keysers, Deselaers, Gollan and Ney,
"Deformation models for image recognition", IEEE PAMI 2007). :func:`idm_distance` measures one
pair; :func:`idm_rerank` measures each query against its candidate training rows, in parallel
over queries, and abandons a candidate once it can no longer be among the ``k_keep`` nearest.
:func:`grid_idm_pairs` is the same matching one level up, on grids of feature blocks (such as
the blocks of gradient histograms) instead of pixels; :func:`grid_idm_to_candidates` applies
it to each query's candidates, computing each candidate's grid once.
:class:`knnvision.neighbors.rerank.RerankKNNClassifier` re-ranks search candidates with them.

The kernels are compiled (``_idm.cpp``); each sum is added in the order written there, so
the distances are the same on every CPU code path. NumPy twins: :func:`sobel_gradients_numpy`,
:func:`context_features_numpy`, :func:`idm_distance_numpy`, :func:`grid_idm_numpy`.
"""

from __future__ import annotations

import numpy as np

from ..threads import get_num_threads
from . import _idm

# Pixel types the compiled kernels read as they are; other images are widened to float64,
# which is how every pixel is read anyway.
_PIXEL_DTYPES = (np.uint8, np.float32, np.float64)


def _pixels(images) -> np.ndarray:
    """``images`` C-contiguous in their own dtype if the kernels take it, else as float64."""
    images = np.asarray(images)
    dtype = images.dtype if images.dtype in _PIXEL_DTYPES else np.float64
    return np.ascontiguousarray(images, dtype=dtype)


def context_features(image, height, width, radius):
    """Gradient contexts ``(height, width, 2 (2 radius + 1)^2)`` of one flat image.

    ``out[i, j]`` holds the ``(2 radius + 1)^2`` vertical then horizontal Sobel values
    (divided by 8) around pixel ``(i, j)``, zeros outside the image.
    """
    side = 2 * radius + 1
    out = np.empty((height, width, 2 * side * side))
    _idm.context_features(_pixels(image), height, width, radius, out)
    return out


def idm_distance(query, reference, height, width, warp, context):
    """Squared IDM distance between two flat ``height x width`` images.

    Each query pixel is matched to the reference pixel within ``warp`` rows and columns whose
    gradient context (radius ``context``) differs least; the distance is the sum over query
    pixels of those smallest squared context differences.
    """
    return _idm.idm_distance(_pixels(query), _pixels(reference), height, width, warp, context)


def idm_rerank(
    queries, train, candidates, height, width, warp, context, k_keep, pixel_weights=None
):
    """Squared IDM distances from each query to its candidate training rows.

    Parallel over queries; releases the GIL.

    Parameters
    ----------
    queries : ndarray (n_queries, height * width)
    train : ndarray (n_train, height * width)
    candidates : int64 ndarray (n_queries, n_candidates)
        Training-row indices to measure for each query.
    k_keep : int
        Only the ``k_keep`` smallest distances of each query are needed: a candidate whose
        running total exceeds the ``k_keep``-th smallest complete distance so far is
        abandoned and reported as ``inf``. Pass ``n_candidates`` to measure every one.
    pixel_weights : array-like of ``height * width`` non-negative floats, default=None
        Each query pixel's least cost is multiplied by its weight before the costs are added
        (row-major); ``None`` weighs every pixel 1.

    Returns
    -------
    ndarray of float64 (n_queries, n_candidates)
        Exact squared IDM distances; ``inf`` for abandoned candidates, which are never among
        the ``k_keep`` smallest (ties included).
    """
    candidates = np.ascontiguousarray(candidates, dtype=np.int64)
    result = np.empty(candidates.shape)
    _idm.idm_rerank(
        _pixels(queries),
        _pixels(train),
        candidates,
        height,
        width,
        warp,
        context,
        k_keep,
        _weights_or_ones(pixel_weights, height * width),
        result,
        get_num_threads(),
    )
    return result


def grid_idm_pairs(
    query_grids, ref_grids, query_rows, ref_rows, blocks, warp=1, block_weights=None
):
    """IDM distances between pairs of feature grids.

    Each row of ``query_grids`` and ``ref_grids`` is a grid of ``blocks = (blocks_y,
    blocks_x)`` blocks in row-major order, each block the same number of features. Pair ``p``
    compares query grid ``query_rows[p]`` with reference grid ``ref_rows[p]``: every query
    block is matched to the reference block within ``warp`` blocks (inside the grid) whose
    features differ least, and the distance is the sum over query blocks of those smallest
    squared differences (float64), each times its entry of ``block_weights`` (one per block,
    row-major; ``None``: all 1). Parallel over pairs; releases the GIL.
    """
    query_grids, ref_grids = np.asarray(query_grids), np.asarray(ref_grids)
    weights = _weights_or_ones(block_weights, blocks[0] * blocks[1])
    dtype = np.float32 if query_grids.dtype == ref_grids.dtype == np.float32 else np.float64
    result = np.empty(len(query_rows))
    _idm.grid_idm_pairs(
        np.ascontiguousarray(query_grids, dtype=dtype),
        np.ascontiguousarray(ref_grids, dtype=dtype),
        np.ascontiguousarray(query_rows, dtype=np.int64),
        np.ascontiguousarray(ref_rows, dtype=np.int64),
        blocks[0],
        blocks[1],
        warp,
        weights,
        result,
        get_num_threads(),
    )
    return result


def _weights_or_ones(weights, count) -> np.ndarray:
    """The kernels' weights: ``weights`` as flat C-contiguous float64, or ``count`` ones for
    ``None`` (a weight of 1 leaves a cost's bits as they are)."""
    if weights is None:
        return np.ones(count)
    return np.ascontiguousarray(weights, dtype=np.float64).ravel()


def grid_idm_to_candidates(
    query_grids,
    candidate_grids,
    candidates,
    blocks,
    warp=1,
    rows_at_once=4096,
    on_slice=None,
    block_weights=None,
):
    """:func:`grid_idm_pairs` from each query grid to each of its candidates.

    ``candidates`` ``(n_queries, n_candidates)`` holds training-row indices;
    ``candidate_grids(rows)`` returns the grids of the sorted training rows ``rows``. It is
    called for slices of at most ``rows_at_once`` of the distinct candidates, so each grid is
    computed once and only a slice is held at a time; every pair whose candidate is in the
    slice is measured then, and ``on_slice(n_pairs)`` is called after each.
    ``block_weights`` as for :func:`grid_idm_pairs`. Returns float64 ``(n_queries,
    n_candidates)``.
    """
    candidates = np.asarray(candidates)
    rows, positions = np.unique(candidates, return_inverse=True)
    pair_query = np.repeat(np.arange(len(candidates)), candidates.shape[1])
    pair_candidate = positions.ravel()
    by_candidate = np.argsort(pair_candidate, kind="stable")
    bounds = np.searchsorted(
        pair_candidate[by_candidate], np.arange(0, len(rows) + rows_at_once, rows_at_once)
    )
    squared = np.empty(len(pair_candidate))
    for chunk, start in enumerate(range(0, len(rows), rows_at_once)):
        grids = candidate_grids(rows[start : start + rows_at_once])
        pairs = by_candidate[bounds[chunk] : bounds[chunk + 1]]
        squared[pairs] = grid_idm_pairs(
            query_grids,
            grids,
            pair_query[pairs],
            pair_candidate[pairs] - start,
            blocks,
            warp,
            block_weights,
        )
        if on_slice is not None:
            on_slice(len(pairs))
    return squared.reshape(candidates.shape)


# --- NumPy twins --------------------------------------------------------------------------


def sobel_gradients_numpy(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertical and horizontal Sobel derivatives (divided by 8) of a 2-D image, zeros outside."""
    padded = np.pad(np.asarray(image, dtype=np.float64), 1)
    smooth = np.array([1.0, 2.0, 1.0])
    height, width = image.shape

    def window(a, b):
        return padded[1 + a : 1 + a + height, 1 + b : 1 + b + width]

    gy = sum(a * smooth[b + 1] * window(a, b) for a in (-1, 1) for b in (-1, 0, 1)) / 8.0
    gx = sum(b * smooth[a + 1] * window(a, b) for a in (-1, 0, 1) for b in (-1, 1)) / 8.0
    return gy, gx


def context_features_numpy(image: np.ndarray, radius: int) -> np.ndarray:
    """Twin of :func:`context_features` for a 2-D image."""
    gy, gx = sobel_gradients_numpy(image)
    height, width = image.shape
    side = 2 * radius + 1
    parts = []
    for gradient in (gy, gx):
        padded = np.pad(gradient, radius)
        parts += [padded[a : a + height, b : b + width] for a in range(side) for b in range(side)]
    return np.stack(parts, axis=-1)


def idm_distance_numpy(
    query: np.ndarray, reference: np.ndarray, warp: int, context: int, pixel_weights=None
) -> float:
    """Twin of :func:`idm_distance` (and of one pair of :func:`idm_rerank` with
    ``pixel_weights``, shaped like the images or flat) for two 2-D images of the same shape."""
    query_ctx = context_features_numpy(query, context)
    ref_ctx = context_features_numpy(reference, context)
    height, width = query.shape
    best = np.full((height, width), np.inf)
    for di in range(-warp, warp + 1):
        for dj in range(-warp, warp + 1):
            rows = np.arange(height) + di
            cols = np.arange(width) + dj
            valid = ((rows >= 0) & (rows < height))[:, None] & ((cols >= 0) & (cols < width))[
                None, :
            ]
            moved = ref_ctx[np.clip(rows, 0, height - 1)][:, np.clip(cols, 0, width - 1)]
            cost = ((query_ctx - moved) ** 2).sum(axis=-1)
            best = np.minimum(best, np.where(valid, cost, np.inf))
    if pixel_weights is not None:
        best = best * np.asarray(pixel_weights, dtype=np.float64).reshape(best.shape)
    return float(best.sum())


def grid_idm_numpy(
    query_grid: np.ndarray, ref_grid: np.ndarray, warp: int = 1, block_weights=None
) -> float:
    """Twin of :func:`grid_idm_pairs` for one pair of grids ``(blocks_y, blocks_x, features)``;
    ``block_weights`` ``(blocks_y, blocks_x)`` or ``None`` (all 1)."""
    query_grid = np.asarray(query_grid, dtype=np.float64)
    ref_grid = np.asarray(ref_grid, dtype=np.float64)
    blocks_y, blocks_x, _ = query_grid.shape
    best = np.full((blocks_y, blocks_x), np.inf)
    padded = np.pad(ref_grid, ((warp, warp), (warp, warp), (0, 0)), constant_values=np.nan)
    for dy in range(2 * warp + 1):
        for dx in range(2 * warp + 1):
            moved = padded[dy : dy + blocks_y, dx : dx + blocks_x]
            cost = ((query_grid - moved) ** 2).sum(axis=-1)
            best = np.fmin(best, cost)  # NaN (outside the grid) never wins
    if block_weights is not None:
        best = best * np.asarray(block_weights, dtype=np.float64).reshape(best.shape)
    return float(best.sum())
