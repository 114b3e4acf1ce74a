"""Search on a Dask cluster: the ``backend="dask"`` of :func:`knnvision.search.build_index`.

- :func:`build_sharded_index`: training rows split into shards kept on the workers; every
  query block is searched on every shard and the partial lists merged exactly.
- :func:`get_client`: the cluster, from a scheduler address, ``"local"`` or the default client.

Model selection on the same cluster is :mod:`knnvision.selection.dask`.

Needs the ``dask`` extra: ``pip install "knnvision[dask]"``.
"""

try:
    import distributed as _distributed  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError(
        'The Dask backend needs dask and distributed: pip install "knnvision[dask]".'
    ) from error

from .cluster import DEFAULT_CONNECT_TIMEOUT_S, LOCAL, get_client
from .sharded import ShardedIndex, build_sharded_index

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_S",
    "LOCAL",
    "ShardedIndex",
    "build_sharded_index",
    "get_client",
]
