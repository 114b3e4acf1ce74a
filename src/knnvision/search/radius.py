"""Radius search: every training row within a distance of each query, exactly.

The answer for ``n`` queries is one :class:`RadiusNeighbors`, a CSR-shaped triple
(``indptr``, ``indices``, ``distances``): query ``i``'s neighbours are
``indices[indptr[i]:indptr[i + 1]]``. Graph builders turn it into a SciPy CSR matrix without
copying, and estimators split it into scikit-learn's object arrays. Within a row the
neighbours are sorted nearest first, equal distances by the smaller training index; a row is
inside the radius when its true distance (``Metric.to_distance`` of the exact float64
reduced distance) is at most ``radius``, as in scikit-learn.

:func:`radius_by_blocks` is the plain exact answer any index can fall back on: float64
reference distances, a block of queries against a block of training rows at a time. The fast
engines collect candidate pairs whose *estimated* reduced distance is at most
:func:`reduced_limit` plus their estimate's error bound, measure those exactly and keep them
with :meth:`RadiusNeighbors.from_candidates`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .. import progress
from .metrics import Metric, reduced_distances

# float64 difference arrays of at most this many elements per block (about 64 MB).
_BLOCK_ELEMENTS = 2**23
# Training rows per query in one reference call of reference_pair_distances.
_PAIR_BLOCK = 4096


@dataclass(frozen=True)
class RadiusNeighbors:
    """The neighbours of each query within a radius, as CSR parts (see the module text)."""

    indptr: np.ndarray  # int64, (n_queries + 1,)
    indices: np.ndarray  # int64, (n_found,)
    distances: np.ndarray  # float64, (n_found,)

    @property
    def n_queries(self) -> int:
        return len(self.indptr) - 1

    def counts(self) -> np.ndarray:
        """How many neighbours each query has."""
        return np.diff(self.indptr)

    def per_query(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """``(distances, indices)`` as one array per query (views, not copies)."""
        cuts = self.indptr[1:-1]
        return np.split(self.distances, cuts), np.split(self.indices, cuts)

    @classmethod
    def from_rows(cls, distances: list[np.ndarray], indices: list[np.ndarray]) -> RadiusNeighbors:
        """Join per-query (or per-block) results, in query order."""
        counts = np.array([len(row) for row in indices], dtype=np.int64)
        indptr = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(
            indptr,
            _concatenate(indices, np.int64),
            _concatenate(distances, np.float64),
        )

    @classmethod
    def concatenate(cls, parts: list[RadiusNeighbors]) -> RadiusNeighbors:
        """Results of consecutive query blocks, joined."""
        if not parts:
            return cls(np.zeros(1, dtype=np.int64), np.empty(0, np.int64), np.empty(0))
        offsets = np.cumsum([0] + [len(part.indices) for part in parts[:-1]])
        indptr = np.concatenate(
            [parts[0].indptr[:1]]
            + [part.indptr[1:] + offset for part, offset in zip(parts, offsets, strict=True)]
        )
        return cls(
            indptr.astype(np.int64),
            _concatenate([part.indices for part in parts], np.int64),
            _concatenate([part.distances for part in parts], np.float64),
        )

    @classmethod
    def empty(cls, n_queries: int) -> RadiusNeighbors:
        """``n_queries`` queries with no neighbours."""
        return cls(np.zeros(n_queries + 1, dtype=np.int64), np.empty(0, np.int64), np.empty(0))

    @classmethod
    def from_candidates(
        cls,
        n_queries: int,
        rows: np.ndarray,
        cols: np.ndarray,
        reduced: np.ndarray,
        radius: float,
        metric: Metric,
        sorted_per_query: bool = False,
    ) -> RadiusNeighbors:
        """Keep the candidate pairs ``(rows[i], cols[i])`` within ``radius`` and sort them.

        ``reduced`` holds each pair's exact reduced distance (the reference's bits); a pair
        is kept when its true distance is at most ``radius``. Pairs may come in any order
        and must not repeat. With ``sorted_per_query``, each query's pairs are already
        contiguous and sorted by (distance, index), as a compiled scan hands them over, so
        only the queries are put in order (a stable integer sort, several times faster
        than sorting on three keys); without it, that order is tested for and the pairs
        sorted on all three keys only when it does not hold.
        """
        distances = metric.to_distance(reduced)
        keep = distances <= radius
        rows, cols, distances = rows[keep], cols[keep], distances[keep]
        order = np.argsort(rows, kind="stable")
        if not sorted_per_query:
            order = _sort_unsorted_rows(order, rows, distances, cols)
        indptr = np.zeros(n_queries + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_queries), out=indptr[1:])
        return cls(
            indptr,
            cols[order].astype(np.int64, copy=False),
            distances[order].astype(np.float64, copy=False),
        )

    @classmethod
    def union(cls, parts: list[RadiusNeighbors]) -> RadiusNeighbors:
        """Per query, the neighbours of every part (answers for the same queries over
        disjoint training rows, indices already global), sorted by (distance, index)."""
        n_queries = parts[0].n_queries
        rows = np.concatenate([np.repeat(np.arange(n_queries), part.counts()) for part in parts])
        indices = _concatenate([part.indices for part in parts], np.int64)
        distances = _concatenate([part.distances for part in parts], np.float64)
        indptr = np.zeros(n_queries + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_queries), out=indptr[1:])
        order = np.lexsort((indices, distances, rows))
        return cls(indptr, indices[order], distances[order])

    def shifted(self, offset: int) -> RadiusNeighbors:
        """The same neighbours with every training index moved by ``offset``."""
        return RadiusNeighbors(self.indptr, self.indices + offset, self.distances)

    def without_self(self) -> RadiusNeighbors:
        """Drop each query's own row (query ``i`` is training row ``i``), as scikit-learn
        does when the training rows are the queries."""
        rows = np.repeat(np.arange(self.n_queries), self.counts())
        keep = self.indices != rows
        indptr = np.zeros_like(self.indptr)
        np.cumsum(np.bincount(rows[keep], minlength=self.n_queries), out=indptr[1:])
        return RadiusNeighbors(indptr, self.indices[keep], self.distances[keep])


def _sort_unsorted_rows(order, rows, distances, cols) -> np.ndarray:
    """``order`` (pairs grouped by row) with every row put in (distance, index) order.

    Scans that hand over each query's pairs by an order-preserving estimate leave most rows
    sorted already: an O(n) test finds the rows that are not, and only their pairs are
    sorted (on three keys, about 0.4 s per million pairs).
    """
    r, d, c = rows[order], distances[order], cols[order]
    out_of_order = (r[1:] == r[:-1]) & ((d[1:] < d[:-1]) | ((d[1:] == d[:-1]) & (c[1:] < c[:-1])))
    if not out_of_order.any():
        return order
    unsorted_rows = np.zeros(int(r.max()) + 1, dtype=bool)
    unsorted_rows[r[1:][out_of_order]] = True
    slots = np.flatnonzero(unsorted_rows[r])  # contiguous runs, one per unsorted row
    subset = order[slots]
    order = order.copy()
    order[slots] = subset[np.lexsort((cols[subset], distances[subset], rows[subset]))]
    return order


def _concatenate(arrays: list[np.ndarray], dtype) -> np.ndarray:
    if not arrays:
        return np.empty(0, dtype=dtype)
    return np.concatenate(arrays).astype(dtype, copy=False)


def check_radius(radius) -> float:
    """``radius`` as a float: a finite or infinite number >= 0 (NumPy scalars too)."""
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real) or not float(radius) >= 0:
        raise ValueError(f"radius must be a number >= 0, got {radius!r}.")
    return float(radius)


def check_radius_queries(queries: np.ndarray, n_features: int) -> np.ndarray:
    """``queries`` C-ordered, after checking they have the index's ``n_features``."""
    queries = np.asarray(queries)
    if queries.ndim != 2 or queries.shape[1] != n_features:
        raise ValueError(
            f"Queries must be a 2-D array with {n_features} features (those the index was "
            f"built with), got shape {queries.shape}."
        )
    return np.ascontiguousarray(queries)


