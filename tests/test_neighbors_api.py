"""NearestNeighbors, the graph transformers and functions, and the neighbour methods every
estimator shares, against scikit-learn's classes of the same names.

On random continuous data (no ties in distance) the answers must equal scikit-learn's; on the
8x8 digits (integer pixels: many ties) they must equal knnvision's tie rule (equal distances
go to the smaller training index), computed here by the float64 reference.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse
from sklearn import neighbors as sk_neighbors
from sklearn.cluster import DBSCAN, SpectralClustering
from sklearn.datasets import load_digits
from sklearn.manifold import Isomap
from sklearn.metrics import pairwise_distances
from sklearn.pipeline import make_pipeline

from knnvision import KNNClassifier, KNNRegressor, neighbors
from knnvision.io import load, save
from knnvision.neighbors import (
    KNeighborsTransformer,
    NearestNeighbors,
    RadiusNeighborsTransformer,
    kneighbors_graph,
    radius_neighbors_graph,
)
from knnvision.search import reference_kneighbors, resolve_metric
from knnvision.search.metrics import reduced_distances


@pytest.fixture(scope="module")
def random_rows():
    rng = np.random.default_rng(0)
    return rng.normal(size=(80, 5)), rng.normal(size=(12, 5))


@pytest.fixture(scope="module")
def digits():
    pixels = load_digits().data
    return pixels[:300], pixels[300:340]


def assert_same_graph(ours, theirs, exact=False, by_column=False):
    """Equal CSR matrices: the same rows, columns in the same order, and values.

    ``by_column`` compares rows in column order, for scikit-learn's radius graphs, whose rows
    it leaves unsorted unless asked for distances sorted."""
    assert isinstance(ours, scipy.sparse.csr_matrix)
    assert ours.shape == theirs.shape
    theirs = theirs.tocsr()
    if by_column:
        ours, theirs = ours.sorted_indices(), theirs.sorted_indices()
    np.testing.assert_array_equal(ours.indptr, theirs.indptr)
    np.testing.assert_array_equal(ours.indices, theirs.indices)
    if exact:
        np.testing.assert_array_equal(ours.data, theirs.data)
    else:  # scikit-learn's distances come from other float64 formulas
        np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-10, atol=1e-12)


def reference_graph(train, queries, k, mode, metric="euclidean", leave_self_out=False):
    """The k-neighbours graph by knnvision's tie rule, from the float64 reference."""
    resolved = resolve_metric(metric)
    distances, indices = reference_kneighbors(train, queries, k + leave_self_out, resolved)
    if leave_self_out:
        keep = indices != np.arange(len(queries))[:, None]
        keep[keep.all(axis=1), -1] = False
        distances = distances[keep].reshape(len(queries), k)
        indices = indices[keep].reshape(len(queries), k)
    data = distances.ravel() if mode == "distance" else np.ones(indices.size)
    indptr = np.arange(0, indices.size + 1, k)
    return scipy.sparse.csr_matrix((data, indices.ravel(), indptr), (len(queries), len(train)))


def reference_radius_graph(train, queries, radius, mode, leave_self_out=False):
    """The radius graph by knnvision's rule (rows sorted by distance, then index)."""
    metric = resolve_metric("euclidean")
    distances = metric.to_distance(reduced_distances(queries, train, metric))
    if leave_self_out:
        np.fill_diagonal(distances, np.inf)
    rows, data, columns = [], [], []
    for row_distances in distances:
        inside = np.flatnonzero(row_distances <= radius)
        inside = inside[np.argsort(row_distances[inside], kind="stable")]
        rows.append(len(inside))
        columns.append(inside)
        data.append(row_distances[inside] if mode == "distance" else np.ones(len(inside)))
    indptr = np.concatenate([[0], np.cumsum(rows)])
    return scipy.sparse.csr_matrix(
        (np.concatenate(data), np.concatenate(columns), indptr), (len(queries), len(train))
    )


# --- kneighbors and its graph ------------------------------------------------------------


