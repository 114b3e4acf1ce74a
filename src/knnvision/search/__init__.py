"""The search layer: one question only, "the k nearest training rows of these query rows".

It knows nothing of labels, classes or files. Estimators build an index once at ``fit`` and
ask it for ``(distances, indices)``; every backend returns exactly the neighbours of a
float64 brute force, with ties in distance broken by the smaller training index.

>>> index = build_index(train, metric="manhattan")
>>> distances, indices = index.query(queries, k=5)
>>> distances, indices = index.query_train(k=5)  # each training row, itself excluded

Backends (see each module): ``brute`` (float32 matrix products with an exact re-check for
Euclidean/cosine, SIMD integer kernels for uint8, compiled loops otherwise), ``kd_tree`` /
``ball_tree`` (:mod:`.trees`) and, only when asked for, ``torch`` (:mod:`.torch_index`: int8
and bfloat16 products with an exact re-check, Euclidean and cosine, on the CPU or a GPU; needs
``pip install "knnvision[torch]"``). Threads: wrap calls in :func:`thread_limit`.

Choosing a backend (``algorithm="auto"``), from ``python benchmarks/search.py --cases
auto_table``: Fashion-MNIST projected by PCA to d dimensions, 60,000 training rows, 2,000
queries, k=10, 2 threads, seconds for brute force / kd-tree:

=========  =======  =======  =======  =======  =======  =======  =======  =======
d          2        4        8        12       16       24       32       48
=========  =======  =======  =======  =======  =======  =======  =======  =======
euclidean  .37/.02  .28/.03  .29/.06  .36/.12  .45/.15  .51/.31  .52/.48  .52/.89
manhattan  1.8/.02  1.8/.09  2.0/.12  2.2/.25  2.6/.43  4.3/1.1  3.3/1.2  7.4/4.1
=========  =======  =======  =======  =======  =======  =======  =======  =======

Float32 products keep brute force ahead for Euclidean distances from about 32 dimensions;
without a matrix product (Manhattan, Chebyshev, Minkowski) trees stay ahead further. The rule
keeps a margin (kd-tree up to 24 dimensions for Euclidean, 32 for the other tree metrics),
because data with a higher intrinsic dimension than PCA output prunes worse, and uses brute
force below 1,000 training rows, where it is cheap anyway. Cosine, Hamming and Minkowski with
``0 < p < 1`` (not a metric: no triangle inequality for a tree to prune with) always use
brute force.
"""

from __future__ import annotations

import contextlib
import functools
import numbers
import os
from typing import Protocol

import numba
import numpy as np
from threadpoolctl import ThreadpoolController

from .brute import BruteIndex
from .metrics import METRIC_ALIASES, METRIC_NAMES, TREE_METRICS, Metric, resolve_metric
from .reference import reference_kneighbors

ALGORITHMS = ("auto", "brute", "kd_tree", "ball_tree", "torch")
DEFAULT_WORKING_MEMORY_MB = 256.0

__all__ = [
    "ALGORITHMS",
    "METRIC_ALIASES",
    "METRIC_NAMES",
    "Metric",
    "SearchIndex",
    "build_index",
    "reference_kneighbors",
    "resolve_metric",
    "thread_limit",
]


class SearchIndex(Protocol):
    """What every backend offers: a name, an exact ``query`` and ``query_train``."""

    algorithm: str
    metric: Metric
    train: np.ndarray

    def query(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, indices)``, both ``(len(queries), k)``, sorted nearest first."""
        ...

    def query_train(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest *other* training rows of every training row."""
        ...


def build_index(
    train: np.ndarray,
    *,
    metric: str = "euclidean",
    p: float | None = None,
    algorithm: str = "auto",
    working_memory_mb: float | None = None,
) -> SearchIndex:
    """Prepare exact k-nearest-neighbour search over the rows of ``train``.

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


def effective_n_jobs(n_jobs: int | None) -> int:
    """Threads to use: ``None`` or -1 means every core, -2 all but one, and so on."""
    cores = os.cpu_count() or 1
    if n_jobs is None:
        return cores
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise ValueError(f"n_jobs must be a whole number of threads or None, got {n_jobs!r}.")
    n_jobs = int(n_jobs)  # NumPy integers too: thread pools want a plain int
    if n_jobs == 0:
        raise ValueError("n_jobs=0 is not a number of threads; use None or -1 for all cores.")
    return max(1, cores + 1 + n_jobs) if n_jobs < 0 else n_jobs


@functools.cache
def _threadpools() -> ThreadpoolController:
    # Inspecting the loaded BLAS/OpenMP libraries costs milliseconds; a single-query predict
    # would pay it on every call, so the controller is made once, at the first search.
    return ThreadpoolController()


@contextlib.contextmanager
def thread_limit(n_jobs: int | None):
    """Run the block with ``n_jobs`` threads for BLAS, OpenMP and numba alike.

    The search engines split work over ``numba.get_num_threads()`` workers, so setting the
    numba count here also sizes their thread pools. Both limits are restored on exit.
    """
    threads = effective_n_jobs(n_jobs)
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        with _threadpools().limit(limits=threads):
            yield threads
    finally:
        numba.set_num_threads(previous)
