"""The :class:`Dataset` every loader returns: uint8 images (grayscale, or RGB from an image
folder loaded with ``color=True``) and integer labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset"]


@dataclass(frozen=True, repr=False)
class Dataset:
    """A labelled set of images, with an optional official test part.

    Parameters
    ----------
    name : str
        Short name of the dataset (``"mnist"``, a folder or file name, ...).
    images : numpy.ndarray of uint8, shape (n, h, w) or (n, h, w, 3)
        The training part, or all images when the dataset has no official split: grayscale,
        or RGB colour images (last axis red, green, blue).
    labels : numpy.ndarray of int64, shape (n,)
        Class index of each image, in ``0 .. n_classes - 1``.
    class_names : tuple of str
        Name of each class; ``class_names[label]`` names a label.
    test_images : numpy.ndarray of uint8, shape (m, h, w) or (m, h, w, 3), or None
        The official test part (MNIST, Fashion-MNIST), else ``None``.
    test_labels : numpy.ndarray of int64, shape (m,), or None, default=None
        Labels of ``test_images``.
    max_value : int, default=255
        Brightest possible pixel value (16 for the UCI 8x8 digits).
    source : str or None, default=None
        Absolute path of the folder or file the dataset was read from (``None`` for a named
        dataset), so that a saved model or a results folder can find it again.
    note : str or None, default=None
        A notice for the user about how the data was read (e.g. colour images converted to
        grayscale); the command line prints it.

    Raises
    ------
    ValueError
        If the arrays do not have the dtypes, shapes or label range described above.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    test_images: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    max_value: int = 255
    source: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        if not 1 <= int(self.max_value) <= 255:
            raise ValueError(f"max_value must be in 1..255, got {self.max_value}")
        object.__setattr__(self, "labels", self._check_part(self.images, self.labels, "images"))
        if (self.test_images is None) != (self.test_labels is None):
            raise ValueError("give both test_images and test_labels, or neither")
        if self.test_images is not None:
            assert self.test_labels is not None  # both or neither, checked just above
            if self.test_images.shape[1:] != self.images.shape[1:]:
                raise ValueError(
                    f"test images are {self.test_images.shape[1:]} but training images are "
                    f"{self.images.shape[1:]}; both parts need the same image size"
                )
            labels = self._check_part(self.test_images, self.test_labels, "test_images")
            object.__setattr__(self, "test_labels", labels)

    def _check_part(self, images: np.ndarray, labels: np.ndarray, what: str) -> np.ndarray:
        """Validate one (images, labels) pair; return the labels as int64."""
        if not (
            isinstance(images, np.ndarray)
            and images.dtype == np.uint8
            and (images.ndim == 3 or (images.ndim == 4 and images.shape[3] == 3))
        ):
            raise ValueError(
                f"{what} must be a uint8 array of shape (n, height, width), or "
                "(n, height, width, 3) for colour images"
            )
        if images.size and int(images.max()) > self.max_value:
            raise ValueError(
                f"{what} hold pixel value {int(images.max())} above max_value={self.max_value}"
            )
        labels = np.asarray(labels)
        if labels.dtype.kind not in "iu" or labels.shape != (len(images),):
            raise ValueError(
                f"labels of {what} must be {len(images)} integers, got {labels.dtype} "
                f"array of shape {labels.shape}"
            )
        if labels.size and not (0 <= labels.min() and labels.max() < len(self.class_names)):
            raise ValueError(
                f"labels of {what} must be in 0..{len(self.class_names) - 1} "
                f"({len(self.class_names)} class names), got {labels.min()}..{labels.max()}"
            )
        return labels.astype(np.int64, copy=False)

    @property
    def n_classes(self) -> int:
        """Number of classes (``len(class_names)``)."""
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """``(height, width)`` of every image, ``(height, width, 3)`` for colour images."""
        return tuple(int(side) for side in self.images.shape[1:])

    @property
    def color(self) -> bool:
        """Whether the images are RGB colour images (else grayscale)."""
        return self.images.ndim == 4

    def flat(self, part: str = "train") -> np.ndarray:
        """Images as rows of pixels, shape ``(n, height * width)`` (``height * width * 3``
        for colour images, each pixel's red, green and blue side by side), without copying.

        Parameters
        ----------
        part : {"train", "test"}, default="train"
            Which part to return; ``"test"`` needs an official test part.
        """
        if part == "train":
            images = self.images
        elif part == "test" and self.test_images is not None:
            images = self.test_images
        elif part == "test":
            raise ValueError(f"dataset {self.name!r} has no official test part; split it instead")
        else:
            raise ValueError(f"part must be 'train' or 'test', got {part!r}")
        return images.reshape(len(images), -1)

    def __repr__(self) -> str:
        test = "" if self.test_images is None else f", test_images={_describe(self.test_images)}"
        return (
            f"Dataset(name={self.name!r}, images={_describe(self.images)}{test}, "
            f"n_classes={self.n_classes}, max_value={self.max_value})"
        )


def _describe(array: np.ndarray) -> str:
    """Short ``shape dtype`` text for a repr."""
    return f"{array.shape} {array.dtype}"
