"""Exact k-nearest-neighbour search over training rows sharded across a Dask cluster.

The training rows are cut into contiguous shards, one per worker thread. Each shard is sent to
(or loaded on) a worker once and kept there with the ordinary knnvision index built over it
(:func:`knnvision.search.build_index`). Every query block goes to every shard; each shard
answers with its k best as (exact reduced distance, global index), and the client merges the
lists with the library's tie rule (:func:`knnvision.search.topk.merge_topk`). Shards are
contiguous row ranges, so within a shard the smaller local index is the smaller global index,
and the merged lists are exactly those of a single-machine search, ties included. A radius
search goes the same way: each shard answers with its rows within the radius (exact
distances), and the client joins them per query, sorted by (distance, global index).

Resilience: Dask re-runs a task lost with a worker on another worker by itself, but rows
scattered from the client cannot be recomputed by Dask. When a worker dies, its shards are
sent again from the client's copy (or loaded again from the ``.npy`` file) to the workers
left, and the query blocks that needed them run again; the answer is unchanged.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import distributed
import numpy as np
from dask.sizeof import sizeof

from ... import progress
from ..local import LocalIndex, build_local_index
from ..metrics import Metric, reduced_distances, resolve_metric
from ..radius import RadiusNeighbors, check_radius
from ..topk import merge_topk
from .cluster import get_client, one_thread_per_task, worker_threads

# Query rows are sent in blocks of about this many bytes (at most MAX_QUERY_BLOCK_ROWS rows):
# big enough that a task's work dwarfs Dask's per-task cost (~1 ms), small enough to keep
# every worker busy and to merge on the client while workers search.
QUERY_BLOCK_BYTES = 4 * 2**20
MAX_QUERY_BLOCK_ROWS = 2048
# Query blocks in flight at once: bounds the queries held by the scheduler and the workers.
BLOCKS_IN_FLIGHT = 4
# Restorations of one shard in one query before the cluster is deemed too unstable.
MAX_RESTORES_PER_SHARD = 3


@dataclass
class _Shard:
    """What a worker keeps for one shard: its rows, the index over them, their first row."""

    rows: np.ndarray
    index: LocalIndex
    start: int


@sizeof.register(_Shard)
def _shard_size(shard: _Shard) -> int:
    # Tells Dask's memory manager what a shard weighs (its default for objects is ~100 bytes).
    return int(shard.rows.nbytes)


def _build_shard(rows, start, metric, p, algorithm, leaf_size, working_memory_mb) -> _Shard:
    index = build_local_index(
        rows,
        metric=metric,
        p=p,
        algorithm=algorithm,
        leaf_size=leaf_size,
        working_memory_mb=working_memory_mb,
    )
    return _Shard(rows, index, start)


def _load_shard(path, start, stop, metric, p, algorithm, leaf_size, working_memory_mb) -> _Shard:
    # A private, resident copy of the rows: searching a memory map would read the disk.
    rows = np.array(np.load(path, mmap_mode="r")[start:stop])
    return _build_shard(rows, start, metric, p, algorithm, leaf_size, working_memory_mb)


def _shard_algorithm(shard: _Shard) -> str:
    return shard.index.algorithm


def _query_rows(block: np.ndarray) -> np.ndarray:
    # A query block as a task result rather than scattered data: Dask can recompute it.
    return block


def _search_shard(shard: _Shard, queries: np.ndarray, k: int):
    """The shard's ``k`` nearest rows of each query: (exact reduced distances, global indices)."""
    k_shard = min(k, len(shard.rows))
    with one_thread_per_task():
        _, local = shard.index.query(queries, k_shard)
    return _exact_reduced(queries, shard.rows, local, shard.index.metric), local + shard.start


def _search_shard_radius(shard: _Shard, queries: np.ndarray, radius: float) -> RadiusNeighbors:
    """The shard's rows within ``radius`` of each query, with global indices. Their distances
    are exact (the reference's reduced distance, converted), so the merge can sort on them."""
    with one_thread_per_task():
        found = shard.index.query_radius(queries, radius)
    return found.shifted(shard.start)


