"""Behaviour of the KNN estimators: exactness, tie rules, labels, errors, composition."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from knnvision import KNNClassifier, KNNOutlierDetector, KNNRegressor
from knnvision.search import reference_kneighbors, resolve_metric

METRICS = [
    ("euclidean", 2),
    ("manhattan", 2),
    ("minkowski", 3),
    ("chebyshev", 2),
    ("cosine", 2),
    ("hamming", 2),
]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:1000], y[:1000], X[1000:1300], y[1000:1300]


@pytest.mark.parametrize("metric,p", METRICS)
def test_neighbours_equal_float64_reference_with_ties(digits, metric, p):
    # The digits are small integers, so equal distances are everywhere: the order must be
    # exactly the reference's (ties to the smaller training index).
    X_train, y_train, X_test, _ = digits
    model = KNNClassifier(7, metric=metric, p=p).fit(X_train, y_train)
    distances, indices = model.kneighbors(X_test)
    ref_distances, ref_indices = reference_kneighbors(X_train, X_test, 7, resolve_metric(metric, p))
    np.testing.assert_array_equal(indices, ref_indices)
    np.testing.assert_allclose(distances, ref_distances, rtol=1e-12)


def test_uint8_images_give_the_same_neighbours_as_floats(digits):
    X_train, y_train, X_test, _ = digits
    as_float = KNNClassifier(5, metric="manhattan").fit(X_train, y_train)
    as_uint8 = KNNClassifier(5, metric="manhattan").fit(X_train.astype(np.uint8), y_train)
    np.testing.assert_array_equal(
        as_uint8.kneighbors(X_test.astype(np.uint8))[1], as_float.kneighbors(X_test)[1]
    )


def test_string_labels_round_trip():
    X = np.array([[0.0], [0.1], [5.0], [5.1]])
    y = np.array(["cat", "cat", "dog", "dog"])
    model = KNNClassifier(n_neighbors=1).fit(X, y)
    assert list(model.classes_) == ["cat", "dog"]
    assert list(model.predict([[0.05], [4.9]])) == ["cat", "dog"]


def test_vote_tie_goes_to_first_class():
    # Two neighbours, one of each class, at the same distance: the vote is tied 1-1 and the
    # documented rule gives the class that sorts first.
    X = np.array([[-1.0], [1.0]])
    model = KNNClassifier(n_neighbors=2).fit(X, ["zebra", "ant"])
    assert model.predict([[0.0]])[0] == "ant"
    np.testing.assert_allclose(model.predict_proba([[0.0]]), [[0.5, 0.5]])


def test_equal_distances_go_to_the_smaller_index():
    X = np.array([[1.0], [-1.0], [1.0], [3.0]])
    model = KNNClassifier(n_neighbors=3).fit(X, [0, 1, 2, 3])
    _, indices = model.kneighbors([[0.0]])
    np.testing.assert_array_equal(indices, [[0, 1, 2]])


def test_distance_weights_let_an_exact_match_decide():
    X = np.array([[0.0], [1.0], [1.0]])
    model = KNNClassifier(n_neighbors=3, weights="distance").fit(X, [0, 1, 1])
    np.testing.assert_allclose(model.predict_proba([[0.0]]), [[1.0, 0.0]])


def test_callable_weights_are_used():
    X = np.array([[0.0], [1.0], [2.0]])
    nearest_only = KNNClassifier(3, weights=lambda d: (d == d.min(axis=1, keepdims=True)) * 1.0)
    nearest_only.fit(X, [0, 1, 1])
    assert nearest_only.predict([[0.2]])[0] == 0


def test_kneighbors_without_queries_leaves_each_sample_out():
    X = np.array([[0.0], [0.0], [0.0], [10.0]])  # three duplicates
    model = KNNRegressor(n_neighbors=2).fit(X, [1.0, 2.0, 3.0, 4.0])
    _, indices = model.kneighbors()
    for row, neighbours in enumerate(indices):
        assert row not in neighbours
    np.testing.assert_array_equal(indices[0], [1, 2])
    np.testing.assert_array_equal(indices[2], [0, 1])


def test_regressor_multi_output_and_distance_weights():
    X = np.array([[0.0], [1.0], [3.0]])
    y = np.array([[0.0, 10.0], [1.0, 20.0], [3.0, 30.0]])
    model = KNNRegressor(n_neighbors=2, weights="distance").fit(X, y)
    # Query 0.5: neighbours 0 and 1 at distance 0.5 each -> the plain mean.
    np.testing.assert_allclose(model.predict([[0.5]]), [[0.5, 15.0]])
    assert KNNRegressor(2).fit(X, y[:, 0]).predict([[0.5]]).shape == (1,)


def test_outlier_detector_flags_far_points():
    rng = np.random.default_rng(0)
    inliers = rng.normal(size=(200, 2))
    model = KNNOutlierDetector(n_neighbors=5, contamination=0.05).fit(inliers)
    far = np.array([[8.0, 8.0], [-9.0, 0.0]])
    np.testing.assert_array_equal(model.predict(far), [-1, -1])
    assert model.predict([[0.0, 0.0]])[0] == 1
    assert (model.predict(inliers) == -1).sum() == 10  # 5% of 200


@pytest.mark.parametrize("aggregate", ["kth", "mean"])
def test_outlier_scores_follow_the_aggregate(aggregate):
    X = np.array([[0.0], [1.0], [3.0], [6.0]])
    model = KNNOutlierDetector(n_neighbors=3, aggregate=aggregate, contamination=0.25).fit(X)
    expected = 3.0 if aggregate == "kth" else (0.0 + 1.0 + 3.0) / 3
    np.testing.assert_allclose(model.score_samples([[0.0]]), [-expected])


def test_works_in_pipeline_grid_search_and_cross_validation(digits):
    X_train, y_train, _, _ = digits
    pipe = make_pipeline(StandardScaler(), KNNClassifier())
    scores = cross_val_score(pipe, X_train, y_train, cv=3)
    assert scores.mean() > 0.9
    search = GridSearchCV(KNNClassifier(), {"n_neighbors": [1, 3], "p": [1, 2]}, cv=3)
    search.fit(X_train, y_train)
    assert search.best_score_ > 0.9
    assert clone(search.best_estimator_).get_params() == search.best_estimator_.get_params()


def test_pickled_estimator_predicts_the_same(digits):
    X_train, y_train, X_test, _ = digits
    model = KNNClassifier(3).fit(X_train, y_train)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X_test), model.predict_proba(X_test))


@pytest.mark.parametrize(
    "params,message",
    [
        ({"metric": "euclidian"}, "Unknown metric 'euclidian'"),
        ({"metric": "minkowski", "p": 0}, "p must be a number > 0"),
        ({"algorithm": "kd_tree", "p": 0.5}, "cannot search with Minkowski p=0.5"),
        ({"n_neighbors": 0}, "n_neighbors must be a positive integer"),
        ({"n_neighbors": 2.5}, "n_neighbors must be a positive integer"),
        ({"weights": "nearest"}, "weights must be 'uniform', 'distance', None or a callable"),
        ({"algorithm": "lsh"}, "Unknown algorithm 'lsh'"),
        ({"algorithm": "kd_tree", "metric": "cosine"}, "cannot search with metric 'cosine'"),
    ],
)
def test_bad_parameters_are_clear_errors(params, message):
    with pytest.raises(ValueError, match=message):
        KNNClassifier(**params).fit([[0.0], [1.0]], [0, 1])


def test_bad_input_is_a_clear_error():
    model = KNNClassifier(n_neighbors=2).fit([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], [0, 1, 1])
    with pytest.raises(ValueError, match="NaN"):
        model.predict([[np.nan, 0.0]])
    with pytest.raises(ValueError, match="2 features"):
        model.predict([[0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"n_neighbors=5 is larger .*n_samples = 3"):
        model.kneighbors([[0.0, 0.0]], n_neighbors=5)
    with pytest.raises(ValueError, match="left out of its own neighbours"):
        model.kneighbors(n_neighbors=3)
    with pytest.raises(ValueError, match="NaN"):
        KNNClassifier().fit([[np.nan]], [0])


def test_vote_from_found_neighbours_equals_predict_proba(digits):
    X_train, y_train, X_test, _ = digits
    model = KNNClassifier(n_neighbors=7, weights="distance").fit(X_train, y_train + 3)
    distances, indices = model.kneighbors(X_test)
    np.testing.assert_array_equal(model.vote(distances, indices), model.predict_proba(X_test))
    np.testing.assert_array_equal(
        model.classes_[model.class_positions(indices)], (y_train + 3)[indices]
    )
    np.testing.assert_array_equal(model.training_samples(indices[0]), X_train[indices[0]])
