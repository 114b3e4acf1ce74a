"""LocalOutlierFactor, NearestCentroid and NeighborhoodComponentsAnalysis against scikit-learn's
classes of the same names, on random data and the 8x8 digits, and scikit-learn's own checks."""

import warnings

import numpy as np
import pytest
import scipy.sparse
from sklearn import neighbors as sk_neighbors
from sklearn.datasets import load_digits

from knnvision.io import load, save
from knnvision.neighbors.centroid import NearestCentroid
from knnvision.neighbors.lof import LocalOutlierFactor
from knnvision.neighbors.nca import NeighborhoodComponentsAnalysis
from knnvision.search import reference_kneighbors, resolve_metric


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.data, data.target


@pytest.fixture(scope="module")
def blobs():
    """Random training rows, with a few far-away ones, and new rows around them."""
    rng = np.random.default_rng(0)
    train = np.vstack([rng.normal(size=(150, 6)), rng.normal(scale=6.0, size=(10, 6))])
    queries = rng.normal(scale=2.0, size=(40, 6))
    return train, queries


# --- LocalOutlierFactor ------------------------------------------------------------------


def _oracle_lof(train, n_neighbors, queries=None):
    """Minus the LOF of each training row (each left out of its own neighbours) or, with
    ``queries``, of each query, from a plain float64 brute force (ties: smaller index)."""
    metric = resolve_metric("euclidean", None)
    distances, indices = reference_kneighbors(train, train, n_neighbors + 1, metric)
    is_self = indices == np.arange(len(train))[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    distances = distances[~is_self].reshape(len(train), n_neighbors)
    indices = indices[~is_self].reshape(len(train), n_neighbors)
    k_distance = distances[:, -1]

    def density(distances, indices):
        return 1.0 / (np.maximum(distances, k_distance[indices]).mean(axis=1) + 1e-10)

    train_density = density(distances, indices)
    if queries is not None:
        distances, indices = reference_kneighbors(train, queries, n_neighbors, metric)
    return -(train_density[indices] / density(distances, indices)[:, None]).mean(axis=1)


@pytest.mark.parametrize("params", [{}, {"n_neighbors": 5, "contamination": 0.1}])
def test_lof_outlier_detection_matches_scikit_learn(blobs, params):
    train, _ = blobs
    ours = LocalOutlierFactor(**params)
    theirs = sk_neighbors.LocalOutlierFactor(**params)
    np.testing.assert_array_equal(ours.fit_predict(train), theirs.fit_predict(train))
    np.testing.assert_allclose(
        ours.negative_outlier_factor_, theirs.negative_outlier_factor_, rtol=1e-12
    )
    assert ours.offset_ == pytest.approx(theirs.offset_)
    assert ours.n_neighbors_ == theirs.n_neighbors_


def test_lof_novelty_matches_scikit_learn(blobs):
    train, queries = blobs
    ours = LocalOutlierFactor(7, novelty=True, contamination=0.05).fit(train)
    theirs = sk_neighbors.LocalOutlierFactor(7, novelty=True, contamination=0.05).fit(train)
    np.testing.assert_allclose(ours.score_samples(queries), theirs.score_samples(queries))
    np.testing.assert_allclose(
        ours.decision_function(queries), theirs.decision_function(queries), atol=1e-12
    )
    np.testing.assert_array_equal(ours.predict(queries), theirs.predict(queries))
    np.testing.assert_array_equal(ours.predict(), theirs.predict())


def test_lof_on_digits_follows_the_tie_rule(digits):
    # Pixel distances tie often; scikit-learn's order among ties is unspecified, so the
    # factors are held against a brute force with knnvision's rule (smaller index first) ...
    X = digits[0][:700]
    lof = LocalOutlierFactor(n_neighbors=10).fit(X)
    np.testing.assert_allclose(lof.negative_outlier_factor_, _oracle_lof(X, 10), rtol=1e-12)
    # ... and against scikit-learn where a little noise leaves no ties.
    jittered = X + np.random.default_rng(1).uniform(0, 1e-3, size=X.shape)
    theirs = sk_neighbors.LocalOutlierFactor(n_neighbors=10).fit(jittered)
    np.testing.assert_allclose(
        LocalOutlierFactor(n_neighbors=10).fit(jittered).negative_outlier_factor_,
        theirs.negative_outlier_factor_,
        rtol=1e-10,
    )


def test_lof_novelty_on_uint8_pixels_equals_float64(digits):
    # uint8 rows take the search's exact integer path: the same factors as float64 rows.
    X = digits[0][:900]
    pixels = X.astype(np.uint8)
    on_pixels = LocalOutlierFactor(novelty=True).fit(pixels[:600])
    on_floats = LocalOutlierFactor(novelty=True).fit(X[:600])
    np.testing.assert_array_equal(
        on_pixels.negative_outlier_factor_, on_floats.negative_outlier_factor_
    )
    np.testing.assert_array_equal(
        on_pixels.score_samples(pixels[600:]), on_floats.score_samples(X[600:])
    )
    np.testing.assert_allclose(
        on_pixels.score_samples(pixels[600:]), _oracle_lof(X[:600], 20, X[600:]), rtol=1e-12
    )
    # scikit-learn finds the same neighbour distances; only its order among ties differs.
    theirs = sk_neighbors.LocalOutlierFactor(novelty=True).fit(X[:600])
    np.testing.assert_array_equal(
        on_pixels.kneighbors(pixels[600:])[0], theirs.kneighbors(X[600:])[0]
    )


@pytest.mark.parametrize(
    "params",
    [{"metric": "manhattan"}, {"p": 3}, {"metric_params": {"w": np.arange(1.0, 7.0)}}],
)
def test_lof_other_metrics_sparse_and_precomputed_rows(blobs, params):
    train, queries = blobs
    theirs = sk_neighbors.LocalOutlierFactor(9, novelty=True, **params).fit(train)
    inputs = [train, scipy.sparse.csr_matrix(train)]
    if "metric_params" in params:
        inputs = inputs[:1]  # the sparse search has no weighted Minkowski (yet)
    for rows in inputs:
        ours = LocalOutlierFactor(9, novelty=True, **params).fit(rows)
        np.testing.assert_allclose(
            ours.negative_outlier_factor_, theirs.negative_outlier_factor_, rtol=1e-12
        )
        np.testing.assert_allclose(ours.score_samples(queries), theirs.score_samples(queries))
    distances = np.sqrt(((train[:, None] - train[None]) ** 2).sum(axis=2))
    precomputed = LocalOutlierFactor(9, metric="precomputed").fit(distances)
    np.testing.assert_allclose(
        precomputed.negative_outlier_factor_,
        LocalOutlierFactor(9).fit(train).negative_outlier_factor_,
        rtol=1e-12,
    )


def test_lof_methods_exist_only_for_their_mode(blobs):
    train, queries = blobs
    detector = LocalOutlierFactor()
    novelty = LocalOutlierFactor(novelty=True)
    for name in ("predict", "decision_function", "score_samples"):
        assert not hasattr(detector, name)
        assert hasattr(novelty, name)
    assert hasattr(detector, "fit_predict") and not hasattr(novelty, "fit_predict")
    with pytest.raises(AttributeError) as raised:
        LocalOutlierFactor().fit(train).score_samples(queries)
    assert "novelty=True" in str(raised.value.__cause__)  # why, chained by available_if


def test_lof_reduces_too_many_neighbours_with_a_warning():
    train = np.random.default_rng(2).normal(size=(8, 3))
    with pytest.warns(UserWarning, match="n_neighbors will be set to"):
        lof = LocalOutlierFactor(n_neighbors=np.int64(30)).fit(train)
    assert lof.n_neighbors_ == 7
    theirs = sk_neighbors.LocalOutlierFactor(n_neighbors=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.fit(train)
    np.testing.assert_allclose(lof.negative_outlier_factor_, theirs.negative_outlier_factor_)


def test_lof_float32_keeps_float32_factors(blobs):
    train, queries = blobs
    lof = LocalOutlierFactor(novelty=True).fit(train.astype(np.float32))
    assert lof.negative_outlier_factor_.dtype == np.float32
    assert lof.score_samples(queries.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("contamination", [0.0, 0.6, "half", True])
def test_lof_refuses_bad_contamination(blobs, contamination):
    with pytest.raises(ValueError, match="contamination must be"):
        LocalOutlierFactor(contamination=contamination).fit(blobs[0])


# --- NearestCentroid ---------------------------------------------------------------------

CENTROID_CASES = [
    {},
    {"shrink_threshold": 0.5},
    {"priors": "empirical"},
    # A list: scikit-learn 1.9.1 compares priors to "empirical" and fails on an ndarray.
    {"priors": (np.full(10, 0.1) + np.linspace(-0.05, 0.05, 10)).tolist()},
    {"metric": "manhattan"},
    {"metric": "manhattan", "shrink_threshold": np.float32(0.3), "priors": "empirical"},
]


@pytest.mark.parametrize("params", CENTROID_CASES)
def test_nearest_centroid_matches_scikit_learn_on_digits(digits, params):
    X, y = digits
    train, test, labels = X[:1000], X[1000:], y[:1000]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn of pixels constant within every class
        ours = NearestCentroid(**params).fit(train, labels)
        theirs = sk_neighbors.NearestCentroid(**params).fit(train, labels)
    for name in ("centroids_", "class_prior_", "within_class_std_dev_", "deviations_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), atol=1e-10)
    np.testing.assert_array_equal(ours.predict(test), theirs.predict(test))
    if ours.metric == "euclidean":
        np.testing.assert_allclose(
            ours.decision_function(test), theirs.decision_function(test), rtol=1e-9
        )
        np.testing.assert_allclose(ours.predict_proba(test), theirs.predict_proba(test), atol=1e-12)
        np.testing.assert_allclose(
            ours.predict_log_proba(test), theirs.predict_log_proba(test), rtol=1e-9, atol=1e-9
        )
    else:
        assert not hasattr(ours, "predict_proba") and not hasattr(ours, "decision_function")


def test_nearest_centroid_two_classes_and_sparse_rows():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 4)) * (rng.random((60, 4)) < 0.5)
    y = np.where(X[:, 0] + rng.normal(scale=0.5, size=60) > 0, "yes", "no")
    queries = rng.normal(size=(25, 4))
    for metric in ("euclidean", "manhattan"):
        dense = NearestCentroid(metric=metric).fit(X, y)
        sparse = NearestCentroid(metric=metric).fit(scipy.sparse.csr_matrix(X), y)
        theirs = sk_neighbors.NearestCentroid(metric=metric).fit(X, y)
        np.testing.assert_allclose(sparse.centroids_, theirs.centroids_, atol=1e-12)
        np.testing.assert_array_equal(
            sparse.predict(scipy.sparse.csr_matrix(queries)), theirs.predict(queries)
        )
        np.testing.assert_array_equal(dense.predict(queries), theirs.predict(queries))
    two = NearestCentroid().fit(X, y)
    scores = two.decision_function(queries)
    assert scores.shape == (25,)
    np.testing.assert_allclose(
        scores, sk_neighbors.NearestCentroid().fit(X, y).decision_function(queries)
    )


def test_nearest_centroid_ties_go_to_the_first_class():
    X = np.array([[-0.5], [0.5], [1.5], [2.5]])
    model = NearestCentroid().fit(X, ["b", "b", "a", "a"])
    assert model.predict([[1.0]])[0] == "a"  # equally far from both: the first class


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"metric": "cosine"}, "metric must be"),
        ({"shrink_threshold": 0}, "shrink_threshold must be"),
        ({"priors": "flat"}, "priors must be"),
        ({"priors": [0.5, 0.5]}, "one value per class"),
        ({"priors": [1.5, -0.5, 0.0]}, "non-negative"),
    ],
)
def test_nearest_centroid_refuses_bad_parameters(params, message):
    X = np.arange(12.0).reshape(6, 2)
    with pytest.raises(ValueError, match=message):
        NearestCentroid(**params).fit(X, [0, 0, 1, 1, 2, 2])


