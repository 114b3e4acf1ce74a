"""skops.io dumps and loads every knnvision estimator and pipeline, trusting exactly the
documented types (knnvision.io.SKOPS_TRUSTED_TYPES), and refuses them untrusted."""

import pytest
from scipy import sparse

import saveable_cases
from knnvision import KNNClassifier
from knnvision.io import SKOPS_TRUSTED_TYPES
from knnvision.io.model_file import SAVEABLE_ESTIMATORS
from optional_parts import require_module

skops_io = require_module("skops.io", 'pip install "knnvision[skops]"')
SPARSE_KINDS = (sparse.csr_matrix, sparse.csc_matrix, sparse.csr_array, sparse.csc_array)


@pytest.fixture(scope="module")
def data():
    return saveable_cases.digits()


@pytest.mark.parametrize("case", sorted(saveable_cases.cases()))
def test_skops_round_trips_every_estimator_trusting_only_knnvision_types(data, case):
    X, y, X_new = data
    model = saveable_cases.fitted(saveable_cases.cases()[case], X, y)
    dumped = skops_io.dumps(model)
    untrusted = skops_io.get_untrusted_types(data=dumped)
    assert untrusted, "skops should ask to trust knnvision's classes"
    assert set(untrusted) <= set(SKOPS_TRUSTED_TYPES), "an undocumented type must be trusted"
    restored = skops_io.loads(dumped, trusted=untrusted)
    saveable_cases.assert_round_trip(restored, model, X_new)


def test_the_documented_list_loads_a_pipeline_and_skops_refuses_without_it(data, tmp_path):
    X, y, X_new = data
    model = saveable_cases.fitted(saveable_cases.cases()["Pipeline-pca-classifier"], X, y)
    path = tmp_path / "model.skops"
    skops_io.dump(model, path)
    restored = skops_io.load(path, trusted=SKOPS_TRUSTED_TYPES)
    saveable_cases.assert_round_trip(restored, model, X_new)
    with pytest.raises(skops_io.exceptions.UntrustedTypesFoundException):
        skops_io.load(path)
    with pytest.raises(skops_io.exceptions.UntrustedTypesFoundException):
        skops_io.load(path, trusted=["knnvision.transforms.preprocessing.Deskew"])


def test_the_trusted_list_names_every_saveable_class_and_the_sparse_formats():
    kinds = [*SAVEABLE_ESTIMATORS.values(), *SPARSE_KINDS]
    names = {f"{kind.__module__}.{kind.__qualname__}" for kind in kinds}
    assert set(SKOPS_TRUSTED_TYPES) == names and len(SKOPS_TRUSTED_TYPES) == len(names)


def test_sparse_training_rows_need_only_the_documented_types(data):
    X, y, X_new = data
    model = KNNClassifier(3).fit(sparse.csr_matrix(X.astype(float)), y)
    dumped = skops_io.dumps(model)
    assert set(skops_io.get_untrusted_types(data=dumped)) <= set(SKOPS_TRUSTED_TYPES)
    restored = skops_io.loads(dumped, trusted=SKOPS_TRUSTED_TYPES)
    saveable_cases.assert_round_trip(restored, model, sparse.csr_matrix(X_new.astype(float)))
