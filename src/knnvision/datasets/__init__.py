"""Datasets for knnvision: loaders, IDX files, splits and toy data.

>>> from knnvision.datasets import load_dataset, subsample
>>> ds = load_dataset("digits")
>>> ds.images.shape, ds.max_value
((1797, 8, 8), 16)

:func:`load_dataset` takes a dataset name (``"digits"``, ``"mnist"``, ``"fashion-mnist"``)
or a path to a folder of class sub-folders or an ``.npz`` file, and returns a
:class:`Dataset` of uint8 grayscale images (RGB from a folder with ``color=True``) with
integer labels.
"""

from __future__ import annotations

import os
from pathlib import Path

from knnvision.datasets.dataset import Dataset
from knnvision.datasets.digits import load_digits
from knnvision.datasets.folder import load_image_folder, read_image
from knnvision.datasets.idx import read_idx, write_idx
from knnvision.datasets.mnist import cache_dir, load_mnist
from knnvision.datasets.npz import load_npz
from knnvision.datasets.splits import subsample, train_val_test_split
from knnvision.datasets.toy import make_blobs

__all__ = [
    "DATASET_NAMES",
    "Dataset",
    "cache_dir",
    "load_dataset",
    "load_digits",
    "load_image_folder",
    "load_mnist",
    "load_npz",
    "make_blobs",
    "read_idx",
    "read_image",
    "subsample",
    "train_val_test_split",
    "write_idx",
]

#: Names :func:`load_dataset` knows without a path.
DATASET_NAMES = ("digits", "mnist", "fashion-mnist")


def load_dataset(
    name: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    image_size: tuple[int, int] | int = (28, 28),
    color: bool = False,
    recorded_dir: str | os.PathLike | None = None,
) -> Dataset:
    """Load a dataset by name or path.

    Parameters
    ----------
    name : str or path-like
        ``"digits"`` (UCI 8x8 digits from scikit-learn, values 0..16), ``"mnist"`` or
        ``"fashion-mnist"`` (case and ``_``/``-`` do not matter), or a path: a folder with one
        sub-folder of images per class, or an ``.npz`` file with arrays ``X`` and ``y``.
        A known name wins over a folder of the same name; write ``./mnist`` for the folder.
    data_dir : str or path-like, optional
        MNIST / Fashion-MNIST only: the folder holding the IDX files; when given, nothing
        else is searched and nothing is downloaded. See :func:`load_mnist`.
    download : bool, default=True
        MNIST / Fashion-MNIST only: download missing files into the user cache.
    image_size : (int, int) or int, default=(28, 28)
        Image folders only: ``(height, width)`` every image is resized to.
    color : bool, default=False
        Image folders only: keep RGB, images ``(n, height, width, 3)`` flattened to
        ``height * width * 3`` features. Without it colour images become grayscale, and the
        dataset's ``note`` says how many did.
    recorded_dir : str or path-like, optional
        MNIST / Fashion-MNIST only: a folder the files were found in before (a saved model's
        data folder), searched before the usual places. See :func:`load_mnist`.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        If ``name`` is neither a known name nor an existing path, or the data is invalid.
    FileNotFoundError
        If a path-like name does not exist, or MNIST files are not found.
    """
    key = str(name).strip().lower().replace("_", "-")
    if not isinstance(name, os.PathLike) and key in DATASET_NAMES:
        if color:
            raise ValueError(
                f"--color keeps the colours of an image folder; {key} images are "
                "grayscale, drop --color"
            )
        if key == "digits":
            return load_digits()
        return load_mnist(key, data_dir, download=download, recorded_dir=recorded_dir)
    return _load_path(Path(name), image_size, color)


def _load_path(path: Path, image_size: tuple[int, int] | int, color: bool) -> Dataset:
    """Load a dataset stored at ``path`` (folder or ``.npz``)."""
    if path.is_dir():
        return load_image_folder(path, image_size=image_size, color=color)
    if path.is_file() and path.suffix.lower() == ".npz":
        if color:
            raise ValueError(
                f"--color keeps the colours of an image folder; {path} is an "
                ".npz file of grayscale images, drop --color"
            )
        return load_npz(path)
    if path.is_file():
        raise ValueError(
            f"cannot load {path}: expected a folder with one sub-folder per class, or an .npz "
            "file with arrays X and y"
        )
    if path.suffix or len(path.parts) > 1:
        raise FileNotFoundError(f"no such file or folder: {path}")
    raise ValueError(
        f"unknown dataset {str(path)!r}; choose one of {', '.join(DATASET_NAMES)}, or give "
        "the path of a folder with one sub-folder per class or of an .npz file"
    )
