"""Radius search on every backend against the float64 fallback (``radius_by_blocks``): the
same neighbours, the same distances bit for bit, each row sorted by (distance, index)."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neighbors import NearestNeighbors

from conftest import RecordingReporter
from knnvision import progress
from knnvision.search import RadiusNeighbors, build_index, resolve_metric
from knnvision.search.brute import BruteIndex
from knnvision.search.radius import radius_by_blocks
from knnvision.search.trees import build_tree
from optional_parts import DASK, TORCH, require_module
from search_cases import rows_with_ties, run_on_every_cpu_path, seeded_rng

BRUTE_METRICS = [
    ("euclidean", None),
    ("sqeuclidean", None),
    ("cosine", None),
    ("manhattan", None),
    ("chebyshev", None),
    ("minkowski", 3),
    ("minkowski", 0.5),
    ("hamming", None),
]
TREE_METRICS = [
    ("euclidean", None),
    ("manhattan", None),
    ("chebyshev", None),
    ("minkowski", 3),
]


def assert_same(got: RadiusNeighbors, want: RadiusNeighbors):
    assert got.indptr.dtype == got.indices.dtype == np.int64
    assert got.distances.dtype == np.float64
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_array_equal(got.distances, want.distances)


def radii_of(train, queries, metric):
    """Radius 0, radii that are exact distances of some pairs (rows exactly at the radius),
    and infinity."""
    every = radius_by_blocks(train, queries, np.inf, metric).distances
    return [0.0, *np.quantile(every, [0.02, 0.2], method="lower"), np.inf]


def check_index(index, train, queries, metric):
    for radius in radii_of(train, queries, metric):
        assert_same(
            index.query_radius(queries, radius), radius_by_blocks(train, queries, radius, metric)
        )


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8])
@pytest.mark.parametrize("name, p", BRUTE_METRICS)
def test_brute_equals_the_fallback(name, p, dtype):
    kind = "integer" if name in ("chebyshev", "hamming") else "continuous"
    rng = seeded_rng("radius brute", name, p, dtype)
    train, queries = rows_with_ties(kind, dtype, rng, n_features=13, n_train=90, n_queries=12)
    metric = resolve_metric(name, p)
    check_index(BruteIndex(train, metric, 0.05), train, queries, metric)  # small tiles


@pytest.mark.parametrize("name", ["euclidean", "cosine"])
def test_brute_on_ties_huge_values_and_few_queries(name):
    rng = seeded_rng("radius ties", name)
    metric = resolve_metric(name)
    train, queries = rows_with_ties("integer", np.float64, rng, n_features=20, n_train=120)
    check_index(BruteIndex(train, metric, 1.0), train, queries[:3], metric)
    # Beyond 2^50 the float32 products are unsafe: the exact blocks answer instead.
    check_index(
        BruteIndex(train * 2.0**60, metric, 1.0), train * 2.0**60, queries * 2.0**60, metric
    )


@pytest.mark.parametrize(
    "algorithm, name, p",
    [(tree, name, p) for tree in ("kd_tree", "ball_tree") for name, p in TREE_METRICS]
    + [("ball_tree", "hamming", None)],  # the kd-tree has no Hamming bound
)
def test_trees_equal_the_fallback(algorithm, name, p):
    kind = "integer" if name in ("chebyshev", "hamming") else "continuous"
    rng = seeded_rng("radius tree", algorithm, name, p)
    train, queries = rows_with_ties(kind, np.float64, rng, n_features=3, n_train=300)
    metric = resolve_metric(name, p)
    check_index(build_tree(train, metric, algorithm, leaf_size=4), train, queries, metric)


def test_digits_on_every_local_backend_and_scikit_learn():
    digits = load_digits().data  # integer pixels 0..16: many equal distances
    train, queries = digits[:1500], digits[1500:1560]
    metric = resolve_metric("euclidean")
    radius = 18.0
    want = radius_by_blocks(train, queries, radius, metric)
    assert 1 <= want.counts().mean() <= 100
    for dtype in (np.float64, np.float32, np.uint8):
        for algorithm in ("brute", "kd_tree", "ball_tree"):
            index = build_index(train.astype(dtype), algorithm=algorithm)
            assert_same(index.query_radius(queries.astype(dtype), radius), want)
    # scikit-learn on a tie-free case: continuous rows, a radius between distances.
    rng = seeded_rng("radius sklearn")
    train, queries = rng.normal(size=(400, 10)), rng.normal(size=(30, 10))
    ours = build_index(train, algorithm="brute").query_radius(queries, 3.0)
    theirs_d, theirs_i = (
        NearestNeighbors(algorithm="brute")
        .fit(train)
        .radius_neighbors(queries, 3.0, sort_results=True)
    )
    our_d, our_i = ours.per_query()
    for row in range(len(queries)):
        np.testing.assert_array_equal(our_i[row], theirs_i[row])
        np.testing.assert_allclose(our_d[row], theirs_d[row], rtol=1e-12)


def test_empty_queries_bad_input_and_progress():
    rng = seeded_rng("radius edges")
    train = rng.normal(size=(50, 4))
    for index in (
        BruteIndex(train, resolve_metric("euclidean"), 1.0),
        build_index(train, algorithm="kd_tree"),
    ):
        empty = index.query_radius(np.empty((0, 4)), 1.0)
        assert empty.n_queries == 0 and len(empty.indices) == 0
        with pytest.raises(ValueError, match="4 features"):
            index.query_radius(np.ones((2, 5)), 1.0)
        with pytest.raises(ValueError, match="radius must be"):
            index.query_radius(train[:2], -1.0)
        reporter = RecordingReporter()
        with progress.reporting(reporter):
            found = index.query_radius(train[:7], np.float32(0.5))  # NumPy scalars accepted
        assert found.n_queries == 7
        assert reporter.started == [("searching neighbours", 7)] and sum(reporter.amounts) == 7
    # Each query finds itself at distance 0.
    np.testing.assert_array_equal(
        BruteIndex(train, resolve_metric("manhattan"), 1.0).query_radius(train, 0.0).indices,
        np.arange(50),
    )


def test_torch_delegates_exactly():
    require_module("torch", TORCH)
    rng = seeded_rng("radius torch")
    train, queries = rows_with_ties("continuous", np.uint8, rng, n_features=16)
    metric = resolve_metric("euclidean")
    check_index(build_index(train, algorithm="torch"), train, queries, metric)


def test_dask_shards_equal_the_fallback():
    distributed = require_module("distributed", DASK)
    rng = seeded_rng("radius dask")
    train, queries = rows_with_ties("integer", np.uint8, rng, n_features=12, n_train=200)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        for name in ("euclidean", "manhattan"):
            metric = resolve_metric(name)
            index = build_index(
                train, metric=name, backend="dask", scheduler=client.scheduler.address
            )
            check_index(index, train, queries, metric)


_EVERY_PATH_SCRIPT = """
import sys
import numpy as np
from knnvision.search import build_index
from knnvision.search.kernels import _topk

