"""Sorted top-k lists with the library's tie rule: order by (distance, index).

Every search loop keeps its best ``k`` candidates per query in a pair of 2-D arrays (one row
per query) and inserts with :func:`topk_push`. NumPy twin: :func:`topk_push_numpy`.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def topk_push(best_d, best_i, row, d, index):
    """Insert ``(d, index)`` into row ``row`` of the sorted lists if it beats the last entry.

    Entries are ordered by distance, then index, so equal distances keep the smaller index.
    Returns True when inserted.
    """
    last = best_d.shape[1] - 1
    if d > best_d[row, last] or (d == best_d[row, last] and index >= best_i[row, last]):
        return False
    pos = last
    while pos > 0 and (
        best_d[row, pos - 1] > d or (best_d[row, pos - 1] == d and best_i[row, pos - 1] > index)
    ):
        best_d[row, pos] = best_d[row, pos - 1]
        best_i[row, pos] = best_i[row, pos - 1]
        pos -= 1
    best_d[row, pos] = d
    best_i[row, pos] = index
    return True


def topk_push_numpy(best_d, best_i, d, index):
    """NumPy twin of :func:`topk_push` for one row (returns new arrays)."""
    all_d = np.append(best_d, d)
    all_i = np.append(best_i, index)
    order = np.lexsort((all_i, all_d))[: len(best_d)]
    return all_d[order], all_i[order]


@njit(cache=True)
def empty_topk(n_rows, k):
    """Top-k lists with every slot empty (infinite distance, largest index)."""
    return np.full((n_rows, k), np.inf), np.full((n_rows, k), np.iinfo(np.int64).max)


@njit(cache=True)
def merge_topk_into(best_d, best_i, other_d, other_i):
    """Merge sorted top-k lists ``other`` into ``best`` row by row, with the tie rule."""
    for r in range(best_d.shape[0]):
        for c in range(other_d.shape[1]):
            if not topk_push(best_d, best_i, r, other_d[r, c], other_i[r, c]):
                break  # ``other`` is sorted: nothing after this entry can enter either