# --- NeighborhoodComponentsAnalysis ------------------------------------------------------


@pytest.mark.parametrize(
    ("init", "n_components"),
    [("auto", 2), ("auto", 12), ("pca", 3), ("lda", 4), ("identity", None), ("random", 3)],
)
def test_nca_matches_scikit_learn_on_digits(digits, init, n_components):
    X, y = digits
    train, test = X[:200], X[200:400]
    params = {"n_components": n_components, "init": init, "random_state": 0, "max_iter": 20}
    ours = NeighborhoodComponentsAnalysis(**params).fit(train, y[:200])
    theirs = sk_neighbors.NeighborhoodComponentsAnalysis(**params).fit(train, y[:200])
    scale = np.abs(theirs.transform(test)).max()
    np.testing.assert_allclose(
        ours.transform(test), theirs.transform(test), atol=1e-6 * scale, rtol=0
    )
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.components_.shape == theirs.components_.shape


def test_nca_matches_scikit_learn_on_random_data_from_an_array():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(80, 5))
    y = (X[:, 0] + 0.3 * rng.normal(size=80) > 0).astype(int) + (X[:, 1] > 0.5)
    start = rng.normal(size=(2, 5))
    seen = []
    ours = NeighborhoodComponentsAnalysis(init=start, callback=lambda L, i: seen.append(i))
    theirs = sk_neighbors.NeighborhoodComponentsAnalysis(init=start).fit(X, y)
    ours.fit(X, y)
    np.testing.assert_allclose(ours.components_, theirs.components_, rtol=1e-6, atol=1e-8)
    assert seen == list(range(1, ours.n_iter_))
    assert ours.get_feature_names_out().tolist() == [
        "neighborhoodcomponentsanalysis0",
        "neighborhoodcomponentsanalysis1",
    ]


