"""Datasets saved as NumPy ``.npz`` files: arrays ``X`` (images) and ``y`` (labels).

Optional arrays: ``X_test`` and ``y_test`` (an official test part) and ``class_names``
(one string per class, when ``y`` already holds class indices). Files are read with
``allow_pickle=False``: an object array is refused, never unpickled.
"""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

import numpy as np

from knnvision.datasets.dataset import Dataset

__all__ = ["load_npz"]


def load_npz(path: str | os.PathLike) -> Dataset:
    """Load a dataset from an ``.npz`` file.

    Parameters
    ----------
    path : str or path-like
        A file written by ``np.savez(path, X=images, y=labels)``. ``X`` is ``(n, h, w)``
        or ``(n, d)`` with ``d`` a perfect square (reshaped to square images); its values
        must be integers in 0..255. ``y`` holds ``n`` labels of any type (integers,
        strings); they are encoded as 0..C-1 in the sorted order of the unique labels.
        Optional: ``X_test`` and ``y_test``; ``class_names`` when ``y`` holds 0..C-1.

    Returns
    -------
    Dataset
        Named after the file (without ``.npz``).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a readable ``.npz``, lacks ``X`` or ``y``, holds object arrays,
        or its values cannot be stored as described above.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"npz file not found: {path}")
    arrays = _read_arrays(path)
    for key in ("X", "y"):
        if key not in arrays:
            raise ValueError(
                f"{path} has no array {key!r} (it holds {sorted(arrays) or 'nothing'}); "
                "save it with np.savez(path, X=images, y=labels)"
            )
    if ("X_test" in arrays) != ("y_test" in arrays):
        raise ValueError(f"{path} holds only one of X_test and y_test; save both or neither")
    return _build(path, arrays)


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """All arrays of the file, refusing pickled objects and damaged archives."""
    try:
        with open(path, "rb") as file:  # our handle: closed even when numpy fails
            loaded = np.load(file, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError(f"{path} holds a single array, not an .npz archive with X and y")
            with loaded as npz:
                return {key: npz[key] for key in npz.files}
    except ValueError as exc:
        if "pickle" in str(exc):
            raise ValueError(
                f"{path} holds an object array or pickled data, which knnvision refuses to "
                "load; save plain numeric or string arrays instead"
            ) from None
        if "single array" in str(exc):
            raise
        raise ValueError(f"{path} is not a readable .npz file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a readable .npz file ({exc})") from None


def _build(path: Path, arrays: dict[str, np.ndarray]) -> Dataset:
    """Validate and convert the arrays into a :class:`Dataset`."""
    images = _images(arrays["X"], path, "X")
    has_test = "X_test" in arrays
    test_images = _images(arrays["X_test"], path, "X_test") if has_test else None
    parts = [arrays["y"], arrays["y_test"]] if has_test else [arrays["y"]]
    image_parts = [images] if test_images is None else [images, test_images]
    for labels, x, key in zip(parts, image_parts, ("y", "y_test"), strict=False):
        if np.ndim(labels) != 1 or len(labels) != len(x):
            raise ValueError(
                f"{path}: {key} has shape {np.shape(labels)}, expected ({len(x)},) to match X"
            )
    codes, class_names = _encode_labels(parts, arrays.get("class_names"), path)
    return Dataset(
        name=path.name.removesuffix(".npz"),
        images=images,
        labels=codes[0],
        class_names=class_names,
        test_images=test_images,
        test_labels=codes[1] if has_test else None,
        source=str(path.resolve()),
    )


def _images(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    """``x`` as uint8 (n, h, w) images, refusing any lossy conversion."""
    x = _square_images(x, path, key)
    if x.dtype == np.uint8 or x.size == 0:
        return x.astype(np.uint8)
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{path}: {key} has dtype {x.dtype}; expected numbers in 0..255")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise ValueError(f"{path}: {key} holds NaN or infinite values")
    integral = x.dtype.kind != "f" or np.array_equal(x, np.rint(x))
    if not integral or x.min() < 0 or x.max() > 255:
        raise ValueError(
            f"{path}: {key} holds values in {x.min()}..{x.max()}, not all integers in 0..255; "
            "scale the images to 0..255 (e.g. np.rint(X * 255)) before saving"
        )
    return x.astype(np.uint8)


def _square_images(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    """(n, h, w) as is; (n, d) reshaped to (n, s, s) when d = s * s."""
    if x.ndim == 3:
        return x
    if x.ndim != 2:
        raise ValueError(
            f"{path}: {key} has shape {x.shape}; expected (n, height, width) grayscale images "
            "or (n, d) rows of pixels"
        )
    side = math.isqrt(x.shape[1])
    if side * side != x.shape[1]:
        raise ValueError(
            f"{path}: {key} has {x.shape[1]} values per row, not a perfect square, so the "
            "image size is unknown; save it as (n, height, width)"
        )
    return x.reshape(len(x), side, side)


def _encode_labels(
    parts: list[np.ndarray], class_names: np.ndarray | None, path: Path
) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """Labels of every part as 0..C-1 codes, with the class names they stand for."""
    if class_names is not None:
        return _given_class_names(parts, class_names, path)
    for labels in parts:
        if labels.dtype.kind not in "biuUSf":
            raise ValueError(f"{path}: labels of dtype {labels.dtype} are not supported")
        if labels.dtype.kind == "f" and np.isnan(labels).any():
            raise ValueError(f"{path}: labels hold NaN")
    try:
        everything = np.concatenate(parts)
    except (TypeError, ValueError):  # e.g. strings in y and numbers in y_test
        raise ValueError(f"{path}: y and y_test have incompatible types") from None
    classes, codes = np.unique(everything, return_inverse=True)
    splits = np.split(codes.astype(np.int64), [len(parts[0])])
    return splits[: len(parts)], tuple(_label_text(c) for c in classes)


def _label_text(label: object) -> str:
    """A label as text (bytes decoded as UTF-8)."""
    if isinstance(label, bytes):
        return label.decode("utf-8", errors="replace")
    return str(label)


def _given_class_names(
    parts: list[np.ndarray], class_names: np.ndarray, path: Path
) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """Labels already coded 0..C-1, with names stored in the file."""
    names = tuple(_label_text(n) for n in np.ravel(class_names).tolist())
    for labels in parts:
        if labels.dtype.kind not in "iu":
            raise ValueError(
                f"{path} holds class_names, so y must hold integer class indices, "
                f"got {labels.dtype}"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= len(names)):
            raise ValueError(
                f"{path}: labels must be in 0..{len(names) - 1} for {len(names)} class_names"
            )
    return [labels.astype(np.int64) for labels in parts], names
