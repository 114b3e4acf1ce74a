"""Model files: exact round trips, and clear errors for everything that is not one."""

import hashlib
import json
import math
import pickle
import struct

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline

import knnvision
import saveable_cases
from knnvision import KNNClassifier, KNNOutlierDetector, KNNRegressor, RerankKNNClassifier
from knnvision.io import read_header, shown_params
from knnvision.io.model_file import MAGIC, SAVEABLE_ESTIMATORS


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:800].astype(np.uint8), y[:800], X[800:1000].astype(np.uint8)


@pytest.fixture
def saved(tmp_path, digits):
    X, y, _ = digits
    path = tmp_path / "model.knnv"
    knnvision.save(KNNClassifier(3, weights="distance").fit(X, y), path, metadata={"k": 3})
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda X, y: KNNClassifier(4, metric="manhattan").fit(X, np.array(list("abcdefghij"))[y]),
        lambda X, y: KNNRegressor(3, weights="distance").fit(X, y * 0.5),
        lambda X, y: KNNOutlierDetector(6, contamination=0.2).fit(X),
        lambda X, y: make_pipeline(KNNClassifier(2)).fit(X, y),
        lambda X, y: RerankKNNClassifier(
            3,
            weights="softmax",
            vote_temperature=0.3,
            n_candidates=10,
            mix=0.5,
            hog_idm_mix=0.5,
            features="hog",
            hog_idm_block_weights=(0.5, 2.0) * 4 + (1,),
            idm_pixel_weights=np.linspace(0.0, 2.0, 64),
            search_block_weights=(1.5,),
        ).fit(X, y),
    ],
    ids=["classifier", "regressor", "outlier", "pipeline", "rerank-with-part-weights-softmax"],
)
def test_round_trip_preserves_predictions_exactly(tmp_path, digits, make):
    X, y, X_new = digits
    model = make(X, y)
    path = knnvision.save(model, tmp_path / "m.knnv", metadata={"image_shape": [8, 8]})
    restored = knnvision.load(path)
    assert type(restored) is type(model)
    assert restored.metadata_ == {"image_shape": [8, 8]}
    assert_same_settings(restored, model)
    np.testing.assert_array_equal(restored.predict(X_new), model.predict(X_new))
    if hasattr(model, "predict_proba"):
        np.testing.assert_array_equal(restored.predict_proba(X_new), model.predict_proba(X_new))


def assert_same_settings(restored, model):
    """Every constructor parameter (the learned part weights among them) survives the file."""
    params, restored_params = model.get_params(deep=False), restored.get_params(deep=False)
    assert restored_params.keys() == params.keys()
    for name, value in params.items():
        if name != "steps":  # a pipeline's steps are estimators, compared by their predictions
            np.testing.assert_equal(restored_params[name], value, err_msg=name)


@pytest.mark.parametrize("case", sorted(saveable_cases.cases()))
def test_every_saveable_class_round_trips_through_a_model_file(tmp_path, case):
    X, y, X_new = saveable_cases.digits()
    model = saveable_cases.fitted(saveable_cases.cases()[case], X, y)
    restored = knnvision.load(knnvision.save(model, tmp_path / "m.knnv"))
    saveable_cases.assert_round_trip(restored, model, X_new)


class StateHolder(BaseEstimator):
    """A stand-in estimator whose fitted state is whatever a test puts in it."""

    def __init__(self, metric="euclidean", metric_params=None):
        self.metric = metric
        self.metric_params = metric_params


@pytest.fixture
def holder_class(monkeypatch):
    """``StateHolder``, saveable for the length of one test."""
    monkeypatch.setitem(SAVEABLE_ESTIMATORS, "StateHolder", StateHolder)
    return StateHolder


def _with_state(model, **state):
    model.__dict__.update(state)
    return model


