"""Search over distances the caller has already computed (``metric="precomputed"``).

The training "rows" are the ``(n_samples, n_samples)`` distances between the training
samples, and a query is a row of distances to every training sample. Both may be dense, or a
SciPy sparse neighbours graph as scikit-learn accepts it: a row's *stored* entries are that
sample's candidate neighbours (an explicit zero is a distance of 0), absent entries are not
neighbours at all. Nothing is measured here, only selected: the ``k`` smallest distances of
each row, equal distances to the smaller training index.

:func:`smallest_k` and :func:`within_radius` select from any dense block of distances; the
callable and SciPy-metric indices (:mod:`.callable_metric`) reuse them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from .metrics import Metric
from .radius import RadiusNeighbors, check_radius, sort_rows
from .recheck import check_k, no_neighbours, query_excluding_self

# Rows of a dense query block: at most this many distances are selected from at a time.
_BLOCK_ELEMENTS = 2**22

PRECOMPUTED = Metric("precomputed")


def smallest_k(
    distances: np.ndarray, k: int, first_index: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest entries of each row of a dense block, by (distance, column).

    Returns ``(distances, indices)`` of shape ``(n_rows, k)``, sorted; ``indices`` are the
    columns plus ``first_index``. ``k`` must not exceed the number of columns.
    """
    n_rows, n_cols = distances.shape
    if n_rows == 0:
        return no_neighbours(k)
    if k < n_cols:
        # Everything up to the k-th smallest value (ties at it included), then the exact order.
        kth = np.partition(distances, k - 1, axis=1)[:, k - 1 : k]
        rows, cols = np.nonzero(distances <= kth)
    else:
        rows, cols = np.divmod(np.arange(n_rows * n_cols), n_cols)
    values = distances[rows, cols]
    order = np.lexsort((cols, values, rows))
    starts = np.searchsorted(rows[order], np.arange(n_rows))
    take = order[starts[:, None] + np.arange(k)]
    return values[take].astype(np.float64, copy=False), cols[take].astype(np.int64) + first_index


def within_radius(distances: np.ndarray, radius: float, first_index: int = 0) -> RadiusNeighbors:
    """Every entry of a dense block at most ``radius``, each row sorted by (distance, column)."""
    rows, cols = np.nonzero(distances <= radius)
    indptr = np.zeros(len(distances) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=len(distances)), out=indptr[1:])
    return sort_rows(
        indptr, cols.astype(np.int64) + first_index, distances[rows, cols].astype(np.float64)
    )


