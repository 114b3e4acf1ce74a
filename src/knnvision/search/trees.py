"""kd-trees and ball trees for exact search in low dimensions (for example after PCA).

Both trees share one layout: a complete binary tree stored in arrays, node ``i`` has children
``2i + 1`` and ``2i + 2``, every node owns a contiguous range of a permuted copy of the
training rows, and each split halves its range at the median of the coordinate with the
widest spread. Only the node bound differs: a bounding box for the kd-tree, a centre and
radius for the ball tree. The query loop is compiled
(:func:`knnvision.search.kernels.trees.tree_query`).

Exactness: leaf distances are bit-identical to the reference, node bounds are shrunk by a
rounding margin so they never exceed the distance of a point inside, and a node is pruned
only when its bound is *strictly* greater than the current k-th distance, so a point tied
with the k-th but with a smaller index is still found. Minkowski distances go through
:func:`knnvision.search.recheck.recheck_estimates` (see :mod:`knnvision.search.kernels.lp`).
"""

from __future__ import annotations

import math

import numpy as np

from .. import progress
from .kernels import lp, metric_kinds
from .kernels import trees as tree_kernels
from .metrics import TREE_METRICS, Metric
from .radius import (
    RadiusNeighbors,
    check_radius,
    check_radius_queries,
    reduced_limit,
    reference_pair_distances,
)
from .recheck import check_query, query_excluding_self, recheck_estimates
from .threads import get_num_threads

DEFAULT_LEAF_SIZE = 32
# Queries handed to the compiled loop per call: large enough to keep both cores busy,
# small enough for progress to move.
_QUERY_CHUNK = 8192


def build_tree(
    train: np.ndarray, metric: Metric, algorithm: str, leaf_size: int = DEFAULT_LEAF_SIZE
) -> TreeIndex:
    """Build a ``"kd_tree"`` or ``"ball_tree"`` index over the rows of ``train``.

    Parameters
    ----------
    train : ndarray of shape (n_samples, n_features)
        Training rows (float64, float32 or uint8); the tree keeps a permuted float64 copy.
    metric : Metric
        A resolved metric the tree supports (see ``TREE_METRICS``).
    algorithm : {"kd_tree", "ball_tree"}
        Which tree to build.
    leaf_size : int, default=32
        Leaves hold between ``leaf_size`` and about ``2 * leaf_size`` rows.

    Raises
    ------
    ValueError
        For an unknown tree or a metric the tree cannot search with.
    """
    if algorithm not in TREE_METRICS:
        raise ValueError(f"Unknown tree {algorithm!r}; choose 'kd_tree' or 'ball_tree'.")
    if metric.name not in TREE_METRICS[algorithm]:
        raise ValueError(
            f"algorithm={algorithm!r} cannot search with metric {metric.name!r}; it supports "
            f"{', '.join(TREE_METRICS[algorithm])}."
        )
    if not metric.is_true_metric:
        # Node bounds rest on the triangle inequality, which Minkowski p < 1 breaks.
        raise ValueError(
            f"algorithm={algorithm!r} cannot search with Minkowski p={metric.p:g} (< 1, not a "
            f"metric); use algorithm='brute'."
        )
    return TreeIndex(train, metric, algorithm, leaf_size)


