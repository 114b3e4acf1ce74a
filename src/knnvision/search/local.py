"""Search in this process: the backends, and the rule ``algorithm="auto"`` follows.

The measurements behind the rule are in the docstring of :mod:`knnvision.search`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .brute import BruteIndex
from .metrics import TREE_METRICS, Metric, resolve_metric

ALGORITHMS = ("auto", "brute", "kd_tree", "ball_tree", "torch")
DEFAULT_WORKING_MEMORY_MB = 256.0


class SearchIndex(Protocol):
    """What every backend offers, in this process or on a Dask cluster: a name, the metric
    and an exact ``query``."""

    algorithm: str
    metric: Metric

    def query(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, indices)``, both ``(len(queries), k)``, sorted nearest first."""
        ...


class LocalIndex(SearchIndex, Protocol):
    """A search in this process, which also holds its training rows and so can answer
    ``query_train`` (the Dask backend may keep its rows on the workers alone)."""

    train: np.ndarray

    def query_train(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest *other* training rows of every training row."""
        ...


def build_local_index(
    train: np.ndarray,
    *,
    metric: str = "euclidean",
    p: float | None = None,
    algorithm: str = "auto",
    working_memory_mb: float | None = None,
) -> LocalIndex:
    """Prepare exact k-nearest-neighbour search over the rows of ``train``, in this process.

    Parameters
    ----------
    train : ndarray of shape (n_samples, n_features)
        Training rows, already validated (finite, 2-D).
    metric : str, default="euclidean"
        One of ``METRIC_NAMES``, or a scikit-learn alias (``METRIC_ALIASES``).
    p : float, optional
        Minkowski power (> 0; below 1 only brute force); only used with
        ``metric="minkowski"``, default 2.
    algorithm : {"auto", "brute", "kd_tree", "ball_tree", "torch"}, default="auto"
        ``"auto"`` picks the fastest exact backend for the data and metric among the first
        three; ``"torch"`` (Euclidean and cosine, optional PyTorch) is used only when named.
    working_memory_mb : float, optional
        Budget for temporary blocks, default ``DEFAULT_WORKING_MEMORY_MB``.
    """
    resolved = resolve_metric(metric, p)
    algorithm = _resolve_algorithm(algorithm, resolved, train.shape)
    budget = DEFAULT_WORKING_MEMORY_MB if working_memory_mb is None else working_memory_mb
    if algorithm == "brute":
        return BruteIndex(train, resolved, budget)
    if algorithm == "torch":
        from .torch_index import TorchIndex

        return TorchIndex(train, resolved, budget)
    from .trees import build_tree

    return build_tree(train, resolved, algorithm)


def _resolve_algorithm(algorithm: str, metric: Metric, shape: tuple[int, int]) -> str:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"Unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}.")
    if algorithm == "auto":
        return auto_algorithm(metric, shape)
    if algorithm == "torch":
        from .torch_index import check_metric, require_torch

        check_metric(metric)
        require_torch()
        return algorithm
    if algorithm != "brute" and metric.name not in TREE_METRICS[algorithm]:
        raise ValueError(
            f"algorithm={algorithm!r} cannot search with metric {metric.name!r}; it supports "
            f"{', '.join(TREE_METRICS[algorithm])}. Use algorithm='brute' or 'auto'."
        )
    if algorithm != "brute" and not metric.is_true_metric:
        raise ValueError(
            f"algorithm={algorithm!r} cannot search with Minkowski p={metric.p:g}: below 1 it "
            f"is not a metric, and trees need the triangle inequality. Use p >= 1 or "
            f"algorithm='brute' (or 'auto')."
        )
    return algorithm


# The "auto" rule; the measurements behind it are in the module docstring.
_AUTO_TREE_MAX_DIM = {"euclidean": 24, "manhattan": 32, "chebyshev": 32, "minkowski": 32}
_AUTO_TREE_MIN_ROWS = 1000


def auto_algorithm(metric: Metric, shape: tuple[int, int]) -> str:
    """The backend ``algorithm="auto"`` picks for ``shape`` training rows under ``metric``."""
    n_samples, n_features = shape
    if not metric.is_true_metric:
        return "brute"  # Minkowski p < 1: trees cannot prune without a triangle inequality
    max_dim = _AUTO_TREE_MAX_DIM.get(metric.name, 0)
    if n_features <= max_dim and n_samples >= _AUTO_TREE_MIN_ROWS:
        return "kd_tree"
    return "brute"
