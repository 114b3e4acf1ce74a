"""The supervised neighbours estimators against scikit-learn's: multi-output targets for the
k-neighbours classifier and regressor, and the radius classifier and regressor.

Radius neighbours do not depend on any tie order (every training sample within the radius
counts), so predictions and probabilities are compared on every query, on random continuous
data and on the 8x8 digits (integer pixels; the radii are chosen so that no squared distance
lies on them). The k-neighbours comparisons use continuous data, where distances do not tie.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse
from sklearn import neighbors as sk
from sklearn.base import is_classifier, is_regressor
from sklearn.datasets import load_digits
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import pairwise_distances

import knnvision
from knnvision import KNNClassifier, KNNRegressor
from knnvision.neighbors.classifier import vote_shares
from knnvision.neighbors.radius import RadiusNeighborsClassifier, RadiusNeighborsRegressor

WEIGHTS = ["uniform", "distance"]


def _random_data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(160, 6))
    labels = np.stack([rng.integers(0, 3, 160), rng.integers(0, 4, 160) * 10], axis=1)
    return X[:120], labels[:120], X[120:]


def _digits_data():
    X, y = load_digits(return_X_y=True)
    labels = np.stack([y, y % 2], axis=1)
    return X[:400], labels[:400], X[400:500]


# (data, radius): about a dozen neighbours per query; some queries have none.
DATA = {"random": (_random_data(), 2.05), "digits": (_digits_data(), 22.5)}


def _both(make, fit_args, **params):
    """The knnvision estimator and scikit-learn's of the same name, fitted alike."""
    ours = make["ours"](**params).fit(*fit_args)
    theirs = make["sklearn"](**params).fit(*fit_args)
    return ours, theirs


def _assert_same_probabilities(ours, theirs):
    if isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs)
        for mine, reference in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(mine, reference, atol=1e-12)
    else:
        np.testing.assert_allclose(ours, theirs, atol=1e-12)


RADIUS_CLASSIFIER = {"ours": RadiusNeighborsClassifier, "sklearn": sk.RadiusNeighborsClassifier}
RADIUS_REGRESSOR = {"ours": RadiusNeighborsRegressor, "sklearn": sk.RadiusNeighborsRegressor}
KNN_CLASSIFIER = {"ours": KNNClassifier, "sklearn": sk.KNeighborsClassifier}
KNN_REGRESSOR = {"ours": KNNRegressor, "sklearn": sk.KNeighborsRegressor}


