"""knnvision: fast, exact k-nearest-neighbours for image classification."""

from .estimators import KNNClassifier, KNNOutlierDetector, KNNRegressor

__version__ = "0.1.0"

__all__ = ["KNNClassifier", "KNNOutlierDetector", "KNNRegressor", "__version__"]
