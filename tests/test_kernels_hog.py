"""The compiled gradient histograms against their NumPy twin, and the transformer on them."""

import numpy as np
import pytest

from knnvision.search import thread_limit
from knnvision.search.kernels.hog import gradient_histograms, gradient_histograms_numpy
from knnvision.transforms.preprocessing import GradientHistograms


def sample_images(n=40, shape=(13, 11), seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (n, *shape))
    images[:, :3] = 0  # flat rows: zero gradients, whose angle is 0
    images[1] = 0  # a blank image: every block norm is 0
    images[2, :, 5:] = 255  # a vertical edge: angles exactly on a bin boundary
    return images


@pytest.mark.parametrize(
    "cell, n_bins, block, signed",
    [(4, 9, 2, False), (2, 18, 2, True), (3, 6, 1, False), (5, 7, 3, True), (13, 4, 2, False)],
)
def test_gradient_histograms_equal_their_twin(cell, n_bins, block, signed):
    images = sample_images()
    expected = gradient_histograms_numpy(images, cell, n_bins, block, signed)
    compiled = np.empty_like(expected)
    gradient_histograms(images, cell, n_bins, block, signed, compiled)
    np.testing.assert_allclose(compiled, expected, rtol=1e-12, atol=1e-14)
    assert np.all(compiled[1] == 0)


def test_gradient_histograms_write_float32_rows_and_any_thread_count_agrees():
    images = sample_images(n=64)
    expected = gradient_histograms_numpy(images, 2, 18, 2, True)
    one, three = np.empty(expected.shape, np.float32), np.empty(expected.shape, np.float32)
    gradient_histograms(images, 2, 18, 2, True, one, n_threads=1)
    gradient_histograms(images, 2, 18, 2, True, three, n_threads=3)
    np.testing.assert_array_equal(one, three)
    np.testing.assert_allclose(one, expected, rtol=1e-6, atol=1e-7)


def test_gradient_histograms_reject_inconsistent_shapes():
    images = sample_images(n=3)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        gradient_histograms(images, 4, 9, 2, False, np.empty((3, 10)))
    with pytest.raises(ValueError, match="sizes must be"):
        gradient_histograms(images, 0, 9, 2, False, np.empty((3, 10)))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_the_transformer_gives_the_twins_features_in_its_dtype(dtype):
    images = sample_images(n=20, shape=(28, 28)).astype(dtype)
    hog = GradientHistograms(cell_size=2, n_orientations=18, signed=True)
    features = hog.fit_transform(images.reshape(20, -1))
    assert features.dtype == (np.float64 if dtype == np.float64 else np.float32)
    expected = gradient_histograms_numpy(images.astype(np.float64), 2, 18, 2, True)
    np.testing.assert_allclose(features, expected, rtol=1e-6, atol=1e-7)


def test_the_transformer_gives_the_same_features_on_one_thread_and_on_three():
    images = sample_images(n=9000, shape=(8, 8), seed=3).reshape(9000, -1)  # three chunks
    hog = GradientHistograms(cell_size=2).fit(images)
    with thread_limit(1):
        single = hog.transform(images)
    with thread_limit(3):
        threaded = hog.transform(images)
    np.testing.assert_array_equal(single, threaded)
