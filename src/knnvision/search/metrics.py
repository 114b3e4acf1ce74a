"""The distances knnvision searches with, and their exact float64 definitions.

Every backend orders neighbours by a *reduced* distance, a monotone stand-in that is
cheaper to compute (the squared sum for Euclidean, ``sum |x - y|^p`` for Minkowski), and
converts to the true distance only for the k it returns. Ties in the reduced distance go to
the smaller training index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

METRIC_NAMES = ("euclidean", "manhattan", "minkowski", "chebyshev", "cosine", "hamming")

# Metrics that satisfy the triangle inequality, and so can be searched with a tree.
TREE_METRICS = {
    "kd_tree": ("euclidean", "manhattan", "minkowski", "chebyshev"),
    "ball_tree": ("euclidean", "manhattan", "minkowski", "chebyshev", "hamming"),
}


@dataclass(frozen=True)
class Metric:
    """A resolved metric: ``name`` is one of euclidean, manhattan, chebyshev, minkowski,
    cosine or hamming, with Minkowski ``p`` of 1, 2 and infinity folded into the names
    manhattan, euclidean and chebyshev."""

    name: str
    p: float = 2.0

    def to_distance(self, reduced: np.ndarray) -> np.ndarray:
        """Turn reduced distances into true distances (float64)."""
        reduced = np.asarray(reduced, dtype=np.float64)
        if self.name == "euclidean":
            return np.sqrt(reduced)
        if self.name == "minkowski":
            return reduced ** (1.0 / self.p)
        return reduced


def resolve_metric(metric: str, p: float | None = None) -> Metric:
    """Validate ``metric`` (and ``p`` for Minkowski) and return its canonical form.

    Raises
    ------
    ValueError
        For an unknown metric name or a Minkowski ``p`` below 1.
    """
    if not isinstance(metric, str) or metric not in METRIC_NAMES:
        raise ValueError(
            f"Unknown metric {metric!r}; choose one of {', '.join(METRIC_NAMES)}."
        )
    if metric != "minkowski":
        return Metric(metric)
    p = 2.0 if p is None else p
    if isinstance(p, bool) or not isinstance(p, (int, float)) or math.isnan(p) or p < 1:
        raise ValueError(f"Minkowski p must be a number >= 1 (got {p!r}).")
    if p == 1:
        return Metric("manhattan")
    if p == 2:
        return Metric("euclidean")
    if math.isinf(p):
        return Metric("chebyshev")
    return Metric("minkowski", float(p))


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
