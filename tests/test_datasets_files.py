"""load_dataset on names and paths: digits, image folders, npz files, and the Dataset itself."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits as sklearn_digits

from knnvision.datasets import Dataset, load_dataset, load_image_folder, load_npz, read_image

# --------------------------------------------------------------------- digits and names


def test_digits_keep_raw_values():
    ds = load_dataset("digits")
    reference = sklearn_digits()
    assert ds.name == "digits"
    assert ds.images.shape == (1797, 8, 8) and ds.images.dtype == np.uint8
    np.testing.assert_array_equal(ds.images, reference.images)
    np.testing.assert_array_equal(ds.labels, reference.target)
    assert ds.labels.dtype == np.int64
    assert ds.max_value == 16 and ds.images.max() == 16
    assert ds.class_names == tuple(str(d) for d in range(10))
    assert ds.test_images is None and ds.test_labels is None
    assert ds.flat().shape == (1797, 64)


def test_names_ignore_case_and_underscores():
    assert load_dataset(" Digits ").name == "digits"


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar'.*digits, mnist, fashion-mnist"):
        load_dataset("cifar")


def test_missing_path_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such file or folder"):
        load_dataset(tmp_path / "absent.npz")


def test_unsupported_file_is_refused(tmp_path):
    (tmp_path / "data.csv").write_text("1,2\n")
    with pytest.raises(ValueError, match=r"cannot load .*data.csv"):
        load_dataset(str(tmp_path / "data.csv"))


# --------------------------------------------------------------------- Dataset


def test_dataset_validates_its_arrays():
    images = np.zeros((3, 4, 4), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"must be a uint8 array"):
        Dataset("x", images.astype(np.float32), np.zeros(3, dtype=int), ("a",))
    with pytest.raises(ValueError, match=r"must be in 0..1"):
        Dataset("x", images, np.array([0, 1, 2]), ("a", "b"))
    with pytest.raises(ValueError, match=r"must be 3 integers"):
        Dataset("x", images, np.zeros(2, dtype=int), ("a",))
    with pytest.raises(ValueError, match=r"above max_value=16"):
        Dataset("x", images + 17, np.zeros(3, dtype=int), ("a",), max_value=16)
    with pytest.raises(ValueError, match=r"both test_images and test_labels"):
        Dataset("x", images, np.zeros(3, dtype=int), ("a",), test_images=images)
    ds = Dataset("x", images, np.zeros(3, dtype=np.uint8), ["a"])
    assert ds.labels.dtype == np.int64 and ds.class_names == ("a",) and ds.n_classes == 1
    assert ds.image_shape == (4, 4)
    with pytest.raises(ValueError, match=r"no official test part"):
        ds.flat("test")
    assert "images=(3, 4, 4) uint8" in repr(ds)


# --------------------------------------------------------------------- image folders


def _save(path, array, mode=None, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array), mode).save(path, **kwargs)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "pets"
    _save(root / "dog" / "a.png", np.full((30, 40), 255, np.uint8))
    _save(root / "dog" / "deeper" / "b.png", np.zeros((10, 10), np.uint8))
    _save(root / "cat" / "c.jpg", np.full((20, 20, 3), 128, np.uint8), quality=95)
    _save(root / "cat" / "d.png", np.full((8, 8, 3), (255, 0, 0), np.uint8))
    (root / "cat" / ".DS_Store").write_bytes(b"\x00junk")
    (root / ".hidden").mkdir()
    (root / "README.txt").write_text("loose files at the root are ignored")
    return root


def test_image_folder(folder):
    ds = load_dataset(str(folder), image_size=(6, 5))
    assert ds.name == "pets"
    assert ds.class_names == ("cat", "dog")
    assert ds.images.shape == (4, 6, 5) and ds.images.dtype == np.uint8
    np.testing.assert_array_equal(ds.labels, [0, 0, 1, 1])
    assert abs(int(ds.images[0].mean()) - 128) <= 2  # JPEG gray
    assert np.all(ds.images[1] == 76)  # pure red in ITU-R 601-2 luma
    assert np.all(ds.images[2] == 255) and np.all(ds.images[3] == 0)
    assert ds.max_value == 255 and ds.test_images is None


def test_colour_images_lost_to_grayscale_are_noted(folder, tmp_path):
    ds = load_dataset(folder)
    # The red square is colour; the JPEG of a gray (stored as RGB) and the gray PNGs are not.
    assert ds.note == "1 colour image converted to grayscale; pass --color to keep RGB"
    assert ds.source == str(folder.resolve())
    _save(tmp_path / "grays" / "a" / "x.png", np.full((5, 5, 3), 90, np.uint8))
    _save(tmp_path / "grays" / "b" / "y.png", np.full((5, 5), 7, np.uint8))
    assert load_dataset(tmp_path / "grays").note is None


def test_colour_note_counts_every_colour_image(tmp_path):
    for i, colour in enumerate([(255, 0, 0), (0, 255, 0), (10, 20, 200)]):
        _save(tmp_path / "rgb" / "c" / f"{i}.png", np.full((4, 4, 3), colour, np.uint8))
    assert load_dataset(tmp_path / "rgb").note.startswith("3 colour images converted")


def test_color_keeps_rgb_through_the_dataset(folder):
    ds = load_dataset(folder, image_size=(6, 5), color=True)
    assert ds.images.shape == (4, 6, 5, 3) and ds.color and ds.image_shape == (6, 5, 3)
    assert ds.note is None
    assert ds.flat().shape == (4, 6 * 5 * 3)
    np.testing.assert_array_equal(ds.images[1], np.broadcast_to([255, 0, 0], (6, 5, 3)))
    # Gray files have the same value in all three channels.
    assert np.all(ds.images[2] == 255) and np.all(ds.images[3] == 0)
    image = read_image(folder / "cat" / "d.png", (3, 3), color=True)
    assert image.shape == (3, 3, 3) and np.all(image[..., 0] == 255)
    assert not load_dataset(folder).color


def test_color_is_refused_for_grayscale_datasets(tmp_path):
    with pytest.raises(ValueError, match=r"--color keeps the colours of an image folder"):
        load_dataset("digits", color=True)
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((2, 3, 3), np.uint8), y=[0, 1])
    with pytest.raises(ValueError, match=r"drop --color"):
        load_dataset(path, color=True)
    assert load_dataset(path).source == str(path.resolve())


def test_dataset_takes_rgb_images_only_with_three_channels():
    rgb = np.zeros((2, 3, 3, 3), np.uint8)
    assert Dataset("x", rgb, np.array([0, 1]), ("a", "b")).color
    with pytest.raises(ValueError, match=r"\(n, height, width, 3\) for colour"):
        Dataset("x", np.zeros((2, 3, 3, 4), np.uint8), np.array([0, 1]), ("a", "b"))


def test_image_folder_default_size_and_int_size(folder):
    assert load_dataset(folder).images.shape == (4, 28, 28)
    assert load_image_folder(folder, image_size=3).images.shape == (4, 3, 3)
    with pytest.raises(ValueError, match=r"image_size must be"):
        load_image_folder(folder, image_size=(0, 3))


def test_read_image_alone(folder):
    image = read_image(str(folder / "dog" / "a.png"), (3, 4))
    assert image.shape == (3, 4) and image.dtype == np.uint8 and np.all(image == 255)
    with pytest.raises(ValueError, match=r"a.png is 40x30 pixels"):
        read_image(folder / "dog" / "a.png", 28, max_pixels=100)


def test_transparency_goes_over_white_and_16_bit_is_scaled(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    _save(tmp_path / "f" / "a" / "clear.png", rgba, "RGBA")
    deep = Image.new("I;16", (4, 4), 32896)  # 16-bit mid gray: 128 * 257
    deep.save(tmp_path / "f" / "a" / "deep.png")
    ds = load_image_folder(tmp_path / "f", image_size=4)
    assert np.all(ds.images[0] == 255)
    assert np.all(ds.images[1] == 128)


def test_non_image_file_is_named(folder):
    (folder / "dog" / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match=r"notes.txt is not a supported image"):
        load_dataset(folder)


def test_damaged_image_is_named(folder):
    data = (folder / "dog" / "a.png").read_bytes()
    (folder / "dog" / "a.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"a.png could not be decoded"):
        load_dataset(folder)


def test_unsupported_format_is_refused(tmp_path):
    _save(tmp_path / "f" / "a" / "x.tiff", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"x.tiff is not a supported image \(PNG, JPEG"):
        load_image_folder(tmp_path / "f")


def test_oversize_image_is_refused(folder):
    with pytest.raises(ValueError, match=r"a.png is 40x30 pixels, more than the limit of 1000"):
        load_image_folder(folder, max_pixels=1000)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header announces width x height pixels but holds almost no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(9)))


@pytest.mark.parametrize(
    "side, message",
    [
        (6000, r"bomb.png is 6000x6000 pixels, more than the limit of 1000000"),
        (30000, r"bomb.png is refused as a decompression bomb"),  # beyond Pillow's own limit
    ],
)
def test_pixel_limit_is_checked_before_decoding(tmp_path, side, message):
    (tmp_path / "f" / "a").mkdir(parents=True)
    (tmp_path / "f" / "a" / "bomb.png").write_bytes(_png_header_only(side, side))
    with pytest.raises(ValueError, match=message):
        load_image_folder(tmp_path / "f", max_pixels=1_000_000)


def test_default_pixel_limit(tmp_path):
    (tmp_path / "f" / "a").mkdir(parents=True)
    (tmp_path / "f" / "a" / "big.png").write_bytes(_png_header_only(7000, 7000))
    with pytest.raises(ValueError, match=r"big.png is 7000x7000 pixels, more than the limit"):
        load_dataset(tmp_path / "f")


@pytest.mark.parametrize("pillow_limit", [1000, 500])  # a.png has 1200 pixels: warning, error
def test_pillow_decompression_bomb_is_a_value_error(folder, monkeypatch, pillow_limit):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)
    with pytest.raises(ValueError, match=r"a.png is refused as a decompression bomb"):
        load_image_folder(folder, max_pixels=10**9)


def test_empty_and_flat_folders_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty is empty; put the images of each class"):
        load_dataset(tmp_path / "empty")
    _save(tmp_path / "flat" / "a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"holds files but no class sub-folders"):
        load_dataset(tmp_path / "flat")
    (tmp_path / "flat" / "cls").mkdir()
    with pytest.raises(ValueError, match=r"class folder .*cls holds no image files"):
        load_dataset(tmp_path / "flat")


# --------------------------------------------------------------------- npz files


def test_npz_with_integer_labels(tmp_path):
    X = np.arange(4 * 9).reshape(4, 3, 3).astype(np.int64)
    np.savez(tmp_path / "small.npz", X=X, y=np.array([10, 2, 10, 7]))
    ds = load_dataset(tmp_path / "small.npz")
    assert ds.name == "small"
    assert ds.images.dtype == np.uint8
    np.testing.assert_array_equal(ds.images, X)
    assert ds.class_names == ("2", "7", "10")  # sorted as numbers
    np.testing.assert_array_equal(ds.labels, [2, 0, 2, 1])


def test_npz_with_string_labels_flat_rows_and_float_pixels(tmp_path):
    X = np.tile(np.arange(16, dtype=np.float32), (3, 1)) * 10
    np.savez_compressed(tmp_path / "s.npz", X=X, y=np.array(["dog", "cat", "dog"]))
    ds = load_npz(tmp_path / "s.npz")
    assert ds.images.shape == (3, 4, 4)
    assert ds.images[0, 3, 3] == 150
    assert ds.class_names == ("cat", "dog")
    np.testing.assert_array_equal(ds.labels, [1, 0, 1])


def test_npz_with_test_part_and_class_names(tmp_path):
    X = np.zeros((2, 2, 2), np.uint8)
    np.savez(tmp_path / "t.npz", X=X, y=[1, 0], X_test=X[:1], y_test=[1], class_names=["a", "b"])
    ds = load_npz(tmp_path / "t.npz")
    assert ds.class_names == ("a", "b")
    np.testing.assert_array_equal(ds.test_labels, [1])
    np.savez(tmp_path / "u.npz", X=X, y=["x", "y"], X_test=X[:1], y_test=["z"])
    ds = load_npz(tmp_path / "u.npz")
    assert ds.class_names == ("x", "y", "z")
    np.testing.assert_array_equal(ds.test_labels, [2])


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"y": [0]}, r"has no array 'X' \(it holds \['y'\]\)"),
        ({"X": np.zeros((1, 2, 2))}, r"has no array 'y'"),
        ({"X": np.zeros((2, 10)), "y": [0, 1]}, r"10 values per row, not a perfect square"),
        ({"X": np.zeros((2, 2, 2, 3)), "y": [0, 1]}, r"expected \(n, height, width\)"),
        ({"X": np.full((1, 2, 2), 0.5), "y": [0]}, r"not all integers in 0..255"),
        ({"X": np.full((1, 2, 2), 256), "y": [0]}, r"not all integers in 0..255"),
        ({"X": np.full((1, 2, 2), -1), "y": [0]}, r"not all integers in 0..255"),
        ({"X": np.full((1, 2, 2), np.nan), "y": [0]}, r"NaN or infinite"),
        ({"X": np.zeros((2, 2, 2)), "y": [0]}, r"y has shape \(1,\), expected \(2,\)"),
        ({"X": np.zeros((1, 2, 2)), "y": [0], "X_test": np.zeros((1, 2, 2))}, r"only one of"),
        ({"X": np.zeros((1, 2, 2)), "y": [3], "class_names": ["a"]}, r"must be in 0..0"),
    ],
)
def test_npz_errors(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        load_npz(tmp_path / "bad.npz")


def test_npz_object_array_is_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", X=np.zeros((1, 2, 2)), y=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"obj.npz holds an object array or pickled data"):
        load_npz(tmp_path / "obj.npz")


def test_npz_not_an_archive(tmp_path):
    np.save(tmp_path / "single.npy", np.zeros(3))
    (tmp_path / "single.npy").rename(tmp_path / "single.npz")
    with pytest.raises(ValueError, match=r"single.npz holds a single array"):
        load_npz(tmp_path / "single.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"junk.npz is not a readable .npz file"):
        load_npz(tmp_path / "junk.npz")
