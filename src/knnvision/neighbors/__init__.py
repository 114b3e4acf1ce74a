"""scikit-learn compatible estimators built on knnvision's exact search.

- :mod:`.classifier`, :mod:`.regressor`, :mod:`.outlier`: k-nearest-neighbours
  classification, regression and outlier detection; :mod:`._base` holds what they share.
- :mod:`.rerank`: a classifier that re-ranks its nearest candidates by an image distortion
  model (IDM) or gradient features.
"""

from .classifier import KNNClassifier
from .outlier import KNNOutlierDetector
from .regressor import KNNRegressor
from .rerank import RerankKNNClassifier

__all__ = ["KNNClassifier", "KNNOutlierDetector", "KNNRegressor", "RerankKNNClassifier"]