@pytest.mark.parametrize(
    "metric_kwargs",
    [{}, {"p": 1}, {"p": 3}, {"metric": "chebyshev"}, {"metric": "cosine"}],
)
@pytest.mark.parametrize("mode", ["connectivity", "distance"])
def test_kneighbors_graph_matches_scikit_learn(random_rows, metric_kwargs, mode):
    train, queries = random_rows
    ours = NearestNeighbors(n_neighbors=4, **metric_kwargs).fit(train)
    theirs = sk_neighbors.NearestNeighbors(n_neighbors=4, **metric_kwargs).fit(train)
    for X in (queries, None):
        assert_same_graph(
            ours.kneighbors_graph(X, mode=mode), theirs.kneighbors_graph(X, mode=mode)
        )
        our_distances, our_indices = ours.kneighbors(X)
        their_distances, their_indices = theirs.kneighbors(X)
        np.testing.assert_array_equal(our_indices, their_indices)
        np.testing.assert_allclose(our_distances, their_distances, rtol=1e-10)
    graph = ours.kneighbors_graph(queries, n_neighbors=np.int64(2), mode=mode)
    assert graph.shape == (len(queries), len(train)) and graph.nnz == 2 * len(queries)


def test_digits_graphs_follow_the_tie_rule(digits):
    train, queries = digits
    model = NearestNeighbors(n_neighbors=6).fit(train)
    for mode in ("connectivity", "distance"):
        assert_same_graph(
            model.kneighbors_graph(queries, mode=mode),
            reference_graph(train, queries, 6, mode),
            exact=True,
        )
        assert_same_graph(
            model.kneighbors_graph(mode=mode),
            reference_graph(train, train, 6, mode, leave_self_out=True),
            exact=True,
        )
    # A radius equal to a distance that occurs: the neighbours at exactly it are inside.
    radius = float(model.kneighbors(queries[:1])[0][0, 3])
    for X, leave_self_out in ((queries, False), (None, True)):
        assert_same_graph(
            model.radius_neighbors_graph(X, radius, mode="distance"),
            reference_radius_graph(
                train, train if X is None else X, radius, "distance", leave_self_out
            ),
            exact=True,
        )


def test_estimators_share_the_graph_methods(random_rows):
    train, queries = random_rows
    y = (train[:, 0] > 0).astype(int)
    theirs = sk_neighbors.KNeighborsClassifier(3).fit(train, y)
    for model in (KNNClassifier(3).fit(train, y), KNNRegressor(3).fit(train, y)):
        assert_same_graph(
            model.kneighbors_graph(queries, mode="distance"),
            theirs.kneighbors_graph(queries, mode="distance"),
        )
    # As in scikit-learn: k-neighbours estimators have no radius methods, and the other way.
    assert not hasattr(KNNClassifier(3), "radius_neighbors")
    assert not hasattr(RadiusNeighborsTransformer(), "kneighbors_graph")
    with pytest.raises(ValueError, match="RadiusNeighborsTransformer passed as X has no n_ne"):
        kneighbors_graph(RadiusNeighborsTransformer().fit(train), 3)


# --- radius_neighbors and its graph ------------------------------------------------------


@pytest.mark.parametrize("X_is_none", [False, True])
def test_radius_neighbors_match_scikit_learn(random_rows, X_is_none):
    train, queries = random_rows
    X = None if X_is_none else queries
    ours = NearestNeighbors(radius=1.6).fit(train)
    theirs = sk_neighbors.NearestNeighbors(radius=1.6).fit(train)
    our_distances, our_indices = ours.radius_neighbors(X)
    their_distances, their_indices = theirs.radius_neighbors(X, sort_results=True)
    assert our_distances.dtype == object and our_indices.dtype == object
    assert our_indices.shape == their_indices.shape
    for mine, theirs_row in zip(our_indices, their_indices, strict=True):
        np.testing.assert_array_equal(mine, theirs_row)
        assert mine.dtype == np.intp
    for mine, theirs_row in zip(our_distances, their_distances, strict=True):
        np.testing.assert_allclose(mine, theirs_row, rtol=1e-10)
        assert mine.dtype == np.float64
    only_indices = ours.radius_neighbors(X, radius=np.float32(0.8), return_distance=False)
    assert only_indices.dtype == object and len(only_indices) == len(our_indices)
    assert_same_graph(
        ours.radius_neighbors_graph(X, mode="distance"),
        theirs.radius_neighbors_graph(X, mode="distance", sort_results=True),
    )
    assert_same_graph(
        ours.radius_neighbors_graph(X), theirs.radius_neighbors_graph(X), by_column=True
    )