cases = np.load(sys.argv[1])
out = {"level": np.array(_topk.cpu_level()), "answered": np.array(True)}
for name in ("euclidean", "cosine", "manhattan", "minkowski", "hamming"):
    for algorithm in ("brute", "ball_tree") if name != "cosine" else ("brute",):
        index = build_index(cases["train"], metric=name, p=3, algorithm=algorithm)
        found = index.query_radius(cases["queries"], float(cases[name]))
        key = f"{name}-{algorithm}"
        out[key + "-ptr"], out[key + "-i"], out[key + "-d"] = (
            found.indptr, found.indices, found.distances
        )
# uint8 Euclidean: exact integer products on the AVX-512 path, float32 products elsewhere.
found = build_index(cases["train"].astype(np.uint8), algorithm="brute").query_radius(
    cases["queries"].astype(np.uint8), float(cases["euclidean"])
)
out["u8-ptr"], out["u8-i"], out["u8-d"] = found.indptr, found.indices, found.distances
np.savez(sys.argv[2], **out)
"""


def test_every_cpu_path_gives_identical_results(tmp_path):
    rng = seeded_rng("radius paths")
    train, queries = rows_with_ties("integer", np.float64, rng, n_features=150, n_train=60)
    cases = {"train": train, "queries": queries}
    cases |= {"euclidean": 10.0, "cosine": 0.3, "manhattan": 95.0, "minkowski": 6.0}
    cases["hamming"] = 0.6
    first, _, _ = run_on_every_cpu_path(_EVERY_PATH_SCRIPT, cases, tmp_path, "answered")
    for name in ("euclidean", "cosine", "manhattan", "minkowski", "hamming"):
        want = radius_by_blocks(train, queries, cases[name], resolve_metric(name, 3))
        assert want.counts().sum() > 0
        for algorithm in ("brute", "ball_tree") if name != "cosine" else ("brute",):
            key = f"{name}-{algorithm}"
            got = RadiusNeighbors(first[key + "-ptr"], first[key + "-i"], first[key + "-d"])
            assert_same(got, want)
    want = radius_by_blocks(train, queries, cases["euclidean"], resolve_metric("euclidean"))
    assert_same(RadiusNeighbors(first["u8-ptr"], first["u8-i"], first["u8-d"]), want)


@pytest.mark.parametrize("working_memory_mb", [256.0, 0.05])
@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_many_queries_in_chunks_match_the_fallback(working_memory_mb, dtype):
    """Over 256 queries a radius search runs a small first chunk, then full ones (tiny
    budgets make many); the chunks join into the fallback's answer."""
    rng = np.random.default_rng(7)
    train = rng.integers(0, 4, size=(500, 8)).astype(dtype)
    queries = rng.integers(0, 4, size=(700, 8)).astype(dtype)
    metric = resolve_metric("euclidean")
    index = BruteIndex(train, metric, working_memory_mb=working_memory_mb)
    got = index.query_radius(queries, 2.0)
    expected = radius_by_blocks(train, queries, 2.0, metric)
    np.testing.assert_array_equal(got.indptr, expected.indptr)
    np.testing.assert_array_equal(got.indices, expected.indices)
    np.testing.assert_array_equal(got.distances, expected.distances)
