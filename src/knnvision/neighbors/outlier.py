"""Outlier detection by distance to the nearest training samples."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import OutlierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..io import register_saveable
from ._base import INPUT_DTYPES, NeighborsBase, check_enough_samples

AGGREGATES = ("kth", "mean")


@register_saveable
class KNNOutlierDetector(OutlierMixin, NeighborsBase):
    """Flag samples that lie far from their k nearest training samples.

    A sample's outlyingness is the distance to its k-th nearest training sample
    (``aggregate="kth"``) or the mean distance to its k nearest (``"mean"``). The threshold
    is learned at ``fit`` so that a fraction ``contamination`` of the training samples lies
    beyond it. Training samples are scored like any other sample, so each one counts itself
    as its own nearest neighbour (distance 0): use ``n_neighbors`` of 2 or more.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours the score looks at.
    contamination : float, default=0.1
        Expected share of outliers in the training data, in (0, 0.5].
    aggregate : {"kth", "mean"}, default="mean"
        Score by the k-th neighbour's distance or by the mean of the k distances.
    algorithm, metric, p, n_jobs, working_memory, backend, scheduler
        As for :class:`KNNClassifier` (``backend="dask"`` searches shards of the training
        samples on a Dask cluster; the scores are the same).

    Attributes
    ----------
    offset_ : float
        Threshold on ``score_samples``: below it a sample is an outlier.
    n_features_in_ : int
        Number of features seen at ``fit``.
    n_samples_fit_ : int
        Number of training samples.
    effective_algorithm_ : str
        The search backend actually used.
    """

    def __init__(
        self,
        n_neighbors=5,
        *,
        contamination=0.1,
        aggregate="mean",
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
        self.contamination = contamination
        self.aggregate = aggregate
        self.backend = backend
        self.scheduler = scheduler

    def fit(self, X, y=None):
        """Learn the training samples ``X`` and the outlier threshold; ``y`` is ignored."""
        self._check_parameters()
        X = validate_data(self, X, dtype=INPUT_DTYPES)
        self._fit_training_rows(X)
        check_enough_samples(self.n_neighbors, self.n_samples_fit_)
        training_scores = self._scores(self._fit_X)
        self.offset_ = float(np.quantile(training_scores, self.contamination))
        return self

    def score_samples(self, X):
        """Normality of each sample: minus its neighbour distance (higher is more normal)."""
        check_is_fitted(self)
        return self._scores(self._validate_queries(X))

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """-1 for outliers and +1 for inliers."""
        is_inlier = self.decision_function(X) >= 0
        return np.where(is_inlier, 1, -1)

    def _scores(self, queries):
        distances, _ = self.kneighbors(queries)
        if self.aggregate == "kth":
            return -distances[:, -1]
        return -distances.mean(axis=1)

    def _check_parameters(self):
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be 'kth' or 'mean', got {self.aggregate!r}.")
        contamination = self.contamination
        if (
            isinstance(contamination, bool)
            or not isinstance(contamination, numbers.Real)
            or not 0 < contamination <= 0.5
        ):
            raise ValueError(f"contamination must be a number in (0, 0.5], got {contamination!r}.")
