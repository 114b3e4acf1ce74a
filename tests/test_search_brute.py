"""Brute force (float32 products + exact re-check, uint8 SIMD, compiled loops) against the
float64 reference: every metric, dtype and k, with ties, duplicates and tiny memory budgets."""

import numpy as np
import pytest

from knnvision.search import (
    build_index,
    reference_kneighbors,
    resolve_metric,
    thread_limit,
)
from knnvision.search.brute import FEW_QUERIES, BruteIndex
from knnvision.search.threads import get_num_threads
from search_cases import assert_matches_reference, rows_with_ties, seeded_rng

METRICS = [
    ("euclidean", None),
    ("cosine", None),
    ("manhattan", None),
    ("chebyshev", None),
    ("minkowski", 3.0),
    ("hamming", None),
]
DTYPES = [np.float64, np.float32, np.uint8]


@pytest.mark.parametrize("metric_name,p", METRICS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["continuous", "integer"])
def test_brute_matches_reference(metric_name, p, dtype, kind):
    metric = resolve_metric(metric_name, p)
    for n_features in (5, 140):  # 140 > 128: NumPy's pairwise sum splits the row
        rng = seeded_rng(metric_name, dtype, kind, n_features)
        train, queries = rows_with_ties(kind, dtype, rng, n_features=n_features)
        index = BruteIndex(train, metric, 256)
        for k in (1, 3, 5, 20):
            # One query, a few (the few-query paths) and a block.
            for rows in (queries[:1], queries[:FEW_QUERIES], queries):
                assert_matches_reference(index, train, rows, k, metric)


@pytest.mark.parametrize("metric_name,p", METRICS)
@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_tiny_working_memory_gives_identical_results(metric_name, p, dtype):
    metric = resolve_metric(metric_name, p)
    train, queries = rows_with_ties(
        "integer", dtype, seeded_rng("tiny", metric_name, dtype), n_features=12
    )
    big = BruteIndex(train, metric, 256).query(queries, 7)
    small = BruteIndex(train, metric, 0.002).query(queries, 7)  # blocks of a few rows
    np.testing.assert_array_equal(big[1], small[1])
    np.testing.assert_array_equal(big[0], small[0])
    assert_matches_reference(BruteIndex(train, metric, 0.002), train, queries, 7, metric)


def test_float32_near_ties_are_settled_exactly():
    # Points on a sphere around the query whose radii differ by 1e-9 relative: float32
    # products cannot order them, the float64 re-check must. A few far points keep the
    # near-ties a small candidate set (the spare-candidate path, no fallback).
    rng = seeded_rng("near-ties")
    query = rng.normal(size=(1, 30)) * 100
    directions = rng.normal(size=(5, 30))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radii = 50.0 * (1.0 + 1e-9 * rng.permutation(5))
    near = query + radii[:, None] * directions
    far = query + 1000.0 * rng.normal(size=(40, 30))
    train = np.vstack([far[:20], near, far[20:]])
    queries = np.vstack([query, train[[3, 22]]])
    metric = resolve_metric("euclidean")
    estimates = ((train.astype(np.float32) - query.astype(np.float32)) ** 2).sum(axis=1)
    exact = ((train - query) ** 2).sum(axis=1)
    # Precondition: float32 really misorders the near-ties.
    assert not np.array_equal(np.argsort(estimates[20:25]), np.argsort(exact[20:25]))
    for k in (1, 2, 4, 5):
        assert_matches_reference(BruteIndex(train, metric, 256), train, queries, k, metric)


@pytest.mark.parametrize("metric_name", ["euclidean", "cosine"])
def test_float32_hopeless_precision_falls_back_to_exact(metric_name):
    # A huge common offset and tiny spreads: float32 estimates are all equal within their
    # bound, every spare candidate is a near-tie, and the query is searched again exactly.
    rng = seeded_rng("offset", metric_name)
    offset = np.full(20, 1e4)
    train = offset + 1e-3 * rng.normal(size=(60, 20))
    queries = offset + 1e-3 * rng.normal(size=(4, 20))
    metric = resolve_metric(metric_name)
    for k in (1, 3, 10):
        assert_matches_reference(BruteIndex(train, metric, 256), train, queries, k, metric)


def test_many_exact_duplicates_overflow_the_spare_candidates():
    train = np.vstack([np.ones((40, 6)), np.zeros((40, 6)), 2 * np.ones((5, 6))])
    queries = np.vstack([np.ones((2, 6)), np.zeros((1, 6)) + 0.1])
    for metric_name in ("euclidean", "cosine", "manhattan", "minkowski"):
        metric = resolve_metric(metric_name, 2.5 if metric_name == "minkowski" else None)
        for dtype in (np.float64, np.float32):
            t, q = train.astype(dtype), queries.astype(dtype)
            assert_matches_reference(BruteIndex(t, metric, 256), t, q, 12, metric)