def test_radius_neighbors_of_equal_lengths_stay_object_arrays(random_rows):
    train, _ = random_rows
    distances, indices = NearestNeighbors().fit(train).radius_neighbors(train[:3], radius=0.0)
    assert indices.shape == (3,) and indices.dtype == object
    assert [row.tolist() for row in indices] == [[0], [1], [2]]


# --- inputs: sparse, precomputed, callable, metric_params ---------------------------------


@pytest.mark.parametrize(
    ("sparse_format", "metric"), [("csr", "euclidean"), ("csc", "manhattan"), ("csr", "cosine")]
)
def test_sparse_input_matches_scikit_learn_and_dense(sparse_format, metric):
    train = scipy.sparse.random(70, 30, density=0.2, random_state=0, format=sparse_format)
    queries = scipy.sparse.random(9, 30, density=0.2, random_state=1, format=sparse_format)
    ours = NearestNeighbors(n_neighbors=4, radius=0.9, metric=metric).fit(train)
    theirs = sk_neighbors.NearestNeighbors(n_neighbors=4, radius=0.9, metric=metric).fit(train)
    dense = NearestNeighbors(n_neighbors=4, radius=0.9, metric=metric).fit(train.toarray())
    assert scipy.sparse.issparse(ours._fit_X) and ours._fit_X.format == "csr"
    for X in (queries, None):
        graph = ours.kneighbors_graph(X, mode="distance")
        assert_same_graph(graph, theirs.kneighbors_graph(X, mode="distance"))
        assert_same_graph(
            graph, dense.kneighbors_graph(None if X is None else X.toarray(), mode="distance")
        )
        assert_same_graph(
            ours.radius_neighbors_graph(X, mode="distance"),
            theirs.radius_neighbors_graph(X, mode="distance", sort_results=True),
        )


def test_sparse_input_with_a_tree_warns_and_uses_brute_force():
    train = scipy.sparse.random(40, 10, density=0.3, random_state=0, format="csr")
    with pytest.warns(UserWarning, match="cannot search sparse input: using brute force"):
        model = NearestNeighbors(algorithm="kd_tree").fit(train)
    assert model.effective_algorithm_ == "brute"


def test_precomputed_distances_match_scikit_learn(random_rows):
    train, queries = random_rows
    fit_distances = pairwise_distances(train)
    query_distances = pairwise_distances(queries, train)
    ours = NearestNeighbors(n_neighbors=4, radius=1.6, metric="precomputed").fit(fit_distances)
    theirs = sk_neighbors.NearestNeighbors(n_neighbors=4, radius=1.6, metric="precomputed")
    theirs.fit(fit_distances)
    assert ours.n_samples_fit_ == ours.n_features_in_ == len(train)
    for X in (query_distances, None):
        for mode in ("connectivity", "distance"):
            assert_same_graph(
                ours.kneighbors_graph(X, mode=mode), theirs.kneighbors_graph(X, mode=mode)
            )
            assert_same_graph(
                ours.radius_neighbors_graph(X, mode=mode),
                theirs.radius_neighbors_graph(X, mode=mode, sort_results=True),
                by_column=mode == "connectivity",
            )
    with pytest.raises(ValueError, match="square matrix of distances"):
        NearestNeighbors(metric="precomputed").fit(query_distances)
    with pytest.raises(ValueError, match="cannot search precomputed distances"):
        NearestNeighbors(metric="precomputed", algorithm="ball_tree").fit(fit_distances)


def test_precomputed_sparse_graph(random_rows):
    """A neighbours graph as the precomputed input: only its stored entries are neighbours."""
    train, queries = random_rows
    graph = (
        sk_neighbors.NearestNeighbors(n_neighbors=10).fit(train).kneighbors_graph(mode="distance")
    )
    query_graph = sk_neighbors.NearestNeighbors(n_neighbors=10).fit(train)
    query_graph = query_graph.kneighbors_graph(queries, mode="distance")
    ours = NearestNeighbors(n_neighbors=4, metric="precomputed").fit(graph.tocsc())
    theirs = sk_neighbors.NearestNeighbors(n_neighbors=4, metric="precomputed").fit(graph)
    assert_same_graph(
        ours.kneighbors_graph(query_graph, mode="distance"),
        theirs.kneighbors_graph(query_graph, mode="distance"),
    )
    # X=None: the graph holds no sample as its own neighbour, so each row keeps its 4
    # nearest stored entries (scikit-learn drops the nearest one instead, see kneighbors).
    assert_same_graph(
        ours.kneighbors_graph(mode="distance"),
        reference_graph(train, train, 4, "distance", leave_self_out=True),
    )


