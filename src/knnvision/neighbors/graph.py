"""scikit-learn's graph functions: the k nearest, or all within a radius, as a sparse graph."""

from __future__ import annotations

from ._base import NeighborsBase, check_graph_mode, check_include_self
from .nearest import NearestNeighbors


def kneighbors_graph(
    X,
    n_neighbors,
    *,
    mode="connectivity",
    metric="minkowski",
    p=2,
    metric_params=None,
    include_self=False,
    n_jobs=None,
):
    """The graph of the ``n_neighbors`` nearest samples of each sample of ``X``.

    Exact, with equal distances ordered by the smaller sample index (scikit-learn's order
    there is left unspecified).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features) or a fitted estimator
        The samples, or a fitted knnvision neighbours estimator whose training samples are
        used (its ``metric``, ``p`` and ``metric_params`` must then equal the ones given).
    n_neighbors : int
        Neighbours per sample.
    mode : {"connectivity", "distance"}, default="connectivity"
        Store ones, or the distances.
    metric, p, metric_params, n_jobs
        As for :class:`~knnvision.neighbors.NearestNeighbors`.
    include_self : bool or "auto", default=False
        Count each sample as its own (first) neighbour; ``"auto"`` does so in
        ``"connectivity"`` mode only.

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        Row ``i`` holds sample ``i``'s neighbours, nearest first.
    """
    check_graph_mode(mode)
    estimator = _fitted_estimator(X, metric, p, metric_params, n_jobs, n_neighbors=n_neighbors)
    queries = _queries(estimator, include_self, mode)
    return estimator.kneighbors_graph(queries, n_neighbors, mode)


def radius_neighbors_graph(
    X,
    radius,
    *,
    mode="connectivity",
    metric="minkowski",
    p=2,
    metric_params=None,
    include_self=False,
    n_jobs=None,
):
    """The graph of the samples within ``radius`` (inclusive) of each sample of ``X``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features) or a fitted estimator
        As for :func:`kneighbors_graph`.
    radius : float
        Largest distance of a neighbour.
    mode, metric, p, metric_params, include_self, n_jobs
        As for :func:`kneighbors_graph`.

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        Each row sorted by distance, equal distances by sample index.
    """
    check_graph_mode(mode)
    estimator = _fitted_estimator(X, metric, p, metric_params, n_jobs, radius=radius)
    queries = _queries(estimator, include_self, mode)
    return estimator.radius_neighbors_graph(queries, radius, mode)


def _fitted_estimator(X, metric, p, metric_params, n_jobs, **search) -> NeighborsBase:
    """``X`` itself when it is a fitted estimator with these metric settings, else a
    :class:`NearestNeighbors` fitted on ``X``."""
    if not isinstance(X, NeighborsBase):
        return NearestNeighbors(
            metric=metric, p=p, metric_params=metric_params, n_jobs=n_jobs, **search
        ).fit(X)
    (setting,) = search  # "n_neighbors" or "radius": the estimator must have it
    if setting not in X._get_param_names():
        raise ValueError(
            f"The {type(X).__name__} passed as X has no {setting} parameter; pass one that "
            f"has (NearestNeighbors does), or the samples themselves."
        )
    given = {"metric": metric, "p": p, "metric_params": metric_params}
    for name, value in given.items():
        if not _same(value, getattr(X, name)):
            raise ValueError(
                f"{name}={value!r} was given, but the estimator passed as X has "
                f"{name}={getattr(X, name)!r}; give the same value or leave it out."
            )
    return X


def _same(a, b) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except ValueError:  # containers of arrays have no single truth value
        return False


def _queries(estimator: NeighborsBase, include_self, mode: str):
    """The training samples as queries when each counts itself, else ``None`` (the training
    samples, each left out of its own neighbours)."""
    check_include_self(include_self)
    if include_self == "auto":
        include_self = mode == "connectivity"
    return estimator._fit_X if include_self else None