def test_huge_values_use_the_exact_float64_path():
    rng = seeded_rng("huge")
    train = rng.normal(size=(50, 4)) * 1e200
    queries = rng.normal(size=(3, 4)) * 1e200
    metric = resolve_metric("manhattan")
    assert_matches_reference(BruteIndex(train, metric, 256), train, queries, 5, metric)
    train, queries = train * 1e-100, queries * 1e-100  # squares stay finite in float64
    metric = resolve_metric("euclidean")
    assert_matches_reference(BruteIndex(train, metric, 256), train, queries, 5, metric)


def test_zero_rows_under_cosine():
    train = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])
    queries = np.array([[0.0, 0.0], [3.0, 0.0]])
    metric = resolve_metric("cosine")
    assert_matches_reference(BruteIndex(train, metric, 256), train, queries, 5, metric)


def test_fortran_ordered_and_mixed_dtype_inputs():
    rng = seeded_rng("layout")
    train = np.asfortranarray(rng.integers(0, 255, size=(80, 33)).astype(np.uint8))
    queries = rng.integers(0, 255, size=(12, 33)).astype(np.float64)
    for metric_name in ("euclidean", "manhattan"):
        metric = resolve_metric(metric_name)
        assert_matches_reference(BruteIndex(train, metric, 256), train, queries, 4, metric)
        index = BruteIndex(train, metric, 256)
        assert_matches_reference(index, train, queries.astype(np.uint8), 4, metric)


def test_bad_requests_raise_value_errors():
    index = BruteIndex(np.zeros((5, 3)), resolve_metric("euclidean"), 256)
    with pytest.raises(ValueError, match="only 5 training rows"):
        index.query(np.zeros((2, 3)), 6)
    with pytest.raises(ValueError, match="positive integer"):
        index.query(np.zeros((2, 3)), 0)
    with pytest.raises(ValueError, match="features"):
        index.query(np.zeros((2, 4)), 1)
    with pytest.raises(ValueError, match="working_memory_mb"):
        BruteIndex(np.zeros((5, 3)), resolve_metric("euclidean"), 0)
    distances, indices = index.query(np.zeros((0, 3)), 2)
    assert distances.shape == indices.shape == (0, 2)


@pytest.mark.parametrize("algorithm", ["kd_tree", "ball_tree"])
def test_trees_check_requests_like_the_brute_force(algorithm):
    index = build_index(np.zeros((5, 3)), algorithm=algorithm)
    with pytest.raises(ValueError, match="Queries have 4 features but the index was built with 3"):
        index.query(np.zeros((2, 4)), 1)
    with pytest.raises(ValueError, match="only 5 training rows"):
        index.query(np.zeros((2, 3)), 6)
    distances, indices = index.query(np.zeros((0, 3)), 2)
    assert distances.shape == indices.shape == (0, 2)


def test_build_index_routes_and_auto():
    rng = seeded_rng("auto")
    low = rng.normal(size=(3000, 3))
    assert build_index(low, algorithm="auto").algorithm == "kd_tree"
    assert build_index(low, metric="cosine", algorithm="auto").algorithm == "brute"
    high = rng.normal(size=(300, 64))
    assert build_index(high, algorithm="auto").algorithm == "brute"
    assert build_index(low[:50], algorithm="auto").algorithm == "brute"
    for algorithm in ("auto", "brute", "kd_tree", "ball_tree"):
        index = build_index(low, algorithm=algorithm, working_memory_mb=1)
        assert_matches_reference(index, low, low[:20], 3, resolve_metric("euclidean"))
    with pytest.raises(ValueError, match="Unknown algorithm"):
        build_index(low, algorithm="annoy")


def test_thread_limit_sets_and_restores_the_kernels_threads():
    before = get_num_threads()
    with thread_limit(1) as threads:
        assert threads == 1
        assert get_num_threads() == 1
        rng = seeded_rng("threads")
        train = rng.integers(0, 255, size=(100, 40)).astype(np.uint8)
        metric = resolve_metric("manhattan")
        assert_matches_reference(BruteIndex(train, metric, 256), train, train[:30], 3, metric)
    assert get_num_threads() == before
    with pytest.raises(ValueError, match="n_jobs=0"), thread_limit(0):
        pass


def test_minkowski_rounding_near_ties_follow_the_reference():
    # NumPy may raise to a power with a SIMD routine that differs from libm's pow by an ulp;
    # the compiled kernels use libm. Build rows whose order flips between the two and check
    # both backends still return the reference order.
    import math

    p = 3.7
    rng = seeded_rng("svml")
    values = rng.random(4000) * 10
    numpy_pow = values**p
    libm_pow = np.array([math.pow(v, p) for v in values])
    flips = []
    for v, np_v, lib_v in zip(values, numpy_pow, libm_pow, strict=True):
        if np_v == lib_v:
            continue
        w = np.nextafter(v, np.inf if np_v < lib_v else -np.inf)
        if (np_v < w**p) != (lib_v < math.pow(w, p)) or len(flips) < 3:
            flips.append((v, w))
        if len(flips) >= 6:
            break
    pairs = [row for v, w in flips for row in ([w, 0.0], [v, 0.0])]
    train = np.array(pairs + [[20.0, 20.0]] * 3)
    queries = np.zeros((1, 2))
    metric = resolve_metric("minkowski", p)
    for k in (1, 2, 5):
        assert_matches_reference(BruteIndex(train, metric, 256), train, queries, k, metric)
        assert_matches_reference(
            build_index(train, metric="minkowski", p=p, algorithm="kd_tree"),
            train,
            queries,
            k,
            metric,
        )


