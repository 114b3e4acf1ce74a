"""What every knnvision neighbours estimator shares: parameters, fitting and ``kneighbors``.

Estimators know nothing of how search is done: they build one index at ``fit`` and call
``index.query``. Input is validated once, here, at the boundary.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from ..search import (
    ALGORITHMS,
    build_index,
    check_backend,
    effective_n_jobs,
    resolve_metric,
    thread_limit,
)

# uint8 images stay uint8 (the search has exact integer fast paths for them) and float32 stays
# float32; anything else is converted to float64.
INPUT_DTYPES = [np.float64, np.float32, np.uint8]
# Where the search runs: in this process, or sharded over a Dask cluster (knnvision.search.dask).


def check_n_neighbors(n_neighbors, name: str = "n_neighbors") -> int:
    """Return ``n_neighbors`` as an int, or raise a ValueError that says what is allowed."""
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral):
        raise ValueError(f"{name} must be a positive integer, got {n_neighbors!r}.")
    if n_neighbors < 1:
        raise ValueError(f"{name} must be a positive integer, got {n_neighbors}.")
    return int(n_neighbors)


def check_enough_samples(k: int, n_samples: int, leave_self_out: bool = False) -> None:
    """Raise a ValueError when ``k`` neighbours cannot be found among ``n_samples``."""
    if k <= n_samples:
        return
    shown_k = k - 1 if leave_self_out else k
    note = " (each training sample is left out of its own neighbours)" if leave_self_out else ""
    raise ValueError(
        f"n_neighbors={shown_k} is larger than the training data allows (n_samples = "
        f"{n_samples}){note}. Use a smaller n_neighbors or more training data."
    )


def neighbor_weights(distances: np.ndarray, weights) -> np.ndarray | None:
    """Vote weights for each neighbour, or ``None`` for a plain (uniform) vote.

    ``None`` means ``"uniform"``, as in scikit-learn. With ``"distance"`` the weight is
    ``1 / d``; a query that coincides with training rows (``d == 0``) gives those rows weight
    1 and every other neighbour weight 0, so an exact match always decides. A callable that
    gives every neighbour of some query weight 0 is an error (that query has no vote).
    """
    if weights is None or weights == "uniform":
        return None
    if weights == "distance":
        with np.errstate(divide="ignore"):
            inverse = 1.0 / distances
        exact = np.isinf(inverse)
        rows_with_exact = exact.any(axis=1)
        inverse[rows_with_exact] = exact[rows_with_exact]
        return inverse
    result = np.asarray(weights(distances), dtype=np.float64)
    if result.shape != distances.shape:
        raise ValueError(
            f"The weights callable must return an array of shape {distances.shape} "
            f"(one weight per neighbour), got {result.shape}."
        )
    if result.size and not np.all(result.any(axis=1)):
        raise ValueError(
            "The weights callable gave every neighbour of some query weight 0, so that query "
            "has no vote; make it give at least one neighbour a non-zero weight."
        )
    return result


def check_weights(weights) -> None:
    """Accept ``"uniform"``, ``"distance"``, ``None`` (uniform) or a callable."""
    if weights is not None and weights not in ("uniform", "distance") and not callable(weights):
        raise ValueError(
            f"weights must be 'uniform', 'distance', None or a callable, got {weights!r}."
        )


def check_working_memory(working_memory) -> None:
    """``None`` (the default budget) or a positive number of megabytes, NumPy scalars too."""
    if working_memory is None:
        return
    if (
        isinstance(working_memory, bool)
        or not isinstance(working_memory, numbers.Real)
        or not float(working_memory) > 0  # numbers.Real promises __float__, not __gt__
    ):
        raise ValueError(
            f"working_memory must be a positive number of megabytes or None, got "
            f"{working_memory!r}."
        )


def warn_if_not_a_metric(metric) -> None:
    """Warn, as scikit-learn does, that Minkowski with ``0 < p < 1`` is not a metric."""
    if not metric.is_true_metric:
        warnings.warn(
            f"Minkowski p={metric.p:g} (below 1) is not a metric: it breaks the triangle "
            f"inequality, so the search uses brute force (the neighbours are still exact).",
            UserWarning,
            stacklevel=4,
        )


class NeighborsBase(BaseEstimator):
    """Shared machinery; see the public estimators for the parameters."""

    # Defaults for estimators whose __init__ does not take ``backend``/``scheduler``.
    backend = "local"
    scheduler = None
    # Parameters that say where the search runs, not what the model is: model files leave
    # them out, so a loaded model searches locally until fitted again with a backend.
    _RUNTIME_PARAMS = ("backend", "scheduler")

    def __init__(
        self,
        n_neighbors=5,
        *,
        algorithm="auto",
        metric="minkowski",
        p=2,
        n_jobs=None,
        working_memory=None,
    ):
        self.n_neighbors = n_neighbors
        self.algorithm = algorithm
        self.metric = metric
        self.p = p
        self.n_jobs = n_jobs
        self.working_memory = working_memory

    # --- fitting -------------------------------------------------------------------------

    def _fit_training_rows(self, X) -> None:
        """Store the training rows and build the search index over them."""
        check_n_neighbors(self.n_neighbors)
        if self.algorithm not in ALGORITHMS:
            raise ValueError(
                f"Unknown algorithm {self.algorithm!r}; choose one of {', '.join(ALGORITHMS)}."
            )
        metric = resolve_metric(self.metric, self.p)
        effective_n_jobs(self.n_jobs)  # refuse a bad n_jobs now, not at the first query
        check_working_memory(self.working_memory)
        check_backend(self.backend)
        self._fit_X = X
        self.n_samples_fit_ = X.shape[0]
        self._index = self._build_index()
        self.effective_algorithm_ = self._index.algorithm
        warn_if_not_a_metric(metric)  # after the build: a tree refuses such a p instead

    def _build_index(self):
        # Where the search runs (this process or a Dask cluster) is the search layer's choice.
        return build_index(
            self._fit_X,
            metric=self.metric,
            p=self.p,
            algorithm=self.algorithm,
            working_memory_mb=self.working_memory,
            backend=self.backend,
            scheduler=self.scheduler,
        )

    def _validate_queries(self, X) -> np.ndarray:
        return validate_data(self, X, reset=False, dtype=INPUT_DTYPES)

    # The index is derived from the training rows; it is rebuilt rather than pickled, so a
    # pickled estimator (scikit-learn's joblib, Dask) never carries compiled objects.
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_index", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "_fit_X" in state:
            self._index = self._build_index()
            self.effective_algorithm_ = self._index.algorithm

    # --- neighbours ----------------------------------------------------------------------

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the k nearest training samples of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query samples. With ``None`` the training samples are the queries and each one
            is left out of its own neighbours.
        n_neighbors : int, default=None
            Number of neighbours; ``None`` uses the estimator's ``n_neighbors``.
        return_distance : bool, default=True
            Also return the distances.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors)
            Only when ``return_distance`` is true; sorted nearest first.
        indices : ndarray of shape (n_queries, n_neighbors)
            Training-row indices; equal distances are ordered by index.
        """
        check_is_fitted(self)
        k = check_n_neighbors(self.n_neighbors if n_neighbors is None else n_neighbors)
        leave_self_out = X is None
        queries = self._fit_X if leave_self_out else self._validate_queries(X)
        k_search = k + 1 if leave_self_out else k
        check_enough_samples(k_search, self.n_samples_fit_, leave_self_out)
        with thread_limit(self.n_jobs):
            distances, indices = self._index.query(queries, k_search)
        if leave_self_out:
            distances, indices = _drop_self(distances, indices)
        return (distances, indices) if return_distance else indices

    def training_samples(self, indices) -> np.ndarray:
        """The stored training samples at ``indices`` (as :meth:`kneighbors` returns them),
        in the dtype they were fitted with: what a neighbour looks like."""
        check_is_fitted(self)
        return self._fit_X[np.asarray(indices)]

    def _neighbor_weights(self, X):
        """``(indices, weights)`` of the neighbours of ``X``; weights ``None`` when uniform."""
        check_weights(self.weights)
        distances, indices = self.kneighbors(X)
        return indices, neighbor_weights(distances, self.weights)


