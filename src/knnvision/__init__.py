"""knnvision: fast, exact k-nearest-neighbours for image classification."""

__version__ = "0.1.0"

from .estimators import KNNClassifier, KNNOutlierDetector, KNNRegressor  # noqa: E402
from .io import load, save  # noqa: E402

__all__ = ["KNNClassifier", "KNNOutlierDetector", "KNNRegressor", "__version__", "load", "save"]