def reduced_limit(metric: Metric, radius: float) -> float:
    """A reduced distance at least that of every row whose true distance is <= ``radius``.

    The true distance is a rounded function of the reduced one (a square root, a power), so
    the reduced form of the radius is widened by more than that rounding can move it; the
    exact test on the true distance settles the rows in the margin.
    """
    if math.isinf(radius):
        return math.inf
    if metric.name == "euclidean" and not metric.squared:
        return radius * radius * (1.0 + 2.0**-48)
    if metric.name == "minkowski":
        # x ** (1 / p) is within a few ulp, so x within (1 + ulps) ** p of radius ** p; a tiny
        # x whose root underflows to 0 counts as inside radius 0.
        try:
            power = radius**metric.p
        except OverflowError:
            return math.inf
        underflow = 2.0 * 2.0 ** (-1075.0 * metric.p) if metric.p < 1 else 0.0
        return max(power * (1.0 + 64.0 * (max(metric.p, 1.0) + 1.0) * 2.0**-53), underflow)
    return radius


def reference_pair_distances(
    queries: np.ndarray, train: np.ndarray, rows: np.ndarray, cols: np.ndarray, metric: Metric
) -> np.ndarray:
    """The reference reduced distance of every pair ``(queries[rows[i]], train[cols[i]])``
    (for the Minkowski candidates, whose compiled distances are estimates)."""
    out = np.empty(len(rows))
    order = np.argsort(rows, kind="stable")
    bounds = np.searchsorted(rows[order], np.arange(len(queries) + 1))
    for row in np.flatnonzero(np.diff(bounds)):
        pairs = order[bounds[row] : bounds[row + 1]]
        for p0 in range(0, len(pairs), _PAIR_BLOCK):
            part = pairs[p0 : p0 + _PAIR_BLOCK]
            out[part] = reduced_distances(queries[row : row + 1], train[cols[part]], metric)[0]
    return out


