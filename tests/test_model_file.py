"""Model files: exact round trips, and clear errors for everything that is not one."""

import hashlib
import json
import pickle
import struct

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline

import knnvision
from knnvision import KNNClassifier, KNNOutlierDetector, KNNRegressor
from knnvision.io import read_header
from knnvision.io.model_file import MAGIC


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
    ],
    ids=["classifier", "regressor", "outlier", "pipeline"],
)
def test_round_trip_preserves_predictions_exactly(tmp_path, digits, make):
    X, y, X_new = digits
    model = make(X, y)
    path = knnvision.save(model, tmp_path / "m.knnv", metadata={"image_shape": [8, 8]})
    restored = knnvision.load(path)
    assert type(restored) is type(model)
    assert restored.metadata_ == {"image_shape": [8, 8]}
    np.testing.assert_array_equal(restored.predict(X_new), model.predict(X_new))
    if hasattr(model, "predict_proba"):
        np.testing.assert_array_equal(restored.predict_proba(X_new), model.predict_proba(X_new))


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