def test_callable_metric_matches_scikit_learn(random_rows):
    train, queries = random_rows

    def scaled_manhattan(a, b, scale=1.0):
        return scale * np.abs(a - b).sum()

    params = {"scale": 2.0}
    ours = NearestNeighbors(n_neighbors=3, metric=scaled_manhattan, metric_params=params)
    theirs = sk_neighbors.NearestNeighbors(
        n_neighbors=3, metric=scaled_manhattan, metric_params=params
    )
    ours.fit(train[:40])
    theirs.fit(train[:40])
    assert ours.effective_metric_ is scaled_manhattan
    assert ours.effective_metric_params_ == theirs.effective_metric_params_ == params
    assert_same_graph(
        ours.kneighbors_graph(queries, mode="distance"),
        theirs.kneighbors_graph(queries, mode="distance"),
    )
    with pytest.raises(ValueError, match="kd_tree' cannot search with a callable metric"):
        NearestNeighbors(metric=scaled_manhattan, algorithm="kd_tree").fit(train)


@pytest.mark.parametrize("p", [1, 3])
def test_weighted_minkowski_matches_scikit_learn(random_rows, p):
    train, queries = random_rows
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=train.shape[1])
    ours = NearestNeighbors(n_neighbors=4, p=p, metric_params={"w": w}).fit(train)
    theirs = sk_neighbors.NearestNeighbors(n_neighbors=4, p=p, metric_params={"w": w}).fit(train)
    assert ours.effective_metric_ == theirs.effective_metric_ == "minkowski"
    assert ours.effective_metric_params_["p"] == p
    np.testing.assert_array_equal(ours.effective_metric_params_["w"], w)
    for X in (queries, None):
        assert_same_graph(
            ours.kneighbors_graph(X, mode="distance"), theirs.kneighbors_graph(X, mode="distance")
        )
        assert_same_graph(
            ours.radius_neighbors_graph(X, 2.0, mode="distance"),
            theirs.radius_neighbors_graph(X, 2.0, mode="distance", sort_results=True),
        )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"p": 1},
        {"p": np.inf},
        {"p": 3},
        {"metric": "manhattan"},
        {"metric": "chebyshev"},
        {"metric_params": {"p": 1}},
        {"p": None, "metric_params": {"p": 4}},
        {"metric_params": {"w": None}},
    ],
)
def test_effective_metric_as_scikit_learn(random_rows, params):
    train, _ = random_rows
    with warnings.catch_warnings(record=True) as our_warnings:
        warnings.simplefilter("always")
        ours = NearestNeighbors(**params).fit(train)
    with warnings.catch_warnings(record=True) as their_warnings:
        warnings.simplefilter("always")
        theirs = sk_neighbors.NearestNeighbors(**params).fit(train)
    assert ours.effective_metric_ == theirs.effective_metric_
    assert ours.effective_metric_params_ == theirs.effective_metric_params_
    assert [w.category for w in our_warnings] == [w.category for w in their_warnings]
    assert_same_graph(
        ours.kneighbors_graph(mode="distance"), theirs.kneighbors_graph(mode="distance")
    )


def test_p_below_one_in_metric_params_warns(random_rows):
    train, _ = random_rows
    with pytest.warns(UserWarning, match="p=0.5 .*not a metric"):
        model = NearestNeighbors(p=None, metric_params={"p": 0.5}).fit(train)
    assert model.effective_algorithm_ == "brute"


# --- transformers and pipelines ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["distance", "connectivity"])
def test_transformers_match_scikit_learn(random_rows, mode):
    train, queries = random_rows
    pairs = [
        (
            KNeighborsTransformer(mode=mode, n_neighbors=4),
            sk_neighbors.KNeighborsTransformer(mode=mode, n_neighbors=4),
        ),
        (
            RadiusNeighborsTransformer(mode=mode, radius=1.5),
            sk_neighbors.RadiusNeighborsTransformer(mode=mode, radius=1.5),
        ),
    ]
    for ours, theirs in pairs:
        # scikit-learn's radius graphs in connectivity mode are not sorted.
        unsorted = mode == "connectivity" and isinstance(ours, RadiusNeighborsTransformer)
        assert_same_graph(
            ours.fit_transform(train), theirs.fit_transform(train), by_column=unsorted
        )
        assert_same_graph(ours.transform(queries), theirs.transform(queries), by_column=unsorted)
        np.testing.assert_array_equal(ours.get_feature_names_out(), theirs.get_feature_names_out())
    # "distance" mode holds one more neighbour: the sample itself, at an explicit 0.
    graph = KNeighborsTransformer(mode=mode, n_neighbors=4).fit_transform(train)
    assert graph.nnz == len(train) * (5 if mode == "distance" else 4)


