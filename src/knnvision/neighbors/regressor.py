"""k-nearest-neighbours regression."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..io import register_saveable
from ._base import INPUT_DTYPES, WeightedNeighborsBase, check_weights


@register_saveable
class KNNRegressor(RegressorMixin, WeightedNeighborsBase):
    """Predict each sample's target as the (weighted) mean of its k nearest training targets.

    Parameters are those of :class:`KNNClassifier`: ``n_neighbors``, ``weights``,
    ``algorithm``, ``metric``, ``p``, ``n_jobs``, ``working_memory``. With
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        """Store the training samples ``X`` and their targets ``y`` (n_samples[, n_outputs])."""
        check_weights(self.weights)
        X, y = validate_data(self, X, y, dtype=INPUT_DTYPES, multi_output=True, y_numeric=True)
        self._y = np.asarray(y, dtype=np.float64)
        self._fit_training_rows(X)
        return self

    def predict(self, X):
        """Predicted target of each query sample, shaped like the training targets."""
        check_is_fitted(self)
        indices, weights = self._neighbor_weights(X)
        neighbor_targets = self._y[indices]  # (n_queries, k) or (n_queries, k, n_outputs)
        if weights is None:
            return neighbor_targets.mean(axis=1)
        if neighbor_targets.ndim == 3:
            weights = weights[:, :, None]
        totals = weights.sum(axis=1)
        if np.any(totals == 0):  # all-zero rows are refused earlier: here +w and -w cancel
            raise ValueError(
                "The weights callable gave the neighbours of some query weights that sum "
                "to 0, so their mean is undefined; make the weights of each query sum to a "
                "non-zero number."
            )
        return (neighbor_targets * weights).sum(axis=1) / totals
