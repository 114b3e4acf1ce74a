"""Turning estimated neighbours into exact ones.

Fast kernels may compute a distance that differs from the reference definition by a
rounding error (Minkowski powers; the float32 matrix product of the brute force). They hand
over more candidates than needed, sorted by estimate; here every candidate whose estimate is
close enough to the k-th one is re-measured with the reference formula and the best ``k`` are
kept with the tie rule. Where the spare candidates might not have been enough, the query is
searched again exactly.
"""

from __future__ import annotations

import numpy as np

from .. import progress
from .metrics import Metric, reduced_distances

# Rows of training data per block when a query falls back to an exact scan.
_FALLBACK_BLOCK = 4096


def check_k(k: int, n_train: int) -> None:
    """Raise ``ValueError`` unless ``1 <= k <= n_train``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer (got {k!r}).")
    if k > n_train:
        raise ValueError(
            f"k={k} neighbours requested but the index holds only {n_train} training rows; "
            "use a smaller k."
        )


def check_query(train: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Validate a request (``k``, the feature count) and return the queries C-ordered."""
    check_k(k, len(train))
    if queries.shape[1] != train.shape[1]:
        raise ValueError(
            f"Queries have {queries.shape[1]} features but the index was built with "
            f"{train.shape[1]}."
        )
    return np.ascontiguousarray(queries)


def no_neighbours(k: int) -> tuple[np.ndarray, np.ndarray]:
    """The answer for zero queries: empty ``(distances, indices)`` with ``k`` columns."""
    return np.empty((0, k)), np.empty((0, k), dtype=np.int64)


def search_in_chunks(engine, queries: np.ndarray, k: int, chunk: int):
    """Run ``engine(query_rows, k) -> (reduced, indices)`` over ``chunk`` queries at a time,
    with a progress bar; returns the reduced distances and indices of all queries."""
    reduced = np.empty((len(queries), k))
    indices = np.empty((len(queries), k), dtype=np.int64)
    with progress.track(total=len(queries), description="searching neighbours") as task:
        for q0 in range(0, len(queries), chunk):
            q1 = min(q0 + chunk, len(queries))
            reduced[q0:q1], indices[q0:q1] = engine(queries[q0:q1], k)
            task.advance(q1 - q0)
    return reduced, indices


def recheck_estimates(
    train: np.ndarray,
    queries: np.ndarray,
    est_reduced: np.ndarray,
    est_indices: np.ndarray,
    k: int,
    metric: Metric,
    factor: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` from candidates sorted by an estimate within ``factor`` of the truth.

    Parameters
    ----------
    train, queries : ndarray
        The rows the estimates were computed between.
    est_reduced, est_indices : ndarray of shape (n_queries, k_keep)
        Candidates per query sorted by estimated reduced distance, ``k_keep >= k``.
    k : int
        Neighbours to return.
    metric : Metric
        The metric; candidates are re-measured with its reference definition.
    factor : float
        A candidate is re-measured when its estimate is at most ``factor`` times the k-th
        estimate; ``factor`` must cover the estimate's relative error both ways.

    Returns
    -------
    reduced, indices : ndarray of shape (n_queries, k)
        Exact reduced distances and indices, ties to the smaller index.
    """
    n_queries, k_keep = est_reduced.shape
    reduced = np.empty((n_queries, k), dtype=np.float64)
    indices = np.empty((n_queries, k), dtype=np.int64)
    for row in range(n_queries):
        keep = est_reduced[row] <= est_reduced[row, k - 1] * factor
        if keep[-1] and k_keep < len(train):
            # Every spare candidate is a near-tie: there may be more beyond them.
            reduced[row], indices[row] = exact_scan(train, queries[row], k, metric)
            continue
        candidates = est_indices[row, keep]
        exact = reduced_distances(queries[row : row + 1], train[candidates], metric)[0]
        order = np.lexsort((candidates, exact))[:k]
        reduced[row], indices[row] = exact[order], candidates[order]
    return reduced, indices


def exact_scan(
    train: np.ndarray, query: np.ndarray, k: int, metric: Metric
) -> tuple[np.ndarray, np.ndarray]:
    """Exact reduced distances and indices of the ``k`` nearest rows of one query."""
    best_reduced = np.empty(0)
    best_indices = np.empty(0, dtype=np.int64)
    for t0 in range(0, len(train), _FALLBACK_BLOCK):
        t1 = min(t0 + _FALLBACK_BLOCK, len(train))
        block = reduced_distances(query[None, :], train[t0:t1], metric)[0]
        all_reduced = np.concatenate([best_reduced, block])
        all_indices = np.concatenate([best_indices, np.arange(t0, t1)])
        order = np.lexsort((all_indices, all_reduced))[:k]
        best_reduced, best_indices = all_reduced[order], all_indices[order]
    return best_reduced, best_indices


def query_excluding_self(index, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other training rows of every training row of ``index``.

    Asks for ``k + 1`` neighbours and drops each row itself. When a row has more than ``k``
    exact duplicates with smaller indices it is not among them, and the ``k`` duplicates are
    the answer: the last column is dropped instead.
    """
    check_k(k + 1, index.train.shape[0])  # shape, not len: the rows may be sparse
    distances, indices = index.query(index.train, k + 1)
    rows = np.arange(len(indices))
    is_self = indices == rows[:, None]
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)
    keep = np.ones_like(is_self)
    keep[rows, drop] = False
    return distances[keep].reshape(-1, k), indices[keep].reshape(-1, k)
