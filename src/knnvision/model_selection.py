"""Choosing k, the weighting and the distance by cross-validation, reusing neighbours.

For each fold and each distance the neighbours are searched once, at the largest k asked
for; every smaller k and both weightings are scored from that one list. The k-nearest of a
query are a prefix of its (k+1)-nearest, so this gives exactly the scores of refitting a
classifier for each setting, at the cost of one search instead of one per setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import StratifiedKFold

from . import progress
from .estimators import KNNClassifier
from .estimators._base import check_n_neighbors, check_weights, neighbor_weights
from .estimators.classifier import vote_shares


@dataclass(frozen=True)
class Candidate:
    """One setting of the grid."""

    n_neighbors: int
    weights: str
    metric: str
    p: float = 2

    def params(self) -> dict:
        return {"n_neighbors": self.n_neighbors, "weights": self.weights,
                "metric": self.metric, "p": self.p}


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
            {**c.params(), "mean_accuracy": float(m), "std_accuracy": float(s),
             "fold_accuracies": [float(v) for v in folds]}
            for c, m, s, folds in zip(
                self.candidates, self.mean_scores, self.std_scores, self.fold_scores
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
) -> CVResult:
    """Stratified k-fold accuracy of every (metric, weights, k) combination.

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
    classes, encoded = np.unique(y, return_inverse=True)
    folds = list(StratifiedKFold(cv, shuffle=True, random_state=seed).split(X, encoded))
    candidates = [
        Candidate(k, w, metric, p) for metric, p in metrics for w in weights for k in ks
    ]
    scores = np.zeros((len(candidates), len(folds)))
    with progress.track(total=len(metrics) * len(folds), description="cross-validating") as task:
        for m, (metric, p) in enumerate(metrics):
            for f, (train, test) in enumerate(folds):
                block = _score_fold(
                    X, encoded, train, test, len(classes), ks, weights, metric, p, algorithm, n_jobs
                )
                start = m * len(weights) * len(ks)
                scores[start : start + block.size, f] = block.ravel()
                task.advance()
    return CVResult(candidates, scores, len(folds))


def _score_fold(X, encoded, train, test, n_classes, ks, weights, metric, p, algorithm, n_jobs):
    """Accuracy on one fold for each (weights, k): one search at the largest k."""
    largest = ks[-1]
    if largest > len(train):
        raise ValueError(
            f"n_neighbors={largest} is larger than a cross-validation training fold "
            f"({len(train)} samples); use a smaller k or fewer folds."
        )
    model = KNNClassifier(largest, metric=metric, p=p, algorithm=algorithm, n_jobs=n_jobs)
    distances, indices = model.fit(X[train], encoded[train]).kneighbors(X[test])
    neighbor_labels = encoded[train][indices]
    truth = encoded[test]
    block = np.zeros((len(weights), len(ks)))
    for w, weighting in enumerate(weights):
        for j, k in enumerate(ks):
            shares = vote_shares(
                neighbor_labels[:, :k], neighbor_weights(distances[:, :k], weighting), n_classes
            )
            block[w, j] = np.mean(np.argmax(shares, axis=1) == truth)
    return block
