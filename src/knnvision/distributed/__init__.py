"""knnvision on a Dask cluster: sharded exact search and distributed model selection.

- :func:`build_sharded_index`: training rows split into shards kept on the workers; every
  query block is searched on every shard and the partial lists merged exactly. The
  estimators use it with ``backend="dask"``.
- :func:`grid_fold_scores_on_dask`: the (fold, search) pairs of
  :class:`~knnvision.KNNSearchCV` and ``knnvision run`` as Dask tasks; used when the tuned
  classifier has ``backend="dask"``.
- :func:`on_dask`: a copy of a classifier (or a Pipeline ending in one) set to run there.
- :func:`get_client`: the cluster, from a scheduler address, ``"local"`` or the default client.

Needs the ``dask`` extra: ``pip install "knnvision[dask]"``.
"""

try:
    import distributed as _distributed  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError(
        'The Dask backend needs dask and distributed: pip install "knnvision[dask]".'
    ) from error

from .cluster import DEFAULT_CONNECT_TIMEOUT_S, LOCAL, get_client
from .cross_validation import grid_fold_scores_on_dask, on_dask
from .sharded_search import ShardedIndex, build_sharded_index

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_S",
    "LOCAL",
    "ShardedIndex",
    "build_sharded_index",
    "get_client",
    "grid_fold_scores_on_dask",
    "on_dask",
]
