"""Local outlier factor: how much sparser a sample's neighbourhood is than its neighbours'."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import OutlierMixin
from sklearn.utils._available_if import available_if
from sklearn.utils.validation import check_is_fitted

from ..io import register_saveable
from ._base import NeighborsBase

# Added to the mean reachability distance before inverting it, as scikit-learn does, so that a
# sample with more than n_neighbors duplicates gets a large but finite density.
_DENSITY_EPSILON = 1e-10
# Offset on the negative outlier factor with contamination="auto" (from the original paper:
# a factor above 1.5 marks an outlier).
_AUTO_OFFSET = -1.5


def _novelty_only(method_name: str):
    """``available_if`` check: the method exists only with ``novelty=True``."""

    def check(estimator) -> bool:
        if not estimator.novelty:
            raise AttributeError(
                f"{method_name} is not available when novelty=False: the training samples' "
                f"scores are in negative_outlier_factor_ and fit_predict labels them. Use "
                f"novelty=True to score new samples."
            )
        return True

    return check


def _outlier_detection_only(estimator) -> bool:
    """``available_if`` check: ``fit_predict`` exists only with ``novelty=False``."""
    if estimator.novelty:
        raise AttributeError(
            "fit_predict is not available when novelty=True: it labels the training samples. "
            "Use novelty=False to label the training samples, or fit then predict new ones."
        )
    return True


@register_saveable
class LocalOutlierFactor(OutlierMixin, NeighborsBase):
    """Unsupervised outlier detection by the local outlier factor (LOF) of each sample.

    A sample's local reachability density is the inverse of its mean reachability distance
    to its ``n_neighbors`` nearest training samples, where the reachability distance to a
    neighbour ``o`` is ``max(d(sample, o), k-distance(o))`` (``k-distance(o)``: the distance
    from ``o`` to its own k-th nearest training sample). Its LOF is the mean ratio of its
    neighbours' densities to its own: about 1 inside a cluster, well above 1 for an outlier.
    The same estimator as scikit-learn's, on knnvision's exact search: the neighbours are those
    of a float64 brute force, and where distances tie the smaller training index comes first
    (scikit-learn's order there is unspecified, so a factor can differ where ties decide
    which sample is the k-th neighbour).

    Parameters
    ----------
    n_neighbors : int, default=20
        Number of neighbours; more than the training samples allow is reduced to
        ``n_samples - 1`` with a warning.
    algorithm : {"auto", "brute", "kd_tree", "ball_tree", "torch"}, default="auto"
        Search backend; every one finds the same neighbours.
    leaf_size : int, default=30
        Leaf size of the tree backends.
    metric : str or callable, default="minkowski"
        Distance between samples, as for :class:`~knnvision.neighbors.KNeighborsClassifier`.
    p : float, default=2
        Power of the Minkowski metric.
    metric_params : dict, default=None
        Extra arguments of the metric (for instance Minkowski weights ``w``).
    contamination : "auto" or float, default="auto"
        Expected share of outliers in the training data, in (0, 0.5]; ``"auto"`` puts the
        threshold at a factor of 1.5.
    novelty : bool, default=False
        ``False``: detect outliers among the training samples (``fit_predict``). ``True``:
        detect novelties in new samples (``predict``, ``decision_function``,
        ``score_samples``); then ``fit_predict`` is unavailable.
    n_jobs : int, default=None
        Threads for the search; ``None`` or -1 uses every core.
    working_memory : float, default=None
        Megabytes of temporary memory the search may use per block (default 256).
    backend : {"local", "dask"}, default="local"
        Where the search runs (``"dask"``: shards on a Dask cluster; same neighbours).
    scheduler : str, default=None
        With ``backend="dask"``: the scheduler's address, ``"local"``, or ``None``.

    Attributes
    ----------
    negative_outlier_factor_ : ndarray of shape (n_samples,)
        Minus the LOF of each training sample (higher is more normal).
    n_neighbors_ : int
        The number of neighbours actually used.
    offset_ : float
        Threshold on ``negative_outlier_factor_`` (and ``score_samples``): below it a sample
        is an outlier.
    n_features_in_ : int
        Number of features seen at ``fit``.
    n_samples_fit_ : int
        Number of training samples.
    effective_algorithm_ : str
        The search backend actually used.
    """

    # As scikit-learn's: SciPy sparse rows are searched by brute force, without densifying.
    _SPARSE_INPUT = True

    def __init__(
        self,
        n_neighbors=20,
        *,
        algorithm="auto",
        leaf_size=30,
        metric="minkowski",
        p=2,
        metric_params=None,
        contamination="auto",
        novelty=False,
        n_jobs=None,
        working_memory=None,
        backend="local",
        scheduler=None,
    ):
        self.n_neighbors = n_neighbors
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.metric = metric
        self.p = p
        self.metric_params = metric_params
        self.contamination = contamination
        self.novelty = novelty
        self.n_jobs = n_jobs
        self.working_memory = working_memory
        self.backend = backend
        self.scheduler = scheduler

    # --- fitting -------------------------------------------------------------------------

    def fit(self, X, y=None):
        """Find each training sample's neighbours (itself left out) and its outlier factor.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training samples (with ``metric="precomputed"``: their distances to each
            other, shape (n_samples, n_samples)).
        y : None
            Ignored.

        Returns
        -------
        self : LocalOutlierFactor
        """
        _check_contamination(self.contamination)
        X = self._validate_training_data(X)
        self._fit_training_rows(X)
        self.n_neighbors_ = self._usable_n_neighbors()
        # One search: every training sample's neighbours, each one left out of its own.
        distances, indices = self.kneighbors(n_neighbors=self.n_neighbors_)
        self._k_distances = _in_dtype_of(distances[:, -1], X)
        self._densities = self._reachability_density(_in_dtype_of(distances, X), indices)
        self.negative_outlier_factor_ = self._negative_factor(self._densities, indices)
        if self.contamination == "auto":
            self.offset_ = _AUTO_OFFSET
        else:
            self.offset_ = float(
                np.percentile(self.negative_outlier_factor_, 100.0 * self.contamination)
            )
        if not self.novelty and self.negative_outlier_factor_.min() < -1e7:
            warnings.warn(
                "Duplicate samples give some training samples a near-infinite outlier "
                "factor; increase n_neighbors above the number of duplicates.",
                UserWarning,
                stacklevel=2,
            )
        return self

    def _usable_n_neighbors(self) -> int:
        n_samples = self.n_samples_fit_
        if self.n_neighbors > n_samples:
            warnings.warn(
                f"n_neighbors ({self.n_neighbors}) is greater than the total number of "
                f"samples ({n_samples}). n_neighbors will be set to (n_samples - 1) for "
                f"estimation.",
                UserWarning,
                stacklevel=3,
            )
        return max(1, min(int(self.n_neighbors), n_samples - 1))

    # --- the factor ----------------------------------------------------------------------

    def _reachability_density(self, distances, indices) -> np.ndarray:
        """Local reachability density of samples with these training neighbours."""
        reachability = np.maximum(distances, self._k_distances[indices])
        return 1.0 / (reachability.mean(axis=1) + _DENSITY_EPSILON)

    def _negative_factor(self, densities, indices) -> np.ndarray:
        """Minus the mean ratio of the neighbours' densities to each sample's own."""
        return -(self._densities[indices] / densities[:, np.newaxis]).mean(axis=1)

    # --- outlier detection on the training samples (novelty=False) ------------------------

    @available_if(_outlier_detection_only)
    def fit_predict(self, X, y=None):
        """Fit on ``X`` and label its samples: -1 for outliers, +1 for inliers.

        Only with ``novelty=False``.
        """
        return self.fit(X)._labels(self.negative_outlier_factor_)

    # --- novelty detection on new samples (novelty=True) ----------------------------------

    @available_if(_novelty_only("score_samples"))
    def score_samples(self, X):
        """Minus the local outlier factor of each new sample (higher is more normal).

        Only with ``novelty=True``. The training samples' own scores are in
        ``negative_outlier_factor_``: here a training sample counts itself as a neighbour.
        """
        check_is_fitted(self)
        queries = self._validate_queries(X)
        distances, indices = self.kneighbors(queries, n_neighbors=self.n_neighbors_)
        densities = self._reachability_density(_in_dtype_of(distances, queries), indices)
        return self._negative_factor(densities, indices)

    @available_if(_novelty_only("decision_function"))
    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers. Only with ``novelty=True``."""
        return self.score_samples(X) - self.offset_

    @available_if(_novelty_only("predict"))
    def predict(self, X=None):
        """-1 for outliers and +1 for inliers among new samples. Only with ``novelty=True``.

        ``X=None`` labels the training samples by ``negative_outlier_factor_``.
        """
        check_is_fitted(self)
        if X is None:
            return self._labels(self.negative_outlier_factor_)
        return self._labels(self.score_samples(X))

    def _labels(self, scores) -> np.ndarray:
        return np.where(scores < self.offset_, -1, 1)


def _in_dtype_of(distances: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Distances in float32 for float32 rows: scikit-learn's factors follow the input's
    float32 precision, so knnvision's do too."""
    return distances.astype(np.float32, copy=False) if rows.dtype == np.float32 else distances


def _check_contamination(contamination) -> None:
    if isinstance(contamination, str) and contamination == "auto":
        return
    if (
        isinstance(contamination, bool)
        or not isinstance(contamination, numbers.Real)
        or not 0 < float(contamination) <= 0.5
    ):
        raise ValueError(
            f"contamination must be 'auto' or a number in (0, 0.5], got {contamination!r}."
        )
