"""knnvision: fast, exact k-nearest-neighbours for image classification."""

from ._version import __version__
from .io import load, save
from .neighbors import KNNClassifier, KNNOutlierDetector, KNNRegressor, RerankKNNClassifier
from .selection import KNNSearchCV
from .transforms import (
    PCA,
    CenterOfMass,
    Deskew,
    GaussianBlur,
    GradientHistograms,
    IntensityNormalizer,
)

__all__ = [
    "PCA",
    "CenterOfMass",
    "Deskew",
    "GaussianBlur",
    "GradientHistograms",
    "IntensityNormalizer",
    "KNNClassifier",
    "KNNOutlierDetector",
    "KNNRegressor",
    "KNNSearchCV",
    "RerankKNNClassifier",
    "__version__",
    "load",
    "save",
]
