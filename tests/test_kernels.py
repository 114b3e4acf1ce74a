"""Each numba kernel against its pure-NumPy twin."""

import zlib

import numpy as np
import pytest

from knnvision.search import kernels as K
from knnvision.search import reference_kneighbors, resolve_metric
from knnvision.search.metrics import Metric, reduced_distances


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
    scratch = K.new_scratch()
    for name in EXACT_KINDS:
        kind = K.KIND_OF_METRIC[name]
        for i, j in ((0, 1), (2, 3), (1, 2)):
            norm_a = np.sqrt((A[i].astype(np.float64) ** 2).sum())
            norm_b = np.sqrt((B[j].astype(np.float64) ** 2).sum())
            got = K.reduced_distance(kind, A, i, B, j, 2.0, norm_a, norm_b, scratch)
            assert got == K.reduced_distance_numpy(kind, A[i], B[j])  # bits, not tolerance
            if name != "cosine" and n_features <= 128:
                assert K.reduced_distance_short(kind, A, i, B, j, 2.0) == got


@pytest.mark.parametrize("n_features", [3, 129, 784])
def test_minkowski_estimate_is_within_its_error_bound(n_features):
    rng = _rng("mink", n_features)
    A, B = rng.random((2, n_features)) * 10, rng.random((2, n_features)) * 10
    scratch = K.new_scratch()
    for p in (1.5, 3.0, 7.3):
        got = K.minkowski_estimate(A, 0, B, 1, p, scratch)
        want = K.reduced_distance_numpy(K.KIND_MINKOWSKI, A[0], B[1], p)
        assert abs(got - want) <= K.minkowski_rel_error(n_features) * want


def test_topk_push_matches_twin_with_ties():
    rng = _rng("topk")
    best_d, best_i = K.empty_topk(1, 5)
    twin_d, twin_i = best_d[0].copy(), best_i[0].copy()
    for index in rng.permutation(60):
        d = float(rng.integers(0, 4))  # few values: ties everywhere
        K.topk_push(best_d, best_i, 0, d, index)
        twin_d, twin_i = K.topk_push_numpy(twin_d, twin_i, d, index)
    np.testing.assert_array_equal(best_d[0], twin_d)
    np.testing.assert_array_equal(best_i[0], twin_i)


def test_merge_topk_into_keeps_tie_rule():
    a_d, a_i = np.array([[1.0, 2.0, 2.0]]), np.array([[5, 3, 9]])
    b_d, b_i = np.array([[2.0, 2.0, 3.0]]), np.array([[1, 4, 0]])
    K.merge_topk_into(a_d, a_i, b_d, b_i)
    np.testing.assert_array_equal(a_d, [[1.0, 2.0, 2.0]])
    np.testing.assert_array_equal(a_i, [[5, 1, 3]])


@pytest.mark.parametrize("kind_name", ["euclidean", "manhattan", "chebyshev", "minkowski"])
def test_box_bound_matches_twin(kind_name):
    rng = _rng("box", kind_name)
    kind = K.KIND_OF_METRIC[kind_name]
    Q = rng.normal(size=(5, 6))
    LO = rng.normal(size=(3, 6)) - 0.5
    HI = LO + rng.random((3, 6))
    for qi in range(5):
        for node in range(3):
            got = K.box_bound(kind, Q, qi, LO, HI, node, 3.0)
            want = K.box_bound_numpy(kind, Q[qi], LO[node], HI[node], 3.0)
            assert got == pytest.approx(want, rel=1e-12, abs=0)


@pytest.mark.parametrize(
    "kind_name", ["euclidean", "manhattan", "chebyshev", "minkowski", "hamming"]
)
def test_ball_bound_matches_twin_and_bounds_the_points(kind_name):
    rng = _rng("ball", kind_name)
    kind = K.KIND_OF_METRIC[kind_name]
    points = rng.integers(0, 3, size=(30, 5)).astype(np.float64)
    center = np.median(points, axis=0) if kind_name == "hamming" else points.mean(axis=0)
    metric = Metric(kind_name, 3.0)
    if kind_name == "hamming":
        radius = float((points != center).sum(axis=1).max())
    else:
        radius = float(metric.to_distance(reduced_distances(center[None], points, metric)).max())
    Q = rng.normal(size=(8, 5)) * 3
    shrink = 1.0 - 1e-12
    for qi in range(8):
        got = K.ball_bound(kind, Q, qi, center[None], 0, radius, 3.0, shrink, K.new_scratch())
        want = K.ball_bound_numpy(kind, Q[qi], center, radius, 3.0, shrink)
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
        assert got <= reduced_distances(Q[qi : qi + 1], points, metric).min()


