"""k-nearest-neighbours classification, and the vote every neighbours classifier shares."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ..io import register_saveable
from ._base import WeightedNeighborsBase


def class_votes(query_rows, neighbor_labels, weights, n_queries: int, n_classes: int):
    """Summed vote of each class for each query, shape ``(n_queries, n_classes)``.

    The neighbours come as flat lists (any number per query): neighbour ``j`` belongs to
    query ``query_rows[j]``, has encoded label ``neighbor_labels[j]`` and votes
    ``weights[j]`` (1 when ``weights`` is ``None``).
    """
    cells = np.asarray(query_rows) * n_classes + np.asarray(neighbor_labels)
    votes = np.bincount(cells, weights=weights, minlength=n_queries * n_classes)
    return votes.reshape(n_queries, n_classes).astype(np.float64, copy=False)


def shares_of_votes(votes: np.ndarray) -> np.ndarray:
    """Each row of ``votes`` divided by its total; a row without votes stays all zero."""
    totals = votes.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1.0
    return votes / totals


def vote_shares(neighbor_labels: np.ndarray, weights: np.ndarray | None, n_classes: int):
    """Each class's share of the vote, from encoded neighbour labels ``(n_queries, k)``.

    ``weights`` has the shape of ``neighbor_labels``, or is ``None`` for one vote each. A row
    whose weights are all 0 gets all-zero shares.
    """
    n_queries, k = neighbor_labels.shape
    query_rows = np.repeat(np.arange(n_queries), k)
    flat_weights = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    votes = class_votes(query_rows, neighbor_labels.ravel(), flat_weights, n_queries, n_classes)
    return shares_of_votes(votes)


# The classes are an array, or a list of arrays with several outputs: callers that know which
# (one output: the CLI, the web page) index them as an array, so they are typed loosely.
def encode_class_targets(y) -> tuple[Any, np.ndarray, bool]:
    """``(classes_, encoded, outputs_2d_)`` of validated class labels ``y``.

    1-D ``y``: ``classes_`` is the sorted labels and ``encoded`` their positions
    ``(n_samples,)``. 2-D ``y`` (several outputs): ``classes_`` holds one such array per
    output and ``encoded`` is ``(n_samples, n_outputs)``. A column vector ``(n_samples, 1)``
    counts as 1-D, with a warning (as in scikit-learn).
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "y has shape (n_samples, 1): it is used as one output of shape (n_samples,). "
            "Pass y.ravel() to say so and silence this warning.",
            DataConversionWarning,
            stacklevel=3,
        )
        y = y.ravel()
    check_classification_targets(y)
    if y.ndim == 1:
        classes, encoded = np.unique(y, return_inverse=True)
        return classes, encoded, False
    per_output = [np.unique(column, return_inverse=True) for column in y.T]
    classes_list = [classes for classes, _ in per_output]
    return classes_list, np.stack([codes for _, codes in per_output], axis=1), True


class VotingClassifierMixin(ClassifierMixin):
    """The vote of a neighbours classifier: shares per class and the winning labels, for one
    output or several.

    The class sets ``classes_`` and the encoded labels ``_y`` with
    :func:`encode_class_targets`; ``_y`` is 2-D exactly when there are several outputs (so
    models saved before multi-output support still load).
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.classifier_tags.multi_label = True
        return tags

    def _fit_class_targets(self, y) -> None:
        self.classes_, self._y, self.outputs_2d_ = encode_class_targets(y)

    def _output_classes(self) -> list[np.ndarray]:
        """``classes_`` as a list, one array per output."""
        return list(self.classes_) if self._y.ndim == 2 else [self.classes_]

    def _output_labels(self, output: int) -> np.ndarray:
        """Encoded training labels of one output, ``(n_samples,)``."""
        return self._y[:, output] if self._y.ndim == 2 else self._y

    def _as_fitted_outputs(self, per_output: list):
        """A per-output list as the fit's ``y`` was shaped: the single item for 1-D ``y``."""
        return per_output if self._y.ndim == 2 else per_output[0]

    def _labels_of_shares(self, shares_per_output: list[np.ndarray]) -> np.ndarray:
        """The winning label of each query for each output: ties go to the first class
        (the smallest label). Shape ``(n_queries,)`` or ``(n_queries, n_outputs)``."""
        labels = [
            classes[np.argmax(shares, axis=1)]
            for classes, shares in zip(self._output_classes(), shares_per_output, strict=True)
        ]
        return np.stack(labels, axis=1) if self._y.ndim == 2 else labels[0]


