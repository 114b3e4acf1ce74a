"""Manhattan and Minkowski estimates within their error bound of the reference."""

import zlib

import numpy as np
import pytest

from knnvision.search.kernels import lp_estimate, metric_kinds
from knnvision.search.metrics import Metric, reduced_distances


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


@pytest.mark.parametrize("p", [1.0, 3.0, 4.0, 2.5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# Widths with partial vectors: shorter than one (5), after one (12, 20), at a chunk's end (300).
@pytest.mark.parametrize("width", [5, 12, 20, 300])
def test_lp_estimates_stay_within_their_error_bound(p, dtype, width):
    # Every estimate (k = all rows, so nothing stops early) is within the documented relative
    # error of the reference, and the lists come back sorted by estimate, then index.
    rng = np.random.default_rng(int(p * 10) + width)
    train = (rng.random((300, width)) * rng.choice([1e-3, 1.0, 1e3], size=(300, 1))).astype(dtype)
    queries = rng.random((7, width)).astype(dtype)
    kind = metric_kinds.KIND_MANHATTAN if p == 1.0 else metric_kinds.KIND_MINKOWSKI
    metric = Metric("manhattan") if p == 1.0 else Metric("minkowski", p)
    float32 = dtype == np.float32 and p == 1.0
    for n_parts in (1, 3):
        est, idx = lp_estimate.lp_estimate_topk(kind, queries, train, len(train), p, 2, 10, n_parts)
        exact = reduced_distances(queries, train, metric)
        picked = np.take_along_axis(exact, idx, axis=1)
        bound = lp_estimate.lp_estimate_rel_error(width, p, float32) * picked
        assert np.all(np.abs(est - picked) <= bound)
        assert np.all(np.diff(est, axis=1) >= 0)
        assert all(sorted(set(row)) == list(range(len(train))) for row in idx.tolist())


def test_lp_estimates_stop_early_without_losing_the_k_nearest():
    rng = np.random.default_rng(5)
    train, queries = rng.random((2000, 200)), rng.random((9, 200))
    est, idx = lp_estimate.lp_estimate_topk(
        metric_kinds.KIND_MANHATTAN, queries, train, 4, 1.0, 4, 16, 2
    )
    exact = reduced_distances(queries, train, Metric("manhattan"))
    np.testing.assert_array_equal(idx, np.argsort(exact, axis=1, kind="stable")[:, :4])
    np.testing.assert_allclose(est, np.sort(exact, axis=1)[:, :4], rtol=1e-12)
