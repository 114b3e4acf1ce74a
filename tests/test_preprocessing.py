"""Image preprocessing transformers: behaviour on small images, and scikit-learn's checks."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from knnvision import KNNClassifier
from knnvision.search import thread_limit
from knnvision.search.kernels.hog import cell_histograms_numpy
from knnvision.transforms import preprocessing
from knnvision.transforms.preprocessing import (
    CenterOfMass,
    Deskew,
    GaussianBlur,
    GradientHistograms,
    IntensityNormalizer,
    _shift_each_image,
    image_moments,
    resolve_image_shape,
    sample_bilinear,
)


@parametrize_with_checks(
    [
        Deskew(),
        GaussianBlur(),
        IntensityNormalizer(),
        CenterOfMass(),
        GradientHistograms(cell_size=2),
    ]
)
def test_scikit_learn_conformance(estimator, check):
    check(estimator)


def upright_bar(height=20, width=20) -> np.ndarray:
    """A float image of a vertical stroke, like a handwritten 1."""
    image = np.zeros((height, width))
    image[3:17, 9:11] = 200.0
    return image


def sheared(image: np.ndarray, slant: float) -> np.ndarray:
    """Shift row ``y`` by ``slant * (y - centre)`` whole columns (a slanted copy)."""
    out = np.zeros_like(image)
    centre = (image.shape[0] - 1) / 2
    for y, row in enumerate(image):
        out[y] = np.roll(row, round(slant * (y - centre)))
    return out


def row_centroids(image: np.ndarray) -> np.ndarray:
    inked = image.sum(axis=1) > 0
    cols = np.arange(image.shape[1])
    return (image[inked] @ cols) / image[inked].sum(axis=1)


# --- deskew --------------------------------------------------------------------------------


def test_deskew_straightens_a_sheared_stroke():
    slanted = sheared(upright_bar(), slant=-0.5)
    assert np.ptp(row_centroids(slanted)) > 5  # visibly slanted

    straightened = Deskew().fit_transform(slanted[None]).reshape(20, 20)

    moments = image_moments(straightened[None])
    assert abs(moments["mu11"][0]) < 1e-9 * moments["mu02"][0]
    assert np.ptp(row_centroids(straightened)) < 0.6
    assert np.isclose(straightened.sum(), slanted.sum())  # no ink lost


def test_deskew_leaves_upright_and_empty_images_alone():
    images = np.stack([upright_bar(), np.zeros((20, 20))])
    np.testing.assert_allclose(Deskew().fit_transform(images), images.reshape(2, -1), atol=1e-9)


def test_max_slant_limits_the_correction():
    slanted = sheared(upright_bar(), slant=-0.5)[None]
    limited = Deskew(max_slant=0.1).fit_transform(slanted).reshape(20, 20)
    assert np.ptp(row_centroids(limited)) > 3


# --- blur ----------------------------------------------------------------------------------


def test_blur_preserves_total_intensity_away_from_borders():
    rng = np.random.default_rng(0)
    image = np.zeros((24, 24))
    image[8:16, 8:16] = rng.uniform(0, 255, (8, 8))
    blurred = GaussianBlur(sigma=1.0).fit_transform(image[None]).reshape(24, 24)
    assert np.isclose(blurred.sum(), image.sum(), rtol=1e-12)
    assert blurred.max() < image.max()


def test_blur_of_a_dot_is_its_kernel():
    image = np.zeros((1, 11, 11))
    image[0, 5, 5] = 1.0
    blur = GaussianBlur(sigma=1.0).fit(image)
    kernel = blur.kernel()
    np.testing.assert_allclose(
        blur.transform(image).reshape(11, 11)[2:9, 2:9], np.outer(kernel, kernel)
    )


def test_blur_with_sigma_zero_is_the_identity():
    images = np.random.default_rng(1).integers(0, 256, (3, 6, 6)).astype(np.uint8)
    np.testing.assert_array_equal(
        GaussianBlur(sigma=0).fit_transform(images), images.reshape(3, -1)
    )


# --- dtypes and shapes ---------------------------------------------------------------------


@pytest.mark.parametrize("transformer", [Deskew(), GaussianBlur(), CenterOfMass()])
def test_pixel_transformers_keep_uint8(transformer):
    images = np.random.default_rng(2).integers(0, 256, (4, 8 * 8)).astype(np.uint8)
    out = transformer.fit_transform(images)
    assert out.dtype == np.uint8 and out.shape == images.shape


@pytest.mark.parametrize("transformer", [IntensityNormalizer(), GradientHistograms(cell_size=2)])
def test_feature_transformers_give_float32_for_uint8(transformer):
    images = np.random.default_rng(3).integers(0, 256, (4, 8 * 8)).astype(np.uint8)
    assert transformer.fit_transform(images).dtype == np.float32


def test_rows_and_image_stacks_give_the_same_result():
    images = np.random.default_rng(4).uniform(0, 1, (5, 6, 10))
    from_stack = GaussianBlur().fit_transform(images)
    from_rows = GaussianBlur(image_shape=(6, 10)).fit_transform(images.reshape(5, -1))
    np.testing.assert_array_equal(from_stack, from_rows)


@pytest.mark.parametrize(
    "transformer", [Deskew(), GaussianBlur(sigma=1.0), GradientHistograms(cell_size=2)]
)
def test_chunks_shared_by_threads_give_the_one_thread_result(transformer, monkeypatch):
    monkeypatch.setattr(preprocessing, "CHUNK_IMAGES", 7)  # 50 images: 8 chunks
    images = np.random.default_rng(5).integers(0, 256, (50, 64)).astype(np.uint8)
    transformer.fit(images)
    with thread_limit(1):
        one = transformer.transform(images)
    with thread_limit(3):
        three = transformer.transform(images)
    np.testing.assert_array_equal(three, one)
    with thread_limit(3):  # a single chunk runs without a pool, the same way
        np.testing.assert_array_equal(transformer.transform(images[:5]), one[:5])


def test_wrong_image_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="holds 30 pixels but the rows have 64"):
        Deskew(image_shape=(5, 6)).fit(np.zeros((2, 64)))
    fitted = Deskew().fit(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="fitted on"):
        fitted.transform(np.zeros((2, 2, 8)))
    with pytest.raises(ValueError, match="image_shape must be two positive integers"):
        resolve_image_shape(64, (8, -8))


def test_shape_inference():
    assert resolve_image_shape(784) == (28, 28)
    assert resolve_image_shape(10) == (1, 10)


# --- normalisation and centring -------------------------------------------------------------


def test_intensity_normalizer_methods():
    rng = np.random.default_rng(5)
    images = rng.uniform(10, 50, (3, 16))
    images[2] = 7.0  # a constant image
    minmax = IntensityNormalizer("minmax").fit_transform(images)
    np.testing.assert_allclose(minmax[:2].min(axis=1), 0)
    np.testing.assert_allclose(minmax[:2].max(axis=1), 1)
    l2 = IntensityNormalizer("l2").fit_transform(images)
    np.testing.assert_allclose(np.linalg.norm(l2, axis=1), 1)
    standard = IntensityNormalizer("standard").fit_transform(images)
    np.testing.assert_allclose(standard[:2].mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(standard[:2].std(axis=1), 1)
    assert not minmax[2].any() and not standard[2].any()
    with pytest.raises(ValueError, match="method must be one of"):
        IntensityNormalizer("max").fit(images)


def test_center_of_mass_moves_ink_to_the_centre_without_changing_it():
    image = np.zeros((1, 15, 15), dtype=np.uint8)
    image[0, 1:4, 2:5] = 255
    centred = CenterOfMass().fit_transform(image).reshape(1, 15, 15)
    moments = image_moments(centred)
    assert abs(moments["cy"][0] - 7) <= 0.5 and abs(moments["cx"][0] - 7) <= 0.5
    assert centred.sum() == image.sum() and set(np.unique(centred)) == {0, 255}


# --- gradient histograms ----------------------------------------------------------------------


def naive_cell_histograms(image, cell, n_bins):
    """Loop-by-loop reference of the unnormalised cell histograms (unsigned orientations)."""
    padded = np.pad(image, 1)
    height, width = image.shape
    cells = np.zeros((-(-height // cell), -(-width // cell), n_bins))
    for y in range(height):
        for x in range(width):
            gy = (padded[y + 2, x + 1] - padded[y, x + 1]) / 2
            gx = (padded[y + 1, x + 2] - padded[y + 1, x]) / 2
            position = (np.arctan2(gy, gx) % np.pi) / np.pi * n_bins - 0.5
            low = int(np.floor(position))
            share = position - low
            cells[y // cell, x // cell, low % n_bins] += np.hypot(gy, gx) * (1 - share)
            cells[y // cell, x // cell, (low + 1) % n_bins] += np.hypot(gy, gx) * share
    return cells


def test_cell_histograms_match_a_loop_reference():
    image = np.random.default_rng(6).uniform(0, 1, (9, 7))
    np.testing.assert_allclose(
        cell_histograms_numpy(image[None], 3, 6, signed=False)[0],
        naive_cell_histograms(image, 3, 6),
    )


def test_a_horizontal_edge_votes_for_the_vertical_gradient_bin():
    image = np.zeros((1, 12, 12))
    image[0, 6:, :] = 1.0  # dark above, light below: the gradient points down (90 degrees)
    hog = GradientHistograms(cell_size=4, n_orientations=9, block_size=1).fit(image)
    features = hog.transform(image)
    assert features.shape == (1, hog.n_features_out_) == (1, 3 * 3 * 9)
    middle_cell = features.reshape(3, 3, 9)[1, 1]  # away from the zero-padded border
    assert middle_cell[4] > 0
    assert np.allclose(np.delete(middle_cell, 4), 0)


def test_transformers_work_in_a_pipeline_before_the_classifier():
    rng = np.random.default_rng(7)
    X = rng.integers(0, 256, (60, 64)).astype(np.uint8)
    y = np.arange(60) % 3
    model = make_pipeline(Deskew(), GaussianBlur(0.5), KNNClassifier(1)).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), y)


# --- the scipy blur and the whole-pixel centring against the NumPy code they replaced -------


def previous_blur(images: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The blur as it was written before scipy: per axis, zero-pad by the kernel's radius and
    add one weighted, shifted copy of the images per kernel tap (float64 throughout)."""
    radius = len(kernel) // 2
    out = images.astype(np.float64)
    for axis in (1, 2):
        size = out.shape[axis]
        widths = [(0, 0)] * 3
        widths[axis] = (radius, radius)
        padded = np.pad(out, widths)
        summed = np.zeros_like(out)
        for tap, weight in enumerate(kernel):
            summed += weight * padded.take(range(tap, tap + size), axis=axis)
        out = summed
    return out


