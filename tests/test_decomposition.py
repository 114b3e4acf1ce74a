"""knnvision.PCA against scikit-learn's PCA, its own promises, and the model-file round trip."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA as ScikitPCA
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import knnvision
from knnvision import PCA, KNNClassifier


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X, y


@parametrize_with_checks(
    [
        PCA(),
        PCA(0.9, whiten=True),
        PCA(1, svd_solver="randomized"),
        PCA(svd_solver="covariance_eigh"),
    ]
)
def test_scikit_learn_conformance(estimator, check):
    check(estimator)


@pytest.mark.parametrize("solver", ["full", "covariance_eigh"])
@pytest.mark.parametrize("n_components", [10, 0.9, None])
def test_matches_scikit_learn(digits, solver, n_components):
    X, _ = digits
    ours = PCA(n_components, svd_solver=solver).fit(X)
    theirs = ScikitPCA(n_components, svd_solver=solver).fit(X)
    assert ours.n_components_ == theirs.n_components_
    # The same sign convention, so the components themselves agree, not just the subspace.
    # Only the leading components are compared: the trailing ones of the digits have nearly
    # equal variances, so their directions are ill-determined in any implementation.
    lead = min(20, ours.n_components_)
    np.testing.assert_allclose(ours.components_[:lead], theirs.components_[:lead], atol=1e-8)
    np.testing.assert_allclose(
        ours.explained_variance_, theirs.explained_variance_, rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose(
        ours.explained_variance_ratio_, theirs.explained_variance_ratio_, atol=1e-12
    )
    # Directions without variance have singular values at rounding level (the covariance
    # route takes square roots of eigenvalues near 1e-12), hence the absolute tolerance.
    np.testing.assert_allclose(ours.singular_values_, theirs.singular_values_, rtol=1e-9, atol=1e-5)
    np.testing.assert_allclose(ours.mean_, theirs.mean_)
    np.testing.assert_allclose(ours.noise_variance_, theirs.noise_variance_, rtol=1e-8)
    np.testing.assert_allclose(
        ours.transform(X)[:, :lead], theirs.transform(X)[:, :lead], atol=1e-8
    )


def test_randomized_finds_the_leading_subspace(digits):
    X, _ = digits
    exact = PCA(8, svd_solver="full").fit(X)
    approximate = PCA(8, svd_solver="randomized", random_state=0).fit(X)
    # Cosines of the principal angles between the two subspaces are all close to 1.
    cosines = np.linalg.svd(exact.components_ @ approximate.components_.T, compute_uv=False)
    assert cosines.min() > 0.999
    np.testing.assert_allclose(
        approximate.explained_variance_, exact.explained_variance_, rtol=1e-3
    )
    # Its variance ratios are shares of the *total* variance, as for the exact routes.
    np.testing.assert_allclose(
        approximate.explained_variance_ratio_, exact.explained_variance_ratio_, rtol=1e-3
    )
    again = PCA(8, svd_solver="randomized", random_state=0).fit(X)
    np.testing.assert_array_equal(again.components_, approximate.components_)


def test_signs_are_deterministic(digits):
    X, _ = digits
    pca = PCA(10).fit(X)
    largest = np.abs(pca.components_).argmax(axis=1)
    assert np.all(pca.components_[np.arange(10), largest] > 0)
    shuffled = PCA(10).fit(X[np.random.default_rng(0).permutation(len(X))])
    np.testing.assert_allclose(shuffled.components_, pca.components_, atol=1e-9)


def test_variance_fraction_keeps_the_fewest_components_above_it(digits):
    X, _ = digits
    pca = PCA(0.8).fit(X)
    ratios = PCA().fit(X).explained_variance_ratio_
    assert ratios[: pca.n_components_].sum() > 0.8
    assert ratios[: pca.n_components_ - 1].sum() <= 0.8


def test_inverse_transform_and_whitening(digits):
    X, _ = digits
    full = PCA().fit(X)
    np.testing.assert_allclose(full.inverse_transform(full.transform(X)), X, atol=1e-9)
    white = PCA(10, whiten=True).fit(X)
    projected = white.transform(X)
    np.testing.assert_allclose(projected.var(axis=0, ddof=1), 1.0, rtol=1e-9)
    unwhitened = PCA(10).fit(X)
    np.testing.assert_allclose(
        white.inverse_transform(projected),
        unwhitened.inverse_transform(unwhitened.transform(X)),
        atol=1e-9,
    )


def test_images_in_uint8_give_the_float_results(digits):
    X, _ = digits
    for solver in ("full", "covariance_eigh"):
        as_bytes = PCA(5, svd_solver=solver).fit(X.astype(np.uint8))
        as_floats = PCA(5, svd_solver=solver).fit(X)
        np.testing.assert_array_equal(as_bytes.components_, as_floats.components_)
        np.testing.assert_array_equal(
            as_bytes.transform(X.astype(np.uint8)), as_floats.transform(X)
        )


def test_auto_picks_the_measured_route():
    rng = np.random.default_rng(0)
    assert PCA(5).fit(rng.normal(size=(200, 10))).svd_solver_ == "covariance_eigh"  # tall
    assert PCA(5).fit(rng.normal(size=(90, 80))).svd_solver_ == "covariance_eigh"  # small
    assert PCA(5).fit(rng.normal(size=(30, 50))).svd_solver_ == "full"  # small and wide
    assert PCA(5).fit(rng.normal(size=(6000, 1001))).svd_solver_ == "randomized"  # 1001 columns
    squarish = rng.normal(size=(800, 700))  # 560,000 values, 1.1 rows per column
    assert PCA(5).fit(squarish).svd_solver_ == "randomized"
    assert PCA(0.5).fit(squarish).svd_solver_ == "covariance_eigh"  # a fraction needs them all
    assert PCA(0.5).fit(squarish.T).svd_solver_ == "full"  # wide


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_components": 65}, "between 1 and min"),
        ({"n_components": 0}, "between 1 and min"),
        ({"n_components": 1.5}, "strictly between 0 and 1"),
        ({"n_components": "mle"}, "strictly between 0 and 1"),
        ({"svd_solver": "arpack"}, "svd_solver must be one of"),
        ({"svd_solver": "randomized", "n_components": 0.5}, "needs an integer n_components"),
        ({"svd_solver": "randomized", "n_components": 2, "iterated_power": -1}, "iterated_power"),
    ],
)
def test_bad_parameters_say_what_to_do(digits, params, message):
    X, _ = digits
    with pytest.raises(ValueError, match=message):
        PCA(**params).fit(X)


def test_inverse_transform_checks_its_width(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="rows of 3 components"):
        PCA(3).fit(X).inverse_transform(np.zeros((2, 4)))


def test_pipeline_with_pca_survives_the_model_file(digits, tmp_path):
    X, y = digits
    model = make_pipeline(PCA(0.85, whiten=True), KNNClassifier(3)).fit(X[:1500], y[:1500])
    path = knnvision.save(model, tmp_path / "pca.knnv", metadata={"note": "pca"})
    loaded = knnvision.load(path)
    assert type(loaded[0]) is PCA and loaded[0].n_components_ == model[0].n_components_
    np.testing.assert_array_equal(loaded[0].components_, model[0].components_)
    np.testing.assert_array_equal(loaded.predict_proba(X[1500:]), model.predict_proba(X[1500:]))
    assert loaded.metadata_ == {"note": "pca"}
