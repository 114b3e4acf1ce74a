"""knnvision against scikit-learn's KNeighborsClassifier/Regressor on the same data.

scikit-learn does not promise which of several equidistant training samples it returns, so
neighbour indices and predictions are compared on the queries whose k-th neighbour is not
tied with the (k+1)-th; distances are compared everywhere. knnvision's own tie rule is held
against the float64 reference in test_estimators.py.
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from knnvision import KNNClassifier, KNNRegressor

METRICS = [
    ("euclidean", 2),
    ("manhattan", 2),
    ("minkowski", 3),
    ("chebyshev", 2),
    ("cosine", 2),
    ("hamming", 2),
]
KS = [1, 3, 5, 20]


def _digits():
    X, y = load_digits(return_X_y=True)
    return X[:1400], y[:1400], X[1400:], y[1400:]


def _random():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 12))
    y = rng.integers(0, 4, size=300)
    return X[:240], y[:240], X[240:], y[240:]


def _random_categorical():
    # Hamming distance is for categorical features: on continuous data every pair differs in
    # every feature and all distances tie at 1.
    rng = np.random.default_rng(8)
    X = rng.integers(0, 3, size=(540, 400)).astype(float)
    y = rng.integers(0, 4, size=540)
    return X[:240], y[:240], X[240:], y[240:]


DATA = {"digits": _digits(), "random": _random(), "random_categorical": _random_categorical()}


def _cases():
    for data in ("digits", "random"):
        for metric, p in METRICS:
            if data == "random" and metric == "hamming":
                data = "random_categorical"
            yield data, metric, p


def _untied_rows(distances_k_plus_one):
    """Queries whose k-th and (k+1)-th neighbour distances differ (no boundary tie)."""
    kth, next_one = distances_k_plus_one[:, -2], distances_k_plus_one[:, -1]
    return ~np.isclose(kth, next_one, rtol=1e-12, atol=1e-12)


def _sklearn_params(metric, p):
    return {"metric": metric, "p": p} if metric == "minkowski" else {"metric": metric}


@pytest.mark.parametrize("data,metric,p", list(_cases()))
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_classifier_matches_sklearn(data, metric, p, weights):
    X_train, y_train, X_test, _ = DATA[data]
    for k in KS:
        ours = KNNClassifier(k, weights=weights, **_sklearn_params(metric, p)).fit(X_train, y_train)
        theirs = KNeighborsClassifier(
            k, weights=weights, algorithm="brute", **_sklearn_params(metric, p)
        ).fit(X_train, y_train)

        our_dist, our_ind = ours.kneighbors(X_test)
        their_dist, their_ind = theirs.kneighbors(X_test)
        np.testing.assert_allclose(our_dist, their_dist, rtol=1e-9, atol=1e-12)

        wider, _ = ours.kneighbors(X_test, n_neighbors=k + 1)
        untied = _untied_rows(wider)
        assert untied.sum() >= 20, "too few untied queries for the comparison to mean much"
        np.testing.assert_array_equal(
            np.sort(our_ind[untied], axis=1), np.sort(their_ind[untied], axis=1)
        )
        np.testing.assert_allclose(
            ours.predict_proba(X_test)[untied], theirs.predict_proba(X_test)[untied], atol=1e-12
        )
        np.testing.assert_array_equal(ours.predict(X_test)[untied], theirs.predict(X_test)[untied])


@pytest.mark.parametrize("data,metric,p", list(_cases()))
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_regressor_matches_sklearn(data, metric, p, weights):
    X_train, y_train, X_test, _ = DATA[data]
    target = y_train * 1.5 + X_train[:, 0]
    for k in KS:
        ours = KNNRegressor(k, weights=weights, **_sklearn_params(metric, p)).fit(X_train, target)
        theirs = KNeighborsRegressor(
            k, weights=weights, algorithm="brute", **_sklearn_params(metric, p)
        ).fit(X_train, target)
        wider, _ = ours.kneighbors(X_test, n_neighbors=k + 1)
        untied = _untied_rows(wider)
        np.testing.assert_allclose(
            ours.predict(X_test)[untied], theirs.predict(X_test)[untied], rtol=1e-10
        )
