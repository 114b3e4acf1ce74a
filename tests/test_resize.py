"""Upsample: images enlarged by spline interpolation; pipelines and scikit-learn checks."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from knnvision import load, save
from knnvision.neighbors.rerank import RerankKNNClassifier
from knnvision.transforms import Upsample


@parametrize_with_checks([Upsample()])
def test_scikit_learn_conformance(estimator, check):
    check(estimator)


def test_enlarges_rows_and_names_the_new_pixels():
    X = np.random.default_rng(0).random((5, 12))
    upsample = Upsample(factor=3, image_shape=(3, 4)).fit(X)
    out = upsample.transform(X)
    assert out.shape == (5, 9 * 12) and out.dtype == np.float64
    assert upsample.output_shape_ == (9, 12) and upsample.n_features_out_ == 108
    assert list(upsample.get_feature_names_out()[:2]) == ["upsample0", "upsample1"]
    images = np.random.default_rng(1).random((2, 4, 4))  # (n, h, w) input gives rows too
    assert Upsample().fit_transform(images).shape == (2, 64)


def test_order_0_repeats_each_pixel_and_factor_1_changes_nothing():
    image = np.arange(6, dtype=np.float64).reshape(1, 6)
    repeated = Upsample(factor=2, order=0, image_shape=(2, 3)).fit_transform(image)
    expected = np.kron(image.reshape(2, 3), np.ones((2, 2))).reshape(1, -1)
    np.testing.assert_array_equal(repeated, expected)
    np.testing.assert_array_equal(Upsample(factor=1).fit_transform(image.reshape(1, 6)), image)


def test_a_stroke_keeps_its_place_and_mass_roughly():
    image = np.zeros((8, 8))
    image[1:7, 3] = 16.0  # a vertical bar in column 3
    for order in (1, 3):
        out = Upsample(order=order).fit_transform(image.reshape(1, -1)).reshape(16, 16)
        columns = out.sum(axis=0)
        assert set(np.argsort(columns)[-2:]) == {6, 7}  # original column 3 -> 6 and 7
        assert out.sum() == pytest.approx(4 * image.sum(), rel=0.1)


def test_each_image_is_enlarged_on_its_own():
    X = load_digits().data[:20]
    together = Upsample().fit_transform(X)
    alone = np.vstack([Upsample().fit_transform(row[None]) for row in X])
    np.testing.assert_array_equal(together, alone)


def test_uint8_stays_uint8_clipped_and_rounded():
    X = (load_digits().data[:10] * 15).astype(np.uint8)
    out = Upsample().fit_transform(X)
    reference = Upsample().fit_transform(X.astype(np.float64))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.clip(np.rint(reference), 0, 255))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"factor": 0}, "factor must be an integer >= 1"),
        ({"factor": 1.5}, "factor must be an integer >= 1"),
        ({"order": 6}, "order must be a spline order from 0 to 5"),
        ({"order": -1}, "order must be an integer >= 0"),
    ],
)
def test_bad_parameters_are_one_clear_line(params, message):
    with pytest.raises(ValueError, match=message):
        Upsample(**params).fit(np.zeros((2, 4)))


def test_numpy_scalars_are_accepted():
    out = Upsample(factor=np.int64(2), order=np.int32(1)).fit_transform(np.ones((1, 4)))
    assert out.shape == (1, 16)


def test_a_pipeline_with_upsample_saves_and_loads(tmp_path):
    digits = load_digits()
    model = make_pipeline(Upsample(), RerankKNNClassifier(1, n_candidates=5, warp=1))
    model.fit(digits.data[:200], digits.target[:200])
    save(model, tmp_path / "model.knnv")
    loaded = load(tmp_path / "model.knnv")
    np.testing.assert_array_equal(
        loaded.predict(digits.data[200:240]), model.predict(digits.data[200:240])
    )
