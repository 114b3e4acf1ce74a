"""Scoring a grid of KNN settings with one neighbour search per fold and search setting.

The engine behind :class:`~knnvision.KNNSearchCV`, :func:`~knnvision.validation_curve` and
the cross-validation of ``knnvision run`` (:mod:`knnvision.selection.search_cv`), and behind
their Dask version (:mod:`knnvision.selection.dask`), which runs the same
scoring in tasks. A :class:`GridPlan` splits the candidates into groups that share their
neighbours (same preprocessing, same search settings); each group is searched once, at its
largest k, and every k and weighting of the group is scored from that one list.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline

from .. import progress
from ..neighbors import KNNClassifier
from ..neighbors._base import check_n_neighbors, check_weights, neighbor_weights
from ..neighbors.classifier import vote_shares

# Parameters of the classifier that only change the vote, never the neighbours.
_VOTE_PARAMS = ("n_neighbors", "weights")


# --------------------------------------------------------------------------


@dataclass
class Group:
    """Candidates that share their neighbours: same preprocessing, same search settings."""

    prefix_params: dict
    search_params: dict
    members: list[int] = field(default_factory=list)
    votes: list[tuple[int, object]] = field(default_factory=list)  # (k, weights) per member


class GridPlan:
    """How a grid over ``estimator`` splits into searches, and the vote each candidate needs.

    ``estimator`` is a KNNClassifier or a Pipeline whose last step is one. A parameter of the
    classifier step other than ``n_neighbors``/``weights`` changes the search; a parameter of
    an earlier step changes the features the search runs on.
    """

    def __init__(self, estimator, candidates: list[dict]):
        self.estimator = estimator
        self.vote_prefix = classifier_prefix(estimator)
        self.groups: list[Group] = []
        for index, params in enumerate(candidates):
            self._add(index, params)

    def _add(self, index: int, params: dict) -> None:
        vote = {key: value for key, value in params.items() if self._is_vote_param(key)}
        rest = {key: value for key, value in params.items() if key not in vote}
        prefix = {key: value for key, value in rest.items() if self._is_prefix_param(key)}
        search = {key: value for key, value in rest.items() if key not in prefix}
        group = next(
            (
                g
                for g in self.groups
                if _same(g.prefix_params, prefix) and _same(g.search_params, search)
            ),
            None,
        )
        if group is None:
            group = Group(prefix, search)
            self.groups.append(group)
        classifier = self.classifier(self.configured(group))
        k = check_n_neighbors(vote.get(self.vote_prefix + "n_neighbors", classifier.n_neighbors))
        weights = vote.get(self.vote_prefix + "weights", classifier.weights)
        check_weights(weights)
        group.members.append(index)
        group.votes.append((k, weights))

    def _is_vote_param(self, key: str) -> bool:
        return key in (self.vote_prefix + name for name in _VOTE_PARAMS)

    def _is_prefix_param(self, key: str) -> bool:
        # Pipeline parameters that are not the classifier step's: earlier steps (or the
        # pipeline's own, like ``memory``) shape the features.
        return bool(self.vote_prefix) and not key.startswith(self.vote_prefix)

    def configured(self, group: Group):
        """A fresh copy of the estimator with the group's non-vote parameters set."""
        return clone(self.estimator).set_params(**group.prefix_params, **group.search_params)

    @staticmethod
    def classifier(estimator) -> KNNClassifier:
        return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator

    def prefix_sets(self) -> list[list[Group]]:
        """Groups bundled by their preprocessing, so each preprocessing is fitted once."""
        bundles: list[list[Group]] = []
        for group in self.groups:
            bundle = next(
                (b for b in bundles if _same(b[0].prefix_params, group.prefix_params)), None
            )
            if bundle is None:
                bundles.append([group])
            else:
                bundle.append(group)
        return bundles


def classifier_prefix(estimator) -> str:
    """``""`` for a bare classifier, ``"<step>__"`` for a Pipeline's last step."""
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    if not isinstance(final, KNNClassifier):
        raise ValueError(
            f"KNNSearchCV tunes a KNNClassifier or a Pipeline ending in one; got "
            f"{type(final).__name__}. Use scikit-learn's GridSearchCV for other estimators."
        )
    return f"{estimator.steps[-1][0]}__" if isinstance(estimator, Pipeline) else ""


