"""The search layer: one question only, "the k nearest training rows of these query rows".

It knows nothing of labels, classes or files. Estimators build an index once at ``fit`` and
ask it for ``(distances, indices)``; every backend returns exactly the neighbours of a
float64 brute force, with ties in distance broken by the smaller training index.

>>> index = build_index(train, metric="manhattan")
>>> distances, indices = index.query(queries, k=5)
>>> distances, indices = index.query_train(k=5)  # each training row, itself excluded

Backends (see each module): ``brute`` (SIMD integer kernels for uint8 and for floats that
are scaled bytes; with AVX-512 VNNI, lower bounds from bytes with a scale per row for other
Euclidean floats; float32 matrix products for Euclidean/cosine otherwise; each with an exact
re-check; compiled loops for the other metrics), ``kd_tree`` /
``ball_tree`` (:mod:`.trees`) and, only when asked for, ``torch`` (:mod:`.torch_index`: int8
and bfloat16 products with an exact re-check, Euclidean and cosine, on the CPU or a GPU; needs
``pip install "knnvision[torch]"``). Threads: wrap calls in :func:`thread_limit`.

Choosing a backend (``algorithm="auto"``). PCA outputs of MNIST and Fashion-MNIST (float64,
60,000 training rows, 3,000 queries, k=3, 2 threads, best of 3, quiet machine), kd-tree time
over brute-force time, from ``python benchmarks/search.py --cases auto_table --output
benchmarks/search_auto_table.json``; a second run just before it gave ratios within 35% of
these, MNIST Euclidean d=12 0.92):

===========================  ====  ====  ====  ====  ====  ====
d                            12    16    20    24    32    48
===========================  ====  ====  ====  ====  ====  ====
Euclidean, MNIST             0.66  1.42  2.10  2.47  5.05  8.17
Euclidean, Fashion-MNIST     0.24  0.33  0.65  0.56  0.77  2.01
Manhattan, MNIST             0.26  0.64  0.76  1.26  1.85  2.18
Manhattan, Fashion-MNIST     0.08  0.14  0.22  0.28  0.46  1.54
===========================  ====  ====  ====  ====  ====  ====

Brute force on float Euclidean rows takes the byte lower bounds (0.10-0.16 s at every d here),
Manhattan brute force the Lp estimates (0.5-1.0 s). How far trees stay ahead depends on the
data's intrinsic dimension, not only on d: Fashion-MNIST's PCA rows prune well up to 32
dimensions, MNIST's stop paying from about 16 (Euclidean) and 24 (Manhattan). The rule takes,
per metric, the threshold with the smallest worst case over both datasets, in both runs:
kd-tree up to 16 dimensions for Euclidean and 32 for the other tree metrics, from 1,000
training rows (Minkowski's brute force is about 2.5x slower than Manhattan's,
``benchmarks/lp_kernels.md``, so trees pay at least as far; Chebyshev was not measured and
follows Manhattan). The worst cases are then Euclidean d 17-24 on Fashion-MNIST (brute force
up to 1.8x slower than the tree) and Manhattan d 25-32 on MNIST (the tree up to 1.85x slower);
Euclidean at 12 would cost Fashion-MNIST 3x at d=16, at 20 MNIST 2.1x; Manhattan at 24 would
cost Fashion-MNIST 2.2x at d=32. Pass ``algorithm`` to override. Cosine, Hamming and
Minkowski with ``0 < p < 1`` (not a metric: no triangle inequality for a tree to prune
with) always use brute force.
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
