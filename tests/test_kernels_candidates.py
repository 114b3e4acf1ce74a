"""The scan of matrix-product tiles against its NumPy twin."""

import zlib

import numpy as np

from knnvision.search.kernels import candidates, topk


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
