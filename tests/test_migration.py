"""Changing one import is the whole migration: a scikit-learn user's script, run twice.

The script below uses every public name of ``sklearn.neighbors`` that knnvision offers. It runs
once as written and once with its import line pointed at ``knnvision.neighbors``; every result
must be the same. The digits get a little noise so that no two distances tie (where they tie,
scikit-learn's order is unspecified and knnvision's is the smaller index: tested elsewhere).
Distances are compared to 1e-5: scikit-learn computes Euclidean distances from matrix
products, so a distance near 0 comes out as up to about 2e-6 where knnvision's is exact (the
float64 brute force's, tested against the reference elsewhere).
"""

import numpy as np
import pytest
import scipy.sparse

import knnvision.neighbors

NAMES = [
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

USER_SCRIPT = """
from sklearn.neighbors import (
    KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors, RadiusNeighborsClassifier,
    RadiusNeighborsRegressor, KNeighborsTransformer, RadiusNeighborsTransformer,
    LocalOutlierFactor, NearestCentroid, NeighborhoodComponentsAnalysis, kneighbors_graph,
    radius_neighbors_graph,
)
from sklearn.pipeline import make_pipeline
from sklearn.manifold import Isomap

out = {}
clf = KNeighborsClassifier(n_neighbors=5, weights="distance").fit(X, y)
out["classifier"] = clf.predict_proba(Q)
out["multi_output"] = KNeighborsClassifier(3).fit(X, np.c_[y, y % 2]).predict(Q)
out["regressor"] = KNeighborsRegressor(4, p=1).fit(X, y.astype(float)).predict(Q)
nn = NearestNeighbors(n_neighbors=6, radius=radius).fit(X)
out["kneighbors"] = nn.kneighbors(Q)
out["kneighbors_self"] = nn.kneighbors()
out["knn_graph"] = nn.kneighbors_graph(Q, mode="distance").toarray()
d, i = nn.radius_neighbors(Q, sort_results=True)
out["radius"] = (np.concatenate(d), np.concatenate(i), [len(row) for row in i])
out["radius_graph"] = nn.radius_neighbors_graph(Q, mode="distance").toarray()
out["sparse"] = NearestNeighbors(n_neighbors=3).fit(X_sparse).kneighbors(X_sparse[:20])
out["weighted"] = NearestNeighbors(
    n_neighbors=3, metric="minkowski", p=3, metric_params={"w": w}
).fit(X).kneighbors(Q)
out["rnc"] = RadiusNeighborsClassifier(radius, outlier_label="most_frequent").fit(X, y).predict(Q)
out["rnr"] = RadiusNeighborsRegressor(radius).fit(X, y.astype(float)).predict(Q)
out["kt"] = KNeighborsTransformer(n_neighbors=5).fit_transform(X).toarray()
out["rt"] = RadiusNeighborsTransformer(radius=radius).fit(X).transform(Q).toarray()
out["isomap"] = make_pipeline(
    KNeighborsTransformer(n_neighbors=20, mode="distance"),
    Isomap(n_neighbors=20, metric="precomputed"),
).fit_transform(X)
lof = LocalOutlierFactor(n_neighbors=10).fit(X)
out["lof"] = (lof.fit_predict(X), lof.negative_outlier_factor_)
out["lof_novelty"] = LocalOutlierFactor(n_neighbors=10, novelty=True).fit(X).score_samples(Q)
centroid = NearestCentroid().fit(X, y)
out["centroid"] = (centroid.predict(Q), centroid.predict_proba(Q))
nca = NeighborhoodComponentsAnalysis(n_components=2, max_iter=5, random_state=0).fit(X, y)
out["nca"] = nca.transform(Q)
out["graph_fn"] = kneighbors_graph(X, 4, include_self=True).toarray()
out["radius_graph_fn"] = radius_neighbors_graph(X, radius, mode="distance").toarray()
out["precomputed"] = KNeighborsClassifier(3, metric="precomputed").fit(D, y).predict(D_query)
"""


def _run(script: str, data: dict) -> dict:
    namespace = {"np": np, **data}
    exec(script, namespace)
    return namespace["out"]


def _data():
    from sklearn.datasets import load_digits
    from sklearn.metrics import pairwise_distances

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    X = X[:300] + rng.normal(scale=1e-3, size=(300, 64))
    Q, X, y = X[250:], X[:250], y[:250]
    return {
        "X": X,
        "y": y,
        "Q": Q,
        "X_sparse": scipy.sparse.csr_matrix(np.where(X > 8, X, 0)),
        "w": rng.random(64),
        "radius": 22.0,
        "D": pairwise_distances(X),
        "D_query": pairwise_distances(Q, X),
    }


def test_every_sklearn_neighbors_name_is_offered():
    import sklearn.neighbors

    for name in NAMES:
        assert hasattr(sklearn.neighbors, name)
        assert name in knnvision.neighbors.__all__
    assert knnvision.neighbors.KNeighborsClassifier is knnvision.KNNClassifier
    assert knnvision.neighbors.KNeighborsRegressor is knnvision.KNNRegressor


def test_a_users_script_gives_the_same_results_with_the_import_changed():
    data = _data()
    theirs = _run(USER_SCRIPT, data)
    ours_script = USER_SCRIPT.replace(
        "from sklearn.neighbors import", "from knnvision.neighbors import"
    )
    assert ours_script != USER_SCRIPT
    ours = _run(ours_script, data)
    assert ours.keys() == theirs.keys()
    for key in theirs:
        for mine, reference in zip(_flat(ours[key]), _flat(theirs[key]), strict=True):
            if key in ("nca", "isomap"):  # iterative solvers: equal to their tolerance
                np.testing.assert_allclose(np.abs(mine), np.abs(reference), rtol=1e-5, atol=1e-8)
            else:
                np.testing.assert_allclose(mine, reference, rtol=1e-9, atol=1e-5, err_msg=key)


def _flat(value):
    if isinstance(value, tuple):
        return [np.asarray(part) for part in value]
    return [np.asarray(value)]


@pytest.mark.parametrize("name", [name for name in NAMES if name[0].isupper()])
def test_the_two_modules_take_the_same_constructor_arguments(name):
    import sklearn.neighbors

    theirs = getattr(sklearn.neighbors, name)().get_params()
    ours = getattr(knnvision.neighbors, name)().get_params()
    assert {key: ours[key] for key in theirs} == theirs