def _merge_knn(parts: list, k: int) -> tuple[np.ndarray, np.ndarray]:
    reduced, indices = parts[0]
    for part_reduced, part_indices in parts[1:]:
        reduced, indices = merge_topk(reduced, indices, part_reduced, part_indices, k)
    return reduced, indices


def _exact_reduced(queries, rows, local, metric: Metric) -> np.ndarray:
    # The search orders by the reference reduced distance; the distances it returns are a
    # rounded function of it (a square root, say), in which distinct values can collide. The
    # merge across shards must order exactly as the single-machine search does, so it sorts on
    # the reference values, re-measured here for the k candidates only.
    reduced = np.empty(local.shape)
    for row in range(len(queries)):
        reduced[row] = reduced_distances(queries[row : row + 1], rows[local[row]], metric)[0]
    return reduced


class ShardedIndex:
    """Exact search over training rows kept in shards on the workers of a Dask cluster.

    Build it with :func:`build_sharded_index`. It answers ``query`` exactly like
    :func:`knnvision.search.build_index` over all the rows (same indices, same distances,
    ties to the smaller training index).

    Attributes
    ----------
    algorithm : str
        The search each shard runs and the number of shards, e.g. ``"brute (dask, 4 shards)"``.
    metric : Metric
        The resolved metric.
    bounds : list of (int, int)
        The ``[start, stop)`` training rows of each shard.
    """

    def __init__(self, client, source, rows_like, metric: Metric, settings: dict, n_shards: int):
        self.client = client
        self.metric = metric
        self.n_train, self.n_features = rows_like.shape
        self.row_nbytes = self.n_features * rows_like.dtype.itemsize
        self._source = source  # the client's rows, or the path of an .npy file on every worker
        self._settings = settings
        edges = np.linspace(0, self.n_train, min(n_shards, self.n_train) + 1).astype(int)
        self.bounds = [(int(a), int(b)) for a, b in itertools.pairwise(edges)]
        self._shards = self._place_shards()
        # Waits for every shard, so that a failure shows at fit rather than at the first query.
        algorithms = client.gather([client.submit(_shard_algorithm, f) for f in self._shards])
        self.algorithm = f"{algorithms[0]} (dask, {len(self._shards)} shards)"

    # --- shards --------------------------------------------------------------------------

    def _place_shards(self) -> list:
        slots = worker_threads(self.client)
        return [self._send_shard(s, slots[s % len(slots)]) for s in range(len(self.bounds))]

    def _send_shard(self, shard: int, worker: str | None):
        """A future of shard ``shard``, built on ``worker`` (any worker when ``None``)."""
        start, stop = self.bounds[shard]
        placement = {"workers": [worker], "allow_other_workers": True} if worker else {}
        if isinstance(self._source, str):
            return self.client.submit(
                _load_shard,
                self._source,
                start,
                stop,
                **self._settings,
                **placement,
                pure=False,
            )
        rows = self.client.scatter(
            self._source[start:stop], hash=False, workers=[worker] if worker else None
        )
        # The built shard holds the scattered rows itself; the scattered key is let go.
        return self.client.submit(_build_shard, rows, start, **self._settings, pure=False)

    def shard_future(self, shard: int):
        """The Dask future of shard ``shard`` (it changes when the shard is restored)."""
        return self._shards[shard]

    def restore_lost_shards(self, restores: list[int]) -> None:
        """Send again every shard whose worker died (to the workers that are left).

        ``restores`` counts, per shard, the restorations in the current query.
        """
        for shard, future in enumerate(self._shards):
            if future.status in ("finished", "pending"):
                continue
            restores[shard] += 1
            if restores[shard] > MAX_RESTORES_PER_SHARD:
                raise RuntimeError(
                    f"Shard {shard} of the training rows was lost {restores[shard]} times during "
                    "one search: Dask workers keep dying. Check their logs; a worker needs "
                    f"about {self.shard_nbytes() / 2**20:.0f} MiB per shard it holds."
                )
            self._shards[shard] = self._send_shard(shard, worker=None)

    def shard_nbytes(self) -> int:
        """Bytes of training rows in the largest shard."""
        return max(stop - start for start, stop in self.bounds) * self.row_nbytes

    # --- queries -------------------------------------------------------------------------

    def query(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, indices)`` of the ``k`` nearest training rows, nearest first."""
        queries = self._checked_queries(queries, k)
        reduced = np.empty((len(queries), k))
        indices = np.empty((len(queries), k), dtype=np.int64)
        rows = self._query_block_rows(queries)
        blocks = [(q0, min(q0 + rows, len(queries))) for q0 in range(0, len(queries), rows)]
        search = _ShardedQuery(self, queries, blocks, _search_shard, (k,))
        with progress.track(total=len(queries), description="searching neighbours (dask)") as task:
            for (q0, q1), parts in search.finished_blocks():
                reduced[q0:q1], indices[q0:q1] = _merge_knn(parts, k)
                task.advance(q1 - q0)
        return self.metric.to_distance(reduced), indices

    def query_radius(self, queries: np.ndarray, radius: float) -> RadiusNeighbors:
        """Every training row within ``radius`` of each query, sorted by (distance, index).

        Each shard answers with its rows (exact distances); per query the client joins them
        with global indices and sorts by (distance, index), which is the single-machine order.
        """
        radius = check_radius(radius)
        queries = self._checked_queries(queries, 1)
        rows = self._query_block_rows(queries)
        blocks = [(q0, min(q0 + rows, len(queries))) for q0 in range(0, len(queries), rows)]
        found: list[RadiusNeighbors | None] = [None] * len(blocks)
        search = _ShardedQuery(self, queries, blocks, _search_shard_radius, (radius,))
        with progress.track(total=len(queries), description="searching neighbours (dask)") as task:
            for (q0, q1), parts in search.finished_blocks():
                found[q0 // rows] = RadiusNeighbors.union(parts)
                task.advance(q1 - q0)
        done = [part for part in found if part is not None]
        return RadiusNeighbors.concatenate(done) if done else RadiusNeighbors.empty(0)

    def _checked_queries(self, queries, k) -> np.ndarray:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer (got {k!r}).")
        if k > self.n_train:
            raise ValueError(
                f"k={k} neighbours requested but the index holds only {self.n_train} training "
                "rows; use a smaller k."
            )
        queries = np.asarray(queries)
        if queries.ndim != 2 or queries.shape[1] != self.n_features:
            raise ValueError(
                f"Queries must be a 2-D array with {self.n_features} features, got shape "
                f"{queries.shape}."
            )
        return queries

    def _query_block_rows(self, queries) -> int:
        row_bytes = max(1, queries.shape[1] * queries.dtype.itemsize)
        return max(1, min(MAX_QUERY_BLOCK_ROWS, QUERY_BLOCK_BYTES // row_bytes))


class _ShardedQuery:
    """One query's blocks on the cluster: sent to every shard (``task(shard, rows, *args)``),
    handed back once every shard has answered, and re-run where a shard was lost with its
    worker. The caller merges each block's answers while the next blocks run.

    At most ``BLOCKS_IN_FLIGHT`` blocks are out at once.
    """

    def __init__(self, index: ShardedIndex, queries: np.ndarray, blocks: list, task, args):
        self.index, self.queries, self.blocks = index, queries, blocks
        self.task, self.args = task, args
        self.waiting = deque(range(len(blocks)))
        # Dask's helpers default to the process's default client; ours may be another one.
        self.running = distributed.as_completed(loop=index.client.loop)
        self.tasks: dict = {}  # future -> (block, shard, query-rows future)
        self.merged: dict[int, list] = {}  # block -> the shards' answers so far
        self.restores = [0] * len(index.bounds)
        self.reruns = 0

    def finished_blocks(self):
        """Yield ``((q0, q1), answers)`` per query block (one answer per shard, in the order
        they came), as blocks complete."""
        while self.waiting and len(self.merged) < BLOCKS_IN_FLIGHT:
            self._start_next_block()
        for future in self.running:
            block, shard, rows = self.tasks.pop(future)
            try:
                answer = future.result()
            except distributed.client.FutureCancelledError:
                self._rerun(block, shard, rows)
                continue
            answers = self.merged[block]
            answers.append(answer)
            if len(answers) == len(self.index.bounds):
                del self.merged[block]
                yield self.blocks[block], answers
                if self.waiting:
                    self._start_next_block()

    def _start_next_block(self) -> None:
        block = self.waiting.popleft()
        q0, q1 = self.blocks[block]
        rows = self.index.client.submit(_query_rows, self.queries[q0:q1], pure=False)
        self.merged[block] = []
        for shard in range(len(self.index.bounds)):
            self._submit(block, shard, rows)

    def _submit(self, block: int, shard: int, rows) -> None:
        future = self.index.client.submit(
            self.task, self.index.shard_future(shard), rows, *self.args, pure=False
        )
        self.tasks[future] = (block, shard, rows)
        self.running.add(future)

    def _rerun(self, block: int, shard: int, rows) -> None:
        # Dask cancels a task whose input was scattered data lost with a worker.
        self.reruns += 1
        if self.reruns > MAX_RESTORES_PER_SHARD * len(self.index.bounds) * BLOCKS_IN_FLIGHT:
            raise RuntimeError("Dask keeps cancelling the search tasks; check the workers' logs.")
        self.index.restore_lost_shards(self.restores)
        self._submit(block, shard, rows)


def build_sharded_index(
    train,
    *,
    scheduler: str | None = None,
    metric: str | Callable = "euclidean",
    p: float | None = None,
    metric_params: dict | None = None,
    algorithm: str = "auto",
    leaf_size: int | None = None,
    working_memory_mb: float | None = None,
    n_shards: int | None = None,
) -> ShardedIndex:
    """Split the training rows into shards on a Dask cluster, ready for exact search.

    Parameters
    ----------
    train : ndarray of shape (n_samples, n_features), or path to a ``.npy`` file
        Training rows. An array is sent from here, one shard to each worker thread, and kept
        here too (a shard lost with its worker is sent again). A path is loaded by the
        workers themselves, each reading only its rows: it must be readable at that path on
        every worker (a shared file system), and nothing is held here.
    scheduler : str or None, default=None
        Which cluster: an address, ``"local"`` or ``None`` (see
        :func:`knnvision.search.dask.get_client`).
    metric, p, metric_params, algorithm, leaf_size, working_memory_mb
        As for :func:`knnvision.search.build_index`; each worker builds that index over its
        shard (named metrics only: sparse rows, precomputed distances and callables are
        searched in this process).
    n_shards : int, optional
        Number of shards; default one per worker thread in the cluster now. Workers that
        join later get no shard.

    Returns
    -------
    ShardedIndex
        Answers ``query(queries, k)`` exactly as a single-machine index would.
    """
    if not isinstance(metric, str) or metric == "precomputed" or metric_params:
        raise ValueError(
            "backend='dask' searches named metrics only (no callable, 'precomputed' or "
            "metric_params); use backend='local'."
        )
    resolved = resolve_metric(metric, p)
    source, rows_like = _training_source(train)
    client = get_client(scheduler)
    if n_shards is None:
        n_shards = len(worker_threads(client))
    if isinstance(n_shards, bool) or not isinstance(n_shards, (int, np.integer)) or n_shards < 1:
        raise ValueError(f"n_shards must be a positive integer, got {n_shards!r}.")
    settings = {
        "metric": metric,
        "p": p,
        "algorithm": algorithm,
        "leaf_size": leaf_size,
        "working_memory_mb": working_memory_mb,
    }
    return ShardedIndex(client, source, rows_like, resolved, settings, int(n_shards))


def _training_source(train):
    """``(source, rows)``: the array itself, or the absolute path of a 2-D ``.npy`` file and
    the file's rows memory-mapped (for their shape and dtype)."""
    if isinstance(train, (str, os.PathLike)):
        path = Path(train).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"Training rows file not found: {path}")
        try:
            rows = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as error:
            raise ValueError(f"{path} is not a .npy array file of numbers ({error}).") from None
        source = str(path)
    else:
        rows = source = np.asarray(train)
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise ValueError(
            f"Training rows must be a non-empty 2-D array (n_samples, n_features), got shape "
            f"{rows.shape}."
        )
    return source, rows
