"""k-nearest-neighbours regression, and the (weighted) mean every neighbours regressor shares."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_is_fitted

from ..io import register_saveable
from ._base import WeightedNeighborsBase, check_weights


def neighbor_means(query_rows, neighbor_targets, weights, n_queries: int) -> np.ndarray:
    """(Weighted) mean of the neighbours' targets for each query, ``(n_queries, n_outputs)``.

    The neighbours come as flat lists (any number per query): neighbour ``j`` belongs to
    query ``query_rows[j]``, has target ``neighbor_targets[j]`` (a number or a row of
    ``n_outputs``) and weight ``weights[j]`` (1 when ``weights`` is ``None``). A query
    without neighbours gets NaN.
    """
    query_rows = np.asarray(query_rows)
    targets = np.asarray(neighbor_targets, dtype=np.float64)
    if targets.ndim == 1:
        targets = targets[:, None]
    totals = np.bincount(query_rows, weights=weights, minlength=n_queries).astype(np.float64)
    has_neighbors = np.bincount(query_rows, minlength=n_queries) > 0
    if np.any(has_neighbors & (totals == 0)):  # an all-zero or +w/-w cancelling weights callable
        raise ValueError(
            "The weights callable gave the neighbours of some query weights that sum "
            "to 0, so their mean is undefined; make the weights of each query sum to a "
            "non-zero number."
        )
    weighted = targets if weights is None else targets * np.asarray(weights)[:, None]
    sums = np.stack(
        [np.bincount(query_rows, weights=column, minlength=n_queries) for column in weighted.T],
        axis=1,
    ).reshape(n_queries, targets.shape[1])
    totals[~has_neighbors] = np.nan
    return sums / totals[:, None]


@register_saveable
class KNNRegressor(RegressorMixin, WeightedNeighborsBase):
    """Predict each sample's target as the (weighted) mean of its k nearest training targets.

    Parameters are those of :class:`KNNClassifier`: ``n_neighbors``, ``weights``,
    ``algorithm``, ``leaf_size``, ``metric``, ``p``, ``metric_params``, ``n_jobs``,
    ``working_memory``. With
    ``weights="distance"`` the mean is weighted by ``1 / distance``, and training samples at
    distance 0 decide alone; a weights callable that gives every neighbour of some query
    weight 0 raises a ValueError. Targets may have several columns (multi-output).

    Equal distances go to the smaller training index, with every algorithm, so the mean is
    deterministic where scikit-learn's depends on the order of the training data.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen at ``fit``.
    n_samples_fit_ : int
        Number of training samples.
    effective_algorithm_ : str
        The search backend actually used.
    """

    _SPARSE_INPUT = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        """Store the training samples ``X`` and their targets ``y`` (n_samples[, n_outputs])."""
        check_weights(self.weights)
        X, y = self._validate_training_data(X, y, multi_output=True, y_numeric=True)
        self._y = np.asarray(y, dtype=np.float64)
        self._fit_training_rows(X)
        return self

    def predict(self, X):
        """Predicted target of each query sample, shaped like the training targets."""
        check_is_fitted(self)
        indices, weights = self._neighbor_weights(X)
        n_queries, k = indices.shape
        means = neighbor_means(
            np.repeat(np.arange(n_queries), k),
            self._y[indices.ravel()],
            None if weights is None else weights.ravel(),
            n_queries,
        )
        return means if self._y.ndim == 2 else means[:, 0]
