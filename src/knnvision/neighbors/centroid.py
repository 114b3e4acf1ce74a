"""Nearest centroid classification, with optional shrinkage of the centroids."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterator

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._available_if import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..io import register_saveable
from ..search import build_index

CENTROID_METRICS = ("euclidean", "manhattan")
PRIORS = ("uniform", "empirical")
# Sparse rows are densified this many values at a time (8 MB of float64) before a search:
# the search takes dense queries, and the centroids are few and dense anyway.
_DENSE_BLOCK_VALUES = 1 << 20


def _euclidean_only(estimator) -> bool:
    """``available_if`` check: the discriminant scores are defined for Euclidean only."""
    if estimator.metric != "euclidean":
        raise AttributeError(
            f"Discriminant scores and probabilities need metric='euclidean', not "
            f"{estimator.metric!r}."
        )
    return True


@register_saveable
class NearestCentroid(ClassifierMixin, BaseEstimator):
    """Classify each sample by the nearest class centroid.

    The same estimator as scikit-learn's: each class is represented by the mean of its
    training samples (``"euclidean"``) or their per-feature median (``"manhattan"``),
    optionally shrunk towards the overall mean (the nearest shrunken centroid method of
    Tibshirani et al., 2002). The nearest centroid is found by knnvision's exact search;
    a sample equally far from several centroids goes to the first of those classes in
    ``classes_``.

    Parameters
    ----------
    metric : {"euclidean", "manhattan"}, default="euclidean"
        Distance to the centroids; the centroids are means for ``"euclidean"`` and medians
        for ``"manhattan"``.
    shrink_threshold : float, default=None
        Shrink each centroid's standardised deviation from the overall mean by this much
        (soft thresholding: deviations that would change sign become 0). ``None``: no
        shrinkage.
    priors : {"uniform", "empirical"} or array-like of shape (n_classes,), default="uniform"
        Class prior probabilities: equal, the training proportions, or given (normalised
        to sum to 1, with a warning, when they do not). With priors that are not uniform,
        ``predict`` takes the largest discriminant score instead of the nearest centroid.

    Attributes
    ----------
    centroids_ : ndarray of shape (n_classes, n_features)
        Centroid of each class (after shrinkage).
    classes_ : ndarray of shape (n_classes,)
        The sorted class labels.
    class_prior_ : ndarray of shape (n_classes,)
        The class prior probabilities.
    deviations_ : ndarray of shape (n_classes, n_features)
        Standardised deviation of each (unshrunk) centroid from the overall mean, after
        soft thresholding when ``shrink_threshold`` is set.
    within_class_std_dev_ : ndarray of shape (n_features,)
        Pooled within-class standard deviation of each feature (around unshrunk centroids).
    n_features_in_ : int
        Number of features seen at ``fit``.
    """

    def __init__(self, metric="euclidean", *, shrink_threshold=None, priors="uniform"):
        self.metric = metric
        self.shrink_threshold = shrink_threshold
        self.priors = priors

    # --- fitting -------------------------------------------------------------------------

    def fit(self, X, y):
        """Compute the class centroids of ``X`` (n_samples, n_features), dense or sparse.

        Returns
        -------
        self : NearestCentroid
        """
        self._check_parameters()
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], dtype=np.float64)
        check_classification_targets(y)
        self.classes_, class_of_row = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                f"NearestCentroid needs at least two classes; y has {n_classes} class. "
                f"Give training samples of two or more classes."
            )
        class_sizes = np.bincount(class_of_row, minlength=n_classes).astype(np.float64)
        self.class_prior_ = self._class_priors(class_sizes)
        summary = _ClassSummary(X, class_of_row, n_classes, median=self.metric == "manhattan")
        self.centroids_ = summary.centroids
        n_samples = X.shape[0]
        self.within_class_std_dev_ = np.sqrt(summary.squared_deviations / (n_samples - n_classes))
        if np.any(self.within_class_std_dev_ == 0):
            warnings.warn(
                "within_class_std_dev_ is 0 for at least one feature: the samples of every "
                "class are identical in it.",
                UserWarning,
                stacklevel=2,
            )
        if np.all(summary.ranges == 0):
            raise ValueError(
                "Every feature has the same value in all samples (zero variance), so the "
                "centroids cannot be standardised; give samples that differ."
            )
        self._standardise_deviations(summary.overall_mean, class_sizes, n_samples)
        return self

    def _standardise_deviations(self, overall_mean, class_sizes, n_samples) -> None:
        """Set ``deviations_``, and shrink the centroids when asked."""
        # Each centroid's deviation from the overall mean in units of its standard error;
        # the median within-class deviation is added so that features with a tiny spread
        # do not dominate.
        size_factor = np.sqrt(1.0 / class_sizes - 1.0 / n_samples)[:, np.newaxis]
        spread = self.within_class_std_dev_ + np.median(self.within_class_std_dev_)
        scale = size_factor * spread
        self.deviations_ = (self.centroids_ - overall_mean) / scale
        if self.shrink_threshold:
            shrunk = np.abs(self.deviations_) - self.shrink_threshold
            self.deviations_ = np.sign(self.deviations_) * np.clip(shrunk, 0, None)
            self.centroids_ = overall_mean + scale * self.deviations_

    def _class_priors(self, class_sizes) -> np.ndarray:
        n_classes = len(class_sizes)
        if isinstance(self.priors, str):
            if self.priors == "empirical":
                return class_sizes / class_sizes.sum()
            return np.full(n_classes, 1.0 / n_classes)
        priors = np.asarray(self.priors, dtype=np.float64)
        if priors.shape != (n_classes,):
            raise ValueError(
                f"priors must have one value per class ({n_classes}), got shape {priors.shape}."
            )
        if np.any(priors < 0):
            raise ValueError(f"priors must be non-negative, got {priors}.")
        if not np.isclose(priors.sum(), 1.0):
            warnings.warn(
                "The priors do not sum to 1. Normalizing such that it sums to one.",
                UserWarning,
                stacklevel=3,
            )
            priors = priors / priors.sum()
        return priors

    def _check_parameters(self) -> None:
        if not isinstance(self.metric, str) or self.metric not in CENTROID_METRICS:
            raise ValueError(f"metric must be 'euclidean' or 'manhattan', got {self.metric!r}.")
        threshold = self.shrink_threshold
        if threshold is not None and (
            isinstance(threshold, bool)
            or not isinstance(threshold, numbers.Real)
            or not float(threshold) > 0
        ):
            raise ValueError(
                f"shrink_threshold must be a positive number or None, got {threshold!r}."
            )
        if isinstance(self.priors, str) and self.priors not in PRIORS:
            raise ValueError(
                f"priors must be 'uniform', 'empirical' or one probability per class, got "
                f"{self.priors!r}."
            )

    # --- prediction ----------------------------------------------------------------------

    def predict(self, X):
        """Class of each sample: that of the nearest centroid with uniform priors, else the
        class of largest discriminant score."""
        check_is_fitted(self)
        if not np.allclose(self.class_prior_, 1.0 / len(self.classes_)):
            return self.classes_[np.argmax(self._discriminant_scores(X), axis=1)]
        queries = self._validate_queries(X)
        index = build_index(self.centroids_, metric=self.metric, algorithm="brute")
        nearest = np.empty(queries.shape[0], dtype=np.intp)
        for rows, block in _dense_blocks(queries):
            nearest[rows] = index.query(block, 1)[1][:, 0]
        return self.classes_[nearest]

    def _discriminant_scores(self, X) -> np.ndarray:
        """Minus the squared standardised distance to each centroid, plus twice the log prior
        (Hastie, Tibshirani and Friedman, The Elements of Statistical Learning, eq. 18.2)."""
        check_is_fitted(self)
        queries = self._validate_queries(X)
        scale = np.where(self.within_class_std_dev_ != 0, self.within_class_std_dev_, 1.0)
        centroids = self.centroids_ / scale
        n_classes = len(self.classes_)
        index = build_index(centroids, metric=self.metric, algorithm="brute")
        distances = np.empty((queries.shape[0], n_classes))
        for rows, block in _dense_blocks(queries):
            # Every centroid, nearest first; put each distance back in its class's column.
            sorted_distances, classes = index.query(block / scale, n_classes)
            np.put_along_axis(distances[rows], classes, sorted_distances, axis=1)
        with np.errstate(divide="ignore"):  # a class of prior 0 never wins
            log_priors = np.log(self.class_prior_)
        return -(distances**2) + 2.0 * log_priors

    @available_if(_euclidean_only)
    def decision_function(self, X):
        """Discriminant score of each class, shape (n_samples, n_classes); for two classes,
        the second's score minus the first's, shape (n_samples,). Only for Euclidean."""
        scores = self._discriminant_scores(X)
        if len(self.classes_) == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    @available_if(_euclidean_only)
    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed stably. Only for Euclidean."""
        scores = self._discriminant_scores(X)
        shifted = scores - scores.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    @available_if(_euclidean_only)
    def predict_proba(self, X):
        """Class probabilities: a softmax of the discriminant scores, columns in
        ``classes_`` order. Only for Euclidean."""
        return np.exp(self.predict_log_proba(X))

    def _validate_queries(self, X):
        return validate_data(self, X, reset=False, accept_sparse="csr", dtype=np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class _ClassSummary:
    """Per-class centroids and squared deviations, the overall mean and each feature's
    range, from one pass over the classes (sparse rows densified one class at a time)."""

    def __init__(self, X, class_of_row, n_classes: int, *, median: bool):
        n_features = X.shape[1]
        self.centroids = np.empty((n_classes, n_features))
        self.squared_deviations = np.zeros(n_features)
        column_sums = np.zeros(n_features)
        low = np.full(n_features, np.inf)
        high = np.full(n_features, -np.inf)
        rows = X.tocsr() if scipy.sparse.issparse(X) else X
        for label in range(n_classes):
            members = _dense(rows[class_of_row == label])
            centroid = np.median(members, axis=0) if median else members.mean(axis=0)
            self.centroids[label] = centroid
            self.squared_deviations += ((members - centroid) ** 2).sum(axis=0)
            column_sums += members.sum(axis=0)
            low = np.minimum(low, members.min(axis=0))
            high = np.maximum(high, members.max(axis=0))
        self.overall_mean = column_sums / X.shape[0]
        self.ranges = high - low


def _dense(rows) -> np.ndarray:
    return rows.toarray() if scipy.sparse.issparse(rows) else np.asarray(rows)


def _dense_blocks(queries) -> Iterator[tuple[slice, np.ndarray]]:
    """``(rows, dense block)`` pairs covering ``queries``: one block when dense already."""
    if not scipy.sparse.issparse(queries):
        yield slice(None), queries
        return
    block_rows = max(1, _DENSE_BLOCK_VALUES // max(1, queries.shape[1]))
    for start in range(0, queries.shape[0], block_rows):
        rows = slice(start, start + block_rows)
        yield rows, queries[rows].toarray()
