"""What every knnvision neighbours estimator shares: parameters, fitting and ``kneighbors``.

Estimators know nothing of how search is done: they build one index at ``fit`` and call
``index.query``. Input is validated once, here, at the boundary.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable

import numpy as np
import scipy.sparse
from scipy.sparse import csr_array, csr_matrix
from sklearn import get_config
from sklearn.base import BaseEstimator
from sklearn.utils._available_if import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from ..search import (
    ALGORITHMS,
    RadiusNeighbors,
    build_index,
    check_backend,
    check_radius,
    effective_n_jobs,
    thread_limit,
)

# uint8 images stay uint8 (the search has exact integer fast paths for them) and float32 stays
# float32; anything else is converted to float64.
INPUT_DTYPES = [np.float64, np.float32, np.uint8]
#: What a neighbours graph stores at each neighbour: a one, or the distance.
GRAPH_MODES = ("connectivity", "distance")


def check_n_neighbors(n_neighbors, name: str = "n_neighbors") -> int:
    """Return ``n_neighbors`` as an int, or raise a ValueError that says what is allowed."""
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral):
        raise ValueError(f"{name} must be a positive integer, got {n_neighbors!r}.")
    if n_neighbors < 1:
        raise ValueError(f"{name} must be a positive integer, got {n_neighbors}.")
    return int(n_neighbors)


def check_leaf_size(leaf_size) -> None:
    """``leaf_size``: a positive integer (it changes a tree's speed, never the neighbours)."""
    if isinstance(leaf_size, bool) or not isinstance(leaf_size, numbers.Integral) or leaf_size < 1:
        raise ValueError(f"leaf_size must be a positive integer, got {leaf_size!r}.")


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


def warn_if_not_a_metric(p) -> None:
    """Warn, as scikit-learn does, that Minkowski with ``0 < p < 1`` is not a metric."""
    warnings.warn(
        f"Minkowski p={p:g} (below 1) is not a metric: it breaks the triangle "
        f"inequality, so the search uses brute force (the neighbours are still exact).",
        UserWarning,
        stacklevel=4,
    )


def effective_metric(metric, p, metric_params) -> tuple[str | Callable, dict]:
    """``(effective_metric_, effective_metric_params_)`` by scikit-learn's rules.

    A ``"p"`` in ``metric_params`` wins over ``p`` (with a SyntaxWarning when both are given).
    Minkowski without weights ``w`` and with ``p`` of 1, 2 or infinity becomes
    ``"manhattan"``, ``"euclidean"`` or ``"chebyshev"`` with no parameters; any other
    Minkowski keeps ``{"p": p, "w": w}``. Other metrics keep ``metric_params`` as given.
    """
    if metric_params is not None and not isinstance(metric_params, dict):
        raise ValueError(f"metric_params must be a dict or None, got {metric_params!r}.")
    if metric_params and "p" in metric_params and p is not None:
        warnings.warn(
            "metric_params has a 'p', which is used instead of the p parameter.",
            SyntaxWarning,
            stacklevel=4,
        )
    if not (isinstance(metric, str) and metric == "minkowski"):
        return metric, dict(metric_params or {})
    power, params = split_metric_params(p, metric_params)
    weights = params.pop("w", None)
    if weights is None:
        for name, value in _MINKOWSKI_NAMES.items():
            if power == value:
                return name, params
    return "minkowski", {**params, "p": power, "w": weights}


def split_metric_params(p, metric_params) -> tuple[float | None, dict]:
    """``(p, other parameters)`` for the search: a ``"p"`` in ``metric_params`` replaces
    ``p``, and a ``"w"`` of ``None`` means no weights."""
    params = dict(metric_params or {})
    power = params.pop("p", p)
    if "w" in params and params["w"] is None:
        del params["w"]
    return power, params


# Minkowski powers scikit-learn names by the metric they are.
_MINKOWSKI_NAMES = {"manhattan": 1, "euclidean": 2, "chebyshev": np.inf}


def check_distances_non_negative(distances) -> None:
    """Precomputed distances (dense or sparse) are >= 0."""
    values = distances.data if scipy.sparse.issparse(distances) else distances
    if values.size and values.min() < 0:
        raise ValueError(
            "With metric='precomputed' the input holds distances, which cannot be negative; "
            f"found {values.min():g}."
        )


def check_graph_mode(mode) -> None:
    """A graph holds ones (``"connectivity"``) or the distances (``"distance"``)."""
    if not isinstance(mode, str) or mode not in GRAPH_MODES:
        raise ValueError(f"mode must be 'connectivity' or 'distance', got {mode!r}.")


def check_include_self(include_self) -> None:
    """``include_self`` of the graph functions: a bool or ``"auto"``."""
    if not isinstance(include_self, bool | np.bool_) and include_self != "auto":
        raise ValueError(f"include_self must be True, False or 'auto', got {include_self!r}.")


def neighbors_graph(found: RadiusNeighbors, n_samples_fit: int, mode: str):
    """The CSR matrix of ``found`` (one row per query), holding ones or the distances, in
    the sparse container scikit-learn's ``sparse_interface`` setting asks for."""
    data = np.ones(len(found.indices)) if mode == "connectivity" else found.distances
    graph = csr_array((data, found.indices, found.indptr), shape=(found.n_queries, n_samples_fit))
    if get_config().get("sparse_interface", "spmatrix") == "sparray":
        return graph
    return csr_matrix(graph)  # shares the arrays


def object_array(arrays: list[np.ndarray]) -> np.ndarray:
    """A 1-D object array holding ``arrays`` (NumPy would stack arrays of equal length)."""
    result = np.empty(len(arrays), dtype=object)
    for position, array in enumerate(arrays):
        result[position] = array
    return result


def is_precomputed(metric) -> bool:
    return isinstance(metric, str) and metric == "precomputed"


# As in scikit-learn, the k-neighbours methods belong to estimators with an ``n_neighbors``
# parameter and the radius methods to those with a ``radius`` (NearestNeighbors has both).
def _has_parameter(name: str):
    return lambda estimator: name in estimator._get_param_names()


_has_n_neighbors = _has_parameter("n_neighbors")
_has_radius = _has_parameter("radius")


class NeighborsBase(BaseEstimator):
    """Shared machinery; see the public estimators for the parameters.

    Subclasses validate their training data with :meth:`_validate_training_data` and then
    call :meth:`_fit_training_rows`, which checks whichever of ``n_neighbors`` and ``radius``
    the estimator's signature has.
    """

    # Defaults for estimators whose __init__ does not take these parameters.
    backend = "local"
    scheduler = None
    leaf_size = 30
    metric_params = None
    # Parameters that say where the search runs, not what the model is: model files leave
    # them out, so a loaded model searches locally until fitted again with a backend.
    _RUNTIME_PARAMS = ("backend", "scheduler")
    # Whether ``fit`` takes SciPy sparse rows (its validation goes through
    # ``_validate_training_data``); scikit-learn's checks read it from the tags.
    _SPARSE_INPUT = False

    def __init__(
        self,
        n_neighbors=None,
        *,
        radius=None,
        algorithm="auto",
        leaf_size=30,
        metric="minkowski",
        p=2,
        metric_params=None,
        n_jobs=None,
        working_memory=None,
    ):
        # Both are set, as in scikit-learn; each estimator's signature says which it has.
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.metric = metric
        self.p = p
        self.metric_params = metric_params
        self.n_jobs = n_jobs
        self.working_memory = working_memory

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self._SPARSE_INPUT
        # Precomputed distances: cross-validation splits rows and columns alike, and the
        # values are distances (>= 0).
        tags.input_tags.pairwise = is_precomputed(self.metric)
        tags.input_tags.positive_only = tags.input_tags.pairwise
        return tags

    # --- fitting -------------------------------------------------------------------------

    def _validate_training_data(self, X, y="no_validation", **check_params):
        """``validate_data`` for ``fit``: dense rows (kept uint8/float32/float64), SciPy
        sparse rows (CSC becomes CSR), or with ``metric="precomputed"`` the square matrix
        of distances between the training samples (dense, or a sparse neighbours graph)."""
        result = validate_data(self, X, y, **self._input_format(), **check_params)
        rows = result[0] if isinstance(result, tuple) else result
        if is_precomputed(self.metric):
            if rows.shape[0] != rows.shape[1]:
                raise ValueError(
                    f"With metric='precomputed' fit takes the square matrix of distances "
                    f"between the training samples, got shape {rows.shape[0]}x{rows.shape[1]}."
                )
            check_distances_non_negative(rows)
        return result

    def _validate_queries(self, X):
        """Query rows checked against the fitted ones (with ``metric="precomputed"``: the
        distances from each query to the ``n_samples_fit_`` training samples)."""
        queries = validate_data(self, X, reset=False, **self._input_format())
        if is_precomputed(self.metric):
            check_distances_non_negative(queries)
        return queries

    def _input_format(self) -> dict:
        dtype = np.float64 if is_precomputed(self.metric) else INPUT_DTYPES
        return {"accept_sparse": "csr", "dtype": dtype}

    def _fit_training_rows(self, X) -> None:
        """Store the validated training rows and build the search index over them."""
        parameters = self._get_param_names()
        if "n_neighbors" in parameters:
            check_n_neighbors(self.n_neighbors)
        if "radius" in parameters:
            check_radius(self.radius)
        if self.algorithm not in ALGORITHMS:
            raise ValueError(
                f"Unknown algorithm {self.algorithm!r}; choose one of {', '.join(ALGORITHMS)}."
            )
        check_leaf_size(self.leaf_size)
        self.effective_metric_, self.effective_metric_params_ = effective_metric(
            self.metric, self.p, self.metric_params
        )
        effective_n_jobs(self.n_jobs)  # refuse a bad n_jobs now, not at the first query
        check_working_memory(self.working_memory)
        check_backend(self.backend)
        if scipy.sparse.issparse(X):
            X = X.tocsr()
        self._fit_X = X
        self.n_samples_fit_ = X.shape[0]
        self._index = self._build_index()
        self.effective_algorithm_ = self._index.algorithm
        power = self.effective_metric_params_.get("p")
        if self.effective_metric_ == "minkowski" and isinstance(power, numbers.Real):
            if power < 1:
                warn_if_not_a_metric(power)  # after the build: a tree refuses such a p

    def _build_index(self):
        # Where the search runs (this process or a Dask cluster) is the search layer's choice.
        power, search_params = split_metric_params(self.p, self.metric_params)
        return build_index(
            self._fit_X,
            metric=self.metric,
            p=power,
            metric_params=search_params or None,
            algorithm=self._search_algorithm(),
            leaf_size=self.leaf_size,
            working_memory_mb=self.working_memory,
            backend=self.backend,
            scheduler=self.scheduler,
        )

    def _search_algorithm(self) -> str:
        """``algorithm``, or brute force where only brute force can search (as scikit-learn:
        sparse rows warn and fall back, precomputed distances refuse a tree)."""
        if self.algorithm in ("auto", "brute"):
            return self.algorithm
        if is_precomputed(self.metric):
            raise ValueError(
                f"algorithm={self.algorithm!r} cannot search precomputed distances; use "
                f"algorithm='brute' or 'auto'."
            )
        if callable(self.metric) and self.algorithm == "kd_tree":
            raise ValueError(
                "algorithm='kd_tree' cannot search with a callable metric; use "
                "algorithm='brute' or 'auto'."
            )
        if scipy.sparse.issparse(self._fit_X):
            warnings.warn(
                f"algorithm={self.algorithm!r} cannot search sparse input: using brute force.",
                UserWarning,
                stacklevel=5,
            )
            return "brute"
        if callable(self.metric):
            return "brute"  # exact either way; a tree gains nothing on a Python callable
        return self.algorithm

    # The index is derived from the training rows; it is rebuilt rather than pickled, so a
    # pickled estimator (scikit-learn's joblib, Dask) never carries compiled objects.
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_index", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "_fit_X" in state:
            # Fitted before effective_metric_params_ existed (older model files).
            if not hasattr(self, "effective_metric_params_"):
                self.effective_metric_, self.effective_metric_params_ = effective_metric(
                    self.metric, self.p, self.metric_params
                )
            self._index = self._build_index()
            self.effective_algorithm_ = self._index.algorithm

    # --- neighbours ----------------------------------------------------------------------

    @available_if(_has_n_neighbors)
    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the k nearest training samples of each query.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features), default=None
            Query samples (with ``metric="precomputed"``: their distances to the training
            samples, shape (n_queries, n_samples_fit_)). With ``None`` the training samples
            are the queries and each one is left out of its own neighbours: those are its
            ``n_neighbors`` nearest *other* samples, by the tie rule. (Where a sample is not
            among its own ``n_neighbors + 1`` nearest, because more duplicates of it come
            first or a precomputed graph holds no self-distances, scikit-learn drops the
            nearest candidate instead of the farthest.)
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

    @available_if(_has_n_neighbors)
    def kneighbors_graph(self, X=None, n_neighbors=None, mode="connectivity"):
        """The k nearest training samples of each query, as a sparse graph.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features), default=None
            Query samples, as for :meth:`kneighbors` (``None``: the training samples, each
            left out of its own neighbours).
        n_neighbors : int, default=None
            Neighbours per query; ``None`` uses the estimator's ``n_neighbors``.
        mode : {"connectivity", "distance"}, default="connectivity"
            Store ones, or the distances, at each neighbour.

        Returns
        -------
        graph : scipy.sparse.csr_matrix of shape (n_queries, n_samples_fit_)
            Row ``i`` holds query ``i``'s neighbours, nearest first (equal distances by
            training index); a neighbour at distance 0 is stored as an explicit zero.
        """
        check_graph_mode(mode)
        distances, indices = self.kneighbors(X, n_neighbors)
        n_queries, k = indices.shape
        found = RadiusNeighbors(
            np.arange(0, n_queries * k + 1, k, dtype=np.int64),
            indices.ravel(),
            distances.ravel(),
        )
        return neighbors_graph(found, self.n_samples_fit_, mode)

    def _radius_search(self, X, radius) -> RadiusNeighbors:
        """Every training sample within ``radius`` of each query of ``X`` (``None``: the
        training samples, each without itself), rows sorted by (distance, index)."""
        check_is_fitted(self)
        radius = check_radius(radius)
        queries = self._fit_X if X is None else self._validate_queries(X)
        with thread_limit(self.n_jobs):
            found = self._index.query_radius(queries, radius)
        return found.without_self() if X is None else found

    @available_if(_has_radius)
    def radius_neighbors(self, X=None, radius=None, return_distance=True, sort_results=False):
        """Find every training sample within a distance of each query.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features), default=None
            Query samples, as for :meth:`kneighbors` (``None``: the training samples, each
            left out of its own neighbours).
        radius : float, default=None
            Largest distance of a neighbour (inclusive); ``None`` uses the estimator's.
        return_distance : bool, default=True
            Also return the distances.
        sort_results : bool, default=False
            Sort each query's neighbours nearest first. knnvision always does (equal
            distances by training index), so this only checks ``return_distance``.

        Returns
        -------
        distances : ndarray of shape (n_queries,), dtype=object
            Only when ``return_distance`` is true: one float64 array per query.
        indices : ndarray of shape (n_queries,), dtype=object
            One array of training-row indices per query.
        """
        if sort_results and not return_distance:
            raise ValueError("sort_results=True needs return_distance=True.")
        found = self._radius_search(X, self.radius if radius is None else radius)
        distances, indices = found.per_query()
        if not return_distance:
            return object_array(indices)
        return object_array(distances), object_array(indices)

    @available_if(_has_radius)
    def radius_neighbors_graph(self, X=None, radius=None, mode="connectivity", sort_results=False):
        """Every training sample within a distance of each query, as a sparse graph.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features), default=None
            Query samples, as for :meth:`kneighbors` (``None``: the training samples, each
            left out of its own neighbours).
        radius : float, default=None
            Largest distance of a neighbour (inclusive); ``None`` uses the estimator's.
        mode : {"connectivity", "distance"}, default="connectivity"
            Store ones, or the distances, at each neighbour.
        sort_results : bool, default=False
            Rows are always sorted by (distance, index); accepted for scikit-learn's API.

        Returns
        -------
        graph : scipy.sparse.csr_matrix of shape (n_queries, n_samples_fit_)
        """
        check_graph_mode(mode)
        found = self._radius_search(X, self.radius if radius is None else radius)
        return neighbors_graph(found, self.n_samples_fit_, mode)

    def training_samples(self, indices) -> np.ndarray:
        """The stored training samples at ``indices`` (as :meth:`kneighbors` returns them),
        in the dtype they were fitted with: what a neighbour looks like."""
        check_is_fitted(self)
        return self._fit_X[np.asarray(indices)]

    def _neighbor_weights(self, X):
        """``(indices, weights)`` of the neighbours of ``X``; weights ``None`` when uniform."""
        self._check_weights()
        distances, indices = self.kneighbors(X)
        return indices, self._vote_weights(distances, self.weights)

    def _check_weights(self) -> None:
        check_weights(self.weights)

    def _vote_weights(self, distances: np.ndarray, weights) -> np.ndarray | None:
        """Vote weights of neighbours at ``distances`` (each query's row sorted nearest first)
        for the weighting ``weights``; estimators with weightings of their own extend it."""
        return neighbor_weights(distances, weights)


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
        leaf_size=30,
        p=2,
        metric="minkowski",
        metric_params=None,
        n_jobs=None,
        working_memory=None,
        backend="local",
        scheduler=None,
    ):
        super().__init__(
            n_neighbors,
            algorithm=algorithm,
            leaf_size=leaf_size,
            metric=metric,
            p=p,
            metric_params=metric_params,
            n_jobs=n_jobs,
            working_memory=working_memory,
        )
        self.weights = weights
        self.backend = backend
        self.scheduler = scheduler
