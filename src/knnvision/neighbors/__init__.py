"""scikit-learn compatible estimators built on knnvision's exact search.

Everything :mod:`sklearn.neighbors` offers is here under the same names, so changing the import
is the whole migration (``KNeighborsClassifier`` and ``KNeighborsRegressor`` are the same
classes as ``KNNClassifier`` and ``KNNRegressor``).

- :mod:`.classifier`, :mod:`.regressor`, :mod:`.outlier`: k-nearest-neighbours
  classification, regression and outlier detection; :mod:`._base` holds what they share
  (``kneighbors``, ``radius_neighbors`` and their graphs).
- :mod:`.nearest`: unsupervised neighbours; :mod:`.transformers` and :mod:`.graph`: the
  neighbours as sparse graphs.
- :mod:`.radius`: classification and regression by the training samples within a radius;
  :mod:`.lof`: local outlier factor; :mod:`.centroid`: nearest centroid;
  :mod:`.nca`: neighbourhood components analysis.
- :mod:`.rerank`: a classifier that re-ranks its nearest candidates by an image distortion
  model (IDM) or gradient features.
"""

from .centroid import NearestCentroid
from .classifier import KNNClassifier
from .graph import kneighbors_graph, radius_neighbors_graph
from .lof import LocalOutlierFactor
from .nca import NeighborhoodComponentsAnalysis
from .nearest import NearestNeighbors
from .outlier import KNNOutlierDetector
from .radius import RadiusNeighborsClassifier, RadiusNeighborsRegressor
from .regressor import KNNRegressor
from .rerank import RerankKNNClassifier
from .transformers import KNeighborsTransformer, RadiusNeighborsTransformer

# scikit-learn's names for the same classes (not copies).
KNeighborsClassifier = KNNClassifier
KNeighborsRegressor = KNNRegressor

__all__ = [
    "KNNClassifier",
    "KNNOutlierDetector",
    "KNNRegressor",
    "KNeighborsClassifier",
    "KNeighborsRegressor",
    "KNeighborsTransformer",
    "LocalOutlierFactor",
    "NearestCentroid",
    "NearestNeighbors",
    "NeighborhoodComponentsAnalysis",
    "RadiusNeighborsClassifier",
    "RadiusNeighborsRegressor",
    "RadiusNeighborsTransformer",
    "RerankKNNClassifier",
    "kneighbors_graph",
    "radius_neighbors_graph",
]
