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

from collections.abc import Callable
from typing import Literal, overload

from .local import (
    ALGORITHMS,
    DEFAULT_WORKING_MEMORY_MB,
    LocalIndex,
    SearchIndex,
    auto_algorithm,
    build_local_index,
)
from .metrics import METRIC_ALIASES, METRIC_NAMES, Metric, resolve_metric
from .radius import RadiusNeighbors, check_radius
from .reference import reference_kneighbors
from .threads import effective_n_jobs, thread_limit

#: Where a search runs: this process, or shards on a Dask cluster (:mod:`.dask`).
BACKENDS = ("local", "dask")

__all__ = [
    "ALGORITHMS",
    "BACKENDS",
    "DEFAULT_WORKING_MEMORY_MB",
    "LocalIndex",
    "METRIC_ALIASES",
    "METRIC_NAMES",
    "Metric",
    "RadiusNeighbors",
    "SearchIndex",
    "auto_algorithm",
    "build_index",
    "check_backend",
    "check_radius",
    "effective_n_jobs",
    "reference_kneighbors",
    "resolve_metric",
    "thread_limit",
]


# The local backend (the default) returns an index that also answers ``query_train``.
@overload
def build_index(
    train,
    *,
    metric: str | Callable = ...,
    p: float | None = ...,
    metric_params: dict | None = ...,
    algorithm: str = ...,
    leaf_size: int | None = ...,
    working_memory_mb: float | None = ...,
    backend: Literal["local"] = ...,
    scheduler: str | None = ...,
) -> LocalIndex: ...
@overload
def build_index(
    train,
    *,
    metric: str | Callable = ...,
    p: float | None = ...,
    metric_params: dict | None = ...,
    algorithm: str = ...,
    leaf_size: int | None = ...,
    working_memory_mb: float | None = ...,
    backend: str,
    scheduler: str | None = ...,
) -> SearchIndex: ...


def build_index(
    train,
    *,
    metric: str | Callable = "euclidean",
    p: float | None = None,
    metric_params: dict | None = None,
    algorithm: str = "auto",
    leaf_size: int | None = None,
    working_memory_mb: float | None = None,
    backend: str = "local",
    scheduler: str | None = None,
) -> SearchIndex:
    """Prepare exact k-nearest-neighbour search over the rows of ``train``.

    Parameters
    ----------
    train : ndarray or SciPy sparse matrix of shape (n_samples, n_features)
        Training rows, already validated (finite, 2-D), or precomputed distances.
    metric, p, metric_params, algorithm, leaf_size, working_memory_mb
        As for :func:`~knnvision.search.local.build_local_index`; with ``backend="dask"``
        they configure the search inside each shard.
    backend : {"local", "dask"}, default="local"
        ``"local"`` searches in this process; ``"dask"`` keeps the rows in shards on the
        workers of a Dask cluster and merges their answers exactly (needs the ``dask`` extra).
    scheduler : str, optional
        With ``backend="dask"``: the scheduler's address, ``"local"`` for a cluster of this
        machine's cores, or ``None`` for the current Dask client.
    """
    check_backend(backend)
    if backend == "dask":
        from .dask.sharded import build_sharded_index  # dask is optional

        return build_sharded_index(
            train,
            scheduler=scheduler,
            metric=metric,
            p=p,
            metric_params=metric_params,
            algorithm=algorithm,
            leaf_size=leaf_size,
            working_memory_mb=working_memory_mb,
        )
    return build_local_index(
        train,
        metric=metric,
        p=p,
        metric_params=metric_params,
        algorithm=algorithm,
        leaf_size=leaf_size,
        working_memory_mb=working_memory_mb,
    )


def check_backend(backend: str) -> None:
    """Refuse a ``backend`` that is not one of ``BACKENDS``."""
    if backend not in BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
