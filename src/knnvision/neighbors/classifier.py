"""k-nearest-neighbours classification."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..io import register_saveable
from ._base import INPUT_DTYPES, WeightedNeighborsBase, check_weights, neighbor_weights


def vote_shares(neighbor_labels: np.ndarray, weights: np.ndarray | None, n_classes: int):
    """Each class's share of the vote, from encoded neighbour labels ``(n_queries, k)``.

    ``weights`` has the shape of ``neighbor_labels``, or is ``None`` for one vote each. A row
    whose weights are all 0 gets all-zero shares.
    """
    n_queries, k = neighbor_labels.shape
    votes = np.zeros((n_queries, n_classes))
    rows = np.arange(n_queries)
    for column in range(k):
        weight = 1.0 if weights is None else weights[:, column]
        np.add.at(votes, (rows, neighbor_labels[:, column]), weight)
    totals = votes.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1.0
    return votes / totals


@register_saveable
class KNNClassifier(ClassifierMixin, WeightedNeighborsBase):
    """Classify each sample by a vote of its k nearest training samples.

    Exact: the neighbours are those of a float64 brute force, with equal distances ordered by
    training index. A tie in the vote goes to the class that comes first in ``classes_``
    (the smallest label), as in scikit-learn.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours that vote.
    weights : {"uniform", "distance"}, callable or None, default="uniform"
        ``"uniform"`` (or ``None``): every neighbour counts once. ``"distance"``: a neighbour
        counts ``1 / distance``, and training samples at distance 0 decide alone. A callable
        receives the ``(n_queries, n_neighbors)`` distance array and returns weights of the
        same shape; a query whose neighbours all get weight 0 raises a ValueError (as in
        scikit-learn).
    algorithm : {"auto", "brute", "kd_tree", "ball_tree", "torch"}, default="auto"
        Search backend; every one returns the same neighbours. ``"auto"`` picks the fastest
        of the first three; ``"torch"`` (Euclidean and cosine, needs ``knnvision[torch]``)
        uses low-precision matrix units or a GPU with an exact re-check.
    metric : {"minkowski", "euclidean", "manhattan", "chebyshev", "cosine", "hamming"}, \
default="minkowski"
        Distance between samples. ``"hamming"`` is the fraction of differing features;
        ``"cosine"`` is ``1 - cosine similarity``. scikit-learn's other names work too:
        ``"l1"`` and ``"cityblock"`` (Manhattan), ``"l2"`` (Euclidean), ``"infinity"``
        (Chebyshev), ``"p"`` (Minkowski with ``p``) and ``"sqeuclidean"`` (the Euclidean
        neighbours, with squared distances).
    p : float, default=2
        Power of the Minkowski metric (1 is Manhattan, 2 Euclidean, ``np.inf`` Chebyshev);
        used only when ``metric`` is ``"minkowski"`` or ``"p"``. Any number > 0: below 1 it
        is not a metric, so, as in scikit-learn, a warning says so, ``"auto"`` uses brute
        force and the trees refuse it. (scikit-learn ignores ``p`` with ``metric="p"`` and
        measures Euclidean distances; knnvision uses ``p``.)
    n_jobs : int, default=None
        Threads for the search; ``None`` or -1 uses every core.
    working_memory : float, default=None
        Megabytes of temporary memory the search may use per block (default 256).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The sorted class labels (any type: integers, strings).
    n_features_in_ : int
        Number of features seen at ``fit``.
    n_samples_fit_ : int
        Number of training samples.
    effective_algorithm_ : str
        The search backend actually used.

    Notes
    -----
    Where scikit-learn warns that, with neighbours at equal distances but different labels,
    "the results will depend on the ordering of the training data" (and on its backend),
    knnvision is exact and deterministic: equal distances always go to the smaller training
    index, with every algorithm. So where distances tie (common with small integer pixels),
    the neighbours, and then a vote, can differ from scikit-learn's, whose order there is
    left unspecified.
    """

    def fit(self, X, y):
        """Store the training samples ``X`` (n_samples, n_features) and their labels ``y``."""
        check_weights(self.weights)
        X, y = validate_data(self, X, y, dtype=INPUT_DTYPES)
        check_classification_targets(y)
        self.classes_, self._y = np.unique(y, return_inverse=True)
        self._fit_training_rows(X)
        return self

    def predict_proba(self, X):
        """Share of the (weighted) vote each class gets, shape (n_queries, n_classes).

        Columns follow ``classes_``. ``X=None`` scores the training samples, each left out of
        its own vote.
        """
        check_is_fitted(self)
        indices, weights = self._neighbor_weights(X)
        return vote_shares(self._y[indices], weights, len(self.classes_))

    def class_positions(self, indices) -> np.ndarray:
        """Position in ``classes_`` of the label of each training sample at ``indices``."""
        check_is_fitted(self)
        return self._y[np.asarray(indices)]

    def vote(self, distances, indices) -> np.ndarray:
        """:meth:`predict_proba` from neighbours already found by :meth:`kneighbors`, so a
        caller that shows the neighbours too searches once."""
        check_weights(self.weights)
        weights = neighbor_weights(np.asarray(distances), self.weights)
        return vote_shares(self.class_positions(indices), weights, len(self.classes_))

    def predict(self, X):
        """Predicted class of each query sample."""
        probabilities = self.predict_proba(X)
        return self.classes_[np.argmax(probabilities, axis=1)]
