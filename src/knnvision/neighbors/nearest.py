"""Unsupervised nearest neighbours: the search itself, as a scikit-learn estimator."""

from __future__ import annotations

from ..io import register_saveable
from ._base import NeighborsBase


@register_saveable
class NearestNeighbors(NeighborsBase):
    """Find the nearest training samples of any sample: the k nearest, or all within a radius.

    scikit-learn's :class:`sklearn.neighbors.NearestNeighbors`, exact: the neighbours and
    distances are those of a float64 brute force, and equal distances are ordered by the
    smaller training index with every algorithm (where scikit-learn's order is left
    unspecified). Its methods are :meth:`kneighbors`, :meth:`kneighbors_graph`,
    :meth:`radius_neighbors` and :meth:`radius_neighbors_graph`.

    Parameters
    ----------
    n_neighbors : int, default=5
        Neighbours :meth:`kneighbors` finds when not told otherwise.
    radius : float, default=1.0
        Distance within which :meth:`radius_neighbors` finds neighbours when not told
        otherwise (inclusive).
    algorithm : {"auto", "brute", "kd_tree", "ball_tree", "torch"}, default="auto"
        Search backend, as for :class:`~knnvision.KNNClassifier`; all give the same
        neighbours. Sparse input, precomputed distances and callable metrics are searched by
        brute force (a tree asked for with sparse input warns, as in scikit-learn).
    leaf_size : int, default=30
        Rows per tree leaf; changes the speed of a tree, never the neighbours.
    metric : str or callable, default="minkowski"
        The distance: a name as for :class:`~knnvision.KNNClassifier`, a SciPy distance name,
        ``"precomputed"`` (``fit`` takes the square matrix of distances between the training
        samples, dense or a sparse neighbours graph, and queries their distances to them), or
        a callable ``metric(a, b, **metric_params)`` on two 1-D rows (exact, slow).
    p : float, default=2
        Minkowski power; below 1 it is not a metric, which a warning says.
    metric_params : dict, default=None
        Extra arguments of the metric, e.g. ``{"w": weights}`` for a weighted Minkowski
        distance. A ``"p"`` here replaces ``p``.
    n_jobs : int, default=None
        Threads for the search; ``None`` or -1 uses every core.
    working_memory : float, default=None
        Megabytes of temporary memory the search may use per block (default 256).
    backend : {"local", "dask"}, default="local"
        Where the search runs: this process, or shards on a Dask cluster.
    scheduler : str, default=None
        With ``backend="dask"``: the scheduler address, ``"local"``, or ``None`` for the
        current Dask client.

    Attributes
    ----------
    effective_metric_ : str or callable
        The metric searched with, as scikit-learn names it (Minkowski with ``p`` of 1, 2 or
        infinity and no weights is ``"manhattan"``, ``"euclidean"`` or ``"chebyshev"``).
    effective_metric_params_ : dict
        The metric's parameters, as scikit-learn gives them.
    n_features_in_ : int
        Number of features seen at ``fit``.
    n_samples_fit_ : int
        Number of training samples.
    effective_algorithm_ : str
        The search backend actually used.
    """

    _SPARSE_INPUT = True

    def __init__(
        self,
        *,
        n_neighbors=5,
        radius=1.0,
        algorithm="auto",
        leaf_size=30,
        metric="minkowski",
        p=2,
        metric_params=None,
        n_jobs=None,
        working_memory=None,
        backend="local",
        scheduler=None,
    ):
        super().__init__(
            n_neighbors,
            radius=radius,
            algorithm=algorithm,
            leaf_size=leaf_size,
            metric=metric,
            p=p,
            metric_params=metric_params,
            n_jobs=n_jobs,
            working_memory=working_memory,
        )
        self.backend = backend
        self.scheduler = scheduler

    def fit(self, X, y=None):
        """Index the training samples ``X`` (n_samples, n_features), dense or sparse, or
        with ``metric="precomputed"`` their (n_samples, n_samples) distances; ``y`` is
        ignored."""
        self._fit_training_rows(self._validate_training_data(X))
        return self
