"""Merging partial top-k lists with the library-wide tie rule."""

from __future__ import annotations

import numpy as np


def merge_topk(
    reduced_a: np.ndarray,
    indices_a: np.ndarray,
    reduced_b: np.ndarray,
    indices_b: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Keep, per row, the ``k`` smallest of two candidate lists, ties to the smaller index.

    Both inputs are ``(n_rows, m)`` arrays; they need not be sorted and the result is sorted
    by (distance, index).
    """
    reduced = np.concatenate([reduced_a, reduced_b], axis=1)
    indices = np.concatenate([indices_a, indices_b], axis=1)
    # Order by index, then stably by distance: equal distances keep index order.
    rows = np.arange(len(reduced))[:, None]
    order_by_index = np.argsort(indices, axis=1, kind="stable")
    reduced = reduced[rows, order_by_index]
    indices = indices[rows, order_by_index]
    order = np.argsort(reduced, axis=1, kind="stable")[:, :k]
    return reduced[rows, order], indices[rows, order]
