"""Neighbours within a radius: classification and regression by every training sample within
a distance of the query (scikit-learn's ``RadiusNeighborsClassifier`` and
``RadiusNeighborsRegressor``).

The neighbours come from the exact radius search (``NeighborsBase._radius_search``): every
training sample whose distance is at most ``radius``, as a float64 brute force finds them.
They vote (:func:`.classifier.class_votes`) or are averaged (:func:`.regressor.neighbor_means`)
with the same ``weights`` rule as the k-neighbours estimators; the number of neighbours
varies from query to query, so both work on flat neighbour lists.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_is_fitted

from ..io import register_saveable
from ..search import RadiusNeighbors
from ._base import WeightedNeighborsBase, check_weights, object_array
from .classifier import VotingClassifierMixin, class_votes, shares_of_votes
from .regressor import neighbor_means

# How many sample numbers an error message lists before it says "and N more".
_SHOWN_SAMPLES = 20


def radius_neighbor_weights(found: RadiusNeighbors, query_rows: np.ndarray, weights):
    """The weight of each neighbour of ``found`` (flat, like ``found.distances``), or ``None``
    for a plain (uniform) vote.

    ``query_rows[j]`` is the query of neighbour ``j``. ``"distance"`` weighs ``1 / d``, and a
    query with training samples at distance 0 gives those weight 1 and its other neighbours
    weight 0 (the rule of :func:`._base.neighbor_weights`). A callable receives, as in
    scikit-learn, an object array holding each query's distances and returns one array of
    weights per query; a query with neighbours that all get weight 0 is an error.
    """
    if weights is None or weights == "uniform":
        return None
    if weights == "distance":
        exact = found.distances == 0
        has_exact = np.bincount(query_rows[exact], minlength=found.n_queries) > 0
        with np.errstate(divide="ignore"):
            result = 1.0 / found.distances
        decided_by_exact = has_exact[query_rows]
        result[decided_by_exact] = exact[decided_by_exact]
        return result
    return _callable_weights(found, query_rows, weights)


def _callable_weights(found: RadiusNeighbors, query_rows: np.ndarray, weights) -> np.ndarray:
    distances, _ = found.per_query()
    per_query = weights(object_array(distances))
    counts = found.counts()
    if len(per_query) != found.n_queries or any(
        np.shape(row) != (count,) for row, count in zip(per_query, counts, strict=True)
    ):
        raise ValueError(
            "The weights callable must return one array of weights per query, each as long "
            "as that query's array of distances."
        )
    flat = np.concatenate([np.asarray(row, dtype=np.float64) for row in per_query] + [[]])
    has_weight = np.bincount(query_rows[flat != 0], minlength=found.n_queries) > 0
    if np.any((counts > 0) & ~has_weight):
        raise ValueError(
            "The weights callable gave every neighbour of some query weight 0, so that query "
            "has no vote; make it give at least one neighbour a non-zero weight."
        )
    return flat


def _listed(samples: np.ndarray) -> str:
    shown = ", ".join(str(sample) for sample in samples[:_SHOWN_SAMPLES])
    more = len(samples) - _SHOWN_SAMPLES
    return f"{shown} and {more} more" if more > 0 else shown


class RadiusNeighborsBase(WeightedNeighborsBase):
    """Neighbours estimators whose neighbours are the training samples within ``radius``
    (they have no ``n_neighbors``). ``radius_neighbors`` and ``radius_neighbors_graph``
    come from :class:`._base.NeighborsBase`."""

    _SPARSE_INPUT = True

    def __init__(
        self,
        radius=1.0,
        *,
        weights="uniform",
        algorithm="auto",
        leaf_size=30,
        p=2,
        metric="minkowski",
        metric_params=None,
        n_jobs=None,
        working_memory=None,
        backend="local",
        scheduler=None,
    ):
        super().__init__(
            None,
            weights=weights,
            algorithm=algorithm,
            leaf_size=leaf_size,
            p=p,
            metric=metric,
            metric_params=metric_params,
            n_jobs=n_jobs,
            working_memory=working_memory,
            backend=backend,
            scheduler=scheduler,
        )
        self.radius = radius

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _weighted_radius_neighbors(self, X):
        """``(found, query_rows, weights)``: the neighbours of ``X`` within ``radius`` (``None``:
        the training samples, each without itself), the query of each neighbour, and the
        neighbours' weights (``None`` when uniform)."""
        check_is_fitted(self)
        check_weights(self.weights)
        found = self._radius_search(X, self.radius)
        query_rows = np.repeat(np.arange(found.n_queries), found.counts())
        return found, query_rows, radius_neighbor_weights(found, query_rows, self.weights)


