"""Choosing k, the weighting, the distance and the PCA size, reusing neighbours.

Refitting a classifier for every setting repeats the same search many times: the k nearest
neighbours of a query are the first k of its K nearest for any K >= k (ties go to the
smaller training index, so the order is total), and the weighting only changes the vote.
So for each fold, each setting of the preprocessing steps (a PCA size, say) and each distance,
the neighbours are searched **once**, at the largest k of the grid, and every k and both
weightings are scored from that one list. The scores are exactly those of refitting.

- :class:`KNNSearchCV` is a drop-in for scikit-learn's ``GridSearchCV`` over a
  :class:`~knnvision.KNNClassifier` or a ``Pipeline`` ending in one (``PCA`` first, say):
  same folds, same ``cv_results_``, same ``best_params_``.
- :func:`validation_curve` gives accuracy against k on a held-out validation split.
- :func:`cross_validate_grid` is the shuffled, stratified k-fold search ``knnvision run`` uses.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.model_selection import ParameterGrid, StratifiedKFold, check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ..neighbors import KNNClassifier
from ..neighbors._base import check_n_neighbors, check_weights
from .grid_scoring import GridPlan, as_array, classifier_prefix, local_grid_fold_scores


def grid_fold_scores(estimator, candidates: list[dict], X, y, folds, description: str):
    """``(scores, fit_times, score_times)``, each ``(n_candidates, n_folds)``: on the Dask
    cluster when the tuned classifier has ``backend="dask"``, else in this process."""
    if GridPlan.classifier(estimator).backend == "dask":
        from .dask import grid_fold_scores_on_dask  # dask is optional

        return grid_fold_scores_on_dask(estimator, candidates, X, y, folds, description)
    return local_grid_fold_scores(estimator, candidates, X, y, folds, description)


# --- KNNSearchCV ---------------------------------------------------------------------------
class KNNSearchCV(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Exhaustive grid search with cross-validation for k-nearest-neighbours classifiers.

    A drop-in for scikit-learn's ``GridSearchCV(estimator, param_grid, scoring="accuracy")``
    when ``estimator`` is a :class:`~knnvision.KNNClassifier` or a ``Pipeline`` ending in one:
    the same folds, ``cv_results_``, ``best_params_``, ``best_score_`` and ``best_index_``,
    computed with one neighbour search per fold, preprocessing setting and distance (at the
    largest k) instead of one per candidate.

    Parameters
    ----------
    estimator : KNNClassifier or Pipeline ending in a KNNClassifier
        The model to tune; its parameters not in the grid are kept.
    param_grid : dict or list of dicts
        Parameter names (as for ``estimator.set_params``, e.g. ``"pca__n_components"``,
        ``"knn__n_neighbors"``) mapped to the values to try, as in ``GridSearchCV``;
        NumPy arrays of values (``np.arange(2, 20, 2)``) work as there.
    scoring : {None, "accuracy"}, default=None
        Accepted so that ``GridSearchCV(..., scoring="accuracy")`` code runs unchanged; the
        search always scores accuracy (as ``GridSearchCV`` does for a classifier by
        default). Any other scoring is refused: use ``GridSearchCV`` for it.
    cv : int, cross-validation splitter or iterable, default=None
        As in ``GridSearchCV``: ``None`` is 5-fold, an integer is that many stratified
        (unshuffled) folds, or pass a splitter or ``(train, test)`` index pairs.
    refit : bool, default=True
        Refit the best setting on all the data as ``best_estimator_`` (needed for
        ``predict``, ``predict_proba`` and ``score``).
    n_jobs : int, default=None
        Threads for the searches and the preprocessing; ``None`` or -1 uses every core.
        (Folds run one after another: the search itself is multi-threaded.)

    Attributes
    ----------
    cv_results_ : dict of arrays
        As ``GridSearchCV``: ``params``, ``param_<name>`` (masked arrays),
        ``split<i>_test_score``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score``, and ``mean/std_fit_time`` and ``mean/std_score_time``, where a
        shared search's time is split evenly over the candidates it served.
    best_index_, best_params_, best_score_ :
        The first candidate with the highest mean accuracy, its parameters and accuracy.
    best_estimator_ : estimator
        The best setting refitted on all the data (when ``refit=True``).
    refit_time_ : float
        Seconds spent refitting.
    n_splits_ : int
        Number of folds.
    classes_ : ndarray
        Class labels (when ``refit=True``).

    Examples
    --------
    >>> from sklearn.pipeline import Pipeline
    >>> from knnvision import PCA, KNNClassifier, KNNSearchCV
    >>> model = Pipeline([("pca", PCA()), ("knn", KNNClassifier())])
    >>> search = KNNSearchCV(model, {"pca__n_components": [10, 20],
    ...                              "knn__n_neighbors": [1, 3, 5],
    ...                              "knn__weights": ["uniform", "distance"]})
    """

    def __init__(self, estimator, param_grid, *, scoring=None, cv=None, refit=True, n_jobs=None):
        self.estimator = estimator
        self.param_grid = param_grid
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.n_jobs = n_jobs

    def fit(self, X, y):
        """Score every candidate by cross-validation on ``(X, y)``, then refit the best."""
        if not isinstance(self.refit, (bool, np.bool_)):
            raise ValueError(f"refit must be True or False, got {self.refit!r}.")
        if self.scoring not in (None, "accuracy"):
            raise ValueError(
                f"KNNSearchCV scores by accuracy only, got scoring={self.scoring!r}; use "
                f"scikit-learn's GridSearchCV for other scores."
            )
        candidates = list(ParameterGrid(self.param_grid))
        if not candidates:
            raise ValueError("param_grid is empty: give at least one value for a parameter.")
        X_array = as_array(X)
        y_array = np.asarray(y)
        splitter = check_cv(self.cv, y_array, classifier=True)
        folds = list(splitter.split(X_array, y_array))
        scores, fit_times, score_times = grid_fold_scores(
            self._threaded(self.estimator),
            candidates,
            X_array,
            y_array,
            folds,
            "tuning by cross-validation",
        )
        self.cv_results_ = _cv_results(candidates, scores, fit_times, score_times)
        self.n_splits_ = len(folds)
        self.best_index_ = int(self.cv_results_["rank_test_score"].argmin())
        self.best_params_ = candidates[self.best_index_]
        self.best_score_ = float(self.cv_results_["mean_test_score"][self.best_index_])
        if self.refit:
            started = time.perf_counter()
            best = clone(self.estimator).set_params(**self.best_params_)
            self.best_estimator_ = best.fit(X, y)
            self.refit_time_ = time.perf_counter() - started
            self.classes_ = self.best_estimator_.classes_
            if hasattr(self.best_estimator_, "n_features_in_"):
                self.n_features_in_ = self.best_estimator_.n_features_in_
        return self

    def _threaded(self, estimator):
        """The estimator with the classifier's ``n_jobs`` set from ours (when given)."""
        if self.n_jobs is None:
            return estimator
        prefix = classifier_prefix(estimator)
        return clone(estimator).set_params(**{prefix + "n_jobs": self.n_jobs})

    def _best(self):
        check_is_fitted(self, "cv_results_")
        if not self.refit:
            raise ValueError(
                "This KNNSearchCV was fitted with refit=False, so it has no best_estimator_ to "
                "predict with; refit with refit=True or fit the best_params_ yourself."
            )
        return self.best_estimator_

    def predict(self, X):
        """Classes predicted by the refitted best estimator."""
        return self._best().predict(X)

    def predict_proba(self, X):
        """Class shares of the vote, from the refitted best estimator."""
        return self._best().predict_proba(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags = clone(self.estimator).__sklearn_tags__().input_tags
        return tags


def _cv_results(candidates, scores, fit_times, score_times) -> dict:
    """``cv_results_`` laid out as scikit-learn's searches lay it out."""
    results: dict = {}
    for name, values in (("fit_time", fit_times), ("score_time", score_times)):
        results[f"mean_{name}"], results[f"std_{name}"] = _mean_and_std(values)
    results.update(_param_columns(candidates))
    results["params"] = candidates
    for split in range(scores.shape[1]):
        results[f"split{split}_test_score"] = scores[:, split]
    results["mean_test_score"], results["std_test_score"] = _mean_and_std(scores)
    results["rank_test_score"] = rankdata(-results["mean_test_score"], method="min").astype(
        np.int32
    )
    return results


def _mean_and_std(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # np.average and this spread formula are what GridSearchCV uses: bit-identical results.
    means = np.average(values, axis=1)
    return means, np.sqrt(np.average((values - means[:, None]) ** 2, axis=1))


def _param_columns(candidates: list[dict]) -> dict:
    """One masked array per parameter name, masked where a candidate lacks the parameter."""
    names: list[str] = []
    for params in candidates:
        names.extend(name for name in params if name not in names)
    columns = {}
    for name in names:
        present = [params[name] for params in candidates if name in params]
        try:
            inferred = np.array(present)
        except ValueError:  # sequences of different lengths
            inferred = None
        dtype = np.dtype(object)
        if inferred is not None and inferred.ndim == 1 and inferred.dtype.kind != "U":
            dtype = inferred.dtype
        column = np.ma.MaskedArray(np.empty(len(candidates), dtype=dtype), mask=True)
        for index, params in enumerate(candidates):
            if name in params:
                column[index] = params[name]
        columns[f"param_{name}"] = column
    return columns


# --- validation curve ----------------------------------------------------------------------


@dataclass
class ValidationCurve:
    """Accuracy against k on one validation split.

    Attributes
    ----------
    n_neighbors : ndarray of int
        The values of k, increasing.
    accuracy : ndarray of float
        Validation accuracy at each k.
    weights : str
        The weighting used.
    """

    n_neighbors: np.ndarray
    accuracy: np.ndarray
    weights: str = "uniform"

    @property
    def best_index(self) -> int:
        """Position of the first (smallest) k with the highest accuracy."""
        return int(np.argmax(self.accuracy))

    @property
    def best_k(self) -> int:
        return int(self.n_neighbors[self.best_index])

    def to_records(self) -> list[dict]:
        """The plot data: one ``{"n_neighbors": k, "accuracy": a}`` per point."""
        return [
            {"n_neighbors": int(k), "accuracy": float(a)}
            for k, a in zip(self.n_neighbors, self.accuracy, strict=True)
        ]

    def plot(self, ax=None):
        """Draw accuracy against k (matplotlib), the best k marked; returns the axes."""
        import matplotlib.pyplot as plt  # noqa: PLC0415  (plotting is optional)

        ax = ax if ax is not None else plt.figure().add_subplot()
        ax.plot(self.n_neighbors, self.accuracy, marker="o")
        ax.axvline(self.best_k, color="black", linestyle=":")
        ax.set_xlabel("k (number of neighbours)")
        ax.set_ylabel("validation accuracy")
        return ax


def validation_curve(
    estimator,
    X_train,
    y_train,
    X_val,
    y_val,
    *,
    n_neighbors: Sequence[int] = (1, 3, 5, 9, 15, 25),
) -> ValidationCurve:
    """Validation accuracy of ``estimator`` for each k, from one search at the largest k.

    Parameters
    ----------
    estimator : KNNClassifier or Pipeline ending in one
        Sets everything but k (metric, weights, preprocessing). Preprocessing steps are
        fitted on the training part only.
    X_train, y_train : arrays
        Training rows and labels.
    X_val, y_val : arrays
        Validation rows and labels.
    n_neighbors : sequence of int, default=(1, 3, 5, 9, 15, 25)
        Values of k.

    Returns
    -------
    ValidationCurve
        Accuracy at each k, exactly what fitting the estimator with that k would score.
    """
    ks = sorted({check_n_neighbors(k) for k in n_neighbors})
    prefix = classifier_prefix(estimator)
    candidates = [{prefix + "n_neighbors": k} for k in ks]
    X_train, X_val = as_array(X_train), as_array(X_val)
    if X_train.ndim != 2 or X_val.ndim != 2 or X_train.shape[1] != X_val.shape[1]:
        raise ValueError(
            f"X_train and X_val must be 2-D with the same number of features; got shapes "
            f"{X_train.shape} and {X_val.shape}."
        )
    X = np.concatenate([X_train, X_val])
    y = np.concatenate([np.asarray(y_train), np.asarray(y_val)])
    split = (np.arange(len(X_train)), np.arange(len(X_train), len(X)))
    scores, _, _ = grid_fold_scores(estimator, candidates, X, y, [split], "validation curve")
    weights = GridPlan.classifier(estimator).weights
    label = "uniform" if weights is None else weights if isinstance(weights, str) else "callable"
    return ValidationCurve(np.array(ks), scores[:, 0], label)


# --- cross_validate_grid (knnvision run) ---------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One setting of the grid."""

    n_neighbors: int
    weights: str
    metric: str
    p: float = 2

    def params(self) -> dict:
        return {
            "n_neighbors": self.n_neighbors,
            "weights": self.weights,
            "metric": self.metric,
            "p": self.p,
        }


@dataclass
class CVResult:
    """Cross-validated accuracy of every candidate, in grid order."""

    candidates: list[Candidate]
    fold_scores: np.ndarray  # (n_candidates, n_folds)
    n_folds: int
    extra: dict = field(default_factory=dict)

    @property
    def mean_scores(self) -> np.ndarray:
        return self.fold_scores.mean(axis=1)

    @property
    def std_scores(self) -> np.ndarray:
        return self.fold_scores.std(axis=1)

    @property
    def best_index(self) -> int:
        """The first candidate with the highest mean score (grid order breaks ties)."""
        return int(np.argmax(self.mean_scores))

    @property
    def best(self) -> Candidate:
        return self.candidates[self.best_index]

    def to_records(self) -> list[dict]:
        return [
            {
                **c.params(),
                "mean_accuracy": float(m),
                "std_accuracy": float(s),
                "fold_accuracies": [float(v) for v in folds],
            }
            for c, m, s, folds in zip(
                self.candidates, self.mean_scores, self.std_scores, self.fold_scores, strict=True
            )
        ]


def cross_validate_grid(
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_neighbors: Sequence[int] = (1, 3, 5, 7, 9),
    weights: Sequence[str] = ("uniform",),
    metrics: Sequence[tuple[str, float]] = (("euclidean", 2),),
    cv: int = 5,
    seed: int = 0,
    algorithm: str = "auto",
    n_jobs: int | None = None,
    scheduler: str | None = None,
) -> CVResult:
    """Shuffled, stratified k-fold accuracy of every (metric, weights, k) combination.

    Parameters
    ----------
    X, y : arrays
        Training rows (n_samples, n_features) and their labels.
    n_neighbors : sequence of int, default=(1, 3, 5, 7, 9)
        Values of k to score.
    weights : sequence of {"uniform", "distance"}, default=("uniform",)
        Weightings to score.
    metrics : sequence of (metric name, p), default=(("euclidean", 2),)
        Distances to score; ``p`` matters for ``"minkowski"`` only.
    cv : int, default=5
        Number of stratified folds, shuffled with ``seed``.
    algorithm : str, default="auto"
        Search backend (see :class:`~knnvision.KNNClassifier`).
    n_jobs : int, default=None
        Threads for the search.
    scheduler : str, default=None
        Run the folds and distances as tasks on this Dask cluster (an address, or
        ``"local"``); ``None`` runs here.

    Returns
    -------
    CVResult
        Candidates in the order metric, weights, k (the first best wins ties).
    """
    ks = sorted({check_n_neighbors(k) for k in n_neighbors})
    for weighting in weights:
        check_weights(weighting)
        if callable(weighting):
            raise ValueError("Grid weights must be 'uniform' or 'distance'.")
    candidates = [Candidate(k, w, metric, p) for metric, p in metrics for w in weights for k in ks]
    folds = list(StratifiedKFold(cv, shuffle=True, random_state=seed).split(X, y))
    backend = "local" if scheduler is None else "dask"
    scores, _, _ = grid_fold_scores(
        KNNClassifier(algorithm=algorithm, n_jobs=n_jobs, backend=backend, scheduler=scheduler),
        [c.params() for c in candidates],
        X,
        y,
        folds,
        "cross-validating",
    )
    return CVResult(candidates, scores, len(folds))


# --- grids from plain lists (knnvision tune) ------------------------------------------------


def knn_grid(
    n_neighbors: Sequence[int],
    *,
    weights: Sequence[str] = ("uniform",),
    metrics: Sequence[tuple[str, float]] = (("euclidean", 2),),
    pca_sizes: Sequence[int | float] = (),
    algorithm: str = "auto",
) -> tuple[BaseEstimator, list[dict]]:
    """An estimator and a ``param_grid`` for :class:`KNNSearchCV`, from plain lists.

    Parameters
    ----------
    n_neighbors : sequence of int
        Values of k.
    weights : sequence of {"uniform", "distance"}, default=("uniform",)
        Weightings.
    metrics : sequence of (metric name, p), default=(("euclidean", 2),)
        Distances; ``p`` matters for ``"minkowski"`` only, so each metric is its own
        sub-grid (no useless ``euclidean x p`` combinations).
    pca_sizes : sequence of int or float, default=()
        PCA sizes to try (integers, or variance fractions below 1); 0 means "no PCA".
        Empty: the estimator is a bare :class:`~knnvision.KNNClassifier`.
    algorithm : str, default="auto"
        Search backend of the classifier.

    Returns
    -------
    estimator, param_grid
        ``KNNClassifier`` (or ``Pipeline([("pca", PCA()), ("knn", KNNClassifier())])``) and
        a list of sub-grids.
    """
    from ..transforms.pca import PCA  # noqa: PLC0415  (model selection works without PCA)

    classifier = KNNClassifier(algorithm=algorithm)
    features: list[dict[str, list]]  # the PCA part of each sub-grid
    if not pca_sizes:
        prefix, estimator, features = "", classifier, [{}]
    else:
        prefix = "knn__"
        estimator = Pipeline([("pca", PCA()), ("knn", classifier)])
        sizes = [size for size in pca_sizes if size != 0]
        features = ([{"pca__n_components": sizes}] if sizes else []) + (
            [{"pca": ["passthrough"]}] if len(sizes) < len(pca_sizes) else []
        )
    grid = [
        {
            **feature,
            prefix + "metric": [name],
            prefix + "p": [p],
            prefix + "n_neighbors": list(n_neighbors),
            prefix + "weights": list(weights),
        }
        for name, p in metrics
        for feature in features
    ]
    return estimator, grid