def test_transformer_feeds_isomap_and_dbscan_on_the_digits(digits):
    """In a Pipeline, as scikit-learn's transformer: the final step gets our exact graph."""
    train, _ = digits
    graph = reference_graph(train, train, 16, "distance")  # each row itself first, at 0
    embedding = make_pipeline(
        KNeighborsTransformer(n_neighbors=15), Isomap(n_neighbors=15, metric="precomputed")
    ).fit_transform(train)
    expected = Isomap(n_neighbors=15, metric="precomputed").fit_transform(graph)
    np.testing.assert_allclose(embedding, expected, rtol=1e-7, atol=1e-7)
    labels = make_pipeline(
        KNeighborsTransformer(n_neighbors=15), DBSCAN(eps=22.0, metric="precomputed")
    ).fit_predict(train)
    np.testing.assert_array_equal(labels, DBSCAN(eps=22.0, metric="precomputed").fit_predict(graph))
    assert len(set(labels)) > 2  # several clusters and noise: the graph mattered


def test_transformer_pipelines_match_scikit_learns(digits):
    """With the ties broken by a little noise, our pipelines give scikit-learn's answers."""
    train = digits[0][:200] + np.random.default_rng(0).normal(scale=1e-3, size=(200, 64))
    ours = make_pipeline(
        KNeighborsTransformer(n_neighbors=10), Isomap(n_neighbors=10, metric="precomputed")
    )
    theirs = make_pipeline(
        sk_neighbors.KNeighborsTransformer(n_neighbors=10),
        Isomap(n_neighbors=10, metric="precomputed"),
    )
    np.testing.assert_allclose(ours.fit_transform(train), theirs.fit_transform(train), atol=1e-7)
    spectral = SpectralClustering(
        n_clusters=5, affinity="precomputed_nearest_neighbors", n_neighbors=12, random_state=0
    )
    ours = make_pipeline(KNeighborsTransformer(n_neighbors=12, mode="connectivity"), spectral)
    theirs = make_pipeline(
        sk_neighbors.KNeighborsTransformer(n_neighbors=12, mode="connectivity"), spectral
    )
    np.testing.assert_array_equal(ours.fit_predict(train), theirs.fit_predict(train))


# --- graph functions --------------------------------------------------------------------


@pytest.mark.parametrize("include_self", [False, True, "auto"])
@pytest.mark.parametrize("mode", ["connectivity", "distance"])
def test_graph_functions_match_scikit_learn(random_rows, include_self, mode):
    train, _ = random_rows
    options = {"mode": mode, "include_self": include_self}
    assert_same_graph(
        kneighbors_graph(train, 3, **options), sk_neighbors.kneighbors_graph(train, 3, **options)
    )
    assert_same_graph(
        radius_neighbors_graph(train, 1.5, **options),
        sk_neighbors.radius_neighbors_graph(train, 1.5, **options),
        by_column=True,  # scikit-learn's function leaves each row unsorted
    )
    fitted = NearestNeighbors(n_neighbors=3, p=1).fit(train)
    assert_same_graph(
        kneighbors_graph(fitted, 3, p=1, **options),
        sk_neighbors.kneighbors_graph(train, 3, p=1, **options),
    )


def test_graph_functions_refuse_other_metric_settings_than_the_estimators(random_rows):
    train, _ = random_rows
    fitted = NearestNeighbors(p=1).fit(train)
    with pytest.raises(ValueError, match="p=2 was given, but the estimator passed as X has p=1"):
        kneighbors_graph(fitted, 3)
    with pytest.raises(ValueError, match="include_self must be True, False or 'auto'"):
        radius_neighbors_graph(train, 1.0, include_self="yes")


# --- names, parameters, errors, files ----------------------------------------------------


