"""Search-layer indices for inputs the dense engines do not take: SciPy sparse rows,
precomputed distances (dense and neighbours graphs), a callable metric, weighted Minkowski and
SciPy's other metric names. Each is held against the dense float64 reference (our tie rule:
equal distances to the smaller index) and against scikit-learn's brute force where its order
is not arbitrary (continuous data, no ties)."""

import numpy as np
import pytest
import scipy.sparse
from scipy.spatial.distance import cdist
from sklearn.metrics import DistanceMetric
from sklearn.neighbors import NearestNeighbors

from knnvision.search import reference_kneighbors, resolve_metric, thread_limit
from knnvision.search.brute import BruteIndex
from knnvision.search.callable_metric import weighted_minkowski_reduced
from knnvision.search.local import build_local_index
from knnvision.search.precomputed import PrecomputedIndex
from knnvision.search.radius import radius_by_blocks
from knnvision.search.sparse import SparseIndex
from search_cases import rows_with_ties, seeded_rng

METRICS = [
    ("euclidean", None),
    ("cosine", None),
    ("manhattan", None),
    ("chebyshev", None),
    ("minkowski", 3.0),
    ("hamming", None),
]


def sparsify(rows, rng, keep):
    """``rows`` with about ``1 - keep`` of the entries set to 0 (duplicate rows stay equal)."""
    mask = rng.random(rows.shape[1]) < keep  # whole columns, so duplicates stay duplicates
    cells = rng.random(rows.shape) < keep
    return rows * (cells | mask)


def assert_same(got, expected, rtol=0.0):
    """Same indices; distances identical (or within ``rtol``: Minkowski powers, whose
    compiled ``pow`` may differ from NumPy's by an ulp, as in the dense engines' tests)."""
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_allclose(got[0], expected[0], rtol=rtol, atol=0)


def assert_same_radius(got, expected):
    np.testing.assert_array_equal(got.indptr, expected.indptr)
    np.testing.assert_array_equal(got.indices, expected.indices)
    np.testing.assert_array_equal(got.distances, expected.distances)


def stable_topk(distances, k):
    order = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(distances, order, axis=1), order


# -- sparse rows --------------------------------------------------------------------------


# Euclidean and cosine take SciPy's sparse product for sparse rows (keep=0.05) and BLAS on
# dense blocks for denser ones (0.4); the other metrics always search dense blocks.
SPARSE_CASES = [(name, p, keep) for name, p in METRICS[:2] for keep in (0.05, 0.4)] + [
    (name, p, 0.4) for name, p in METRICS[2:]
]


@pytest.mark.parametrize("metric_name,p,keep", SPARSE_CASES)
@pytest.mark.parametrize("kind", ["continuous", "integer"])
def test_sparse_matches_dense_reference(metric_name, p, keep, kind):
    metric = resolve_metric(metric_name, p)
    rng = seeded_rng("sparse", metric_name, kind, keep)
    train, queries = rows_with_ties(kind, np.float64, rng, n_features=140, n_train=120)
    train, queries = sparsify(train, rng, keep), sparsify(queries, rng, keep)
    train[3] = 0.0  # an empty row (cosine: distance 1 to everything)
    # A tiny budget: two training blocks and two query chunks.
    index = SparseIndex(scipy.sparse.csr_matrix(train), metric, 0.25)
    rtol = 1e-12 if metric_name == "minkowski" else 0.0
    for k in (1, 40):
        expected = reference_kneighbors(train, queries, k, metric)
        assert_same(index.query(scipy.sparse.csr_matrix(queries), k), expected, rtol)
        assert_same(index.query(queries, k), expected, rtol)  # dense queries
    brute = BruteIndex(train, metric, 256)
    assert_same(index.query_train(4), brute.query_train(4), rtol)
    radius = float(np.median(expected[0][:, 4]))  # k=40 answers
    assert_same_radius(
        index.query_radius(scipy.sparse.csr_matrix(queries), radius),
        radius_by_blocks(train, queries, radius, metric),
    )


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan"])
@pytest.mark.parametrize("layout", ["csr", "csc"])
def test_sparse_matches_sklearn(metric, layout):
    rng = seeded_rng("sparse-sklearn", metric, layout)
    train = scipy.sparse.random(300, 60, density=0.2, random_state=rng, format=layout)
    queries = scipy.sparse.random(40, 60, density=0.2, random_state=rng, format=layout)
    index = build_local_index(train, metric=metric)
    assert isinstance(index, SparseIndex)
    distances, indices = index.query(queries, 5)
    theirs = NearestNeighbors(n_neighbors=5, algorithm="brute", metric=metric).fit(train)
    their_distances, their_indices = theirs.kneighbors(queries)
    np.testing.assert_array_equal(indices, their_indices)
    np.testing.assert_allclose(distances, their_distances, rtol=1e-10, atol=1e-12)


