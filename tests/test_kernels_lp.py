"""The exact float64 distance kernels, the Minkowski estimate and the generic top-k loop,
against the reference."""

import zlib

import numpy as np
import pytest

from knnvision.search import reference_kneighbors, resolve_metric
from knnvision.search.kernels import lp, metric_kinds


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# 128 and 129 straddle NumPy's pairwise block; 300 and 784 need the split stack.
LENGTHS = [1, 3, 7, 8, 9, 16, 100, 128, 129, 300, 784]
EXACT_KINDS = ["euclidean", "manhattan", "chebyshev", "hamming", "cosine"]


@pytest.mark.parametrize("n_features", LENGTHS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8])
def test_reduced_distance_is_bit_identical_to_reference(n_features, dtype):
    rng = _rng("rd", n_features, dtype)
    A = (rng.normal(size=(3, n_features)) * 60 + 100).clip(0, 255).astype(dtype)
    B = (rng.normal(size=(4, n_features)) * 60 + 100).clip(0, 255).astype(dtype)
    B[3] = A[2]  # an exact duplicate: distance 0 everywhere
    scratch = lp.new_scratch()
    for name in EXACT_KINDS:
        kind = metric_kinds.KIND_OF_METRIC[name]
        for i, j in ((0, 1), (2, 3), (1, 2)):
            norm_a = np.sqrt((A[i].astype(np.float64) ** 2).sum())
            norm_b = np.sqrt((B[j].astype(np.float64) ** 2).sum())
            got = lp.reduced_distance(kind, A, i, B, j, 2.0, norm_a, norm_b, scratch)
            assert got == lp.reduced_distance_numpy(kind, A[i], B[j])  # bits, not tolerance
            if name != "cosine" and n_features <= 128:
                assert lp.reduced_distance_short(kind, A, i, B, j, 2.0) == got


@pytest.mark.parametrize("n_features", [3, 129, 784])
def test_minkowski_estimate_is_within_its_error_bound(n_features):
    rng = _rng("mink", n_features)
    A, B = rng.random((2, n_features)) * 10, rng.random((2, n_features)) * 10
    scratch = lp.new_scratch()
    for p in (1.5, 3.0, 7.3):
        got = lp.minkowski_estimate(A, 0, B, 1, p, scratch)
        want = lp.reduced_distance_numpy(metric_kinds.KIND_MINKOWSKI, A[0], B[1], p)
        assert abs(got - want) <= lp.minkowski_rel_error(n_features) * want


@pytest.mark.parametrize("kind_name", ["manhattan", "chebyshev", "hamming", "euclidean"])
def test_generic_topk_matches_reference(kind_name):
    rng = _rng("generic", kind_name)
    metric = resolve_metric(kind_name)
    for n_features in (4, 150):
        train = rng.integers(0, 3, size=(120, n_features)).astype(np.float32)
        queries = rng.integers(0, 3, size=(7, n_features)).astype(np.float32)
        got_d, got_i = lp.generic_topk(
            metric_kinds.KIND_OF_METRIC[kind_name], queries, train, 5, 2.0, 3
        )
        ref_d, ref_i = reference_kneighbors(train, queries, 5, metric)
        np.testing.assert_array_equal(got_i, ref_i)
        np.testing.assert_array_equal(metric.to_distance(got_d), ref_d)