class TreeIndex:
    """A kd-tree or ball tree over the training rows; ``query`` returns exact neighbours."""

    def __init__(self, train: np.ndarray, metric: Metric, algorithm: str, leaf_size: int):
        if leaf_size < 1:
            raise ValueError(f"leaf_size must be at least 1 (got {leaf_size}).")
        self.train = train
        self.metric = metric
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self._kind = metric_kinds.KIND_OF_METRIC[metric.name]
        self._tree_kind = tree_kernels.TREE_KD if algorithm == "kd_tree" else tree_kernels.TREE_BALL
        data = np.asarray(train, dtype=np.float64)
        self.n_levels = _n_levels(len(data), leaf_size)
        self.order, self.starts, self.ends = _split_layout(data, self.n_levels)
        self.data = np.ascontiguousarray(data[self.order])
        empty = np.empty((0, data.shape[1]))
        if self._tree_kind == tree_kernels.TREE_KD:
            self.lo, self.hi = _boxes(self.data, self.starts, self.ends, self.n_levels)
            self.centers, self.radii = empty, np.empty(0)
        else:
            self.lo, self.hi = empty, empty
            self.centers, self.radii = _balls(self.data, self.starts, self.ends, metric)
        # Rounding margin for node bounds (see tree_kernels.ball_bound and the module docstring).
        self._shrink = 1.0 - 8.0 * (data.shape[1] + 8) * 2.0**-53

    def query(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, indices)`` of the ``k`` nearest training rows, nearest first."""
        queries = np.ascontiguousarray(check_query(self.train, queries, k), dtype=np.float64)
        estimate = self._kind == metric_kinds.KIND_MINKOWSKI
        # Minkowski distances are estimates: keep spare candidates and widen the pruning so
        # every near-tie reaches the exact re-check.
        k_keep = min(k + 8, len(self.train)) if estimate else k
        slack = 1.0 + 3.0 * lp.minkowski_rel_error(queries.shape[1]) if estimate else 1.0
        reduced = np.empty((len(queries), k_keep))
        indices = np.empty((len(queries), k_keep), dtype=np.int64)
        with progress.track(total=len(queries), description="searching neighbours") as task:
            for q0 in range(0, len(queries), _QUERY_CHUNK):
                q1 = min(q0 + _QUERY_CHUNK, len(queries))
                reduced[q0:q1], indices[q0:q1] = self._query_chunk(queries[q0:q1], k, k_keep, slack)
                task.advance(q1 - q0)
        if estimate:
            reduced, indices = recheck_estimates(
                self.train, queries, reduced, indices, k, self.metric, slack
            )
        return self.metric.to_distance(reduced[:, :k]), indices[:, :k]

    def query_train(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest other training rows of every training row (itself excluded)."""
        return query_excluding_self(self, k)

    def query_radius(self, queries: np.ndarray, radius: float) -> RadiusNeighbors:
        """Every training row within ``radius`` of each query, sorted by (distance, index).

        The compiled walk prunes a node only when its (rounding-shrunk) bound is strictly
        above the reduced radius; Minkowski candidates (estimated distances, the radius
        widened by their error) are measured again with the reference formula.
        """
        radius = check_radius(radius)
        queries = check_radius_queries(queries, self.train.shape[1]).astype(np.float64)
        estimate = self._kind == metric_kinds.KIND_MINKOWSKI
        limit = reduced_limit(self.metric, radius)
        if estimate:
            limit *= 1.0 + 3.0 * lp.minkowski_rel_error(queries.shape[1])
        parts = []
        with progress.track(total=len(queries), description="searching neighbours") as task:
            for q0 in range(0, len(queries), _QUERY_CHUNK):
                chunk = queries[q0 : q0 + _QUERY_CHUNK]
                rows, indices, reduced = self._radius_chunk(chunk, limit)
                if estimate:
                    reduced = reference_pair_distances(
                        chunk, self.train, rows, indices, self.metric
                    )
                parts.append(
                    RadiusNeighbors.from_candidates(
                        len(chunk), rows, indices, reduced, radius, self.metric
                    )
                )
                task.advance(len(chunk))
        return RadiusNeighbors.concatenate(parts) if parts else RadiusNeighbors.empty(0)

    def _tree(self) -> tuple:
        """The arrays and depth describing the tree, in the order the kernels take them."""
        return (
            self.data,
            self.order,
            self.starts,
            self.ends,
            self.lo,
            self.hi,
            self.centers,
            self.radii,
            self.n_levels,
        )

    def _query_chunk(self, queries, k, k_keep, slack):
        return tree_kernels.tree_query(
            self._tree_kind,
            self._kind,
            queries,
            *self._tree(),
            k,
            k_keep,
            self.metric.p,
            self._shrink,
            slack,
            64 * get_num_threads(),
        )

    def _radius_chunk(self, queries, limit):
        return tree_kernels.tree_radius(
            self._tree_kind,
            self._kind,
            queries,
            *self._tree(),
            limit,
            self.metric.p,
            self._shrink,
            64 * get_num_threads(),
        )


def _n_levels(n_samples: int, leaf_size: int) -> int:
    # Deep enough that leaves hold at most ~2 * leaf_size rows, never so deep that one is empty.
    return 1 + max(0, math.floor(math.log2(max(1.0, (n_samples - 1) / leaf_size))))


def _split_layout(data: np.ndarray, n_levels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Permutation of the rows and each node's ``[start, end)`` range in it."""
    n_nodes = 2**n_levels - 1
    order = np.arange(len(data), dtype=np.int64)
    starts = np.zeros(n_nodes, dtype=np.int64)
    ends = np.zeros(n_nodes, dtype=np.int64)
    ends[0] = len(data)
    for node in range(n_nodes // 2):
        start, end = starts[node], ends[node]
        mid = start + (end - start) // 2
        rows = order[start:end]
        points = data[rows]
        dim = int(np.argmax(points.max(axis=0) - points.min(axis=0)))
        order[start:end] = rows[np.argpartition(points[:, dim], mid - start)]
        starts[2 * node + 1], ends[2 * node + 1] = start, mid
        starts[2 * node + 2], ends[2 * node + 2] = mid, end
    return order, starts, ends


def _boxes(data, starts, ends, n_levels):
    """Per-node bounding boxes, leaves from their rows and parents from their children."""
    n_nodes = len(starts)
    lo = np.empty((n_nodes, data.shape[1]))
    hi = np.empty((n_nodes, data.shape[1]))
    first_leaf = n_nodes // 2
    leaf_starts = starts[first_leaf:]
    lo[first_leaf:] = np.minimum.reduceat(data, leaf_starts, axis=0)
    hi[first_leaf:] = np.maximum.reduceat(data, leaf_starts, axis=0)
    for node in range(first_leaf - 1, -1, -1):
        lo[node] = np.minimum(lo[2 * node + 1], lo[2 * node + 2])
        hi[node] = np.maximum(hi[2 * node + 1], hi[2 * node + 2])
    return lo, hi


def _balls(data, starts, ends, metric):
    """Per-node centre and covering radius (a coordinate count for Hamming)."""
    n_nodes = len(starts)
    centers = np.empty((n_nodes, data.shape[1]))
    radii = np.empty(n_nodes)
    for node in range(n_nodes):
        points = data[starts[node] : ends[node]]
        centers[node] = _center(points, metric)
        radii[node] = _radius(points, centers[node], metric)
    return centers, radii


def _center(points, metric):
    if metric.name == "hamming":
        # A coordinate-wise median takes values the rows actually have, so it matches many
        # coordinates; a mean would differ from almost every row everywhere.
        middle = (len(points) - 1) // 2
        return np.partition(points, middle, axis=0)[middle]
    return points.mean(axis=0)


def _radius(points, center, metric):
    if metric.name == "hamming":
        return float((points != center).sum(axis=1).max())
    diff = np.abs(points - center)
    if metric.name == "chebyshev":
        return float(diff.max())
    if metric.name == "manhattan":
        return float(diff.sum(axis=1).max())
    power = 2.0 if metric.name == "euclidean" else metric.p
    return float(((diff**power).sum(axis=1) ** (1.0 / power)).max())