class PrecomputedIndex:
    """Top-k and radius selection from precomputed distances.

    Parameters
    ----------
    train : ndarray or SciPy sparse matrix of shape (n_samples, n_samples)
        Distances between the training samples (non-negative, no NaN): dense, or a sparse
        neighbours graph whose stored entries are each sample's candidate neighbours. Kept
        by reference (a sparse graph in CSR form).

    Notes
    -----
    Equal distances go to the smaller training index, where scikit-learn's order among them
    is arbitrary. With a sparse graph every query row needs at least ``k`` stored entries.
    """

    algorithm = "brute"
    metric = PRECOMPUTED

    def __init__(self, train):
        train = _check_distances(train, "The precomputed training distances")
        if train.shape[0] != train.shape[1]:
            raise ValueError(
                f"metric='precomputed' needs the square (n_samples, n_samples) matrix of "
                f"distances between the training samples, got shape {train.shape}."
            )
        self.train = train

    @property
    def n_samples(self) -> int:
        return self.train.shape[0]

    def query(self, queries, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, indices)`` of the ``k`` smallest distances of each query row."""
        check_k(k, self.n_samples)
        queries = self._check_queries(queries)
        if scipy.sparse.issparse(queries):
            return _graph_smallest_k(queries, k)
        return _dense_blocks_smallest_k(queries, k)

    def query_train(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest *other* samples of every training sample (itself excluded).

        For a sparse graph the diagonal entries are dropped and each row then needs ``k``
        stored entries; dense matrices follow :func:`.recheck.query_excluding_self`.
        """
        if not scipy.sparse.issparse(self.train):
            return query_excluding_self(self, k)
        check_k(k + 1, self.n_samples)
        graph = self.train.tocoo()
        off_diagonal = graph.row != graph.col
        others = scipy.sparse.csr_matrix(
            (graph.data[off_diagonal], (graph.row[off_diagonal], graph.col[off_diagonal])),
            shape=graph.shape,
        )
        return _graph_smallest_k(others, k)

    def query_radius(self, queries, radius: float) -> RadiusNeighbors:
        """Every training sample within ``radius`` of each query row (stored entries only,
        for a sparse graph), sorted nearest first."""
        radius = check_radius(radius)
        queries = self._check_queries(queries)
        if scipy.sparse.issparse(queries):
            rows = np.repeat(np.arange(queries.shape[0]), np.diff(queries.indptr))
            keep = queries.data <= radius
            indptr = np.zeros(queries.shape[0] + 1, dtype=np.int64)
            np.cumsum(np.bincount(rows[keep], minlength=queries.shape[0]), out=indptr[1:])
            return sort_rows(
                indptr,
                queries.indices[keep].astype(np.int64),
                queries.data[keep].astype(np.float64),
            )
        block = _query_block_rows(self.n_samples)
        return RadiusNeighbors.concatenate(
            [
                within_radius(queries[q0 : q0 + block], radius)
                for q0 in range(0, len(queries), block)
            ]
        )

    def _check_queries(self, queries):
        queries = _check_distances(queries, "Precomputed query distances")
        if queries.shape[1] != self.n_samples:
            raise ValueError(
                f"Precomputed query distances have {queries.shape[1]} columns but the index "
                f"holds {self.n_samples} training samples; pass the (n_queries, "
                f"{self.n_samples}) distances to the training samples."
            )
        return queries


def _check_distances(distances, what: str):
    """A 2-D float matrix of distances (CSR if sparse) with no NaN and no negative value."""
    if scipy.sparse.issparse(distances):
        distances = scipy.sparse.csr_matrix(distances)  # explicit zeros are kept
        values = distances.data
    else:
        distances = np.asarray(distances)
        values = distances
        if distances.ndim != 2:
            raise ValueError(f"{what} must be a 2-D matrix, got {distances.ndim} dimension(s).")
    if not np.issubdtype(values.dtype, np.number) or np.iscomplexobj(values):
        raise ValueError(f"{what} must be real numbers, got dtype {values.dtype}.")
    if np.isnan(values).any():
        raise ValueError(f"{what} contain NaN; every distance must be a number >= 0.")
    if values.size and values.min() < 0:
        raise ValueError(f"{what} contain negative values; distances must be >= 0.")
    return distances


def _query_block_rows(n_samples: int) -> int:
    return max(1, _BLOCK_ELEMENTS // max(1, n_samples))


def _dense_blocks_smallest_k(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    distances = np.empty((len(queries), k))
    indices = np.empty((len(queries), k), dtype=np.int64)
    block = _query_block_rows(queries.shape[1])
    for q0 in range(0, len(queries), block):
        distances[q0 : q0 + block], indices[q0 : q0 + block] = smallest_k(
            queries[q0 : q0 + block], k
        )
    return distances, indices


def _graph_smallest_k(graph: scipy.sparse.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest stored entries of each row of a CSR graph, by (distance, column)."""
    counts = np.diff(graph.indptr)
    short = np.flatnonzero(counts < k)
    if len(short):
        raise ValueError(
            f"k={k} neighbours requested but row {short[0]} of the precomputed graph stores "
            f"only {counts[short[0]]} distances ({len(short)} row(s) store fewer than {k}); "
            f"store at least {k} neighbours per sample or use a smaller k."
        )
    rows = np.repeat(np.arange(graph.shape[0]), counts)
    order = np.lexsort((graph.indices, graph.data, rows))
    take = order[graph.indptr[:-1, None] + np.arange(k)]
    return graph.data[take].astype(np.float64), graph.indices[take].astype(np.int64)