def _drop_self(distances: np.ndarray, indices: np.ndarray):
    """Remove each training row from its own neighbour list (searched with k + 1).

    A row is normally among its own neighbours at distance 0; if more than k duplicates of it
    come first (they have smaller indices), it is not, and the farthest candidate goes instead.
    """
    n_rows, k_plus_one = indices.shape
    is_self = indices == np.arange(n_rows)[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    keep = ~is_self
    shape = (n_rows, k_plus_one - 1)
    return distances[keep].reshape(shape), indices[keep].reshape(shape)


class WeightedNeighborsBase(NeighborsBase):
    """Neighbours estimators whose neighbours vote or average with ``weights``.

    Besides the parameters of :class:`~knnvision.KNNClassifier`, they take

    backend : {"local", "dask"}, default="local"
        ``"dask"`` keeps the training rows in shards on a Dask cluster and searches them
        there (:mod:`knnvision.search.dask`); the neighbours are the same. ``n_jobs`` is then
        unused: each worker thread searches one shard.
    scheduler : str, default=None
        With ``backend="dask"``: a scheduler address (``"tcp://HOST:8786"``), ``"local"``
        for a ``LocalCluster`` on this machine, or ``None`` for the current default Dask
        client (else a ``LocalCluster``). A plain string, so the estimator can be cloned and
        saved; model files do not keep it (a loaded model searches locally).
    """

    def __init__(
        self,
        n_neighbors=5,
        *,
        weights="uniform",
        algorithm="auto",
        metric="minkowski",
        p=2,
        n_jobs=None,
        working_memory=None,
        backend="local",
        scheduler=None,
    ):
        super().__init__(
            n_neighbors,
            algorithm=algorithm,
            metric=metric,
            p=p,
            n_jobs=n_jobs,
            working_memory=working_memory,
        )
        self.weights = weights
        self.backend = backend
        self.scheduler = scheduler
