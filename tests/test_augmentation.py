"""Training-set augmentation: shifted, rotated, scaled and mirrored copies."""

import numpy as np
import pytest

from knnvision import progress
from knnvision.transforms.augmentation import (
    augment_images,
    augmentation_factor,
    shift_images,
    shift_offsets,
    warp_images,
)


def random_images(n=3, height=7, width=9, seed=0):
    return np.random.default_rng(seed).integers(1, 256, (n, height, width)).astype(np.uint8)


@pytest.mark.parametrize("dy, dx", [(1, 0), (-2, 1), (0, -1), (2, 2), (0, 0)])
def test_a_shifted_copy_equals_the_original_moved(dy, dx):
    images = random_images()
    moved = shift_images(images, dy, dx)
    assert moved.dtype == np.uint8
    _, height, width = images.shape
    for y in range(height):
        for x in range(width):
            source_y, source_x = y - dy, x - dx
            inside = 0 <= source_y < height and 0 <= source_x < width
            expected = images[:, source_y, source_x] if inside else 0
            np.testing.assert_array_equal(moved[:, y, x], expected)


def test_shift_offsets():
    assert shift_offsets((1,), 4) == [(-1, 0), (1, 0), (0, -1), (0, 1)]
    eight = shift_offsets((1, 2), 8)
    assert len(eight) == len(set(eight)) == 16
    assert (2, -2) in eight and (1, 1) in eight


def test_augment_images_layout_dtype_and_labels():
    images = random_images(n=4)
    labels = np.array([3, 1, 4, 1])
    out, out_labels = augment_images(images, labels, shifts=(1,), directions=4, flip=True)
    factor = augmentation_factor(shifts=(1,), directions=4, flip=True)
    assert factor == 10 and out.shape == (40, 7, 9) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:4], images)
    np.testing.assert_array_equal(out_labels, np.tile(labels, 10))
    for block, (dy, dx) in enumerate(shift_offsets((1,), 4), start=1):
        np.testing.assert_array_equal(out[4 * block : 4 * block + 4], shift_images(images, dy, dx))
    mirrored = images[:, :, ::-1]
    np.testing.assert_array_equal(out[20:24], mirrored)
    np.testing.assert_array_equal(out[24:28], shift_images(mirrored, -1, 0))


def test_rows_in_rows_out():
    images = random_images(n=2, height=5, width=5)
    rows = augment_images(images.reshape(2, -1), shifts=(1,), directions=8)
    assert rows.shape == (18, 25)
    np.testing.assert_array_equal(rows.reshape(18, 5, 5), augment_images(images, shifts=(1,)))


def test_rotation_by_a_right_angle_is_exact():
    images = random_images(n=2, height=5, width=5)
    # Counter-clockwise as displayed, like numpy's rot90.
    np.testing.assert_array_equal(warp_images(images, angle=90), np.rot90(images, axes=(1, 2)))
    np.testing.assert_array_equal(warp_images(images), images)


def test_small_rotations_and_scalings_keep_the_ink_near_the_centre():
    image = np.zeros((1, 21, 21), dtype=np.uint8)
    image[0, 6:15, 9:12] = 255
    out = augment_images(image, shifts=(), rotations=(-10, 10), scales=(0.9, 1.1))
    assert out.shape == (5, 21, 21)
    totals = out.reshape(5, -1).sum(axis=1, dtype=np.int64)
    np.testing.assert_allclose(totals[1:3], totals[0], rtol=0.05)  # rotation keeps area
    assert totals[3] < totals[0] < totals[4]  # shrinking loses ink, growing adds it


@pytest.mark.parametrize(
    "options, message",
    [
        ({"directions": 5}, "directions must be 4 or 8"),
        ({"shifts": (0,)}, "positive whole pixel distances"),
        ({"shifts": 1}, "sequence of pixel distances"),
        ({"scales": (0.0,)}, "scales must hold finite positive numbers"),
        ({"rotations": (float("nan"),)}, "rotations must hold finite numbers"),
        ({"flip": "yes"}, "flip must be True or False"),
    ],
)
def test_bad_options_are_clear_errors(options, message):
    with pytest.raises(ValueError, match=message):
        augment_images(random_images(), **options)


def test_augmentation_reports_progress(progress_recorder):
    with progress.reporting(progress_recorder):
        augment_images(random_images(), shifts=(1, 2), directions=4)
    assert ("augmenting images", 9) in progress_recorder.started
    assert progress_recorder.advanced >= 9