def _same(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    return all(_same_value(a[key], b[key]) for key in a)


def _same_value(a, b) -> bool:
    if a is b:
        return True
    if isinstance(a, BaseEstimator) or isinstance(b, BaseEstimator):
        return False  # estimator objects are compared by identity only
    try:
        return bool(type(a) is type(b) and a == b)
    except (TypeError, ValueError):  # arrays and other values without a plain ==
        return False


@dataclass
class SplitScores:
    """Accuracy of every candidate on one split, and the time spent (shared out evenly)."""

    scores: np.ndarray
    fit_times: np.ndarray
    score_times: np.ndarray


def score_split(
    plan: GridPlan, n_candidates: int, X_train, y_train, X_test, y_test, n_classes: int, task
) -> SplitScores:
    """Score every candidate on one train/test split: one search per group.

    ``y_train``/``y_test`` are class codes ``0 .. n_classes - 1``.
    """
    result = SplitScores(*(np.zeros(n_candidates) for _ in range(3)))
    for bundle in plan.prefix_sets():
        started = time.perf_counter()
        train_features, test_features = preprocess_fold(
            plan.configured(bundle[0]), X_train, y_train, X_test
        )
        prefix_seconds = (time.perf_counter() - started) / len(bundle)
        for group in bundle:
            score_group(
                plan,
                group,
                train_features,
                y_train,
                test_features,
                y_test,
                n_classes,
                prefix_seconds,
                result,
            )
            task.advance()
    return result


def preprocess_fold(configured, X_train, y_train, X_test):
    """Fit the steps before the classifier on the training part only; transform both."""
    if not isinstance(configured, Pipeline) or len(configured.steps) == 1:
        return X_train, X_test
    steps = configured[:-1]
    return steps.fit_transform(X_train, y_train), steps.transform(X_test)


def score_group(
    plan,
    group,
    train_features,
    y_train,
    test_features,
    y_test,
    n_classes,
    prefix_seconds,
    result: SplitScores,
) -> None:
    largest = max(k for k, _ in group.votes)
    if largest > len(y_train):
        raise ValueError(
            f"n_neighbors={largest} is larger than a cross-validation training fold "
            f"({len(y_train)} samples); use a smaller k or fewer folds."
        )
    started = time.perf_counter()
    classifier = clone(plan.classifier(plan.configured(group))).set_params(n_neighbors=largest)
    classifier.fit(train_features, y_train)
    fitted = time.perf_counter()
    distances, indices = classifier.kneighbors(test_features)
    neighbor_labels = y_train[indices]
    for member, (k, weights) in zip(group.members, group.votes, strict=True):
        shares = vote_shares(
            neighbor_labels[:, :k], neighbor_weights(distances[:, :k], weights), n_classes
        )
        result.scores[member] = np.mean(np.argmax(shares, axis=1) == y_test)
    finished = time.perf_counter()
    share = len(group.members)
    result.fit_times[group.members] = prefix_seconds / share + (fitted - started) / share
    result.score_times[group.members] = (finished - fitted) / share


def local_grid_fold_scores(estimator, candidates: list[dict], X, y, folds, description: str):
    """``(scores, fit_times, score_times)``, each ``(n_candidates, n_folds)``, in this process."""
    plan = GridPlan(estimator, candidates)
    X = as_array(X)
    classes, codes = np.unique(np.asarray(y), return_inverse=True)
    parts = []
    with progress.track(total=len(folds) * len(plan.groups), description=description) as task:
        for train, test in folds:
            parts.append(
                score_split(
                    plan,
                    len(candidates),
                    X[train],
                    codes[train],
                    X[test],
                    codes[test],
                    len(classes),
                    task,
                )
            )
    return tuple(
        np.stack([getattr(p, name) for p in parts], axis=1)
        for name in ("scores", "fit_times", "score_times")
    )


def as_array(X):
    # Lists and data frames are indexed by row numbers below; arrays pass through untouched
    # (uint8 images stay uint8 for the search's integer fast paths).
    return X if isinstance(X, np.ndarray) else np.asarray(X)