@pytest.mark.parametrize("n_features", [1, 31, 32, 33, 784])
def test_uint8_sums_match_twins(n_features):
    rng = _rng("u8", n_features)
    Q = K.pad_u8(rng.integers(0, 256, size=(3, n_features), dtype=np.uint8))
    T = K.pad_u8(rng.integers(0, 256, size=(2, n_features), dtype=np.uint8))
    assert Q.shape[1] % K.U8_WIDTH == 0
    for i in range(3):
        for j in range(2):
            assert K.sad_u8(Q, i, T, j) == K.sad_u8_numpy(Q[i], T[j])
            assert K.sqd_u8(Q, i, T, j) == K.sqd_u8_numpy(Q[i], T[j])
    assert K.sad_u8_x2(Q, 0, T, 1) == (K.sad_u8_numpy(Q[0], T[1]), K.sad_u8_numpy(Q[1], T[1]))
    # Extremes: 255 against 0 in every byte.
    full, zero = np.full((1, 64), 255, np.uint8), np.zeros((1, 64), np.uint8)
    assert K.sad_u8(full, 0, zero, 0) == 64 * 255
    assert K.sqd_u8(full, 0, zero, 0) == 64 * 255 * 255


def test_scan_products_matches_twin():
    rng = _rng("scan")
    products = rng.integers(0, 50, size=(6, 300)).astype(np.float32)
    offsets = rng.integers(0, 100, size=300).astype(np.float64)
    best_e, best_i = K.empty_topk(6, 7)
    twin = (best_e.copy(), best_i.copy())
    for first in (0, 300):
        K.scan_products(products, offsets, -2.0, first, best_e, best_i)
        twin = K.scan_products_numpy(products, offsets, -2.0, first, *twin)
    np.testing.assert_array_equal(best_e, twin[0])
    np.testing.assert_array_equal(best_i, twin[1])


@pytest.mark.parametrize("squared", [False, True])
def test_u8_topk_loops_match_reference(squared):
    rng = _rng("u8topk", squared)
    train = rng.integers(0, 4, size=(200, 40), dtype=np.uint8)
    queries = rng.integers(0, 4, size=(9, 40), dtype=np.uint8)
    metric = resolve_metric("euclidean" if squared else "manhattan")
    ref_d, ref_i = reference_kneighbors(train, queries, 6, metric)
    for got_d, got_i in (
        K.u8_topk(squared, K.pad_u8(queries), K.pad_u8(train), 6, 2),
        K.u8_topk(squared, K.pad_u8(queries), K.pad_u8(train), 6, 5),
        K.u8_topk_few(squared, K.pad_u8(queries), K.pad_u8(train), 6, 3),
    ):
        np.testing.assert_array_equal(got_i, ref_i)
        np.testing.assert_array_equal(metric.to_distance(got_d), ref_d)


@pytest.mark.parametrize("kind_name", ["manhattan", "chebyshev", "hamming", "euclidean"])
def test_generic_topk_matches_reference(kind_name):
    rng = _rng("generic", kind_name)
    metric = resolve_metric(kind_name)
    for n_features in (4, 150):
        train = rng.integers(0, 3, size=(120, n_features)).astype(np.float32)
        queries = rng.integers(0, 3, size=(7, n_features)).astype(np.float32)
        got_d, got_i = K.generic_topk(K.KIND_OF_METRIC[kind_name], queries, train, 5, 2.0, 3)
        ref_d, ref_i = reference_kneighbors(train, queries, 5, metric)
        np.testing.assert_array_equal(got_i, ref_i)
        np.testing.assert_array_equal(metric.to_distance(got_d), ref_d)


