"""scikit-learn's own conformance suite, run on every knnvision estimator.

Every check passes. The only one reported as skipped is ``check_array_api_input``, which
scikit-learn skips unless SCIPY_ARRAY_API is set: knnvision takes NumPy arrays only.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from knnvision import KNNClassifier, KNNOutlierDetector, KNNRegressor


@parametrize_with_checks([KNNClassifier(), KNNRegressor(), KNNOutlierDetector()])
def test_scikit_learn_conformance(estimator, check):
    check(estimator)
