"""The VNNI uint8 dot-product search against its NumPy twin (on CPUs with AVX-512 VNNI)."""

import zlib

import numpy as np
import pytest

from knnvision.search.kernels import dot_u8


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


@pytest.mark.skipif(not dot_u8.HAVE_VNNI, reason="CPU without AVX-512 VNNI")
@pytest.mark.parametrize("shape", [(9, 5, 13), (4, 64, 8), (23, 129, 41), (7, 784, 30)])
def test_u8_dot_topk_matches_twin(shape):
    n_queries, n_features, n_train = shape
    rng = _rng("vnni", shape)
    train = rng.integers(0, 256, size=(n_train, n_features), dtype=np.uint8)
    train[n_train // 2] = train[0]  # a duplicate: an exact tie
    queries = rng.integers(0, 256, size=(n_queries, n_features), dtype=np.uint8)
    queries[-1] = train[0]
    k = min(5, n_train)
    padded_t = dot_u8.pad_rows_u8(
        train, dot_u8.DOT_WIDTH, dot_u8.DOT_COLS, shift=128, dtype=np.int8
    )
    padded_q = dot_u8.pad_rows_u8(queries, dot_u8.DOT_WIDTH, dot_u8.DOT_ROWS)
    train_sq = (train.astype(np.int64) ** 2).sum(axis=1)
    want_d, want_i = dot_u8.u8_dot_topk_numpy(queries, train, k)
    for q_block in (4, 8, 64):
        got_d, got_i = dot_u8.u8_dot_topk(
            padded_q, n_queries, padded_t, n_train, train_sq, k, q_block
        )
        np.testing.assert_array_equal(got_i, want_i)
        np.testing.assert_array_equal(got_d, want_d)