@register_saveable
class RadiusNeighborsClassifier(VotingClassifierMixin, RadiusNeighborsBase):
    """Classify each sample by a vote of the training samples within ``radius`` of it.

    Exact: the voters are the training samples at distance at most ``radius`` (inclusive)
    by a float64 brute force. A tie in the vote goes to the class that comes first in
    ``classes_`` (the smallest label). ``y`` may have several columns (multi-output): each
    output is voted on separately by the same neighbours.

    Parameters
    ----------
    radius : float, default=1.0
        Largest distance of a voter, >= 0 (``np.inf``: every training sample votes).
    weights : {"uniform", "distance"}, callable or None, default="uniform"
        ``"uniform"`` (or ``None``): every neighbour counts once. ``"distance"``: a neighbour
        counts ``1 / distance``, and training samples at distance 0 decide alone (as in
        scikit-learn). A callable receives an object array holding each query's array of
        distances and returns the weights in the same form (as in scikit-learn); a query
        whose neighbours all get weight 0 raises a ValueError.
    algorithm : {"auto", "brute", "kd_tree", "ball_tree", "torch"}, default="auto"
        Search backend; every one finds the same neighbours.
    leaf_size : int, default=30
        Leaf size of the trees: their speed, never the neighbours.
    p : float, default=2
        Power of the Minkowski metric, as for :class:`~knnvision.KNNClassifier`.
    metric : str or callable, default="minkowski"
        Distance between samples, as for :class:`~knnvision.KNNClassifier`; also
        ``"precomputed"`` and a callable on two rows.
    outlier_label : label, "most_frequent", list of labels or None, default=None
        Label of a query with no training sample within ``radius``: ``None`` makes such a
        query an error (ValueError naming the samples); ``"most_frequent"`` the most
        frequent training label (per output); a label, used for every output; or one
        label per output. A label need not be one of the training classes (its
        probabilities are then all zero, with a warning).
    metric_params : dict, default=None
        Extra arguments of the metric (``{"w": weights}`` for weighted Minkowski).
    n_jobs : int, default=None
        Threads for the search; ``None`` or -1 uses every core.
    working_memory : float, default=None
        Megabytes of temporary memory the search may use per block (default 256).
    backend, scheduler
        Where the search runs, as for :class:`~knnvision.KNNClassifier`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,) or list of such arrays
        The sorted class labels; with 2-D ``y``, one array per output.
    outputs_2d_ : bool
        Whether ``y`` was 2-D at ``fit``.
    outlier_label_ : list or None
        The label given to queries without neighbours, one per output (``None`` when
        ``outlier_label`` is ``None``).
    n_features_in_ : int
        Number of features seen at ``fit``.
    n_samples_fit_ : int
        Number of training samples.
    effective_metric_ : str or callable
        The metric used, by scikit-learn's naming rules.
    effective_metric_params_ : dict
        Its parameters.
    effective_algorithm_ : str
        The search backend actually used.

    Notes
    -----
    Where scikit-learn differs: a bad ``outlier_label`` (a list of labels, or a label of
    another type than the classes) raises a ValueError where scikit-learn raises a
    TypeError; a string outlier label longer than the class names is accepted (scikit-learn
    refuses it); and a weights callable that gives every neighbour of a query weight 0
    raises a ValueError (scikit-learn gives that query the outlier label, or fails).
    Rows of ``radius_neighbors`` are always sorted by (distance, index).
    """

    def __init__(
        self,
        radius=1.0,
        *,
        weights="uniform",
        algorithm="auto",
        leaf_size=30,
        p=2,
        metric="minkowski",
        outlier_label=None,
        metric_params=None,
        n_jobs=None,
        working_memory=None,
        backend="local",
        scheduler=None,
    ):
        super().__init__(
            radius,
            weights=weights,
            algorithm=algorithm,
            leaf_size=leaf_size,
            p=p,
            metric=metric,
            metric_params=metric_params,
            n_jobs=n_jobs,
            working_memory=working_memory,
            backend=backend,
            scheduler=scheduler,
        )
        self.outlier_label = outlier_label

    def fit(self, X, y):
        """Store the training samples ``X`` (n_samples, n_features), dense or sparse, and
        their labels ``y`` (n_samples,) or (n_samples, n_outputs)."""
        check_weights(self.weights)
        X, y = self._validate_training_data(X, y, multi_output=True)
        self._fit_class_targets(y)
        self.outlier_label_ = self._fitted_outlier_labels()
        self._fit_training_rows(X)
        return self

    def _fitted_outlier_labels(self) -> list | None:
        """``outlier_label`` as one checked label per output (Python scalars, so a model file
        can hold them)."""
        given = self.outlier_label
        if given is None:
            return None
        output_classes = self._output_classes()
        if isinstance(given, str) and given == "most_frequent":
            labels = [
                classes[np.bincount(self._output_labels(output)).argmax()]
                for output, classes in enumerate(output_classes)
            ]
        elif _is_label(given):
            labels = [given] * len(output_classes)
        else:
            labels = list(given)
            if len(labels) != len(output_classes):
                raise ValueError(
                    f"outlier_label has {len(labels)} labels but y has {len(output_classes)} "
                    f"outputs: give one label per output, or a single label for all."
                )
        for output, (classes, label) in enumerate(zip(output_classes, labels, strict=True)):
            _check_outlier_label(label, classes, output)
        return [label.item() if isinstance(label, np.generic) else label for label in labels]

    def predict_proba(self, X):
        """Share of the (weighted) vote each class gets, shape (n_queries, n_classes), or a
        list of such arrays, one per output, for 2-D ``y``.

        Columns follow ``classes_``. A query without neighbours gets probability 1 for its
        outlier label, or 0 for every class (with a warning) when that label is not a class.
        ``X=None`` scores the training samples, each left out of its own vote.
        """
        return self._as_fitted_outputs(self._shares_per_output(X))

    def predict(self, X):
        """Predicted class of each query sample, (n_queries,) or (n_queries, n_outputs); a
        query without neighbours gets the outlier label."""
        shares_per_output = self._shares_per_output(X)
        labels = [
            self._labels_with_outliers(classes, shares, output)
            for output, (classes, shares) in enumerate(
                zip(self._output_classes(), shares_per_output, strict=True)
            )
        ]
        return np.stack(labels, axis=1) if self._y.ndim == 2 else labels[0]

    def _labels_with_outliers(self, classes, shares, output: int) -> np.ndarray:
        labels = classes[np.argmax(shares, axis=1)]
        no_vote = ~shares.any(axis=1)  # outliers whose label is not a class
        if no_vote.any():
            label = self.outlier_label_[output]
            labels = labels.astype(np.result_type(labels, np.asarray(label)))
            labels[no_vote] = label
        return labels

    def _shares_per_output(self, X) -> list[np.ndarray]:
        found, query_rows, weights = self._weighted_radius_neighbors(X)
        outliers = found.counts() == 0
        if outliers.any() and self.outlier_label_ is None:
            raise ValueError(
                f"No training samples within radius={self.radius} of the query samples "
                f"{_listed(np.flatnonzero(outliers))}; use a larger radius, give "
                f"outlier_label, or leave those samples out."
            )
        shares = []
        for output, classes in enumerate(self._output_classes()):
            neighbor_labels = self._output_labels(output)[found.indices]
            votes = class_votes(query_rows, neighbor_labels, weights, found.n_queries, len(classes))
            if outliers.any():
                self._vote_for_outlier_label(votes, outliers, classes, output)
            shares.append(shares_of_votes(votes))
        return shares

    def _vote_for_outlier_label(self, votes, outliers, classes, output: int) -> None:
        """Give the outliers' whole vote to their label, if it is one of the classes."""
        label = self.outlier_label_[output]
        position = np.flatnonzero(classes == label)
        if len(position) == 1:
            votes[outliers, position[0]] = 1.0
            return
        warnings.warn(
            f"outlier_label {label!r} is not one of the training classes of output {output}: "
            f"queries without neighbours get probability 0 for every class.",
            UserWarning,
            stacklevel=4,
        )


