"""Sorted top-k lists with the library's tie rule: order by (distance, index).

Every search loop keeps its best ``k`` candidates per query in a pair of 2-D arrays (one row
per query) and inserts with ``topk_push`` (``topk.hpp``, inlined by every compiled family;
bound here for the tests). NumPy twin: :func:`topk_push_numpy`.
"""

from __future__ import annotations

import numpy as np

from ._topk import merge_topk_into, topk_push

__all__ = ["empty_topk", "merge_topk_into", "topk_push", "topk_push_numpy"]


def topk_push_numpy(best_d, best_i, d, index):
    """NumPy twin of :func:`topk_push` for one row (returns new arrays)."""
    all_d = np.append(best_d, d)
    all_i = np.append(best_i, index)
    order = np.lexsort((all_i, all_d))[: len(best_d)]
    return all_d[order], all_i[order]


def empty_topk(n_rows: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k lists with every slot empty (infinite distance, largest index)."""
    return np.full((n_rows, k), np.inf), np.full((n_rows, k), np.iinfo(np.int64).max)
