"""Exact brute-force search over blocks of queries and training rows.

Memory stays bounded by ``working_memory``: distances are computed one
``query block x training block`` tile at a time and folded into a running top-k, so the
full ``n_queries x n_train`` matrix never exists.
"""

from __future__ import annotations

import numpy as np

from .. import progress
from .metrics import Metric, reduced_distances
from .topk import merge_topk


class BruteIndex:
    """Brute-force search over the stored training rows."""

    algorithm = "brute"

    def __init__(self, train: np.ndarray, metric: Metric, working_memory_mb: float):
        self.train = train
        self.metric = metric
        self.working_memory_mb = working_memory_mb

    def query(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        n_queries = len(queries)
        query_block, train_block = self._block_sizes(n_queries)
        best_reduced = np.empty((n_queries, k), dtype=np.float64)
        best_indices = np.empty((n_queries, k), dtype=np.int64)
        with progress.track(total=n_queries, description="searching neighbours") as task:
            for q0 in range(0, n_queries, query_block):
                q1 = min(q0 + query_block, n_queries)
                best_reduced[q0:q1], best_indices[q0:q1] = self._query_block(
                    queries[q0:q1], k, train_block
                )
                task.advance(q1 - q0)
        return self.metric.to_distance(best_reduced), best_indices

    def _query_block(self, queries, k, train_block):
        best_reduced = np.full((len(queries), 0), np.inf)
        best_indices = np.zeros((len(queries), 0), dtype=np.int64)
        for t0 in range(0, len(self.train), train_block):
            t1 = min(t0 + train_block, len(self.train))
            block = reduced_distances(queries, self.train[t0:t1], self.metric)
            block_indices = np.broadcast_to(np.arange(t0, t1), block.shape)
            best_reduced, best_indices = merge_topk(
                best_reduced, best_indices, block, block_indices, k
            )
        return best_reduced, best_indices

    def _block_sizes(self, n_queries: int) -> tuple[int, int]:
        # One tile holds a query x train x feature float64 difference array.
        budget_items = max(1, int(self.working_memory_mb * 2**20 / 8))
        n_features = max(1, self.train.shape[1])
        train_block = max(1, min(len(self.train), 4096))
        query_block = max(1, budget_items // (train_block * n_features))
        if query_block < 16:
            train_block = max(1, budget_items // (16 * n_features))
            query_block = max(1, budget_items // (train_block * n_features))
        return min(query_block, n_queries), train_block
