"""scikit-learn code runs unchanged on knnvision: NumPy scalars as parameters, scikit-learn's
metric names, ``weights=None``, Minkowski ``0 < p < 1`` and the all-zero-weights error."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier

from knnvision import PCA, KNNClassifier, KNNOutlierDetector, KNNRegressor, KNNSearchCV
from knnvision.neighbors.rerank import RerankKNNClassifier
from knnvision.search import build_index, reference_kneighbors, resolve_metric
from knnvision.transforms.preprocessing import Deskew, GaussianBlur, GradientHistograms


@pytest.fixture(scope="module")
def digits():
    """300 digits to fit on and 100 to query: small integer pixels, full of tied distances."""
    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300], X[300:400]


def _fit_output(estimator, X, y, queries):
    """What the fitted estimator gives: predictions, or the transformed rows."""
    fitted = estimator.fit(X, y)
    if hasattr(fitted, "predict"):
        return fitted.predict(queries)
    return fitted.transform(queries)


# (factory, NumPy-scalar parameters, the same as Python numbers). Values are exact in
# float32, so both spellings mean the same number.
NUMPY_SCALAR_CASES = [
    (KNNClassifier, {"n_neighbors": np.int64(3), "p": np.int64(3)}, {"n_neighbors": 3, "p": 3}),
    (KNNClassifier, {"p": np.float32(1.5), "n_jobs": np.int64(1)}, {"p": 1.5, "n_jobs": 1}),
    (
        KNNClassifier,
        {"p": np.int32(2), "working_memory": np.float32(8)},
        {"p": 2, "working_memory": 8.0},
    ),
    (KNNRegressor, {"n_neighbors": np.int32(4), "p": np.int64(1)}, {"n_neighbors": 4, "p": 1}),
    (
        KNNOutlierDetector,
        {"n_neighbors": np.int64(3), "contamination": np.float32(0.125), "p": np.float64(3)},
        {"n_neighbors": 3, "contamination": 0.125, "p": 3},
    ),
    (PCA, {"n_components": np.int64(5)}, {"n_components": 5}),
    (PCA, {"n_components": np.float32(0.5)}, {"n_components": 0.5}),
    (
        PCA,
        {
            "n_components": np.int64(4),
            "svd_solver": "randomized",
            "iterated_power": np.int64(3),
            "n_oversamples": np.int64(5),
            "random_state": np.int64(0),
        },
        {
            "n_components": 4,
            "svd_solver": "randomized",
            "iterated_power": 3,
            "n_oversamples": 5,
            "random_state": 0,
        },
    ),
    (
        Deskew,
        {"max_slant": np.float32(0.5), "image_shape": (np.int64(8), np.int64(8))},
        {"max_slant": 0.5, "image_shape": (8, 8)},
    ),
    (
        GaussianBlur,
        {"sigma": np.float32(0.5), "truncate": np.int64(3)},
        {"sigma": 0.5, "truncate": 3},
    ),
    (
        GradientHistograms,
        {"cell_size": np.int64(4), "n_orientations": np.int32(8), "block_size": np.int64(1)},
        {"cell_size": 4, "n_orientations": 8, "block_size": 1},
    ),
    (
        RerankKNNClassifier,
        {
            "n_neighbors": np.int64(3),
            "n_candidates": np.int64(10),
            "warp": np.int64(1),
            "context": np.int64(1),
            "mix": np.float32(0.5),
            "shifts": (np.int64(1),),
            "directions": np.int64(4),
        },
        {
            "n_neighbors": 3,
            "n_candidates": 10,
            "warp": 1,
            "context": 1,
            "mix": 0.5,
            "shifts": (1,),
            "directions": 4,
        },
    ),
]


@pytest.mark.parametrize(
    "factory,numpy_params,python_params",
    NUMPY_SCALAR_CASES,
    ids=[f"{case[0].__name__}-{'-'.join(case[1])}" for case in NUMPY_SCALAR_CASES],
)
def test_numpy_scalar_parameters_mean_the_same_as_python_numbers(
    digits, factory, numpy_params, python_params
):
    X, y, queries = digits
    ours = _fit_output(factory(**numpy_params), X, y, queries)
    plain = _fit_output(factory(**python_params), X, y, queries)
    np.testing.assert_array_equal(ours, plain)


def test_knn_search_cv_takes_numpy_scalars_and_accuracy_scoring(digits):
    X, y, _ = digits
    grid = {"n_neighbors": np.arange(1, 6, 2), "p": np.arange(1, 3)}
    search = KNNSearchCV(
        KNNClassifier(),
        grid,
        scoring="accuracy",
        cv=np.int64(3),
        n_jobs=np.int64(1),
        refit=np.True_,
    ).fit(X, y)
    plain = KNNSearchCV(KNNClassifier(), {"n_neighbors": [1, 3, 5], "p": [1, 2]}, cv=3).fit(X, y)
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"]
    )
    assert search.best_params_ == plain.best_params_
    with pytest.raises(ValueError, match="scores by accuracy only.*GridSearchCV"):
        KNNSearchCV(KNNClassifier(), grid, scoring="f1_macro").fit(X, y)


@pytest.mark.parametrize(
    "params,message",
    [
        ({"p": True}, "Minkowski p must be a number > 0"),
        ({"p": 0}, "Minkowski p must be a number > 0"),
        ({"p": -1.0}, "Minkowski p must be a number > 0"),
        ({"p": np.nan}, "Minkowski p must be a number > 0"),
        ({"p": "2"}, "Minkowski p must be a number > 0"),
        ({"n_neighbors": np.True_}, "n_neighbors must be a positive integer"),
        ({"n_neighbors": np.float64(3)}, "n_neighbors must be a positive integer"),
        ({"n_jobs": 1.5}, "n_jobs must be a whole number of threads or None"),
        ({"n_jobs": True}, "n_jobs must be a whole number of threads or None"),
        ({"working_memory": 0}, "working_memory must be a positive number"),
        ({"working_memory": "big"}, "working_memory must be a positive number"),
    ],
)
def test_non_numbers_and_bools_are_refused_at_fit(digits, params, message):
    X, y, _ = digits
    with pytest.raises(ValueError, match=message):
        KNNClassifier(**params).fit(X, y)


# --- metric names ----------------------------------------------------------------------------

ALIASES = [
    ("l1", "manhattan"),
    ("cityblock", "manhattan"),
    ("l2", "euclidean"),
    ("infinity", "chebyshev"),
]


@pytest.mark.parametrize("alias,canonical", ALIASES)
def test_scikit_learn_metric_aliases_mean_the_same_distance(digits, alias, canonical):
    X, y, queries = digits
    ours = KNNClassifier(5, metric=alias).fit(X, y).kneighbors(queries)
    same = KNNClassifier(5, metric=canonical).fit(X, y).kneighbors(queries)
    np.testing.assert_array_equal(ours[0], same[0])
    np.testing.assert_array_equal(ours[1], same[1])
    # scikit-learn knows "infinity" by its trees only.
    algorithm = "kd_tree" if alias == "infinity" else "brute"
    theirs = KNeighborsClassifier(5, metric=alias, algorithm=algorithm).fit(X, y)
    np.testing.assert_allclose(ours[0], theirs.kneighbors(queries)[0], rtol=1e-12)


def test_sqeuclidean_finds_euclidean_neighbours_with_squared_distances(digits):
    X, y, queries = digits
    squared = KNNClassifier(5, metric="sqeuclidean").fit(X, y)
    plain = KNNClassifier(5, metric="euclidean").fit(X, y)
    distances, indices = squared.kneighbors(queries)
    plain_distances, plain_indices = plain.kneighbors(queries)
    np.testing.assert_array_equal(indices, plain_indices)
    np.testing.assert_allclose(distances, plain_distances**2, rtol=1e-12)
    theirs = KNeighborsClassifier(5, metric="sqeuclidean").fit(X, y).kneighbors(queries)[0]
    np.testing.assert_allclose(distances, theirs, rtol=1e-12)


@pytest.mark.parametrize("p", [1, 3, np.inf])
def test_metric_p_is_minkowski_with_the_estimators_p(digits, p):
    X, y, queries = digits
    ours = KNNClassifier(5, metric="p", p=p).fit(X, y).kneighbors(queries)
    minkowski = KNNClassifier(5, metric="minkowski", p=p).fit(X, y).kneighbors(queries)
    np.testing.assert_array_equal(ours[1], minkowski[1])
    np.testing.assert_array_equal(ours[0], minkowski[0])


def test_unknown_metric_lists_the_scikit_learn_names_too():
    with pytest.raises(ValueError, match="Unknown metric 'l3'.*cityblock"):
        resolve_metric("l3")


def test_weights_none_is_uniform_as_in_scikit_learn(digits):
    X, y, queries = digits
    ours = KNNClassifier(7, weights=None).fit(X, y)
    np.testing.assert_array_equal(
        ours.predict_proba(queries), KNNClassifier(7).fit(X, y).predict_proba(queries)
    )
    np.testing.assert_array_equal(
        KNNRegressor(7, weights=None).fit(X, y).predict(queries),
        KNNRegressor(7).fit(X, y).predict(queries),
    )
    theirs = KNeighborsClassifier(7, weights=None).fit(X, y)
    np.testing.assert_array_equal(ours.predict(queries), theirs.predict(queries))


# --- Minkowski 0 < p < 1 ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8])
def test_minkowski_below_one_is_exact_brute_force_with_a_warning(digits, dtype):
    X, y, queries = digits
    X, queries = X.astype(dtype), queries.astype(dtype)
    with pytest.warns(UserWarning, match="p=0.5 .*not a metric"):
        model = KNNClassifier(7, p=0.5).fit(X, y)
    assert model.effective_algorithm_ == "brute"
    distances, indices = model.kneighbors(queries)
    expected = reference_kneighbors(X, queries, 7, resolve_metric("minkowski", 0.5))
    np.testing.assert_array_equal(indices, expected[1])
    np.testing.assert_allclose(distances, expected[0], rtol=1e-12)
    # scikit-learn measures float32 rows in float32; on float64 rows it agrees closely.
    as_float64 = X.astype(np.float64), queries.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scikit-learn's own warning
        theirs = KNeighborsClassifier(7, p=0.5).fit(as_float64[0], y)
        np.testing.assert_allclose(distances, theirs.kneighbors(as_float64[1])[0], rtol=1e-9)


def test_minkowski_below_one_near_ties_match_the_reference():
    # Random reals: no exact ties, but many near ties for the float estimates to get wrong.
    rng = np.random.default_rng(7)
    train = rng.random((2000, 12))
    queries = rng.random((50, 12))
    metric = resolve_metric("minkowski", 0.3)
    distances, indices = build_index(train, metric="minkowski", p=0.3).query(queries, 10)
    expected = reference_kneighbors(train, queries, 10, metric)
    np.testing.assert_array_equal(indices, expected[1])
    np.testing.assert_allclose(distances, expected[0], rtol=1e-12)


def test_auto_uses_brute_force_for_minkowski_below_one_where_it_would_use_a_tree():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 3))  # low-dimensional, many rows: "auto" picks a kd-tree
    y = X[:, 0] > 0
    assert KNNClassifier(p=1.5).fit(X, y).effective_algorithm_ == "kd_tree"
    with pytest.warns(UserWarning, match="not a metric"):
        assert KNNClassifier(p=0.5).fit(X, y).effective_algorithm_ == "brute"


@pytest.mark.parametrize("algorithm", ["kd_tree", "ball_tree"])
def test_trees_refuse_minkowski_below_one(digits, algorithm):
    X, y, _ = digits
    with pytest.raises(
        ValueError,
        match=rf"algorithm='{algorithm}' cannot search with "
        r"Minkowski p=0.5.*algorithm='brute'",
    ):
        KNNClassifier(p=0.5, algorithm=algorithm).fit(X, y)


# --- weights that leave a query without a vote -----------------------------------------------


def _zero_for_far_queries(distances):
    """Weight 1 within distance 20, else 0: far queries get no weight at all."""
    return (distances < 20).astype(float)


def test_classifier_refuses_a_query_whose_neighbours_all_get_weight_zero(digits):
    X, y, queries = digits
    model = KNNClassifier(3, weights=_zero_for_far_queries).fit(X, y)
    far = queries + 100.0  # every neighbour farther than 20
    for method in (model.predict, model.predict_proba):
        with pytest.raises(ValueError, match="every neighbour of some query weight 0"):
            method(far)
    distances, indices = model.kneighbors(far)
    with pytest.raises(ValueError, match="weight 0"):
        model.vote(distances, indices)
    # Queries with some weight still predict.
    assert len(model.predict(X[:5])) == 5


def test_regressor_refuses_a_query_whose_neighbours_all_get_weight_zero(digits):
    X, y, queries = digits
    model = KNNRegressor(3, weights=_zero_for_far_queries).fit(X, y.astype(float))
    with pytest.raises(ValueError, match="every neighbour of some query weight 0"):
        model.predict(queries + 100.0)


def test_grid_search_refuses_all_zero_weights_too(digits):
    X, y, _ = digits
    with pytest.raises(ValueError, match="weight 0"):
        KNNSearchCV(KNNClassifier(), {"weights": [lambda d: np.zeros_like(d)]}, cv=2).fit(X, y)