# --- the radius classifier and regressor against scikit-learn -------------------------------


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("outputs", ["one", "two"])
def test_radius_classifier_matches_sklearn(data, weights, outputs):
    (X, labels, queries), radius = DATA[data]
    y = labels[:, 0] if outputs == "one" else labels
    ours, theirs = _both(
        RADIUS_CLASSIFIER, (X, y), radius=radius, weights=weights, outlier_label="most_frequent"
    )
    assert ours.outputs_2d_ == theirs.outputs_2d_ == (outputs == "two")
    assert ours.outlier_label_ == theirs.outlier_label_
    for X_query in (queries, None):
        np.testing.assert_array_equal(ours.predict(X_query), theirs.predict(X_query))
        _assert_same_probabilities(ours.predict_proba(X_query), theirs.predict_proba(X_query))
    if outputs == "one":  # scikit-learn's accuracy takes one output only
        assert ours.score(queries, y[: len(queries)]) == theirs.score(queries, y[: len(queries)])


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("outputs", ["one", "two"])
def test_radius_regressor_matches_sklearn(data, weights, outputs):
    (X, labels, queries), radius = DATA[data]
    y = labels[:, 0] * 1.5 + X[:, 0]
    if outputs == "two":
        y = np.stack([y, labels[:, 1] - X[:, 1]], axis=1)
    ours, theirs = _both(RADIUS_REGRESSOR, (X, y), radius=radius, weights=weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # queries without neighbours: NaN
        for X_query in (queries, None):
            predicted = ours.predict(X_query)
            assert predicted.shape == theirs.predict(X_query).shape
            np.testing.assert_allclose(predicted, theirs.predict(X_query), rtol=1e-10)


def test_radius_estimators_take_sparse_rows_and_callable_weights():
    X, labels, queries = _random_data()
    X, queries = (np.where(rows > 0.3, rows, 0.0) for rows in (X, queries))
    sparse_X, sparse_queries = scipy.sparse.csr_matrix(X), scipy.sparse.csc_matrix(queries)
    params = {"radius": 1.8, "weights": lambda d: 1.0 / (d + 1.0)}
    ours, theirs = _both(
        RADIUS_CLASSIFIER, (sparse_X, labels[:, 0]), outlier_label="most_frequent", **params
    )
    _assert_same_probabilities(
        ours.predict_proba(sparse_queries), theirs.predict_proba(sparse_queries)
    )
    ours, theirs = _both(RADIUS_REGRESSOR, (sparse_X, X[:, 0]), **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        np.testing.assert_allclose(ours.predict(sparse_queries), theirs.predict(sparse_queries))


def test_radius_estimators_take_precomputed_distances():
    X, labels, queries = _random_data()
    train_distances = pairwise_distances(X)
    query_distances = pairwise_distances(queries, X)
    params = {"radius": 2.05, "metric": "precomputed", "weights": "distance"}
    ours, theirs = _both(RADIUS_CLASSIFIER, (train_distances, labels), outlier_label=0, **params)
    np.testing.assert_array_equal(ours.predict(query_distances), theirs.predict(query_distances))
    # Float targets: scikit-learn's NaN for a query without neighbours needs them.
    ours, theirs = _both(RADIUS_REGRESSOR, (train_distances, X[:, 0]), **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for X_query in (query_distances, None):
            np.testing.assert_allclose(ours.predict(X_query), theirs.predict(X_query))


def test_regressor_without_neighbours_predicts_nan_with_a_warning():
    model = RadiusNeighborsRegressor(radius=0.5).fit([[0.0], [1.0]], [[1.0, 2.0], [3.0, 4.0]])
    with pytest.warns(UserWarning, match=r"1 of 2 query samples .* NaN"):
        predicted = model.predict([[0.2], [9.0]])
    np.testing.assert_array_equal(predicted, [[1.0, 2.0], [np.nan, np.nan]])


# --- exact matches with weights="distance" ----------------------------------------------------

EXACT_X = np.array([[0.0], [0.0], [1.0], [2.0]])
EXACT_Y = np.array([[0, 1], [1, 3], [1, 5], [1, 7]])
# A query on the two duplicates (their labels tie; the smaller wins) and one between rows.
EXACT_QUERIES = np.array([[0.0], [0.6]])


@pytest.mark.parametrize(
    "make,params",
    [
        (RADIUS_CLASSIFIER, {"radius": 1.5}),
        (RADIUS_REGRESSOR, {"radius": 1.5}),
        (KNN_CLASSIFIER, {"n_neighbors": 3}),
        (KNN_REGRESSOR, {"n_neighbors": 3}),
    ],
)
def test_distance_weights_let_exact_matches_decide_as_sklearn(make, params):
    """Training samples at distance 0 decide alone: knnvision's rule is scikit-learn's."""
    y = EXACT_Y * 1.0 if is_regressor(make["ours"]()) else EXACT_Y
    ours, theirs = _both(make, (EXACT_X, y), weights="distance", **params)
    for X_query in (EXACT_QUERIES, None):
        np.testing.assert_allclose(ours.predict(X_query), theirs.predict(X_query))
    if hasattr(ours, "predict_proba"):
        _assert_same_probabilities(
            ours.predict_proba(EXACT_QUERIES), theirs.predict_proba(EXACT_QUERIES)
        )
    # The two duplicates alone: the vote ties and goes to the smaller label; the mean is
    # theirs, the sample at distance 1 having no say.
    expected = [0.5, 2.0] if is_regressor(ours) else [0, 1]
    np.testing.assert_array_equal(ours.predict(EXACT_QUERIES[:1])[0], expected)


# --- multi-output k-neighbours ------------------------------------------------------------------


@pytest.mark.parametrize("weights", WEIGHTS)
def test_knn_classifier_multi_output_matches_sklearn(weights):
    X, labels, queries = _random_data()
    y = np.stack([labels[:, 0].astype(str), labels[:, 1]], axis=1).astype(object)
    ours, theirs = _both(KNN_CLASSIFIER, (X, y), n_neighbors=5, weights=weights)
    assert ours.outputs_2d_ and isinstance(ours.classes_, list)
    for mine, reference in zip(ours.classes_, theirs.classes_, strict=True):
        np.testing.assert_array_equal(mine, reference)
    for X_query in (queries, None):
        predicted = ours.predict(X_query)
        assert predicted.shape == (len(X if X_query is None else queries), 2)
        np.testing.assert_array_equal(predicted, theirs.predict(X_query))
        _assert_same_probabilities(ours.predict_proba(X_query), theirs.predict_proba(X_query))


@pytest.mark.parametrize("weights", WEIGHTS)
def test_knn_regressor_multi_output_matches_sklearn(weights):
    X, labels, queries = _random_data()
    y = labels * 0.5 + X[:, :2]
    ours, theirs = _both(KNN_REGRESSOR, (X, y), n_neighbors=4, weights=weights)
    np.testing.assert_allclose(ours.predict(queries), theirs.predict(queries), rtol=1e-12)
    np.testing.assert_allclose(ours.predict(None), theirs.predict(None), rtol=1e-12)


def test_one_output_keeps_the_plain_attributes_and_vote_helpers():
    X, labels, queries = _random_data()
    model = KNNClassifier(4, weights="distance").fit(X, labels[:, 1])
    assert model.outputs_2d_ is False
    np.testing.assert_array_equal(model.classes_, [0, 10, 20, 30])
    distances, indices = model.kneighbors(queries)
    shares = model.vote(distances, indices)
    np.testing.assert_allclose(shares, model.predict_proba(queries))
    positions = model.class_positions(indices)
    np.testing.assert_array_equal(model.classes_[positions], labels[indices, 1])
    np.testing.assert_allclose(
        vote_shares(positions, 1.0 / distances, 4), model.predict_proba(queries)
    )
    # Several outputs: one array of shares, and one position, per output.
    two = KNNClassifier(4).fit(X, labels)
    assert two.outputs_2d_ is True and len(two.vote(distances, indices)) == 2
    assert two.class_positions(indices).shape == (*indices.shape, 2)


def test_vote_shares_weights_and_empty_rows():
    labels = np.array([[0, 1, 1], [2, 2, 0]])
    np.testing.assert_allclose(vote_shares(labels, None, 3), [[1 / 3, 2 / 3, 0], [1 / 3, 0, 2 / 3]])
    weights = np.array([[3.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(vote_shares(labels, weights, 3), [[0.75, 0.25, 0], [0, 0, 0]])


def test_column_vector_y_is_one_output_with_a_warning():
    X, labels, queries = _random_data()
    with pytest.warns(DataConversionWarning, match="y.ravel()"):
        model = KNNClassifier(3).fit(X, labels[:, :1])
    assert model.outputs_2d_ is False
    np.testing.assert_array_equal(
        model.predict(queries), KNNClassifier(3).fit(X, labels[:, 0]).predict(queries)
    )


# --- outlier_label ------------------------------------------------------------------------------

LINE_X = np.array([[0.0], [1.0], [2.0], [5.0]])
LINE_Y = np.array([0, 1, 1, 2])
# The second query has no training sample within radius 0.6.
LINE_QUERIES = np.array([[0.1], [10.0]])


def test_no_outlier_label_names_the_samples_without_neighbours():
    model = RadiusNeighborsClassifier(radius=0.6).fit(LINE_X, LINE_Y)
    assert model.outlier_label_ is None
    with pytest.raises(ValueError, match=r"radius=0\.6 of the query samples 1;.*outlier_label"):
        model.predict(LINE_QUERIES)
    with pytest.raises(ValueError, match="query samples 1;"):
        model.predict_proba(LINE_QUERIES)


@pytest.mark.parametrize(
    "outlier_label,expected,probabilities",
    [
        (2, [0, 2], [0, 0, 1]),
        ("most_frequent", [0, 1], [0, 1, 0]),
        ([1], [0, 1], [0, 1, 0]),
        (np.int64(0), [0, 0], [1, 0, 0]),
    ],
)
def test_outlier_label_of_a_class(outlier_label, expected, probabilities):
    ours = RadiusNeighborsClassifier(0.6, outlier_label=outlier_label).fit(LINE_X, LINE_Y)
    # scikit-learn fails on a NumPy scalar label: it gets the same label as a Python number.
    if isinstance(outlier_label, np.generic):
        outlier_label = outlier_label.item()
    theirs = sk.RadiusNeighborsClassifier(0.6, outlier_label=outlier_label).fit(LINE_X, LINE_Y)
    np.testing.assert_array_equal(ours.predict(LINE_QUERIES), expected)
    np.testing.assert_array_equal(ours.predict(LINE_QUERIES), theirs.predict(LINE_QUERIES))
    np.testing.assert_array_equal(ours.predict_proba(LINE_QUERIES)[1], probabilities)
    assert ours.outlier_label_ == theirs.outlier_label_


def test_outlier_label_outside_the_classes_gets_zero_probabilities_with_a_warning():
    ours, theirs = _both(RADIUS_CLASSIFIER, (LINE_X, LINE_Y), radius=0.6, outlier_label=-1)
    with pytest.warns(UserWarning, match="outlier_label -1 is not one of the training classes"):
        np.testing.assert_array_equal(ours.predict(LINE_QUERIES), [0, -1])
    with pytest.warns(UserWarning, match="probability 0 for every class"):
        np.testing.assert_array_equal(ours.predict_proba(LINE_QUERIES)[1], [0, 0, 0])
    with pytest.warns(UserWarning):
        np.testing.assert_array_equal(theirs.predict(LINE_QUERIES), [0, -1])
    # String classes take a longer string as outlier label (scikit-learn refuses one).
    model = RadiusNeighborsClassifier(0.6, outlier_label="none").fit(LINE_X, LINE_Y.astype(str))
    with pytest.warns(UserWarning):
        np.testing.assert_array_equal(model.predict(LINE_QUERIES), ["0", "none"])


def test_one_outlier_label_per_output():
    y = np.stack([LINE_Y, LINE_Y * 10], axis=1)
    for outlier_label in ("most_frequent", [2, 0], [1, 20]):
        ours, theirs = _both(
            RADIUS_CLASSIFIER, (LINE_X, y), radius=0.6, outlier_label=outlier_label
        )
        assert ours.outlier_label_ == theirs.outlier_label_
        np.testing.assert_array_equal(ours.predict(LINE_QUERIES), theirs.predict(LINE_QUERIES))
        _assert_same_probabilities(
            ours.predict_proba(LINE_QUERIES), theirs.predict_proba(LINE_QUERIES)
        )
    ours = RadiusNeighborsClassifier(0.6, outlier_label=[2, 0]).fit(LINE_X, y)
    np.testing.assert_array_equal(ours.predict(LINE_QUERIES), [[0, 0], [2, 0]])


@pytest.mark.parametrize(
    "outlier_label,message",
    [
        ([1, 2], "outlier_label has 2 labels but y has 1 outputs"),
        ([[1]], "must be a single label"),
        ("other", "is not of the type of its classes"),
        (0.5, "is not of the type of its classes"),
    ],
)
def test_bad_outlier_label_is_refused_at_fit(outlier_label, message):
    with pytest.raises(ValueError, match=message):
        RadiusNeighborsClassifier(outlier_label=outlier_label).fit(LINE_X, LINE_Y)


# --- parameters, model files, scikit-learn's checks ---------------------------------------------


def test_numpy_scalar_parameters_mean_the_numbers():
    X, labels, queries = _random_data()
    numpy_params = {
        "radius": np.float32(2.0),
        "p": np.int64(2),
        "leaf_size": np.int32(10),
        "n_jobs": np.int64(1),
        "working_memory": np.float32(8),
    }
    python_params = {"radius": 2.0, "p": 2, "leaf_size": 10, "n_jobs": 1, "working_memory": 8.0}
    for make, y, extra in [
        (RadiusNeighborsClassifier, labels[:, 0], {"outlier_label": np.int64(0)}),
        (RadiusNeighborsRegressor, X[:, 0], {}),
    ]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            np.testing.assert_array_equal(
                make(**numpy_params, **extra).fit(X, y).predict(queries),
                make(**python_params, **{k: v.item() for k, v in extra.items()})
                .fit(X, y)
                .predict(queries),
            )


@pytest.mark.parametrize("radius", [-1.0, "1", None])
def test_bad_radius_is_refused(radius):
    with pytest.raises(ValueError, match="radius must be a number >= 0"):
        RadiusNeighborsRegressor(radius=radius).fit(LINE_X, LINE_Y)


def test_radius_models_round_trip_through_model_files(tmp_path):
    X, labels, queries = _random_data()
    for model in (
        RadiusNeighborsClassifier(2.5, weights="distance", outlier_label="most_frequent"),
        RadiusNeighborsRegressor(2.5),
        KNNClassifier(3),
    ):
        model.fit(X, labels if is_classifier(model) else labels[:, 0])
        path = knnvision.save(model, tmp_path / f"{type(model).__name__}.knnv")
        loaded = knnvision.load(path)
        assert loaded.get_params() == model.get_params()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            np.testing.assert_array_equal(loaded.predict(queries), model.predict(queries))
