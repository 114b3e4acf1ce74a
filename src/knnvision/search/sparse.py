"""Exact brute force over SciPy sparse rows, without densifying the training set.

* **Euclidean and cosine**: float64 products ``x.y`` of a block of queries with a block of
  training rows (a sparse product for sparse data; BLAS on the block made dense when the rows
  are dense enough for that to be faster) give estimates ``||y||^2 - 2 x.y`` (``-x.y`` on unit
  rows for cosine), kept per query in running top-k lists by the compiled scan. A rigorous
  bound ``B`` on how far an estimate can sit from the reference (rounding of the norms, of the
  ``d``-term products and of the reference itself) then selects every candidate within ``2B``
  of the k-th estimate; only those rows are made dense and measured with the exact float64
  re-check of the dense engines (:func:`.kernels.candidates.recheck_candidates`), so distances
  and ties equal the dense float64 brute force.
* **Every other metric** (and Euclidean with values too large for the bound): a block of
  training rows at a time is made dense and searched by the dense engine
  (:class:`.brute.BruteIndex`); each block's ``k`` best are re-measured exactly on the block
  and the blocks' lists merged by (reduced distance, index).

Radius queries make blocks dense the same way and ask the dense engine for every row within
the radius (:meth:`.brute.BruteIndex.query_radius`).
Memory stays bounded by ``working_memory_mb``: dense blocks are sized from it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from .brute import BruteIndex
from .kernels import candidates as candidate_kernels
from .kernels import metric_kinds, topk
from .metrics import Metric
from .radius import RadiusNeighbors, check_radius, sort_rows
from .recheck import check_k, no_neighbours, query_excluding_self
from .topk import merge_topk

_U64 = 2.0**-53
# Above this the products' squares could overflow or the bound lose meaning: exact blocks.
_PRODUCTS_SAFE_MAX = 2.0**400
# Rows at least this dense (fraction of stored entries, training times queries) are made
# dense per block for a BLAS product; sparser ones use SciPy's sparse product.
_DENSE_PRODUCT_DENSITY = 0.005
# Spare candidates per query beyond k for the re-check.
_SPARE_CANDIDATES = 8


class SparseIndex:
    """Exact brute-force search over the rows of a SciPy sparse matrix.

    Parameters
    ----------
    train : SciPy sparse matrix of shape (n_samples, n_features)
        Training rows (finite values); kept in CSR form (converted once if given otherwise),
        never made dense as a whole.
    metric : Metric
        Resolved metric.
    working_memory_mb : float
        Budget for temporary blocks in MiB.
    """

    algorithm = "brute"

    def __init__(self, train, metric: Metric, working_memory_mb: float):
        if working_memory_mb <= 0:
            raise ValueError(f"working_memory_mb must be positive (got {working_memory_mb}).")
        self.train = scipy.sparse.csr_matrix(train)
        if self.train.dtype.kind not in "biuf":
            raise ValueError(f"Sparse rows must be real numbers, got dtype {self.train.dtype}.")
        self.metric = metric
        self.working_memory_mb = working_memory_mb
        self._kind = metric_kinds.KIND_OF_METRIC[metric.name]
        self._products_prepared: tuple[scipy.sparse.csr_matrix, np.ndarray, float] | None = None
        self._pattern: scipy.sparse.csr_matrix | None = None  # nonzero values as ones

    # -- public ---------------------------------------------------------------------------

    def query(self, queries, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, indices)`` of the ``k`` nearest training rows, nearest first."""
        queries = self._check_queries(queries, k)
        if queries.shape[0] == 0:
            return no_neighbours(k)
        engine = self._query_products if self._use_products(queries) else self._query_blocks
        reduced = np.empty((queries.shape[0], k))
        indices = np.empty((queries.shape[0], k), dtype=np.int64)
        chunk = self._query_chunk_rows()
        for q0 in range(0, queries.shape[0], chunk):
            reduced[q0 : q0 + chunk], indices[q0 : q0 + chunk] = engine(queries[q0 : q0 + chunk], k)
        return self.metric.to_distance(reduced), indices

    def query_train(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest other training rows of every training row (itself excluded)."""
        return query_excluding_self(self, k)

    def query_radius(self, queries, radius: float) -> RadiusNeighbors:
        """Every training row within ``radius`` of each query, sorted nearest first."""
        radius = check_radius(radius)
        queries = self._check_queries(queries, 1)
        chunk = self._query_chunk_rows()
        parts = []
        for q0 in range(0, queries.shape[0], chunk):
            dense_queries = _dense(queries[q0 : q0 + chunk])
            blocks = [
                (
                    t0,
                    BruteIndex(block, self.metric, self.working_memory_mb).query_radius(
                        dense_queries, radius
                    ),
                )
                for t0, block in self._dense_train_blocks(len(dense_queries))
            ]
            parts.append(_join_train_blocks(blocks, len(dense_queries)))
        return RadiusNeighbors.concatenate(parts)

    # -- checks and sizes -----------------------------------------------------------------

    def _check_queries(self, queries, k: int):
        check_k(k, self.train.shape[0])
        if not scipy.sparse.issparse(queries):
            queries = np.asarray(queries)
        if queries.ndim != 2 or queries.shape[1] != self.train.shape[1]:
            raise ValueError(
                f"Queries of shape {queries.shape} do not match the index's "
                f"{self.train.shape[1]} features; pass (n_queries, {self.train.shape[1]}) rows."
            )
        return scipy.sparse.csr_matrix(queries) if scipy.sparse.issparse(queries) else queries

    def _query_chunk_rows(self) -> int:
        # A dense chunk of queries takes at most an eighth of the budget.
        budget = self.working_memory_mb * 2**20 / 8
        return max(1, int(budget // (8 * max(1, self.train.shape[1]))))

    def _train_block_rows(self, n_queries: int) -> int:
        # A dense training block and its products with a query chunk take a quarter.
        budget = self.working_memory_mb * 2**20 / 4
        return max(1, int(budget // (8 * (max(1, self.train.shape[1]) + n_queries))))

    def _product_block_rows(self, n_queries: int) -> int:
        # Dense products of a query chunk with a block of training rows: a quarter.
        return max(1, int(self.working_memory_mb * 2**20 / 4 // (8 * max(1, n_queries))))

    def _dense_train_blocks(self, n_queries: int = 0):
        """``(first_index, dense rows)`` for consecutive blocks of training rows."""
        block = self._train_block_rows(n_queries)
        for t0 in range(0, self.train.shape[0], block):
            yield t0, _dense(self.train[t0 : t0 + block])

    # -- dense blocks, any metric ---------------------------------------------------------

    def _query_blocks(self, queries, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact reduced top-k: each dense block searched by the dense engine, re-measured
        on the block (the engine reports true distances) and merged."""
        dense_queries = _dense(queries)
        best_reduced, best_indices = topk.empty_topk(len(dense_queries), k)
        for t0, block in self._dense_train_blocks(len(dense_queries)):
            k_block = min(k, len(block))
            _, local = BruteIndex(block, self.metric, self.working_memory_mb).query(
                dense_queries, k_block
            )
            reduced, local = _recheck(self._kind, self.metric, dense_queries, block, local, k_block)
            best_reduced, best_indices = merge_topk(
                best_reduced, best_indices, reduced, local + t0, k
            )
        return best_reduced, best_indices

    # -- Euclidean and cosine from products -----------------------------------------------

    def _use_products(self, queries) -> bool:
        if self.metric.name not in ("euclidean", "cosine"):
            return False
        return max(_abs_max(self.train), _abs_max(queries)) <= _PRODUCTS_SAFE_MAX

    def _prepare_products(self):
        """The rows the products use (unit rows for cosine), the estimate offsets ``||y||^2``
        (zeros for cosine) and the largest row norm."""
        if self._products_prepared is None:
            rows = self.train.astype(np.float64)
            norms = _sparse_row_norms(rows)
            if self.metric.name == "cosine":
                rows = _unit_sparse_rows(rows, norms)
                offsets = np.zeros(rows.shape[0])
            else:
                offsets = norms**2
            self._products_prepared = (rows, offsets, float(norms.max(initial=0.0)))
        return self._products_prepared

    def _query_products(self, queries, k: int) -> tuple[np.ndarray, np.ndarray]:
        rows, offsets, largest = self._prepare_products()
        cosine = self.metric.name == "cosine"
        n_train = rows.shape[0]
        k_keep = min(n_train, k + _SPARE_CANDIDATES)
        query_rows = _float64_rows(queries)
        query_norms = _row_norms(query_rows)
        if cosine:
            query_rows = _unit_rows(query_rows, query_norms)
        dense_product = _density(rows) * _density(query_rows) >= _DENSE_PRODUCT_DENSITY
        if dense_product:
            query_rows = _dense(query_rows)  # once per chunk, not once per training block
        est_e, est_i = topk.empty_topk(query_rows.shape[0], k_keep)
        scale = -1.0 if cosine else -2.0
        # Dense products need the training block made dense; sparse ones only the products.
        block = (
            self._train_block_rows(query_rows.shape[0])
            if dense_product
            else self._product_block_rows(query_rows.shape[0])
        )
        for t0 in range(0, n_train, block):
            products = _products(query_rows, rows[t0 : t0 + block], dense_product)
            candidate_kernels.scan_products(
                products, offsets[t0 : t0 + block], scale, t0, est_e, est_i
            )
        limits = est_e[:, k - 1] + 2.0 * self._products_bound(query_norms, largest)
        reduced, indices = self._recheck_candidates(queries, est_e, est_i, limits, k)
        if k_keep < n_train:
            # Where every spare candidate is a near-tie, measure every row within the limit.
            overflow = np.flatnonzero(est_e[:, -1] <= limits)
            group = max(1, self._train_block_rows(0) * self.train.shape[1] // max(1, n_train))
            for g0 in range(0, len(overflow), group):
                chosen = overflow[g0 : g0 + group]
                estimates = offsets + scale * _products(query_rows[chosen], rows, dense=False)
                touching = self._touching_rows(query_rows[chosen]) if cosine else None
                for at, row in enumerate(chosen):
                    reduced[row], indices[row] = self._exact_within_limit(
                        queries[row : row + 1],
                        np.flatnonzero(estimates[at] <= limits[row]),
                        None if touching is None else touching[at],
                        k,
                    )
        return reduced, indices

    def _products_bound(self, query_norms: np.ndarray, largest: float) -> np.ndarray:
        """Per query, a bound on |estimate - reference| over every training row.

        With ``u = 2^-53``, ``a = ||x||`` and ``b`` the largest ``||y||``: the products and
        squared norms, sums of at most ``d`` terms, are off by at most ``g (a b)`` and
        ``g b^2`` with ``g = d u / (1 - d u)``; the reference's differences, squares and sum
        by ``(d + 3) u (a + b)^2``, and the estimate's last subtraction by ``u (b^2 + 2 a b)``.
        All of it is within ``3 (d + 4) u (a + b)^2``; values near underflow add an absolute
        ``d 2^-1000``. For cosine (unit rows, ``a, b <= 1``) the normalisation of both sides
        adds a few ``u`` per element, covered by the same form with ``(a + b) = 2``.
        """
        d = max(1, self.train.shape[1])
        a, b = query_norms, largest
        if self.metric.name == "cosine":
            a, b = np.ones_like(query_norms), 1.0
        return 3.0 * (d + 4) * _U64 * (a + b) ** 2 + d * 2.0**-1000

    def _recheck_candidates(self, queries, est_e, est_i, limits, k):
        """Exact top-k among the candidates within ``limits``: only they are made dense, for
        as many queries at a time as keep them within a quarter of the budget."""
        reduced = np.empty((len(est_e), k))
        indices = np.empty((len(est_e), k), dtype=np.int64)
        row_bytes = 8 * max(1, self.train.shape[1]) * est_e.shape[1]
        group = max(1, int(self.working_memory_mb * 2**20 / 4 // row_bytes))
        for q0 in range(0, len(est_e), group):
            part = slice(q0, q0 + group)
            reduced[part], indices[part] = self._recheck_group(
                queries[part], est_e[part], est_i[part], limits[part], k
            )
        return reduced, indices

    def _recheck_group(self, queries, est_e, est_i, limits, k):
        within = est_e <= limits[:, None]
        rows_needed = np.unique(est_i[within])
        candidate_rows = _dense(self.train[rows_needed])
        local = np.searchsorted(rows_needed, np.where(within, est_i, rows_needed[0]))
        dense_queries = _dense(queries)
        q_norms, t_norms = self._norm_arrays(dense_queries, candidate_rows)
        reduced, found = candidate_kernels.recheck_candidates(
            self._kind,
            dense_queries,
            candidate_rows,
            est_e,
            local,
            limits,
            k,
            self.metric.p,
            q_norms,
            t_norms,
        )
        # The row order of rows_needed is the training order: ties settle as in the reference.
        return reduced, rows_needed[found]

    def _exact_within_limit(self, query, candidates, touching, k):
        """Exact top-k of one query among ``candidates``. For cosine, ``touching`` lists the
        rows with a nonzero value where the query has one: the others have a similarity of
        exactly 0 in the reference (every product has a zero factor), so a distance of
        exactly 1, and are not measured (very sparse rows tie at 1 by the thousand)."""
        best_reduced, best_indices = topk.empty_topk(1, k)
        if touching is not None:
            apart = np.setdiff1d(candidates, touching, assume_unique=True)[:k]
            best_reduced[0, : len(apart)], best_indices[0, : len(apart)] = 1.0, apart
            candidates = np.intersect1d(candidates, touching, assume_unique=True)
        dense_query = _dense(query)
        block = self._train_block_rows(1)
        for c0 in range(0, len(candidates), block):
            chosen = candidates[c0 : c0 + block]
            candidate_rows = _dense(self.train[chosen])
            local = np.arange(len(chosen), dtype=np.int64)[None, :]
            reduced, found = _recheck(
                self._kind, self.metric, dense_query, candidate_rows, local, min(k, len(chosen))
            )
            best_reduced, best_indices = merge_topk(
                best_reduced, best_indices, reduced, chosen[found], k
            )
        return best_reduced[0], best_indices[0]

    def _touching_rows(self, query_rows) -> list[np.ndarray]:
        """Per query row, the training rows with a nonzero value in a column where the query
        has one."""
        if self._pattern is None:
            self._pattern = (self.train != 0).astype(np.float64)
        query_pattern = (scipy.sparse.csr_matrix(query_rows) != 0).astype(np.float64)
        # Counts of shared columns (no cancelling), one row per query.
        shared = scipy.sparse.csr_matrix(query_pattern @ self._pattern.T)
        shared.eliminate_zeros()
        return [
            np.sort(shared.indices[shared.indptr[i] : shared.indptr[i + 1]])
            for i in range(shared.shape[0])
        ]

    def _norm_arrays(self, dense_queries, dense_train):
        """Reference norms of the query and training rows for the cosine re-check (empty
        otherwise), from the dense rows: the reference sums every element, zeros included,
        in NumPy's pairwise order."""
        if self.metric.name != "cosine":
            return np.empty(0), np.empty(0)
        return _reference_norms(dense_queries), _reference_norms(dense_train)


# -- helpers ------------------------------------------------------------------------------


def _recheck(kind, metric: Metric, dense_queries, dense_train, local, k):
    """Exact reduced distances (sorted, tie rule) of each query's ``local`` training rows."""
    q_norms, t_norms = (
        (_reference_norms(dense_queries), _reference_norms(dense_train))
        if metric.name == "cosine"
        else (np.empty(0), np.empty(0))
    )
    zeros = np.zeros(local.shape)
    return candidate_kernels.recheck_candidates(
        kind,
        dense_queries,
        dense_train,
        zeros,
        local,
        np.zeros(len(dense_queries)),
        k,
        metric.p,
        q_norms,
        t_norms,
    )


def _join_train_blocks(blocks: list[tuple[int, RadiusNeighbors]], n_queries: int):
    """One radius answer from the answers of consecutive training blocks."""
    rows = np.concatenate([np.repeat(np.arange(n_queries), part.counts()) for _, part in blocks])
    indices = np.concatenate([part.indices + t0 for t0, part in blocks])
    distances = np.concatenate([part.distances for _, part in blocks])
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(n_queries + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_queries), out=indptr[1:])
    return sort_rows(indptr, indices[order], distances[order])


def _dense(rows) -> np.ndarray:
    """Rows as a C-ordered dense array in their own dtype (a sparse block made dense)."""
    if scipy.sparse.issparse(rows):
        return np.ascontiguousarray(rows.toarray())
    return np.ascontiguousarray(rows)


def _float64_rows(rows):
    if scipy.sparse.issparse(rows):
        return scipy.sparse.csr_matrix(rows, dtype=np.float64)
    return np.ascontiguousarray(rows, dtype=np.float64)


def _density(rows) -> float:
    if not scipy.sparse.issparse(rows):
        return 1.0
    return rows.nnz / max(1, rows.shape[0] * rows.shape[1])


def _products(queries, train_rows: scipy.sparse.csr_matrix, dense: bool) -> np.ndarray:
    """``queries @ train_rows.T`` as a dense float64 array."""
    if dense:
        return _dense(queries) @ _dense(train_rows).T
    product = queries @ train_rows.T
    return np.ascontiguousarray(product.toarray() if scipy.sparse.issparse(product) else product)


def _abs_max(rows) -> float:
    values = rows.data if scipy.sparse.issparse(rows) else np.asarray(rows)
    return float(np.abs(values).max(initial=0.0))


def _sparse_row_norms(rows: scipy.sparse.csr_matrix) -> np.ndarray:
    return np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())


def _row_norms(rows) -> np.ndarray:
    if scipy.sparse.issparse(rows):
        return _sparse_row_norms(rows)
    return np.sqrt((rows * rows).sum(axis=1))


def _unit_sparse_rows(rows: scipy.sparse.csr_matrix, norms: np.ndarray):
    scale = 1.0 / np.where(norms == 0, 1.0, norms)
    return scipy.sparse.csr_matrix(rows.multiply(scale[:, None]))


def _unit_rows(rows, norms: np.ndarray):
    if scipy.sparse.issparse(rows):
        return _unit_sparse_rows(rows, norms)
    return rows / np.where(norms == 0, 1.0, norms)[:, None]


def _reference_norms(dense_rows: np.ndarray) -> np.ndarray:
    """Row norms exactly as the reference's cosine computes them (float64, zeros as 1)."""
    x = np.asarray(dense_rows, dtype=np.float64)
    norms = np.sqrt((x * x).sum(axis=1))
    norms[norms == 0] = 1.0
    return norms
