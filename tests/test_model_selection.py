"""KNNSearchCV, validation_curve and cross_validate_grid against refitting for every setting.

Refitting is what scikit-learn's GridSearchCV does; with our KNNClassifier inside it, the
scores must be identical (not close): the k nearest are a prefix of the K nearest, ties go
to the smaller training index, and the vote is the classifier's own.
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from knnvision import PCA, KNNClassifier, KNNRegressor, KNNSearchCV, progress
from knnvision.selection.search_cv import cross_validate_grid, knn_grid, validation_curve

# The tutorial's grid: n_neighbors 2..18 step 2, p 1..3 (weightings are tested below).
TUTORIAL_GRID = {"n_neighbors": list(range(2, 20, 2)), "p": [1, 2, 3]}


@pytest.fixture(scope="module")
def digits():
    """400 digits (integer pixels: many tied distances) for searching, 100 held out."""
    X, y = load_digits(return_X_y=True)
    return X[:400], y[:400], X[400:500], y[400:500]


def assert_same_search(ours, theirs):
    """Every cv_results_ entry but the timings identical, and the same best candidate."""
    assert set(ours.cv_results_) == set(theirs.cv_results_)
    for key, expected in theirs.cv_results_.items():
        if key.endswith("_time"):
            continue
        if key == "params":
            assert ours.cv_results_[key] == expected
            continue
        actual = ours.cv_results_[key]
        np.testing.assert_array_equal(actual, expected, err_msg=key)
        assert actual.dtype == expected.dtype, key
        if isinstance(expected, np.ma.MaskedArray):
            np.testing.assert_array_equal(actual.mask, expected.mask, err_msg=key)
    assert ours.best_index_ == theirs.best_index_
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == theirs.best_score_


def test_tutorial_grid_scores_exactly_as_grid_search_cv(digits):
    X, y, X_test, y_test = digits
    ours = KNNSearchCV(KNNClassifier(), TUTORIAL_GRID, cv=5).fit(X, y)
    theirs = GridSearchCV(KNNClassifier(), TUTORIAL_GRID, cv=5, scoring="accuracy").fit(X, y)
    assert_same_search(ours, theirs)
    assert ours.n_splits_ == 5
    np.testing.assert_array_equal(ours.predict(X_test), theirs.predict(X_test))
    np.testing.assert_array_equal(ours.predict_proba(X_test), theirs.predict_proba(X_test))
    assert ours.score(X_test, y_test) == theirs.score(X_test, y_test)


def test_pca_grid_scores_exactly_as_grid_search_cv(digits):
    X, y, _, _ = digits
    model = Pipeline([("scale", StandardScaler()), ("pca", PCA()), ("knn", KNNClassifier())])
    grid = {
        "pca__n_components": [5, 12],
        "pca__whiten": [False, True],
        "knn__n_neighbors": [1, 4, 7],
        "knn__weights": ["uniform", "distance"],
        "knn__metric": ["euclidean", "manhattan"],
    }
    ours = KNNSearchCV(model, grid, cv=3).fit(X, y)
    theirs = GridSearchCV(model, grid, cv=3).fit(X, y)
    assert_same_search(ours, theirs)
    assert isinstance(ours.best_estimator_[1], PCA)


def test_equal_to_scikit_learns_own_classifier_where_nothing_ties(digits):
    X, y, _, _ = digits
    # Continuous jitter leaves no tied distances, so every neighbour list is unambiguous.
    X = X + np.random.default_rng(0).normal(scale=1e-3, size=X.shape)
    grid = {"n_neighbors": [1, 3, 5, 9], "p": [1, 2], "weights": ["uniform", "distance"]}
    ours = KNNSearchCV(KNNClassifier(), grid).fit(X, y)
    theirs = GridSearchCV(KNeighborsClassifier(), grid).fit(X, y)
    for key in ("mean_test_score", "rank_test_score", "split0_test_score", "split4_test_score"):
        np.testing.assert_array_equal(ours.cv_results_[key], theirs.cv_results_[key])
    assert ours.best_params_ == theirs.best_params_


def test_splitters_and_sub_grids_as_in_grid_search_cv(digits):
    X, y, _, _ = digits
    grid = [
        {"n_neighbors": [1, 3]},
        {"n_neighbors": [2, 6], "weights": ["distance"], "metric": ["chebyshev"]},
    ]
    for cv in (
        KFold(4, shuffle=True, random_state=3),
        list(StratifiedKFold(3, shuffle=True, random_state=1).split(X, y)),
    ):
        ours = KNNSearchCV(KNNClassifier(), grid, cv=cv, refit=False).fit(X, y)
        theirs = GridSearchCV(KNNClassifier(), grid, cv=cv, refit=False).fit(X, y)
        assert_same_search(ours, theirs)
        assert ours.cv_results_["param_metric"].mask.tolist() == [True, True, False, False]


def test_one_search_per_fold_and_distance(digits, monkeypatch):
    X, y, _, _ = digits
    calls = []
    original = KNNClassifier.kneighbors

    def counting(self, *args, **kwargs):
        calls.append(self.n_neighbors)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(KNNClassifier, "kneighbors", counting)
    KNNSearchCV(KNNClassifier(), TUTORIAL_GRID, cv=5, refit=False).fit(X, y)
    assert calls == [18] * 15  # 3 distances x 5 folds, each at the largest k


def test_progress_is_reported_per_search(digits, progress_recorder):
    X, y, _, _ = digits
    with progress.reporting(progress_recorder):
        KNNSearchCV(KNNClassifier(), {"n_neighbors": [1, 2], "p": [1, 2]}, cv=3, refit=False).fit(
            X, y
        )
    assert ("tuning by cross-validation", 6) in progress_recorder.started
    assert len(progress_recorder.amounts) >= 6


def test_refit_and_n_jobs(digits):
    X, y, X_test, _ = digits
    grid = {"n_neighbors": [1, 5], "weights": ["uniform", "distance"]}
    one_thread = KNNSearchCV(KNNClassifier(), grid, n_jobs=1).fit(X, y)
    every_core = KNNSearchCV(KNNClassifier(), grid).fit(X, y)
    np.testing.assert_array_equal(
        one_thread.cv_results_["mean_test_score"], every_core.cv_results_["mean_test_score"]
    )
    assert one_thread.best_estimator_.n_jobs is None  # the refitted model is the user's own
    assert one_thread.refit_time_ >= 0
    np.testing.assert_array_equal(one_thread.classes_, np.arange(10))
    unfitted = KNNSearchCV(KNNClassifier(), grid, refit=False).fit(X, y)
    assert not hasattr(unfitted, "best_estimator_")
    with pytest.raises(ValueError, match="refit=False"):
        unfitted.predict(X_test)


def test_string_labels(digits):
    X, y, _, _ = digits
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )[y]
    grid = {"n_neighbors": [1, 3, 6]}
    ours = KNNSearchCV(KNNClassifier(), grid, cv=3).fit(X, names)
    theirs = GridSearchCV(KNNClassifier(), grid, cv=3).fit(X, names)
    assert_same_search(ours, theirs)


@pytest.mark.parametrize(
    ("estimator", "grid", "message"),
    [
        (KNNRegressor(), {"n_neighbors": [1]}, "tunes a KNNClassifier"),
        (
            Pipeline([("pca", PCA()), ("knn", KNNRegressor())]),
            {"knn__n_neighbors": [1]},
            "tunes a KNNClassifier",
        ),
        (KNNClassifier(), {"n_neighbors": [500]}, "larger than a cross-validation training"),
        (KNNClassifier(), {"n_neighbors": [0]}, "positive integer"),
        (KNNClassifier(), {"weights": ["closest"]}, "weights must be"),
        (KNNClassifier(), [], "param_grid is empty"),
    ],
)
def test_bad_searches_say_what_to_do(digits, estimator, grid, message):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match=message):
        KNNSearchCV(estimator, grid, cv=3).fit(X, y)


def test_validation_curve_is_refitting_for_each_k(digits):
    X, y, X_val, y_val = digits
    ks = (1, 3, 5, 9, 15, 25)
    for estimator in (
        KNNClassifier(weights="distance"),
        Pipeline([("pca", PCA(10)), ("knn", KNNClassifier(metric="manhattan"))]),
    ):
        curve = validation_curve(estimator, X, y, X_val, y_val, n_neighbors=ks)
        expected = [
            estimator.set_params(**{_k_name(estimator): k}).fit(X, y).score(X_val, y_val)
            for k in ks
        ]
        np.testing.assert_array_equal(curve.accuracy, expected)
        assert curve.best_k == ks[int(np.argmax(expected))]
        assert [point["n_neighbors"] for point in curve.to_records()] == list(ks)


def _k_name(estimator):
    return "knn__n_neighbors" if isinstance(estimator, Pipeline) else "n_neighbors"


def test_validation_curve_plot_data(digits):
    X, y, X_val, y_val = digits
    curve = validation_curve(KNNClassifier(), X, y, X_val, y_val, n_neighbors=[5, 1, 3])
    np.testing.assert_array_equal(curve.n_neighbors, [1, 3, 5])
    import matplotlib.pyplot as pyplot  # noqa: PLC0415  (a dependency: never skipped)

    axes = curve.plot()
    np.testing.assert_array_equal(axes.get_lines()[0].get_xdata(), [1, 3, 5])
    pyplot.close(axes.figure)
    with pytest.raises(ValueError, match="same number of features"):
        validation_curve(KNNClassifier(), X, y, X_val[:, :10], y_val)


def test_cross_validate_grid_matches_refitting(digits):
    X, y, _, _ = digits
    result = cross_validate_grid(
        X,
        y,
        n_neighbors=(1, 4),
        weights=("uniform", "distance"),
        metrics=(("euclidean", 2), ("minkowski", 3)),
        cv=3,
        seed=2,
    )
    folds = list(StratifiedKFold(3, shuffle=True, random_state=2).split(X, y))
    for candidate, scores in zip(result.candidates, result.fold_scores, strict=True):
        expected = [
            KNNClassifier(**candidate.params()).fit(X[train], y[train]).score(X[test], y[test])
            for train, test in folds
        ]
        np.testing.assert_array_equal(scores, expected)
    assert [c.metric for c in result.candidates[:4]] == ["euclidean"] * 4
    assert result.best == result.candidates[result.best_index]


def test_knn_grid_builds_sub_grids_per_metric_and_pca_size(digits):
    X, y, _, _ = digits
    estimator, grid = knn_grid(
        [1, 3], metrics=[("euclidean", 2), ("minkowski", 3)], pca_sizes=[0, 8]
    )
    search = KNNSearchCV(estimator, grid, cv=3).fit(X, y)
    params = search.cv_results_["params"]
    assert len(params) == 2 * 2 * 2
    assert sum(p.get("pca") == "passthrough" for p in params) == 4
    bare, bare_grid = knn_grid([1], metrics=[("manhattan", 2)])
    assert isinstance(bare, KNNClassifier)
    assert bare_grid == [
        {"metric": ["manhattan"], "p": [2], "n_neighbors": [1], "weights": ["uniform"]}
    ]


def test_cli_tune(cli, tmp_path):
    def run(*args):
        return cli("tune", "--no-report", "--out", tmp_path, *args)

    status, out, _ = run(
        "--k",
        "1,3",
        "--metric",
        "euclidean,minkowski:3",
        "--pca",
        "0,10",
        "--cv",
        "3",
        "--max-train",
        "300",
        "--top",
        "3",
    )
    assert status == 0
    assert "3-fold cross-validation, best 3 of 8" in out
    assert "Test accuracy of the best setting" in out and "pca=" in out
    status, _, err = run("--pca", "10,2.5")
    assert status == 2 and "Invalid value for '--pca': whole numbers or fractions below 1" in err
