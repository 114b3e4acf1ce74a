"""The scan of matrix-product tiles against its NumPy twin."""

import zlib

import numpy as np
import pytest

from knnvision.search import resolve_metric
from knnvision.search.brute import BruteIndex
from knnvision.search.kernels import candidates, metric_kinds, topk
from knnvision.search.metrics import reduced_distances


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def test_scan_products_matches_twin():
    rng = _rng("scan")
    products = rng.integers(0, 50, size=(6, 300)).astype(np.float32)
    offsets = rng.integers(0, 100, size=300).astype(np.float64)
    best_e, best_i = topk.empty_topk(6, 7)
    twin = (best_e.copy(), best_i.copy())
    for first in (0, 300):
        candidates.scan_products(products, offsets, -2.0, first, best_e, best_i)
        twin = candidates.scan_products_numpy(products, offsets, -2.0, first, *twin)
    np.testing.assert_array_equal(best_e, twin[0])
    np.testing.assert_array_equal(best_i, twin[1])


def test_scan_within_matches_twin_and_grows_its_buffers():
    rng = _rng("within")
    products = rng.integers(0, 50, size=(9, 300)).astype(np.float32)
    offsets = rng.integers(0, 100, size=300).astype(np.float64)
    limits = rng.integers(-60, 20, size=9).astype(np.float64)  # some rows hit nothing
    want = candidates.scan_within_numpy(products, offsets, -2.0, limits)
    assert 8 < len(want[0]) < products.size
    for capacity in (1, 1 << 16):  # the first overflows and runs again
        got = candidates.scan_within(products, offsets, -2.0, limits, capacity=capacity)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_pair_distances_and_blocks_are_the_reference_bits(dtype):
    rng = _rng("pairs", dtype)
    queries = rng.normal(size=(5, 200)) * 40
    train = np.abs(rng.normal(size=(30, 200)) * 40).astype(dtype)
    train[3] = 0  # a zero row: cosine takes its norm as 1
    for name in ("euclidean", "manhattan", "chebyshev", "cosine", "hamming"):
        metric = resolve_metric(name)
        kind = metric_kinds.KIND_OF_METRIC[name]
        q_norms = t_norms = np.empty(0)
        if name == "cosine":
            q_norms, t_norms = BruteIndex(train, metric, 1.0).norm_arrays(queries)
        want = reduced_distances(queries, train, metric)
        block = candidates.distance_block(kind, queries, train, 2.0, q_norms, t_norms)
        np.testing.assert_array_equal(block, want, err_msg=name)
        rows, cols = rng.integers(0, 5, size=40), rng.integers(0, 30, size=40)
        got = candidates.pair_distances(kind, queries, train, rows, cols, 2.0, q_norms, t_norms)
        np.testing.assert_array_equal(got, want[rows, cols], err_msg=name)
    with pytest.raises(IndexError):
        candidates.pair_distances(0, queries, train, [5], [0], 2.0, np.empty(0), np.empty(0))