def test_sparse_duplicates_beyond_the_spare_candidates():
    # 30 equal rows: every spare candidate ties, so the whole limit is collected exactly.
    rng = seeded_rng("sparse-duplicates")
    row = sparsify(rng.normal(size=(1, 50)), rng, 0.3)
    train = np.vstack([rng.normal(size=(20, 50)) * 5, np.repeat(row, 30, axis=0)])
    index = SparseIndex(scipy.sparse.csr_matrix(train), resolve_metric("euclidean"), 256)
    distances, indices = index.query(row, 12)
    np.testing.assert_array_equal(indices[0], np.arange(20, 32))
    np.testing.assert_array_equal(distances[0], 0.0)


def test_sparse_query_shape_is_checked():
    index = SparseIndex(scipy.sparse.eye(5, 4, format="csr"), resolve_metric("euclidean"), 256)
    with pytest.raises(ValueError, match="do not match the index's 4 features"):
        index.query(np.zeros((2, 3)), 1)


# -- precomputed distances ----------------------------------------------------------------


def precomputed_case(rng, n_train=60, n_queries=15):
    train = rng.normal(size=(n_train, 4))
    queries = rng.normal(size=(n_queries, 4))
    return train, queries, cdist(train, train), cdist(queries, train)


def test_precomputed_dense_matches_stable_sort_and_sklearn():
    train, queries, fit, query = precomputed_case(seeded_rng("precomputed"))
    index = build_local_index(fit, metric="precomputed")
    assert isinstance(index, PrecomputedIndex)
    assert_same(index.query(query, 7), stable_topk(query, 7))
    theirs = NearestNeighbors(n_neighbors=7, metric="precomputed").fit(fit)
    assert_same(index.query(query, 7), theirs.kneighbors(query))
    # The fit matrix as queries, each row itself excluded, as kneighbors(None) does.
    their_d, their_i = theirs.kneighbors(None, 6)
    np.testing.assert_array_equal(index.query_train(6)[1], their_i)
    np.testing.assert_array_equal(index.query_train(6)[0], their_d)


