"""knnvision: fast, exact k-nearest-neighbours for image classification."""

from ._version import __version__

from .estimators import KNNClassifier, KNNOutlierDetector, KNNRegressor  # noqa: E402
from .io import load, save  # noqa: E402
from .decomposition import PCA  # noqa: E402  (after io: PCA registers itself as saveable)
from .model_selection import KNNSearchCV  # noqa: E402
# Image transformers and the re-ranking classifier register themselves as saveable on import,
# so a model file holding them loads in a fresh process.
from .preprocessing import (  # noqa: E402
    CenterOfMass, Deskew, GaussianBlur, GradientHistograms, IntensityNormalizer,
)
from .rerank import RerankKNNClassifier  # noqa: E402

__all__ = [
    "CenterOfMass", "Deskew", "GaussianBlur", "GradientHistograms", "IntensityNormalizer",
    "KNNClassifier", "KNNOutlierDetector", "KNNRegressor", "KNNSearchCV", "PCA",
    "RerankKNNClassifier", "__version__", "load", "save",
]