def test_every_kind_of_fitted_value_comes_back_exactly(tmp_path, holder_class):
    rows = np.arange(12.0).reshape(3, 4)
    rows[rows % 5 == 0] = 0.0
    state = {
        "classes_": [np.array([0, 1]), np.array(["a", "b", "c"])],  # multi-output labels
        "missing_": None,
        "shape_": (3, (4, 5)),
        "counts_": {"n": 3, "p": 2.5, "name": "w", "none": None},
        "nested_": [[1, 2], [3, [4, 5.5]], []],
        "csr_rows_": sparse.csr_matrix(rows),
        "csc_rows_": sparse.csc_array(rows, dtype=np.float32),
        "special_": [math.nan, math.inf, -math.inf, -0.0],
        "scalar_": np.float32(0.25),
        "dtype_": np.dtype("float32"),
        "effective_metric_params_": {"w": np.array([1.0, 2.0, 0.5, 1.0]), "p": math.inf},
    }
    # int64 indices stay int64, though they would fit int32 (SciPy narrows those it builds).
    wide = sparse.csr_matrix(rows)
    wide.indices, wide.indptr = wide.indices.astype(np.int64), wide.indptr.astype(np.int64)
    state["wide_indices_"] = wide
    model = _with_state(holder_class(metric_params={"w": np.array([1.0, 2.0])}), **state)
    restored = knnvision.load(knnvision.save(model, tmp_path / "m.knnv"))
    saveable_cases.assert_same(restored.get_params(), model.get_params(), "params")
    expected = dict(state, scalar_=0.25)  # a NumPy scalar comes back as the Python number
    saveable_cases.assert_same({key: getattr(restored, key) for key in state}, expected)
    assert restored.wide_indices_.indices.dtype == np.int64


@pytest.mark.parametrize(
    "value, message",
    [
        (object(), r"StateHolder.odd_: a object is not data"),
        ([1, {"f": len}], r"StateHolder.odd_\[1\]\['f'\].*never code"),
        ({1: 2}, r"StateHolder.odd_: its key 1 is not a string"),
        (sparse.coo_matrix(np.eye(2)), r"StateHolder.odd_: a COO sparse matrix.*tocsr"),
        (np.array([object()]), r"StateHolder.odd_: arrays of dtype object are not data"),
    ],
    ids=["object", "callable", "int-key", "coo", "object-array"],
)
def test_what_is_not_data_is_refused_by_name(tmp_path, holder_class, value, message):
    with pytest.raises(ValueError, match=message):
        knnvision.save(_with_state(holder_class(), odd_=value), tmp_path / "m.knnv")
    assert not (tmp_path / "m.knnv").exists()


def test_encoded_parameters_are_shown_readably(tmp_path, holder_class):
    model = holder_class(metric=(1, 2), metric_params={"w": np.ones(2), "p": math.inf})
    header = read_header(knnvision.save(model, tmp_path / "m.knnv"))
    shown = {"metric": [1, 2], "metric_params": {"w": "<array>", "p": math.inf}}
    assert shown_params(header["model"]) == shown


def test_a_callable_metric_cannot_be_saved(tmp_path):
    model = KNNClassifier(metric=lambda a, b: float(np.abs(a - b).sum()))
    with pytest.raises(ValueError, match="metric=.*model files store data, never code"):
        knnvision.save(model, tmp_path / "m.knnv")


def test_arrays_start_on_64_byte_boundaries(saved):
    data = saved.read_bytes()
    _, version, header_length = struct.unpack_from("<8sIQ", data)
    payload_start = struct.calcsize("<8sIQ") + header_length
    assert version == 2 and payload_start % 64 == 0
    offsets = [entry["offset"] for entry in read_header(saved)["arrays"]]
    assert offsets and all(offset % 64 == 0 for offset in offsets)


def test_header_holds_parameters_and_versions(saved):
    header = read_header(saved)
    assert header["library_version"] == knnvision.__version__
    assert header["model"]["class"] == "KNNClassifier"
    assert header["model"]["params"]["weights"] == "distance"
    assert header["metadata"] == {"k": 3}


def test_truncated_file_is_refused(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="checksum"):
        knnvision.load(saved)
    saved.write_bytes(data[:12])
    with pytest.raises(ValueError, match="truncated"):
        knnvision.load(saved)


def test_tampered_file_is_refused(saved):
    data = bytearray(saved.read_bytes())
    data[len(data) // 2] ^= 0x01
    saved.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="altered"):
        knnvision.load(saved)


def test_pickle_is_never_loaded(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(KNNClassifier()))
    with pytest.raises(ValueError, match="pickle, which knnvision never loads"):
        knnvision.load(path)


def test_foreign_files_are_refused(tmp_path):
    npz = tmp_path / "arrays.npz"
    np.savez(npz, X=np.zeros(3))
    with pytest.raises(ValueError, match="zip/npz"):
        knnvision.load(npz)
    text = tmp_path / "notes.txt"
    text.write_text("hello, I am not a model, but I am long enough to look like one" * 3)
    with pytest.raises(ValueError, match="not a knnvision model file"):
        knnvision.load(text)
    with pytest.raises(FileNotFoundError, match="Model file not found"):
        knnvision.load(tmp_path / "missing.knnv")


