"""scikit-learn compatible estimators built on knnvision's exact search."""

from .classifier import KNNClassifier
from .outlier import KNNOutlierDetector
from .regressor import KNNRegressor

__all__ = ["KNNClassifier", "KNNOutlierDetector", "KNNRegressor"]
