"""Brute force for metrics the compiled engines do not know: a Python callable, scikit-learn's
weighted Minkowski (``metric_params={"w": w}``), and the other SciPy ``cdist`` metrics
scikit-learn's brute force accepts (``"seuclidean"``, ``"mahalanobis"``, ``"braycurtis"``...).

Each computes a dense block of distances (a block of queries, sized from the working-memory
budget, against every training row) and selects each query's ``k`` best with the library's
tie rule (:func:`.precomputed.smallest_k`) or every row within a radius.

* A **callable** is called on every pair of rows (exact and slow); blocks of queries run on
  :func:`.threads.get_num_threads` threads, which helps where the callable releases the GIL.
* **Weighted Minkowski** is exactly ``(sum_i w_i |x_i - y_i|^p)^(1/p)`` in float64, ordered
  by its reduced form ``sum_i w_i |x_i - y_i|^p`` (:func:`weighted_minkowski_reduced`, the
  definition). SciPy's compiled ``cdist`` estimates it; every candidate within the
  estimate's relative rounding bound of the k-th is measured again with the definition.
* **Other named metrics** are computed as scikit-learn defines them: by its
  ``DistanceMetric`` where that class knows the name (so ``"braycurtis"`` divides by
  ``sum |u| + |v|`` as scikit-learn's neighbours do, not by SciPy's ``sum |u + v|``), by
  ``scipy.spatial.distance.cdist`` otherwise (``"correlation"``, ``"jensenshannon"``,
  ``"yule"``, as scikit-learn's brute force does). Each pair's value does not depend on its
  block, so equal rows tie exactly.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse
from scipy.spatial.distance import cdist
from sklearn.metrics import DistanceMetric

from .metrics import Metric, check_minkowski_p
from .precomputed import smallest_k, within_radius
from .radius import RadiusNeighbors, check_radius
from .recheck import check_k, no_neighbours, query_excluding_self
from .threads import get_num_threads

# The named metrics scikit-learn's brute force accepts beyond knnvision's own names.
SCIPY_METRICS = (
    "braycurtis",
    "canberra",
    "correlation",
    "dice",
    "jaccard",
    "jensenshannon",
    "mahalanobis",
    "rogerstanimoto",
    "russellrao",
    "seuclidean",
    "sokalsneath",
    "yule",
)
# Those scikit-learn's DistanceMetric does not define: its brute force uses SciPy's cdist.
_CDIST_ONLY = ("correlation", "jensenshannon", "yule")
CALLABLE = Metric("callable")
_U64 = 2.0**-53
# float64 elements per batch of pairs measured by the weighted Minkowski definition.
_PAIR_ELEMENTS = 2**20


class _BlockIndex:
    """Exact brute force from dense blocks of distances; subclasses say how a block is made.

    Subclasses set ``metric`` and implement :meth:`_block_distances` (true distances of a
    block of queries against a block of training rows).
    """

    algorithm = "brute"
    metric: Metric

    def __init__(self, train, working_memory_mb: float):
        if working_memory_mb <= 0:
            raise ValueError(f"working_memory_mb must be positive (got {working_memory_mb}).")
        if scipy.sparse.issparse(train):
            raise ValueError(
                f"metric {self.metric.name!r} needs dense rows, got a sparse matrix; pass "
                "X.toarray() or use a metric the sparse search takes (euclidean, manhattan, "
                "cosine, ...)."
            )
        self.train = _check_rows(train, "Training rows")
        self.working_memory_mb = working_memory_mb

    def query(self, queries, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, indices)`` of the ``k`` nearest training rows, nearest first."""
        check_k(k, len(self.train))
        queries = self._check_queries(queries)
        if len(queries) == 0:
            return no_neighbours(k)
        blocks = self._query_blocks(len(queries))
        results = self._map_blocks(
            lambda q0: self._query_block(queries[q0 : q0 + blocks], k), blocks, len(queries)
        )
        return (
            np.concatenate([distances for distances, _ in results]),
            np.concatenate([indices for _, indices in results]),
        )

    def query_train(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest other training rows of every training row (itself excluded)."""
        return query_excluding_self(self, k)

    def query_radius(self, queries, radius: float) -> RadiusNeighbors:
        """Every training row within ``radius`` of each query, sorted nearest first."""
        radius = check_radius(radius)
        queries = self._check_queries(queries)
        blocks = self._query_blocks(len(queries))
        parts = self._map_blocks(
            lambda q0: self._radius_block(queries[q0 : q0 + blocks], radius), blocks, len(queries)
        )
        return RadiusNeighbors.concatenate(parts)

    # -- blocks ---------------------------------------------------------------------------

    def _block_distances(self, queries: np.ndarray, train: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _query_block(self, queries, k):
        return smallest_k(self._block_distances(queries, self.train), k)

    def _radius_block(self, queries, radius):
        return within_radius(self._block_distances(queries, self.train), radius)

    def _map_blocks(self, work, blocks: int, n_queries: int) -> list:
        starts = range(0, n_queries, blocks)
        threads = min(get_num_threads(), len(starts))
        if threads <= 1:
            return [work(q0) for q0 in starts]
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(work, starts))

    def _query_blocks(self, n_queries: int) -> int:
        # Distances of a query block against every training row take a quarter of the
        # budget, split over the threads; at least enough blocks to keep each thread busy.
        budget = self.working_memory_mb * 2**20 / 4 / get_num_threads()
        by_memory = max(1, int(budget // (8 * max(1, len(self.train)))))
        return max(1, min(by_memory, math.ceil(n_queries / get_num_threads())))

    def _check_queries(self, queries) -> np.ndarray:
        if scipy.sparse.issparse(queries):
            raise ValueError(
                f"metric {self.metric.name!r} needs dense query rows, got a sparse matrix; "
                "pass X.toarray()."
            )
        queries = _check_rows(queries, "Queries")
        if queries.shape[1] != self.train.shape[1]:
            raise ValueError(
                f"Queries have {queries.shape[1]} features but the index was built with "
                f"{self.train.shape[1]}."
            )
        return queries


class CallableIndex(_BlockIndex):
    """Exact brute force with a Python metric ``func(a, b, **params) -> float``.

    Parameters
    ----------
    train : ndarray of shape (n_samples, n_features)
        Training rows.
    func : callable
        Called on two 1-D float64 rows; must return one real number >= 0 (NaN is refused).
    params : dict
        Keyword arguments passed to every call.
    working_memory_mb : float
        Budget for temporary blocks in MiB.
    """

    metric = CALLABLE

    def __init__(self, train, func: Callable, params: dict, working_memory_mb: float):
        super().__init__(train, working_memory_mb)
        self.func = func
        self.params = dict(params)

    def _block_distances(self, queries, train):
        out = np.empty((len(queries), len(train)))
        queries = queries.astype(np.float64, copy=False)
        train = train.astype(np.float64, copy=False)
        for i, query in enumerate(queries):
            for j, row in enumerate(train):
                out[i, j] = _as_distance(self.func(query, row, **self.params), self.func)
        return out


class CdistIndex(_BlockIndex):
    """Exact brute force with another named metric, defined as scikit-learn defines it.

    Parameters
    ----------
    train : ndarray of shape (n_samples, n_features)
        Training rows.
    name : str
        A cdist metric name (one of ``SCIPY_METRICS``).
    params : dict
        cdist's keyword arguments for that metric (``V`` for seuclidean, ``VI`` for
        mahalanobis, ``w`` where the metric takes weights). Without them, ``V`` and ``VI``
        are estimated from the training rows alone (scikit-learn estimates them from the
        training rows and the queries together, so its distances depend on the queries).
    working_memory_mb : float
        Budget for temporary blocks in MiB.
    """

    def __init__(self, train, name: str, params: dict, working_memory_mb: float):
        self.metric = Metric(name)
        super().__init__(train, working_memory_mb)
        self.params = _cdist_params(self.train, name, params)
        self._block_distances(self.train[:1], self.train[:1])  # bad parameters fail here

    def _block_distances(self, queries, train):
        name = self.metric.name
        try:
            if name in _CDIST_ONLY:
                distances = cdist(queries, train, metric=name, **self.params)
            else:
                distances = DistanceMetric.get_metric(name, **self.params).pairwise(
                    np.asarray(queries, dtype=np.float64), np.asarray(train, dtype=np.float64)
                )
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"metric {self.metric.name!r} with metric_params {sorted(self.params)}: {error}"
            ) from None
        return distances


class WeightedMinkowskiIndex(_BlockIndex):
    """Exact brute force with scikit-learn's weighted Minkowski distance.

    Parameters
    ----------
    train : ndarray of shape (n_samples, n_features)
        Training rows.
    p : float
        Power, finite and > 0.
    w : array-like of shape (n_features,)
        Weights, finite and >= 0.
    working_memory_mb : float
        Budget for temporary blocks in MiB.
    """

    def __init__(self, train, p: float, w, working_memory_mb: float):
        self.metric = Metric("minkowski", p)
        super().__init__(train, working_memory_mb)
        self.p = p
        self.w = _check_weights(w, self.train.shape[1])
        # cdist's sum runs in another order than the definition's; both lie within a relative
        # error of the exact value (every term is >= 0), so a candidate is re-measured when
        # its estimate is within that error, both ways, of the k-th (or of the radius).
        relative = (self.train.shape[1] + p + 8) * _U64 * 1.01
        self._factor = (1.0 + relative / p + 2 * _U64) ** 4

    def _block_distances(self, queries, train):
        return cdist(queries, train, metric="minkowski", p=self.p, w=self.w)

    def _query_block(self, queries, k):
        estimates = self._block_distances(queries, self.train)
        kth = np.partition(estimates, k - 1, axis=1)[:, k - 1 : k]
        reduced, indices = smallest_k(
            self._exact_where(queries, estimates <= kth * self._factor), k
        )
        return reduced ** (1.0 / self.p), indices

    def _radius_block(self, queries, radius):
        candidates = self._block_distances(queries, self.train) <= radius * self._factor
        distances = self._exact_where(queries, candidates) ** (1.0 / self.p)
        return within_radius(distances, radius)

    def _exact_where(self, queries, candidates: np.ndarray) -> np.ndarray:
        """Reduced distances by the definition where ``candidates`` holds, infinity elsewhere;
        the pairs are measured a bounded number of elements at a time."""
        exact = np.full(candidates.shape, np.inf)
        rows, cols = np.nonzero(candidates)
        pairs = max(1, _PAIR_ELEMENTS // max(1, self.train.shape[1]))
        for c0 in range(0, len(rows), pairs):
            r, c = rows[c0 : c0 + pairs], cols[c0 : c0 + pairs]
            exact[r, c] = weighted_minkowski_reduced(queries[r], self.train[c], self.w, self.p)
        return exact


def weighted_minkowski_reduced(a, b, w, p: float) -> np.ndarray:
    """The definition, pair by pair: ``sum_i w_i |a_i - b_i|^p`` in float64 for rows ``a[j]``
    and ``b[j]`` (arrays of the same shape, or one row broadcast against many)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (w * np.abs(a - b) ** p).sum(axis=-1)


