"""One prediction with everything the page shows: label, vote shares and the neighbours.

The served model is a fitted :class:`~knnvision.KNNClassifier` (subclasses such as
:class:`~knnvision.neighbors.rerank.RerankKNNClassifier` included), or a scikit-learn ``Pipeline``
of transformers ending in one, as ``knnvision run --preset`` and ``knnvision tune --pca`` make them.
A framed image goes through the pipeline's transformers, then the classifier's ``kneighbors``; the
vote shares are derived from those same neighbours (as :meth:`KNNClassifier.predict_proba` would
derive them), so a request costs one search.
"""

from __future__ import annotations

import numbers
import threading

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ..io.images import class_labels
from ..neighbors import KNNClassifier
from ..transforms.preprocessing import CenterOfMass, Deskew, GaussianBlur
from .preprocess import ImageFormat, image_to_display, png_data_url, preprocess_image

#: Transformers whose output is an image of the input's shape, dtype and value range: a
#: classifier after only these holds images that can be shown like the training images.
#: (IntensityNormalizer changes the value range; PCA and GradientHistograms make features.)
IMAGE_TO_IMAGE = (Deskew, GaussianBlur, CenterOfMass)

#: Parameters that say how the search runs on this machine, not what the model is.
_RUNTIME_PARAMS = frozenset({"n_jobs", "working_memory", "backend", "scheduler"})

#: Name of the classifier's step when the model is a bare classifier.
CLASSIFIER_STEP = "knn"