def previous_centre_of_mass(images: np.ndarray) -> np.ndarray:
    """Centring as it was before: bilinear sampling at the whole-pixel shifted positions."""
    _, height, width = images.shape
    moments = image_moments(images)
    dy = np.rint((height - 1) / 2 - moments["cy"])
    dx = np.rint((width - 1) / 2 - moments["cx"])
    rows = np.arange(height)[None, :, None] - dy[:, None, None]
    cols = np.arange(width)[None, None, :] - dx[:, None, None]
    return sample_bilinear(images.astype(np.float64), rows, cols)


def in_dtype(values: np.ndarray, dtype) -> np.ndarray:
    """What the pixel transformers return for input of ``dtype``: uint8 rounded and clipped."""
    if dtype == np.uint8:
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return values.astype(dtype)


def strokes(n: int = 40, size: int = 28, seed: int = 8) -> np.ndarray:
    """uint8 digit-like images: a few bright rectangles each, some touching the border."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, size, size), dtype=np.uint8)
    for image in images:
        for _ in range(3):
            top, left = rng.integers(0, size - 2, 2)
            tall, wide = rng.integers(2, size // 2, 2)
            image[top : top + tall, left : left + wide] = rng.integers(60, 256)
    images[0, :, :3] = 255  # ink on the left border
    images[1, -2:, :] = 200  # and on the bottom one
    images[2] = 0  # empty
    images[3] = 97  # constant
    return images


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0, 0.0, 1e-3, 20.0])
def test_blur_of_uint8_images_is_bit_identical_to_the_previous_numpy_convolution(sigma):
    images = strokes()
    blur = GaussianBlur(sigma=sigma).fit(images)
    expected = in_dtype(previous_blur(images, blur.kernel()), np.uint8)
    np.testing.assert_array_equal(blur.transform(images), expected.reshape(len(images), -1))


@pytest.mark.parametrize("sigma", [0.5, 1.0])
def test_blur_of_float_images_matches_the_previous_convolution(sigma):
    pixels = strokes(size=12) / 255.0
    kernel = GaussianBlur(sigma=sigma).kernel()
    previous = previous_blur(pixels, kernel).reshape(len(pixels), -1)
    pixels32 = pixels.astype(np.float32)
    as_float32 = GaussianBlur(sigma=sigma).fit_transform(pixels32)
    assert as_float32.dtype == np.float32
    expected32 = previous_blur(pixels32, kernel).astype(np.float32).reshape(len(pixels), -1)
    np.testing.assert_array_equal(as_float32, expected32)
    # float64 keeps the last bits of a different summation order: a few units at most.
    as_float64 = GaussianBlur(sigma=sigma).fit_transform(pixels)
    assert as_float64.dtype == np.float64
    np.testing.assert_array_max_ulp(as_float64, previous, maxulp=8)


def test_float64_blur_is_within_a_few_units_in_the_last_place_of_exact_arithmetic():
    from fractions import Fraction

    image = np.random.default_rng(9).uniform(0, 1, (1, 6, 7))
    blur = GaussianBlur(sigma=1.0).fit(image)
    weights = [Fraction(w) for w in blur.kernel()]
    radius = len(weights) // 2

    def correlate_each_row(matrix):  # exact rationals, zeros outside the row
        return [
            [
                sum(
                    weights[t + radius] * row[x + t]
                    for t in range(-radius, radius + 1)
                    if 0 <= x + t < len(row)
                )
                for x in range(len(row))
            ]
            for row in matrix
        ]

    def transposed(matrix):
        return [list(column) for column in zip(*matrix, strict=True)]

    exact = [[Fraction(v) for v in row] for row in image[0]]
    exact = transposed(correlate_each_row(transposed(correlate_each_row(exact))))
    exact = np.array([[float(v) for v in row] for row in exact])
    np.testing.assert_array_max_ulp(blur.transform(image).reshape(6, 7), exact, maxulp=4)


def test_blur_of_a_single_constant_image_keeps_its_interior_and_dims_its_border():
    image = np.full((1, 9, 9), 180, dtype=np.uint8)
    blurred = GaussianBlur(sigma=1.0).fit_transform(image).reshape(9, 9)
    assert np.all(blurred[3:6, 3:6] == 180)  # the kernel (radius 3) stays inside here
    assert blurred[0, 0] < blurred[0, 4] < 180  # zeros outside pull the border down
    previous = in_dtype(previous_blur(image, GaussianBlur(sigma=1.0).kernel()), np.uint8)
    np.testing.assert_array_equal(blurred, previous[0])


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_centre_of_mass_is_identical_to_the_previous_bilinear_centring(dtype):
    images = strokes(n=60, seed=10).astype(dtype)
    if dtype != np.uint8:
        images[4:8] -= 40.0  # negative pixels: they count as no mass but are moved all the same
    expected = in_dtype(previous_centre_of_mass(images), dtype).reshape(len(images), -1)
    np.testing.assert_array_equal(CenterOfMass().fit_transform(images), expected)


def test_centre_of_mass_moves_a_single_corner_image_far_and_leaves_empty_ones():
    corner = np.zeros((2, 40, 30), dtype=np.uint8)
    corner[0, :3, -2:] = 255  # centroid (1, 28.5), centre (19.5, 14.5)
    centred = CenterOfMass().fit_transform(corner).reshape(2, 40, 30)
    expected = np.zeros((40, 30), dtype=np.uint8)
    expected[18:21, 14:16] = 255  # 18.5 rows rounds to even (18) down, 14 columns left
    np.testing.assert_array_equal(centred[0], expected)
    np.testing.assert_array_equal(centred[1], 0)
    for single in corner:
        previous = in_dtype(previous_centre_of_mass(single[None]), np.uint8)
        centred_alone = CenterOfMass().fit_transform(single[None])
        np.testing.assert_array_equal(centred_alone, previous.reshape(1, -1))


def test_shift_each_image_matches_a_roll_with_zero_fill_even_beyond_the_frame():
    rng = np.random.default_rng(11)
    images = rng.integers(1, 256, (30, 5, 7)).astype(np.uint8)
    dy, dx = rng.integers(-6, 7, 30), rng.integers(-8, 9, 30)
    moved = _shift_each_image(images, dy, dx)
    for image, down, right, result in zip(images, dy, dx, moved, strict=True):
        expected = np.zeros_like(image)
        for y in range(5):
            for x in range(7):
                if 0 <= y - down < 5 and 0 <= x - right < 7:
                    expected[y, x] = image[y - down, x - right]
        np.testing.assert_array_equal(result, expected)