def test_nca_warm_start_continues_from_the_last_fit():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    once = NeighborhoodComponentsAnalysis(max_iter=3, warm_start=True, init="identity").fit(X, y)
    first = once.components_.copy()
    once.fit(X, y)
    restarted = NeighborhoodComponentsAnalysis(max_iter=3, init=first).fit(X, y)
    np.testing.assert_allclose(once.components_, restarted.components_)
    with pytest.raises(ValueError, match="warm_start"):
        once.fit(X[:, :2], y)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_components": 5}, "cannot be greater"),
        ({"n_components": 0}, "n_components must be"),
        ({"init": "svd"}, "init must be"),
        ({"init": np.ones((2, 4))}, "columns"),
        ({"init": np.ones((3, 3)), "n_components": 2}, "does not match"),
        ({"tol": -1.0}, "tol must be"),
        ({"max_iter": 1.5}, "max_iter must be"),
    ],
)
def test_nca_refuses_bad_parameters(params, message):
    X, y = np.random.default_rng(6).normal(size=(10, 3)), [0, 1] * 5
    with pytest.raises(ValueError, match=message):
        NeighborhoodComponentsAnalysis(**params).fit(X, y)


# --- all three ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:within_class_std_dev_")  # digits' constant border pixels
def test_model_files_round_trip(tmp_path, digits):
    X, y = digits
    X, y = X[:300], y[:300]
    fitted = [
        LocalOutlierFactor(novelty=True).fit(X),
        NearestCentroid(shrink_threshold=0.2).fit(X, y),
        NeighborhoodComponentsAnalysis(3, max_iter=3, init="random", random_state=0).fit(X, y),
    ]
    for model in fitted:
        path = save(model, tmp_path / f"{type(model).__name__}.knn")
        loaded = load(path)
        method = "score_samples" if hasattr(model, "score_samples") else "transform"
        method = method if hasattr(model, method) else "predict"
        np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(model, method)(X))
    assert load(tmp_path / "NeighborhoodComponentsAnalysis.knn").random_state_.randint(1000) == (
        fitted[2].random_state_.randint(1000)
    )
