"""knnvision: fast, exact k-nearest-neighbours for image classification."""

__version__ = "0.1.0"

from .estimators import KNNClassifier, KNNOutlierDetector, KNNRegressor  # noqa: E402
from .io import load, save  # noqa: E402
from .decomposition import PCA  # noqa: E402  (after io: PCA registers itself as saveable)
from .model_selection import KNNSearchCV  # noqa: E402

__all__ = [
    "KNNClassifier", "KNNOutlierDetector", "KNNRegressor", "KNNSearchCV", "PCA", "__version__",
    "load", "save",
]
