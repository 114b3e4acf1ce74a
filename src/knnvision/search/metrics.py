"""The distances knnvision searches with, and their exact float64 definitions.

Every backend orders neighbours by a *reduced* distance, a monotone stand-in that is
cheaper to compute (the squared sum for Euclidean, ``sum |x - y|^p`` for Minkowski), and
converts to the true distance only for the k it returns. Ties in the reduced distance go to
the smaller training index.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

METRIC_NAMES = ("euclidean", "manhattan", "minkowski", "chebyshev", "cosine", "hamming")

# The other names scikit-learn's neighbours estimators (and its DistanceMetric) give these
# distances. "p" is DistanceMetric's name for Minkowski; here it takes the estimator's ``p``.
# "sqeuclidean" finds the Euclidean neighbours and reports squared distances, as there.
METRIC_ALIASES = {
    "l1": "manhattan",
    "cityblock": "manhattan",
    "l2": "euclidean",
    "sqeuclidean": "euclidean",
    "infinity": "chebyshev",
    "p": "minkowski",
}

# Metrics that satisfy the triangle inequality, and so can be searched with a tree.
TREE_METRICS = {
    "kd_tree": ("euclidean", "manhattan", "minkowski", "chebyshev"),
    "ball_tree": ("euclidean", "manhattan", "minkowski", "chebyshev", "hamming"),
}


@dataclass(frozen=True)
class Metric:
    """A resolved metric: ``name`` is one of euclidean, manhattan, chebyshev, minkowski,
    cosine or hamming, with Minkowski ``p`` of 1, 2 and infinity folded into the names
    manhattan, euclidean and chebyshev. ``squared`` (Euclidean only) reports squared
    distances; the neighbours are the same."""

    name: str
    p: float = 2.0
    squared: bool = False

    @property
    def is_true_metric(self) -> bool:
        """False for Minkowski with ``0 < p < 1``: no triangle inequality, so no tree."""
        return self.name != "minkowski" or self.p >= 1

    def to_distance(self, reduced: np.ndarray) -> np.ndarray:
        """Turn reduced distances into true distances (float64)."""
        reduced = np.asarray(reduced, dtype=np.float64)
        if self.name == "euclidean" and not self.squared:
            return np.sqrt(reduced)
        if self.name == "minkowski":
            return reduced ** (1.0 / self.p)
        return reduced


def resolve_metric(metric: str, p: float | None = None) -> Metric:
    """Validate ``metric`` (and ``p`` for Minkowski) and return its canonical form.

    ``metric`` is one of ``METRIC_NAMES`` or a scikit-learn alias (``METRIC_ALIASES``).
    ``p`` is any real number > 0, NumPy scalars included, or infinity; below 1 Minkowski is
    not a metric (no triangle inequality) and only brute force can search with it.

    Raises
    ------
    ValueError
        For an unknown metric name or a Minkowski ``p`` that is not a number > 0.
    """
    canonical = METRIC_ALIASES.get(metric, metric) if isinstance(metric, str) else metric
    if not isinstance(canonical, str) or canonical not in METRIC_NAMES:
        raise ValueError(
            f"Unknown metric {metric!r}; choose one of {', '.join(METRIC_NAMES)} "
            f"(or scikit-learn's names {', '.join(METRIC_ALIASES)})."
        )
    if canonical != "minkowski":
        return Metric(canonical, squared=metric == "sqeuclidean")
    p = check_minkowski_p(2.0 if p is None else p)
    if p == 1:
        return Metric("manhattan")
    if p == 2:
        return Metric("euclidean")
    if math.isinf(p):
        return Metric("chebyshev")
    return Metric("minkowski", p)


def check_minkowski_p(p) -> float:
    """``p`` as a float: any real number > 0 (NumPy scalars too) or infinity; not a bool."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not float(p) > 0:
        raise ValueError(
            f"Minkowski p must be a number > 0 (1 is Manhattan, 2 Euclidean), got {p!r}."
        )
    return float(p)


def reduced_distances(queries: np.ndarray, train: np.ndarray, metric: Metric) -> np.ndarray:
    """Exact reduced distances between every query row and every training row, in float64.

    This is the definition every backend must agree with. It materialises a
    ``len(queries) x len(train) x n_features`` difference array, so callers pass blocks.
    """
    q = np.asarray(queries, dtype=np.float64)
    t = np.asarray(train, dtype=np.float64)
    if metric.name == "cosine":
        return _cosine_distances(q, t)
    if metric.name == "hamming":
        return (q[:, None, :] != t[None, :, :]).mean(axis=2)
    diff = np.abs(q[:, None, :] - t[None, :, :])
    if metric.name == "euclidean":
        return (diff * diff).sum(axis=2)
    if metric.name == "manhattan":
        return diff.sum(axis=2)
    if metric.name == "chebyshev":
        return diff.max(axis=2, initial=0.0)
    return (diff**metric.p).sum(axis=2)


def _cosine_distances(q: np.ndarray, t: np.ndarray) -> np.ndarray:
    # A zero vector has no direction: its similarity to everything is 0, so its distance is 1
    # (the convention of scikit-learn's cosine_distances).
    # Summed per pair (not a matrix product) so a pair's value never depends on the block
    # it was computed in: equal vectors then tie exactly and go to the smaller index.
    similarity = (_unit_rows(q)[:, None, :] * _unit_rows(t)[None, :, :]).sum(axis=2)
    return np.clip(1.0 - similarity, 0.0, 2.0)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.sqrt((x * x).sum(axis=1))
    norms[norms == 0] = 1.0
    return x / norms[:, None]
