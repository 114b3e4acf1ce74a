"""The test oracle: the plainest exact k-nearest-neighbour search, one query at a time.

Every backend must return exactly what this returns. It favours being obviously right over
being fast: for each query it computes all reduced distances in float64 and sorts them
stably, so equal distances keep training order (ties go to the smaller index).
"""

from __future__ import annotations

import numpy as np

from .metrics import Metric, reduced_distances


def reference_kneighbors(
    train: np.ndarray, queries: np.ndarray, k: int, metric: Metric
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(distances, indices)`` of the ``k`` nearest training rows of each query."""
    n_queries = len(queries)
    distances = np.empty((n_queries, k), dtype=np.float64)
    indices = np.empty((n_queries, k), dtype=np.int64)
    for row in range(n_queries):
        reduced = reduced_distances(queries[row : row + 1], train, metric)[0]
        order = np.argsort(reduced, kind="stable")[:k]
        indices[row] = order
        distances[row] = metric.to_distance(reduced[order])
    return distances, indices
