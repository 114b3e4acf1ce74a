"""Search in this process: the backends, and the rule ``algorithm="auto"`` follows.

The measurements behind the rule are in the docstring of :mod:`knnvision.search`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import scipy.sparse

from .brute import BruteIndex
from .metrics import METRIC_ALIASES, METRIC_NAMES, TREE_METRICS, Metric, resolve_metric
from .radius import RadiusNeighbors

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

    def query_radius(self, queries: np.ndarray, radius: float) -> RadiusNeighbors:
        """Every training row within ``radius`` of each query, each row sorted nearest first."""
        ...


class LocalIndex(SearchIndex, Protocol):
    """A search in this process, which also holds its training rows and so can answer
    ``query_train`` (the Dask backend may keep its rows on the workers alone)."""

    train: np.ndarray

    def query_train(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest *other* training rows of every training row."""
        ...


def build_local_index(
    train,
    *,
    metric: str | Callable = "euclidean",
    p: float | None = None,
    metric_params: dict | None = None,
    algorithm: str = "auto",
    leaf_size: int | None = None,
    working_memory_mb: float | None = None,
) -> LocalIndex:
    """Prepare exact k-nearest-neighbour search over the rows of ``train``, in this process.

    Parameters
    ----------
    train : ndarray or SciPy sparse matrix of shape (n_samples, n_features)
        Training rows, already validated (finite, 2-D). Sparse rows (CSR) are searched by
        brute force without densifying them (:mod:`.sparse`). With
        ``metric="precomputed"``: the ``(n_samples, n_samples)`` distances between the
        training rows, dense or a sparse neighbours graph (:mod:`.precomputed`).
    metric : str or callable, default="euclidean"
        One of ``METRIC_NAMES``, a scikit-learn alias (``METRIC_ALIASES``),
        ``"precomputed"``, or a callable ``metric(a, b, **metric_params) -> float`` on two
        1-D rows (exact, slow: :mod:`.callable_metric`).
    p : float, optional
        Minkowski power (> 0; below 1 only brute force); only used with
        ``metric="minkowski"``, default 2.
    metric_params : dict, optional
        Extra arguments of the metric: ``{"w": weights}`` for weighted Minkowski, or the
        keyword arguments of a callable metric.
    algorithm : {"auto", "brute", "kd_tree", "ball_tree", "torch"}, default="auto"
        ``"auto"`` picks the fastest exact backend for the data and metric among the first
        three; ``"torch"`` (Euclidean and cosine, optional PyTorch) is used only when named.
    leaf_size : int, optional
        Rows per tree leaf (``"kd_tree"``/``"ball_tree"``); it changes the speed, never the
        neighbours.
    working_memory_mb : float, optional
        Budget for temporary blocks, default ``DEFAULT_WORKING_MEMORY_MB``.
    """
    budget = DEFAULT_WORKING_MEMORY_MB if working_memory_mb is None else working_memory_mb
    special = _build_special_index(train, metric, p, metric_params, budget)
    if special is not None:
        return special
    if not isinstance(metric, str):  # callables were taken above
        raise ValueError(f"metric must be a name or a callable, got {metric!r}.")
    resolved = resolve_metric(metric, _effective_p(p, metric_params))
    algorithm = _resolve_algorithm(algorithm, resolved, train.shape)
    if algorithm == "brute":
        return BruteIndex(train, resolved, budget)
    if algorithm == "torch":
        from .torch_index import TorchIndex

        return TorchIndex(train, resolved, budget)
    from .trees import DEFAULT_LEAF_SIZE, build_tree

    return build_tree(train, resolved, algorithm, leaf_size or DEFAULT_LEAF_SIZE)


def _build_special_index(train, metric, p, metric_params, budget) -> LocalIndex | None:
    """The index for inputs the dense engines do not take: precomputed distances, a callable
    metric, sparse rows, weighted Minkowski, SciPy's other metric names. ``None`` for
    everything else (``metric_params={"p": p}`` alone included: the dense engines and trees
    take it through :func:`_effective_p`)."""
    if isinstance(metric, str) and metric == "precomputed":
        from .precomputed import PrecomputedIndex

        return PrecomputedIndex(train)
    if callable(metric):
        from .callable_metric import CallableIndex

        return CallableIndex(train, metric, metric_params or {}, budget)
    params = dict(metric_params or {})
    if not _is_knnvision_metric(metric):
        from .callable_metric import SCIPY_METRICS, build_parametrised_index

        if metric in SCIPY_METRICS:
            return build_parametrised_index(train, metric, p, params, budget)
        return None  # resolve_metric names the metrics there are
    unused = sorted(set(params) - {"p", "w"})
    if unused or ("w" in params and resolve_metric(metric, 3.0).name != "minkowski"):
        raise ValueError(
            f"metric_params {unused or ['w']} are not used by metric {metric!r}; it takes "
            "'p' (Minkowski) and 'w' (weighted Minkowski, metric='minkowski') only."
        )
    if "w" in params:
        from .callable_metric import build_parametrised_index

        return build_parametrised_index(train, metric, p, params, budget)
    if scipy.sparse.issparse(train):
        from .sparse import SparseIndex

        return SparseIndex(train, resolve_metric(metric, _effective_p(p, params)), budget)
    return None


def _is_knnvision_metric(metric) -> bool:
    return isinstance(metric, str) and (metric in METRIC_NAMES or metric in METRIC_ALIASES)


def _effective_p(p, metric_params: dict | None):
    """``metric_params["p"]`` where given: it overrides ``p``, as in scikit-learn."""
    return (metric_params or {}).get("p", p)


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
_AUTO_TREE_MAX_DIM = {"euclidean": 16, "manhattan": 32, "chebyshev": 32, "minkowski": 32}
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