@pytest.mark.parametrize("dtype", DTYPES)
def test_few_queries_projection_filter(dtype, monkeypatch):
    # The filter (few Euclidean queries) with ties, duplicates and exact copies of rows.
    from knnvision.search import brute

    rng = seeded_rng("filter", dtype)
    train = rng.integers(0, 3, size=(2600, 40))
    train[2000:2300] = train[:300]  # duplicates
    queries = np.vstack([rng.integers(0, 3, size=(4, 40)), train[[5, 2005]]]).astype(dtype)
    train = train.astype(dtype)
    metric = resolve_metric("euclidean")
    index = BruteIndex(train, metric, 256)
    assert index._engine(queries) == index._query_filtered
    for k in (1, 3, 20):
        assert_matches_reference(index, train, queries, k, metric)
        assert_matches_reference(index, train, queries[:1], k, metric)
    # Also through the filter on the small continuous and integer sets.
    monkeypatch.setattr(brute, "_FILTER_MIN_ROWS", 1)
    monkeypatch.setattr(brute, "_FILTER_MIN_FEATURES", 1)
    for kind in ("continuous", "integer"):
        train, queries = rows_with_ties(
            kind, dtype, seeded_rng("filter-small", kind, dtype), n_features=5
        )
        for k in (1, 5, 20):
            index = BruteIndex(train, metric, 256)
            assert_matches_reference(index, train, queries[:FEW_QUERIES], k, metric)


@pytest.mark.parametrize("algorithm", ["brute", "kd_tree", "ball_tree"])
def test_query_train_excludes_each_row_itself(algorithm):
    rng = seeded_rng("self", algorithm)
    train = rng.integers(0, 2, size=(60, 3)).astype(np.float64)  # many exact duplicates
    index = build_index(train, algorithm=algorithm)
    metric = resolve_metric("euclidean")
    distances, indices = index.query_train(4)
    assert indices.shape == (60, 4)
    for row in range(60):
        others = np.delete(np.arange(60), row)
        ref_d, ref_i = reference_kneighbors(train[others], train[row : row + 1], 4, metric)
        np.testing.assert_array_equal(indices[row], others[ref_i[0]])
        np.testing.assert_allclose(distances[row], ref_d[0])


@pytest.mark.parametrize(
    "metric_name,p",
    [("manhattan", None), ("minkowski", 3.0), ("minkowski", 4.0), ("minkowski", 2.5)],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lp_near_ties_below_the_sums_rounding_follow_the_reference(metric_name, p, dtype):
    # Copies of one row, each nudged by an ulp or two in random places: their distances to
    # the query differ by less than the rounding of the fast sums, whose order differs from
    # the reference's, so the estimates misorder them and only the re-check can sort them.
    rng = seeded_rng("lp-ties", metric_name, p, dtype)
    base = (rng.random(300) + 0.5).astype(dtype)
    train = np.repeat(base[None, :], 400, axis=0)
    for row in train:
        places = rng.choice(300, size=20, replace=False)
        row[places] = np.nextafter(row[places], np.where(rng.random(20) < 0.5, -9.0, 9.0))
    train = np.vstack([train, rng.random((2000, 300)).astype(dtype) + 2])
    queries = np.vstack([np.zeros((1, 300)), (base * 0.5)[None, :]]).astype(dtype)
    metric = resolve_metric(metric_name, p)
    index = BruteIndex(train, metric, 256)
    with thread_limit(2):
        for k in (1, 3, 10, 59):
            for rows in (queries[:1], queries):  # one query splits the training rows
                assert_matches_reference(index, train, rows, k, metric)


@pytest.mark.parametrize("metric_name", ["euclidean", "cosine"])
def test_uint8_rows_wider_than_the_tile_kernel_take_the_row_scan(metric_name):
    # Past TILE_MAX_WIDTH columns the tile kernels' int32 lanes could overflow: the search
    # takes the row-major integer scan and stays exact.
    from knnvision.search.kernels import dot_u8

    rng = seeded_rng("wide uint8")
    n_features = dot_u8.TILE_MAX_WIDTH + 70
    train = rng.integers(0, 256, size=(30, n_features), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(FEW_QUERIES + 4, n_features), dtype=np.uint8)
    train[20] = train[3]
    metric = resolve_metric(metric_name)
    index = BruteIndex(train, metric, 256)
    assert_matches_reference(index, train, queries, 4, metric)
    assert dot_u8.HAVE_VNNI == ("u8_dot" in index._prepared)
    assert "u8_tiles" not in index._prepared