def test_precomputed_ties_go_to_the_smaller_index():
    distances = np.array([[2.0, 1.0, 1.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0]])
    index = PrecomputedIndex(np.zeros((5, 5)))
    found_d, found_i = index.query(distances, 3)
    np.testing.assert_array_equal(found_i, [[3, 1, 2], [0, 1, 2]])
    np.testing.assert_array_equal(found_d, [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    # Every row equal to every other: the smaller indices, self excluded.
    np.testing.assert_array_equal(index.query_train(2)[1], [[1, 2], [0, 2], [0, 1], [0, 1], [0, 1]])


def test_precomputed_graph_matches_sklearn():
    train, queries, _, _ = precomputed_case(seeded_rng("graph"))
    builder = NearestNeighbors(n_neighbors=10).fit(train)
    fit_graph = builder.kneighbors_graph(train, mode="distance")  # self included at 0
    query_graph = builder.kneighbors_graph(queries, mode="distance")
    index = build_local_index(fit_graph, metric="precomputed")
    theirs = NearestNeighbors(n_neighbors=5, metric="precomputed").fit(fit_graph)
    their_d, their_i = theirs.kneighbors(query_graph)
    found_d, found_i = index.query(query_graph, 5)
    np.testing.assert_array_equal(found_i, their_i)
    np.testing.assert_allclose(found_d, their_d, rtol=1e-14)
    train_d, train_i = index.query_train(4)
    their_d, their_i = theirs.kneighbors(None, 4)
    np.testing.assert_array_equal(train_i, their_i)
    np.testing.assert_allclose(train_d, their_d, rtol=1e-14)
    radius = float(np.median(found_d[:, 2]))
    graph_radius = index.query_radius(query_graph, radius)
    dense_radius = PrecomputedIndex(fit_graph.toarray()).query_radius(
        np.where(query_graph.toarray() > 0, query_graph.toarray(), np.inf), radius
    )
    assert_same_radius(graph_radius, dense_radius)
    assert_same_radius(graph_radius, index.query_radius(query_graph.tocsc(), radius))


def test_precomputed_graph_stored_entries_are_the_candidates():
    # Row 0 stores an explicit zero (a neighbour at distance 0) and two distances; column 1 is
    # absent, so it is no neighbour even though it is "0" in the dense view.
    graph = scipy.sparse.csr_matrix(
        (np.array([0.0, 3.0, 2.0, 1.0, 1.0]), np.array([2, 0, 3, 1, 0]), np.array([0, 3, 5])),
        shape=(2, 4),
    )
    index = PrecomputedIndex(scipy.sparse.identity(4, format="csr"))
    distances, indices = index.query(graph, 2)
    np.testing.assert_array_equal(indices, [[2, 3], [0, 1]])
    np.testing.assert_array_equal(distances, [[0.0, 2.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="row 1 of the precomputed graph stores only 2"):
        index.query(graph, 3)


@pytest.mark.parametrize(
    "train,message",
    [
        (np.zeros((3, 4)), "square"),
        (np.array([[0.0, -1.0], [1.0, 0.0]]), "negative"),
        (np.array([[0.0, np.nan], [1.0, 0.0]]), "NaN"),
        (scipy.sparse.csr_matrix(np.array([[0.0, -1.0], [1.0, 0.0]])), "negative"),
        (np.zeros(4), "2-D"),
    ],
)
def test_precomputed_errors(train, message):
    with pytest.raises(ValueError, match=message):
        PrecomputedIndex(train)


def test_precomputed_query_columns_are_checked():
    with pytest.raises(ValueError, match="3 columns but the index holds 4 training samples"):
        PrecomputedIndex(np.zeros((4, 4))).query(np.zeros((2, 3)), 1)


# -- a callable metric --------------------------------------------------------------------


def manhattan(a, b, scale=1.0):
    return float(np.abs(a - b).sum()) * scale


def test_callable_matches_reference_and_sklearn():
    rng = seeded_rng("callable")
    train, queries = rows_with_ties("integer", np.float64, rng, n_features=6, n_train=40)
    index = build_local_index(train, metric=manhattan, metric_params={"scale": 1.0})
    metric = resolve_metric("manhattan")
    with thread_limit(2):  # query blocks on two threads
        assert_same(index.query(queries, 5), reference_kneighbors(train, queries, 5, metric))
    assert_same(index.query_train(3), BruteIndex(train, metric, 256).query_train(3))
    assert_same_radius(
        index.query_radius(queries, 3.0), radius_by_blocks(train, queries, 3.0, metric)
    )
    continuous = rng.normal(size=(40, 3))
    theirs = NearestNeighbors(n_neighbors=4, algorithm="brute", metric=manhattan).fit(continuous)
    their_d, their_i = theirs.kneighbors(continuous[:9])
    found_d, found_i = build_local_index(continuous, metric=manhattan).query(continuous[:9], 4)
    np.testing.assert_array_equal(found_i, their_i)
    np.testing.assert_allclose(found_d, their_d, rtol=1e-14)


@pytest.mark.parametrize(
    "func,message",
    [
        (lambda a, b: "far", "must return one number"),
        (lambda a, b: np.array([1.0, 2.0]), "must return one number"),
        (lambda a, b: float("nan"), "returned NaN"),
    ],
)
def test_callable_errors(func, message):
    index = build_local_index(np.zeros((3, 2)), metric=func)
    with pytest.raises(ValueError, match=message):
        index.query(np.zeros((1, 2)), 1)


# -- weighted Minkowski and SciPy's metrics -----------------------------------------------


@pytest.mark.parametrize("p", [1.0, 1.5, 3.0])
def test_weighted_minkowski_is_the_definition_and_matches_sklearn(p):
    rng = seeded_rng("weighted", p)
    train, queries = rows_with_ties("continuous", np.float64, rng, n_features=7, n_train=80)
    w = rng.random(7) * 3
    index = build_local_index(train, metric="minkowski", p=2, metric_params={"p": p, "w": w})
    reduced = np.stack([weighted_minkowski_reduced(q, train, w, p) for q in queries])
    ref_reduced, ref_indices = stable_topk(reduced, 6)
    assert_same(index.query(queries, 6), (ref_reduced ** (1.0 / p), ref_indices))
    # scikit-learn's order among duplicate rows is arbitrary: only the distinct rows there.
    theirs = NearestNeighbors(
        n_neighbors=6, algorithm="brute", metric="minkowski", p=p, metric_params={"w": w}
    ).fit(train[:80])
    their_d, their_i = theirs.kneighbors(queries[:30])
    distinct = build_local_index(train[:80], metric="minkowski", metric_params={"p": p, "w": w})
    found_d, found_i = distinct.query(queries[:30], 6)
    np.testing.assert_array_equal(found_i, their_i)
    np.testing.assert_allclose(found_d, their_d, rtol=1e-12)
    radius = float(np.median(ref_reduced[:, 3] ** (1.0 / p)))
    got = index.query_radius(queries, radius)
    rows, cols = np.nonzero(reduced ** (1.0 / p) <= radius)
    assert got.counts().tolist() == np.bincount(rows, minlength=len(queries)).tolist()
    assert_same(index.query_train(2), stable_topk_excluding_self(train, w, p, 2))


def stable_topk_excluding_self(train, w, p, k):
    reduced = np.stack([weighted_minkowski_reduced(row, train, w, p) for row in train])
    reduced[np.arange(len(train)), np.arange(len(train))] = np.inf
    found_reduced, indices = stable_topk(reduced, k)
    return found_reduced ** (1.0 / p), indices


def test_metric_params_p_alone_overrides_p():
    rng = seeded_rng("override")
    train = rng.normal(size=(50, 3))
    index = build_local_index(train, metric="minkowski", p=1, metric_params={"p": 3})
    assert index.metric == resolve_metric("minkowski", 3)


@pytest.mark.parametrize(
    "metric,params",
    [
        ("seuclidean", {"V": np.array([0.5, 1.0, 2.0, 4.0])}),
        ("mahalanobis", "VI"),
        ("braycurtis", {}),
        ("canberra", None),
        ("correlation", None),
    ],
)
def test_named_metrics_match_their_definition_and_sklearn(metric, params):
    """scikit-learn's DistanceMetric defines the names it knows, SciPy's cdist the others."""
    rng = seeded_rng("scipy", metric)
    train, queries = rng.normal(size=(70, 4)), rng.normal(size=(12, 4))
    if params == "VI":
        params = {"VI": np.linalg.inv(np.cov(train.T))}
    index = build_local_index(train, metric=metric, metric_params=params)
    if metric == "correlation":
        definition = cdist(queries, train, metric=metric)
    else:
        definition = DistanceMetric.get_metric(metric, **(params or {})).pairwise(queries, train)
    expected = stable_topk(definition, 5)
    assert_same(index.query(queries, 5), expected)
    theirs = NearestNeighbors(
        n_neighbors=5, algorithm="brute", metric=metric, metric_params=params
    ).fit(train)
    their_d, their_i = theirs.kneighbors(queries)
    np.testing.assert_array_equal(index.query(queries, 5)[1], their_i)
    np.testing.assert_allclose(index.query(queries, 5)[0], their_d, rtol=1e-12)


def test_jaccard_on_booleans_ties_to_the_smaller_index():
    rng = seeded_rng("jaccard")
    train, queries = rng.random((60, 5)) < 0.5, rng.random((10, 5)) < 0.5
    index = build_local_index(train, metric="jaccard")
    assert_same(index.query(queries, 8), stable_topk(cdist(queries, train, "jaccard"), 8))


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"metric": "no-such-metric"}, "Unknown metric"),
        ({"metric": "euclidean", "metric_params": {"w": np.ones(3)}}, "not used by metric"),
        ({"metric": "minkowski", "metric_params": {"w": np.ones(2)}}, "one weight per feature"),
        ({"metric": "minkowski", "metric_params": {"w": -np.ones(3)}}, "finite numbers >= 0"),
        ({"metric": "seuclidean", "metric_params": {"V": np.ones(2)}}, "seuclidean"),
        ({"metric": "braycurtis", "metric_params": {"bogus": 1}}, "braycurtis"),
    ],
)
def test_parametrised_metric_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_local_index(np.ones((5, 3)), **kwargs)


def test_sparse_rows_with_a_dense_only_metric_are_refused():
    with pytest.raises(ValueError, match="needs dense rows"):
        build_local_index(scipy.sparse.eye(4, format="csr"), metric="braycurtis")