def _forge(path, header: dict, payload: bytes = b"", version: int = 1):
    """Write a file with a valid checksum around an arbitrary header."""
    header_bytes = json.dumps(header).encode()
    body = struct.pack("<8sIQ", MAGIC, version, len(header_bytes)) + header_bytes + payload
    path.write_bytes(body + hashlib.sha256(body).digest())


def test_a_file_cannot_name_an_arbitrary_class(tmp_path):
    path = tmp_path / "evil.knnv"
    model = {"class": "Popen", "params": {"args": ["true"]}, "state": {}}
    _forge(path, {"format": "knnvision-model", "model": model, "arrays": []})
    with pytest.raises(ValueError, match="names class 'Popen'"):
        knnvision.load(path)


def test_arrays_must_fit_inside_the_file_and_be_data(tmp_path):
    path = tmp_path / "forged.knnv"
    base = {
        "format": "knnvision-model",
        "model": {"class": "KNNClassifier", "params": {}, "state": {}},
    }
    _forge(path, {**base, "arrays": [{"dtype": "<f8", "shape": [1000], "offset": 0}]}, b"\0" * 8)
    with pytest.raises(ValueError, match="runs past the file end"):
        knnvision.load(path)
    _forge(path, {**base, "arrays": [{"dtype": "|O", "shape": [1], "offset": 0}]}, b"\0" * 8)
    with pytest.raises(ValueError, match="not data"):
        knnvision.load(path)


def test_a_forged_sparse_matrix_or_value_is_refused(tmp_path):
    path = tmp_path / "forged.knnv"
    entries = [
        {"dtype": "<f8", "shape": [2], "offset": 0},
        {"dtype": "<i4", "shape": [2], "offset": 16},
    ]
    entries.append({"dtype": "<i4", "shape": [3], "offset": 24})
    payload = np.array([1.0, 2.0]).tobytes() + np.array([0, 7], "<i4").tobytes()
    payload += np.array([0, 1, 2], "<i4").tobytes()
    matrix = {"sparse": "csr", "container": "matrix", "shape": [2, 3]}
    matrix.update(data=0, indices=1, indptr=2)  # column 7 of a 3-column matrix
    for value, message in [(matrix, "damaged sparse matrix"), ({"code": "x"}, "cannot read")]:
        model = {"class": "KNNClassifier", "params": {}, "state": {"_fit_X": value}}
        header = {"format": "knnvision-model", "model": model, "arrays": entries}
        _forge(path, header, payload, version=2)
        with pytest.raises(ValueError, match=message):
            knnvision.load(path)


def test_newer_format_asks_for_an_upgrade(tmp_path):
    path = tmp_path / "future.knnv"
    _forge(path, {"format": "knnvision-model"}, version=99)
    with pytest.raises(ValueError, match="upgrade knnvision"):
        knnvision.load(path)


def test_callable_weights_cannot_be_saved(tmp_path, digits):
    X, y, _ = digits
    model = KNNClassifier(weights=lambda d: 1 / (1 + d)).fit(X, y)
    with pytest.raises(ValueError, match="model files store data, never code"):
        knnvision.save(model, tmp_path / "m.knnv")
    assert not (tmp_path / "m.knnv").exists()


def test_only_knnvision_estimators_are_saved(tmp_path):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ValueError, match="Cannot save a LogisticRegression"):
        knnvision.save(LogisticRegression(), tmp_path / "m.knnv")


def test_metadata_of_a_folder_model_survives_the_file(tmp_path, monkeypatch):
    from knnvision.datasets import Dataset
    from knnvision.results.experiment import ExperimentConfig, model_metadata

    monkeypatch.chdir(tmp_path)
    rgb = np.zeros((4, 2, 3, 3), np.uint8)
    dataset = Dataset(
        "pets", rgb, np.array([0, 1, 0, 1]), ("cat", "dog"), source=str(tmp_path / "pets")
    )
    metadata = model_metadata(dataset, ExperimentConfig(dataset="pets", data_dir="data"))
    model = KNNClassifier(1).fit(dataset.flat(), dataset.labels)
    loaded = knnvision.load(knnvision.save(model, tmp_path / "m.knnv", metadata=metadata))
    assert loaded.metadata_["dataset_path"] == str(tmp_path / "pets")
    assert loaded.metadata_["data_dir"] == str(tmp_path / "data")  # made absolute
    assert loaded.metadata_["image_shape"] == [2, 3, 3] and loaded.metadata_["color"] is True
    assert loaded.n_features_in_ == 2 * 3 * 3
