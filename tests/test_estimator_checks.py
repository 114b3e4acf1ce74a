"""scikit-learn's own conformance suite, run on every knnvision estimator.

Every check passes. The ones reported as skipped are skipped by scikit-learn itself:
``check_array_api_input`` unless SCIPY_ARRAY_API is set (knnvision takes NumPy arrays and
SciPy sparse matrices only), and the multi-label ``decision_function`` check for classifiers
that, like scikit-learn's neighbours classifiers, have no ``decision_function``.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from knnvision import KNNOutlierDetector
from knnvision.neighbors import (
    KNeighborsClassifier,
    KNeighborsRegressor,
    KNeighborsTransformer,
    LocalOutlierFactor,
    NearestCentroid,
    NearestNeighbors,
    NeighborhoodComponentsAnalysis,
    RadiusNeighborsClassifier,
    RadiusNeighborsRegressor,
    RadiusNeighborsTransformer,
)


@parametrize_with_checks(
    [
        KNeighborsClassifier(),
        KNeighborsRegressor(),
        KNNOutlierDetector(),
        NearestNeighbors(),
        KNeighborsTransformer(),
        RadiusNeighborsTransformer(),
        RadiusNeighborsClassifier(),
        RadiusNeighborsRegressor(),
        LocalOutlierFactor(),
        LocalOutlierFactor(novelty=True),
        NearestCentroid(),
        NearestCentroid(metric="manhattan"),
        NeighborhoodComponentsAnalysis(),
    ]
)
def test_scikit_learn_conformance(estimator, check):
    check(estimator)