def build_parametrised_index(train, metric: str, p, metric_params: dict, budget: float):
    """The index for a named metric the compiled engines do not take: weighted Minkowski
    (``metric="minkowski"`` with ``{"w": w}``, ``{"p": p}`` overriding ``p``) or one of
    ``SCIPY_METRICS`` with cdist's keyword arguments."""
    params = dict(metric_params)
    if metric in SCIPY_METRICS:
        return CdistIndex(train, metric, params, budget)
    p = check_minkowski_p(params.pop("p", 2.0 if p is None else p))
    w = params.pop("w")
    if params:
        raise ValueError(
            f"metric {metric!r} takes metric_params 'p' and 'w' only, got {sorted(params)}."
        )
    if math.isinf(p):
        raise ValueError("Weighted Minkowski needs a finite p; got p=inf.")
    return WeightedMinkowskiIndex(train, p, w, budget)


def _cdist_params(train: np.ndarray, name: str, params: dict) -> dict:
    params = dict(params)
    if name == "seuclidean" and "V" not in params:
        params["V"] = np.var(train, axis=0, ddof=1)
    if name == "mahalanobis" and "VI" not in params:
        params["VI"] = np.linalg.pinv(np.atleast_2d(np.cov(train.T.astype(np.float64))))
    return params


def _check_rows(rows, what: str) -> np.ndarray:
    rows = np.asarray(rows)
    if rows.ndim != 2:
        raise ValueError(f"{what} must be 2-D (n_rows, n_features), got shape {rows.shape}.")
    if rows.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be real numbers, got dtype {rows.dtype}.")
    return rows


def _check_weights(w, n_features: int) -> np.ndarray:
    weights = np.asarray(w, dtype=np.float64)
    if weights.shape != (n_features,):
        raise ValueError(
            f"Weighted Minkowski needs one weight per feature: w of shape ({n_features},), "
            f"got shape {weights.shape}."
        )
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("Weighted Minkowski weights w must be finite numbers >= 0.")
    return weights


def _as_distance(value, func) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        try:
            value = float(np.asarray(value).item())
        except (TypeError, ValueError):
            raise ValueError(
                f"The metric callable {getattr(func, '__name__', func)!r} returned {value!r}; "
                "it must return one number (the distance between two rows)."
            ) from None
    if math.isnan(value):
        raise ValueError(
            f"The metric callable {getattr(func, '__name__', func)!r} returned NaN; it must "
            "return a number."
        )
    return float(value)