SCIKIT_LEARN_NAMES = [
    "KNeighborsClassifier",
    "KNeighborsRegressor",
    "NearestNeighbors",
    "RadiusNeighborsClassifier",
    "RadiusNeighborsRegressor",
    "KNeighborsTransformer",
    "RadiusNeighborsTransformer",
    "LocalOutlierFactor",
    "NearestCentroid",
    "NeighborhoodComponentsAnalysis",
    "kneighbors_graph",
    "radius_neighbors_graph",
]


def test_scikit_learn_names_are_the_same_classes():
    assert set(SCIKIT_LEARN_NAMES) <= set(neighbors.__all__)
    assert all(hasattr(neighbors, name) for name in SCIKIT_LEARN_NAMES)
    assert neighbors.KNeighborsClassifier is KNNClassifier
    assert neighbors.KNeighborsRegressor is KNNRegressor
    for name in ("NearestNeighbors", "KNeighborsTransformer", "RadiusNeighborsTransformer"):
        ours = getattr(neighbors, name)
        theirs = getattr(sk_neighbors, name)
        assert set(theirs().get_params()) <= set(ours().get_params())
        for parameter, default in theirs().get_params().items():
            assert ours().get_params()[parameter] == default, parameter
    assert set(sk_neighbors.KNeighborsClassifier().get_params()) <= set(
        KNNClassifier().get_params()
    )


def test_numpy_scalars_are_accepted(random_rows):
    train, queries = random_rows
    model = NearestNeighbors(
        n_neighbors=np.int32(3), radius=np.float32(1.5), leaf_size=np.int64(5), p=np.float64(3)
    ).fit(train)
    assert model.kneighbors(queries)[1].shape == (len(queries), 3)
    assert len(model.radius_neighbors(queries)[1]) == len(queries)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda m, q: m.kneighbors_graph(q, mode="weights"),
            "mode must be 'connectivity' or 'distance'",
        ),
        (lambda m, q: m.radius_neighbors(q, radius=-1.0), "radius must be a number >= 0"),
        (
            lambda m, q: m.radius_neighbors(q, return_distance=False, sort_results=True),
            "sort_results=True needs return_distance=True",
        ),
        (lambda m, q: m.kneighbors(q[:, :3]), "features"),
    ],
)
def test_errors_say_what_is_wrong(random_rows, call, message):
    train, queries = random_rows
    model = NearestNeighbors().fit(train)
    with pytest.raises(ValueError, match=message):
        call(model, queries)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"leaf_size": 0}, "leaf_size must be a positive integer"),
        ({"metric_params": [1]}, "metric_params must be a dict or None"),
        ({"radius": "far"}, "radius must be a number >= 0"),
        ({"n_neighbors": 0}, "n_neighbors must be a positive integer"),
    ],
)
def test_bad_parameters_are_refused_at_fit(random_rows, params, message):
    with pytest.raises(ValueError, match=message):
        NearestNeighbors(**params).fit(random_rows[0])


def test_bad_inputs_are_refused(random_rows):
    train, _ = random_rows
    with pytest.raises(ValueError, match="mode must be 'connectivity' or 'distance'"):
        KNeighborsTransformer(mode="weights").fit(train)
    negative = -pairwise_distances(train[:4])
    with pytest.raises(ValueError, match="distances, which cannot be negative; found -"):
        NearestNeighbors(metric="precomputed").fit(negative)
    model = NearestNeighbors(n_neighbors=2, metric="precomputed").fit(-negative)
    with pytest.raises(ValueError, match="distances, which cannot be negative"):
        model.kneighbors(scipy.sparse.csr_matrix(negative))


@pytest.mark.parametrize(
    "model",
    [
        NearestNeighbors(n_neighbors=3),
        KNeighborsTransformer(n_neighbors=3),
        RadiusNeighborsTransformer(radius=1.5),
    ],
)
def test_models_save_and_load(tmp_path, random_rows, model):
    train, queries = random_rows
    model.fit(train)
    loaded = load(save(model, tmp_path / "model.knnv"))
    assert type(loaded) is type(model)
    for method in ("kneighbors_graph", "radius_neighbors_graph"):
        if hasattr(model, method):
            ours, theirs = getattr(loaded, method)(queries), getattr(model, method)(queries)
            assert_same_graph(ours, theirs, exact=True)