def _is_label(value) -> bool:
    """One label (a number, a string, a NumPy scalar), not a sequence of labels."""
    return isinstance(value, str | numbers.Number | np.generic)


def _check_outlier_label(label, classes: np.ndarray, output: int) -> None:
    """A label must be one value of the same kind as the classes (a number for numeric
    classes, a string for string classes), so predictions keep the classes' type."""
    if not _is_label(label):
        raise ValueError(
            f"outlier_label for output {output} must be a single label, got {label!r}."
        )
    kind = classes.dtype.kind
    if kind != "O" and np.result_type(classes.dtype, np.asarray(label).dtype).kind != kind:
        raise ValueError(
            f"outlier_label {label!r} for output {output} is not of the type of its classes "
            f"({classes.dtype}); give a label of that type."
        )


@register_saveable
class RadiusNeighborsRegressor(RegressorMixin, RadiusNeighborsBase):
    """Predict each sample's target as the (weighted) mean of the targets of the training
    samples within ``radius`` of it.

    Parameters are those of :class:`RadiusNeighborsClassifier` except ``outlier_label``:
    ``radius``, ``weights``, ``algorithm``, ``leaf_size``, ``p``, ``metric``,
    ``metric_params``, ``n_jobs``, ``working_memory``, ``backend``, ``scheduler``. With
    ``weights="distance"`` training samples at distance 0 decide alone (as in scikit-learn).
    A query with no training sample within ``radius`` is predicted NaN, with a warning.
    Targets may have several columns (multi-output).

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen at ``fit``.
    n_samples_fit_ : int
        Number of training samples.
    effective_metric_ : str or callable
        The metric used, by scikit-learn's naming rules.
    effective_metric_params_ : dict
        Its parameters.
    effective_algorithm_ : str
        The search backend actually used.
    """

    def fit(self, X, y):
        """Store the training samples ``X``, dense or sparse, and their targets ``y``
        (n_samples,) or (n_samples, n_outputs)."""
        check_weights(self.weights)
        X, y = self._validate_training_data(X, y, multi_output=True, y_numeric=True)
        self._y = np.asarray(y, dtype=np.float64)
        self._fit_training_rows(X)
        return self

    def predict(self, X):
        """Predicted target of each query sample, shaped like the training targets (NaN for
        a query without neighbours)."""
        found, query_rows, weights = self._weighted_radius_neighbors(X)
        means = neighbor_means(query_rows, self._y[found.indices], weights, found.n_queries)
        lonely = int(np.count_nonzero(found.counts() == 0))
        if lonely:
            warnings.warn(
                f"{lonely} of {found.n_queries} query samples have no training sample within "
                f"radius={self.radius}: their prediction is NaN. Use a larger radius to "
                f"avoid it.",
                UserWarning,
                stacklevel=2,
            )
        return means if self._y.ndim == 2 else means[:, 0]
