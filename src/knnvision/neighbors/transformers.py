"""Transformers that turn samples into sparse graphs of their nearest training samples.

Their output is what scikit-learn's estimators with ``metric="precomputed"`` (TSNE, Isomap,
DBSCAN, SpectralClustering's ``"precomputed_nearest_neighbors"``) take, so a Pipeline can
search once, exactly, and hand the graph on.
"""

from __future__ import annotations

from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..io import register_saveable
from ._base import NeighborsBase, check_graph_mode


class _GraphTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, NeighborsBase):
    """What both transformers share: ``fit`` indexes the samples, ``transform`` is a graph
    with one column per training sample."""

    _SPARSE_INPUT = True

    def fit(self, X, y=None):
        """Index the training samples ``X`` (dense or sparse, or with
        ``metric="precomputed"`` their square distance matrix); ``y`` is ignored."""
        check_graph_mode(self.mode)
        self._fit_training_rows(self._validate_training_data(X))
        self._n_features_out = self.n_samples_fit_
        return self

    def fit_transform(self, X, y=None):
        """``fit(X)`` then ``transform(X)``: each training sample counts as its own
        neighbour, at distance 0, as in scikit-learn."""
        return self.fit(X).transform(X)


@register_saveable
class KNeighborsTransformer(_GraphTransformer):
    """Turn each sample into the sparse graph of its k nearest training samples.

    scikit-learn's :class:`sklearn.neighbors.KNeighborsTransformer`, exact, with equal
    distances ordered by the smaller training index (scikit-learn's order there is left
    unspecified).

    Parameters
    ----------
    mode : {"distance", "connectivity"}, default="distance"
        Store the distances, or ones. In ``"distance"`` mode each row holds
        ``n_neighbors + 1`` neighbours, as in scikit-learn, so that a training sample still
        has ``n_neighbors`` others besides itself (as estimators taking the graph expect).
    n_neighbors : int, default=5
        Neighbours per sample (see ``mode``).
    algorithm, leaf_size, metric, p, metric_params, n_jobs, working_memory, backend, scheduler
        As for :class:`~knnvision.neighbors.NearestNeighbors`.

    Attributes
    ----------
    effective_metric_, effective_metric_params_, n_features_in_, n_samples_fit_, \
effective_algorithm_
        As for :class:`~knnvision.neighbors.NearestNeighbors`.
    """

    def __init__(
        self,
        *,
        mode="distance",
        n_neighbors=5,
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
            algorithm=algorithm,
            leaf_size=leaf_size,
            metric=metric,
            p=p,
            metric_params=metric_params,
            n_jobs=n_jobs,
            working_memory=working_memory,
        )
        self.mode = mode
        self.backend = backend
        self.scheduler = scheduler

    def transform(self, X):
        """The graph of the nearest training samples of each sample of ``X``.

        Returns
        -------
        graph : scipy.sparse.csr_matrix of shape (n_samples, n_samples_fit_)
            Rows sorted nearest first; distances of 0 are stored as explicit zeros.
        """
        check_is_fitted(self)
        include_self_room = 1 if self.mode == "distance" else 0
        return self.kneighbors_graph(
            X, mode=self.mode, n_neighbors=self.n_neighbors + include_self_room
        )


@register_saveable
class RadiusNeighborsTransformer(_GraphTransformer):
    """Turn each sample into the sparse graph of the training samples within a radius.

    scikit-learn's :class:`sklearn.neighbors.RadiusNeighborsTransformer`, exact; each row is
    sorted by distance, equal distances by training index.

    Parameters
    ----------
    mode : {"distance", "connectivity"}, default="distance"
        Store the distances, or ones.
    radius : float, default=1.0
        Largest distance of a neighbour (inclusive).
    algorithm, leaf_size, metric, p, metric_params, n_jobs, working_memory, backend, scheduler
        As for :class:`~knnvision.neighbors.NearestNeighbors`.

    Attributes
    ----------
    effective_metric_, effective_metric_params_, n_features_in_, n_samples_fit_, \
effective_algorithm_
        As for :class:`~knnvision.neighbors.NearestNeighbors`.
    """

    def __init__(
        self,
        *,
        mode="distance",
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
            radius=radius,
            algorithm=algorithm,
            leaf_size=leaf_size,
            metric=metric,
            p=p,
            metric_params=metric_params,
            n_jobs=n_jobs,
            working_memory=working_memory,
        )
        self.mode = mode
        self.backend = backend
        self.scheduler = scheduler

    def transform(self, X):
        """The graph of the training samples within ``radius`` of each sample of ``X``.

        Returns
        -------
        graph : scipy.sparse.csr_matrix of shape (n_samples, n_samples_fit_)
            Rows sorted nearest first; distances of 0 are stored as explicit zeros.
        """
        check_is_fitted(self)
        return self.radius_neighbors_graph(X, mode=self.mode, sort_results=True)