@pytest.mark.skipif(not K.HAVE_VNNI, reason="CPU without AVX-512 VNNI")
@pytest.mark.parametrize("shape", [(9, 5, 13), (4, 64, 8), (23, 129, 41), (7, 784, 30)])
def test_u8_dot_topk_matches_twin(shape):
    n_queries, n_features, n_train = shape
    rng = _rng("vnni", shape)
    train = rng.integers(0, 256, size=(n_train, n_features), dtype=np.uint8)
    train[n_train // 2] = train[0]  # a duplicate: an exact tie
    queries = rng.integers(0, 256, size=(n_queries, n_features), dtype=np.uint8)
    queries[-1] = train[0]
    k = min(5, n_train)
    padded_t = K.pad_rows_u8(train, K.DOT_WIDTH, K.DOT_COLS, shift=128, dtype=np.int8)
    padded_q = K.pad_rows_u8(queries, K.DOT_WIDTH, K.DOT_ROWS)
    train_sq = (train.astype(np.int64) ** 2).sum(axis=1)
    want_d, want_i = K.u8_dot_topk_numpy(queries, train, k)
    for q_block in (4, 8, 64):
        got_d, got_i = K.u8_dot_topk(padded_q, n_queries, padded_t, n_train, train_sq, k, q_block)
        np.testing.assert_array_equal(got_i, want_i)
        np.testing.assert_array_equal(got_d, want_d)


def test_projected_bounds_match_twin_and_bound():
    rng = _rng("proj")
    x = rng.normal(size=(50, 20))
    basis, _ = np.linalg.qr(rng.normal(size=(20, 4)))
    proj = x @ basis
    residuals = np.sqrt(np.maximum((x * x).sum(1) - (proj * proj).sum(1), 0))
    q = rng.normal(size=20)
    qp = q @ basis
    qr = np.sqrt(max(q @ q - qp @ qp, 0))
    got = K.projected_bounds(proj, residuals, qp, qr, 1e-9)
    np.testing.assert_allclose(got, K.projected_bounds_numpy(proj, residuals, qp, qr, 1e-9))
    assert np.all(got <= ((x - q) ** 2).sum(1) * (1 + 1e-12))


@pytest.mark.parametrize("p", [1.0, 3.0, 4.0, 2.5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lp_estimates_stay_within_their_error_bound(p, dtype):
    # Every estimate (k = all rows, so nothing stops early) is within the documented relative
    # error of the reference, and the lists come back sorted by estimate, then index.
    rng = np.random.default_rng(int(p * 10))
    train = (rng.random((300, 300)) * rng.choice([1e-3, 1.0, 1e3], size=(300, 1))).astype(dtype)
    queries = rng.random((7, 300)).astype(dtype)
    kind = K.KIND_MANHATTAN if p == 1.0 else K.KIND_MINKOWSKI
    metric = Metric("manhattan") if p == 1.0 else Metric("minkowski", p)
    float32 = dtype == np.float32 and p == 1.0
    for n_parts in (1, 3):
        est, idx = K.lp_estimate_topk(kind, queries, train, len(train), p, 2, 10, n_parts)
        exact = reduced_distances(queries, train, metric)
        picked = np.take_along_axis(exact, idx, axis=1)
        bound = K.lp_estimate_rel_error(300, p, float32) * picked
        assert np.all(np.abs(est - picked) <= bound)
        assert np.all(np.diff(est, axis=1) >= 0)
        assert all(sorted(set(row)) == list(range(len(train))) for row in idx.tolist())


def test_lp_estimates_stop_early_without_losing_the_k_nearest():
    rng = np.random.default_rng(5)
    train, queries = rng.random((2000, 200)), rng.random((9, 200))
    est, idx = K.lp_estimate_topk(K.KIND_MANHATTAN, queries, train, 4, 1.0, 4, 16, 2)
    exact = reduced_distances(queries, train, Metric("manhattan"))
    np.testing.assert_array_equal(idx, np.argsort(exact, axis=1, kind="stable")[:, :4])
    np.testing.assert_allclose(est, np.sort(exact, axis=1)[:, :4], rtol=1e-12)
