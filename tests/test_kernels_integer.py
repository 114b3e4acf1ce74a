"""uint8 byte-difference sums against their NumPy twins, and their top-k loops against the
reference."""

import zlib

import numpy as np
import pytest

from knnvision.search import reference_kneighbors, resolve_metric
from knnvision.search.kernels import integer


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


@pytest.mark.parametrize("n_features", [1, 31, 32, 33, 784])
def test_uint8_sums_match_twins(n_features):
    rng = _rng("u8", n_features)
    Q = integer.pad_u8(rng.integers(0, 256, size=(3, n_features), dtype=np.uint8))
    T = integer.pad_u8(rng.integers(0, 256, size=(2, n_features), dtype=np.uint8))
    assert Q.shape[1] % integer.U8_WIDTH == 0
    for i in range(3):
        for j in range(2):
            assert integer.sad_u8(Q, i, T, j) == integer.sad_u8_numpy(Q[i], T[j])
            assert integer.sqd_u8(Q, i, T, j) == integer.sqd_u8_numpy(Q[i], T[j])
    assert integer.sad_u8_x2(Q, 0, T, 1) == (
        integer.sad_u8_numpy(Q[0], T[1]),
        integer.sad_u8_numpy(Q[1], T[1]),
    )
    # Extremes: 255 against 0 in every byte.
    full, zero = np.full((1, 64), 255, np.uint8), np.zeros((1, 64), np.uint8)
    assert integer.sad_u8(full, 0, zero, 0) == 64 * 255
    assert integer.sqd_u8(full, 0, zero, 0) == 64 * 255 * 255


@pytest.mark.parametrize("squared", [False, True])
def test_u8_topk_loops_match_reference(squared):
    rng = _rng("u8topk", squared)
    train = rng.integers(0, 4, size=(200, 40), dtype=np.uint8)
    queries = rng.integers(0, 4, size=(9, 40), dtype=np.uint8)
    metric = resolve_metric("euclidean" if squared else "manhattan")
    ref_d, ref_i = reference_kneighbors(train, queries, 6, metric)
    for got_d, got_i in (
        integer.u8_topk(squared, integer.pad_u8(queries), integer.pad_u8(train), 6, 2),
        integer.u8_topk(squared, integer.pad_u8(queries), integer.pad_u8(train), 6, 5),
        integer.u8_topk_few(squared, integer.pad_u8(queries), integer.pad_u8(train), 6, 3),
    ):
        np.testing.assert_array_equal(got_i, ref_i)
        np.testing.assert_array_equal(metric.to_distance(got_d), ref_d)
