"""Sorted top-k lists against their NumPy twin, ties included."""

import zlib

import numpy as np

from knnvision.search.kernels import topk


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def test_topk_push_matches_twin_with_ties():
    rng = _rng("topk")
    best_d, best_i = topk.empty_topk(1, 5)
    twin_d, twin_i = best_d[0].copy(), best_i[0].copy()
    for index in rng.permutation(60):
        d = float(rng.integers(0, 4))  # few values: ties everywhere
        topk.topk_push(best_d, best_i, 0, d, index)
        twin_d, twin_i = topk.topk_push_numpy(twin_d, twin_i, d, index)
    np.testing.assert_array_equal(best_d[0], twin_d)
    np.testing.assert_array_equal(best_i[0], twin_i)


def test_merge_topk_into_keeps_tie_rule():
    a_d, a_i = np.array([[1.0, 2.0, 2.0]]), np.array([[5, 3, 9]])
    b_d, b_i = np.array([[2.0, 2.0, 3.0]]), np.array([[1, 4, 0]])
    topk.merge_topk_into(a_d, a_i, b_d, b_i)
    np.testing.assert_array_equal(a_d, [[1.0, 2.0, 2.0]])
    np.testing.assert_array_equal(a_i, [[5, 1, 3]])
