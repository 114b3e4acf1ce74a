"""Model selection that reuses neighbours across k: one search per fold and distance.

- :mod:`.search_cv`: :class:`KNNSearchCV` (a drop-in for ``GridSearchCV``),
  :func:`validation_curve`, :func:`cross_validate_grid` (what ``knnvision run`` tunes with)
  and their results (:class:`CVResult`, :class:`Candidate`).
- :mod:`.grid_scoring`: scoring every setting of a grid from one search, in this process.
- :mod:`.dask`: the same scoring spread over a Dask cluster (the ``dask`` extra).
"""

from .search_cv import (
    Candidate,
    CVResult,
    KNNSearchCV,
    ValidationCurve,
    cross_validate_grid,
    knn_grid,
    validation_curve,
)

__all__ = [
    "CVResult",
    "Candidate",
    "KNNSearchCV",
    "ValidationCurve",
    "cross_validate_grid",
    "knn_grid",
    "validation_curve",
]