def sort_rows(indptr, indices, distances) -> RadiusNeighbors:
    """Sort each row by (distance, index); the arrays are reordered, not copied per row."""
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    order = np.lexsort((indices, distances, rows))
    return RadiusNeighbors(indptr, indices[order], distances[order])


def radius_by_blocks(
    train: np.ndarray, queries: np.ndarray, radius: float, metric: Metric
) -> RadiusNeighbors:
    """Exact radius neighbours from float64 reference distances (slow, any metric)."""
    n_features = max(1, train.shape[1])
    t_block = max(1, min(len(train), 4096))
    q_block = max(1, _BLOCK_ELEMENTS // (t_block * n_features))
    rows_d: list[np.ndarray] = []
    rows_i: list[np.ndarray] = []
    with progress.track(total=len(queries), description="searching neighbours") as task:
        for q0 in range(0, len(queries), q_block):
            block = queries[q0 : q0 + q_block]
            found_d: list[list[np.ndarray]] = [[] for _ in range(len(block))]
            found_i: list[list[np.ndarray]] = [[] for _ in range(len(block))]
            for t0 in range(0, len(train), t_block):
                distances = metric.to_distance(
                    reduced_distances(block, train[t0 : t0 + t_block], metric)
                )
                hit_q, hit_t = np.nonzero(distances <= radius)
                for row in np.unique(hit_q):
                    mine = hit_q == row
                    found_i[row].append(t0 + hit_t[mine])
                    found_d[row].append(distances[row, hit_t[mine]])
            for row in range(len(block)):
                rows_d.append(_concatenate(found_d[row], np.float64))
                rows_i.append(_concatenate(found_i[row], np.int64))
            task.advance(len(block))
    result = RadiusNeighbors.from_rows(rows_d, rows_i)
    return sort_rows(result.indptr, result.indices, result.distances)