@register_saveable
class KNNClassifier(VotingClassifierMixin, WeightedNeighborsBase):
    """Classify each sample by a vote of its k nearest training samples.

    Exact: the neighbours are those of a float64 brute force, with equal distances ordered by
    training index. A tie in the vote goes to the class that comes first in ``classes_``
    (the smallest label), as in scikit-learn. ``y`` may have several columns (multi-output):
    each output is voted on separately by the same neighbours with the same weights.

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
    leaf_size : int, default=30
        Leaf size of the trees: their speed, never the neighbours.
    metric : {"minkowski", "euclidean", "manhattan", "chebyshev", "cosine", "hamming", \
"precomputed"} or callable, default="minkowski"
        Distance between samples. ``"precomputed"``: ``X`` holds distances to the training
        samples (a square matrix at ``fit``); a callable ``metric(a, b)`` on two rows is
        exact but slow. ``"hamming"`` is the fraction of differing features;
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
    metric_params : dict, default=None
        Extra arguments of the metric: ``{"w": weights}`` for weighted Minkowski, or the
        keyword arguments of a callable metric.
    n_jobs : int, default=None
        Threads for the search; ``None`` or -1 uses every core.
    working_memory : float, default=None
        Megabytes of temporary memory the search may use per block (default 256).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,) or list of such arrays
        The sorted class labels (any type: integers, strings); with 2-D ``y``, one array per
        output.
    outputs_2d_ : bool
        Whether ``y`` was 2-D at ``fit`` (several outputs).
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

    _SPARSE_INPUT = True

    def fit(self, X, y):
        """Store the training samples ``X`` (n_samples, n_features) and their labels ``y``
        (n_samples,) or (n_samples, n_outputs)."""
        self._check_weights()
        X, y = self._validate_training_data(X, y, multi_output=True)
        self._fit_class_targets(y)
        self._fit_training_rows(X)
        return self

    def predict_proba(self, X):
        """Share of the (weighted) vote each class gets, shape (n_queries, n_classes), or a
        list of such arrays, one per output, for 2-D ``y``.

        Columns follow ``classes_``. ``X=None`` scores the training samples, each left out of
        its own vote.
        """
        check_is_fitted(self)
        indices, weights = self._neighbor_weights(X)
        return self._as_fitted_outputs(self._shares_per_output(indices, weights))

    def _shares_per_output(self, indices, weights) -> list[np.ndarray]:
        return [
            vote_shares(self._output_labels(output)[indices], weights, len(classes))
            for output, classes in enumerate(self._output_classes())
        ]

    def class_positions(self, indices) -> np.ndarray:
        """Position in ``classes_`` of the label of each training sample at ``indices``
        (with 2-D ``y``, one more axis: one position per output)."""
        check_is_fitted(self)
        return self._y[np.asarray(indices)]

    def vote(self, distances, indices):
        """:meth:`predict_proba` from neighbours already found by :meth:`kneighbors`, so a
        caller that shows the neighbours too searches once."""
        check_is_fitted(self)
        self._check_weights()
        weights = self._vote_weights(np.asarray(distances), self.weights)
        return self._as_fitted_outputs(self._shares_per_output(np.asarray(indices), weights))

    def predict(self, X):
        """Predicted class of each query sample, (n_queries,) or (n_queries, n_outputs)."""
        check_is_fitted(self)
        indices, weights = self._neighbor_weights(X)
        return self._labels_of_shares(self._shares_per_output(indices, weights))
