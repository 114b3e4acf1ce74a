"""One prediction with everything the page shows: label, vote shares and the neighbours.

The neighbours are searched once; the vote shares are derived from those same neighbours
(as :meth:`KNNClassifier.predict_proba` would derive them), so a request costs one search.
"""

from __future__ import annotations

import threading

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..estimators import KNNClassifier
from .preprocess import ImageFormat, image_to_display, png_data_url, preprocess_image


class Predictor:
    """Answers prediction requests for one fitted classifier.

    Parameters
    ----------
    model : KNNClassifier
        A fitted classifier whose training rows are images (pixels in row-major order).
    metadata : dict
        The model's metadata (see :func:`knnvision.pipeline.model_metadata`): at least
        ``image_shape``; ``max_value``, ``class_names`` and ``dataset`` when known.
    """

    def __init__(self, model: KNNClassifier, metadata: dict):
        if not isinstance(model, KNNClassifier):
            raise ValueError(f"The web app serves a KNNClassifier, got {type(model).__name__}; "
                             "fit one with `knnvision fit` or `knnvision run`.")
        check_is_fitted(model)
        self.model = model
        self.metadata = dict(metadata)
        self.image_format = ImageFormat.from_metadata(self.metadata)
        if self.image_format.n_pixels != model.n_features_in_:
            raise ValueError(
                f"The model has {model.n_features_in_} features but its metadata describes "
                f"{self.image_format.image_shape} images; the metadata does not fit the model."
            )
        self.class_names = _class_names(model.classes_, self.metadata.get("class_names"))
        # One search at a time: a single query already uses every core the model may use,
        # so concurrent searches would only slow each other down (and share the process-wide
        # thread limits the search sets). Decoding and image encoding still run concurrently.
        self._search_lock = threading.Lock()

    def predict(self, image: np.ndarray, *, preprocess: str = "auto", invert: str = "auto",
                with_images: bool = False) -> dict:
        """Label, vote shares and neighbours of one grayscale image (see the API docs)."""
        features = preprocess_image(image, self.image_format, preprocess, invert)
        with self._search_lock:
            distances, indices = self.model.kneighbors(features)
        encoded_labels = self.model.class_positions(indices)
        shares = self.model.vote(distances, indices)[0]
        neighbours = [
            {
                "index": int(index),
                "label": self.class_names[label],
                "distance": float(distance),
                "image": self._training_image(index) if with_images else None,
            }
            for index, label, distance in zip(indices[0], encoded_labels[0], distances[0],
                                              strict=True)
        ]
        return {
            "label": self.class_names[int(np.argmax(shares))],
            "probabilities": dict(zip(self.class_names, map(float, shares), strict=True)),
            "neighbors": neighbours,
            "input_image": self._data_url(features[0]) if with_images else None,
        }

    def describe(self) -> dict:
        """What the model is: parameters, classes, training size, image format."""
        params = self.model.get_params()
        return {
            "estimator": type(self.model).__name__,
            "params": {key: params[key] for key in ("n_neighbors", "weights", "metric", "p",
                                                    "algorithm") if isinstance(params[key],
                                                                               (str, int, float))},
            "classes": list(self.class_names),
            "n_train": int(self.model.n_samples_fit_),
            "dataset": self.metadata.get("dataset"),
            "image_shape": list(self.image_format.image_shape),
            "max_value": self.image_format.max_value,
            "preprocess": self.image_format.framing,
        }

    def _training_image(self, index: int) -> str:
        return self._data_url(self.model.training_samples(index))

    def _data_url(self, row: np.ndarray) -> str:
        return png_data_url(image_to_display(row, self.image_format))


def _class_names(classes: np.ndarray, names) -> list[str]:
    """Display name of each class: the dataset's name for an integer label when known."""
    if names and classes.dtype.kind in "iu" and classes.min() >= 0 and classes.max() < len(names):
        return [str(names[label]) for label in classes]
    return [str(label) for label in classes]