class Predictor:
    """Answers prediction requests for one fitted classifier or pipeline.

    Parameters
    ----------
    model : KNNClassifier or sklearn.pipeline.Pipeline
        A fitted classifier whose training rows are images (pixels in row-major order), or
        a fitted pipeline of transformers over such images whose last step is a
        :class:`~knnvision.KNNClassifier` (or a subclass).
    metadata : dict
        The model's metadata (see :func:`knnvision.experiments.run.model_metadata`): at least
        ``image_shape``; ``max_value``, ``class_names`` and ``dataset`` when known.

    Attributes
    ----------
    classifier : KNNClassifier
        The model's classifier (the model itself, or the pipeline's last step).
    transformers : list of (str, estimator)
        The pipeline's earlier steps that do something (skipped steps left out), in order.
    shows_images : bool
        Whether the classifier's rows are images of the model's format (the model is a bare
        classifier, or its transformers all map images to images): then the neighbours and
        the input are shown as the classifier compares them; otherwise neighbours have no
        image and the input is shown as framed, before the transformers.
    """

    def __init__(self, model, metadata: dict):
        self.model = model
        self.classifier, self.transformers = _split_model(model)
        check_is_fitted(self.classifier)
        self.metadata = dict(metadata)
        self.image_format = ImageFormat.from_metadata(self.metadata)
        n_inputs = _n_inputs(self.classifier, self.transformers)
        if self.image_format.n_pixels != n_inputs:
            raise ValueError(
                f"The model takes {n_inputs} features but its metadata describes "
                f"{self.image_format.array_shape} images; the metadata does not fit the model."
            )
        self.shows_images = self.classifier.n_features_in_ == self.image_format.n_pixels and all(
            isinstance(step, IMAGE_TO_IMAGE)
            and tuple(step.image_shape_) == self.image_format.array_shape
            for _, step in self.transformers
        )
        self.class_names = class_labels(self.classifier.classes_, self.metadata.get("class_names"))
        # One search at a time: a single query already uses every core the model may use,
        # so concurrent searches would only slow each other down (and share the process-wide
        # thread limits the search sets). Decoding, transforming and image encoding still
        # run concurrently.
        self._search_lock = threading.Lock()

    def predict(
        self,
        image: np.ndarray,
        *,
        preprocess: str = "auto",
        invert: str = "auto",
        with_images: bool = False,
    ) -> dict:
        """Label, vote shares and neighbours of one image (see the API docs): grayscale, or
        RGB ``(height, width, 3)`` for a colour model."""
        framed = preprocess_image(image, self.image_format, preprocess, invert)
        features = self.transform(framed)
        with self._search_lock:
            distances, indices = self.classifier.kneighbors(features)
        encoded_labels = self.classifier.class_positions(indices)
        shares = self.classifier.vote(distances, indices)[0]
        show_neighbours = with_images and self.shows_images
        neighbours = [
            {
                "index": int(index),
                "label": self.class_names[label],
                "distance": float(distance),
                "image": self._training_image(index) if show_neighbours else None,
            }
            for index, label, distance in zip(
                indices[0], encoded_labels[0], distances[0], strict=True
            )
        ]
        seen = features if self.shows_images else framed
        return {
            "label": self.class_names[int(np.argmax(shares))],
            "probabilities": dict(zip(self.class_names, map(float, shares), strict=True)),
            "neighbors": neighbours,
            "input_image": self._data_url(seen[0]) if with_images else None,
        }

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Framed image rows through the pipeline's transformers: the classifier's input."""
        for _, step in self.transformers:
            features = step.transform(features)
        return features

    def warm_up(self) -> None:
        """One prediction of a blank image, so compiled kernels are ready (JIT, caches)."""
        blank = np.zeros((1, self.image_format.n_pixels), dtype=np.uint8)
        with self._search_lock:
            self.classifier.kneighbors(self.transform(blank))

    def describe(self) -> dict:
        """What the model is: steps, parameters, classes, training size, image format."""
        classifier = self.classifier
        stored = int(classifier.n_samples_fit_)
        # Augmented copies (RerankKNNClassifier) are reported as the image they were made
        # from, so the neighbours' indices run over the original training images.
        factor = int(getattr(classifier, "augmentation_factor_", 1))
        steps = [*self.transformers, (self._classifier_step_name(), classifier)]
        return {
            "estimator": type(classifier).__name__,
            "params": _plain_params(classifier),
            "steps": [
                {"name": name, "estimator": type(step).__name__, "params": _plain_params(step)}
                for name, step in steps
            ],
            "classes": list(self.class_names),
            "n_train": stored // factor,
            "n_stored": stored,
            "dataset": self.metadata.get("dataset"),
            "image_shape": list(self.image_format.array_shape),
            "color": self.image_format.color,
            "max_value": self.image_format.max_value,
            "preprocess": self.image_format.framing,
            "neighbor_images": self.shows_images,
        }

    def _classifier_step_name(self) -> str:
        if isinstance(self.model, Pipeline):
            return self.model.steps[-1][0]
        return CLASSIFIER_STEP

    def _training_image(self, index: int) -> str:
        return self._data_url(self.classifier.training_samples(index))

    def _data_url(self, row: np.ndarray) -> str:
        return png_data_url(image_to_display(row, self.image_format))


def _split_model(model) -> tuple[KNNClassifier, list]:
    """The classifier of ``model`` and the transformers before it (skipped steps left out)."""
    if isinstance(model, Pipeline) and model.steps:
        *earlier, (_, classifier) = model.steps
        transformers = [
            (name, step) for name, step in earlier if step is not None and step != "passthrough"
        ]
    else:
        classifier, transformers = model, []
    if not isinstance(classifier, KNNClassifier):
        # A ValueError, as for every model file a user can pass: the CLI prints it in a line.
        raise ValueError(  # noqa: TRY004
            "The web app serves a KNNClassifier or a Pipeline ending in one, got "
            f"{_kind(model)}; fit one with `knnvision fit`, `knnvision run` or `knnvision tune`."
        )
    return classifier, transformers


def _kind(model) -> str:
    if isinstance(model, Pipeline) and model.steps:
        return f"a Pipeline ending in {type(model.steps[-1][1]).__name__}"
    return type(model).__name__


def _n_inputs(classifier: KNNClassifier, transformers: list) -> int:
    """Features the model takes: the first transformer's, else the classifier's."""
    first = transformers[0][1] if transformers else classifier
    check_is_fitted(first)
    n_inputs = getattr(first, "n_features_in_", None)
    if n_inputs is None:
        raise ValueError(
            f"The model's first step ({type(first).__name__}) does not record how "
            "many features it takes, so it cannot be served."
        )
    return int(n_inputs)


def _plain_params(estimator) -> dict:
    """The parameters of ``estimator`` that JSON shows plainly (numbers, strings, booleans and
    lists of numbers), without the ones that only say how the search runs here."""
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if key in _RUNTIME_PARAMS:
            continue
        value = _plain_value(value)
        if value is not None:
            params[key] = value
    return params


def _plain_value(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Real):
        return value if np.isfinite(value) else None
    if isinstance(value, (tuple, list)) and all(
        isinstance(item, numbers.Real) and not isinstance(item, bool) and np.isfinite(item)
        for item in value
    ):
        return [item.item() if isinstance(item, np.generic) else item for item in value]
    return None
