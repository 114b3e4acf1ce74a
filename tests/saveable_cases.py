"""Every class a model file may hold, fitted on the digits, and a strict comparison of two
models: the cases that tests/test_model_file.py (knnvision.save / load) and
tests/test_skops.py (skops.io) round-trip.

The cases follow ``SAVEABLE_ESTIMATORS``, so a class that registers itself is covered at
once; one whose kind has no fitting recipe fails (never skips) with a note to add one here.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, is_classifier, is_outlier_detector, is_regressor
from sklearn.datasets import load_digits
from sklearn.pipeline import Pipeline, make_pipeline

import knnvision
import knnvision.neighbors  # noqa: F401  (every estimator registers itself on import)
from knnvision.io.model_file import SAVEABLE_ESTIMATORS

# Settings that make a class answer on the 8x8 digits (pixel values 0..16; nearest
# neighbours lie 15-30 apart), by class name; a class not named here uses its defaults.
SETTINGS = {
    "RerankKNNClassifier": {"n_candidates": 20, "shifts": (1,)},
    "RadiusNeighborsClassifier": {"radius": 30.0, "outlier_label": "most_frequent"},
    "RadiusNeighborsRegressor": {"radius": 40.0},
    "RadiusNeighborsTransformer": {"radius": 30.0},
    "NeighborhoodComponentsAnalysis": {"n_components": 8, "max_iter": 5, "random_state": 0},
}
# What a fitted model answers about new rows, by method name.
METHODS = (
    "predict",
    "predict_proba",
    "decision_function",
    "score_samples",
    "transform",
    "kneighbors",
)
LETTERS = np.array(list("abcdefghij"))


def digits():
    """500 training digits as uint8 rows, their labels, and 100 new rows."""
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.uint8)
    return X[:500], y[:500], X[500:600]


def cases() -> dict[str, BaseEstimator]:
    """Case name -> unfitted model: each saveable class, and pipelines of them."""
    models = {
        name: cls(**SETTINGS.get(name, {})) for name, cls in sorted(SAVEABLE_ESTIMATORS.items())
    }
    if "LocalOutlierFactor" in SAVEABLE_ESTIMATORS:
        lof = SAVEABLE_ESTIMATORS["LocalOutlierFactor"]
        models["LocalOutlierFactor-novelty"] = lof(novelty=True)
    models["Pipeline-pca-classifier"] = make_pipeline(
        knnvision.Deskew(), knnvision.PCA(n_components=20), knnvision.KNNClassifier(3)
    )
    if "KNeighborsTransformer" in SAVEABLE_ESTIMATORS:
        transformer = SAVEABLE_ESTIMATORS["KNeighborsTransformer"]
        models["Pipeline-transformer-classifier"] = make_pipeline(
            transformer(n_neighbors=10, mode="distance"),
            knnvision.KNNClassifier(5, metric="precomputed"),
        )
    return models


def kind(model) -> str:
    """The fitting recipe a model takes: classifier, regressor, outlier detector, transformer
    or neighbours (the unsupervised search, ``NearestNeighbors``)."""
    last = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if is_classifier(last):
        return "classifier"
    if is_regressor(last):
        return "regressor"
    if is_outlier_detector(last):
        return "outlier detector"
    if hasattr(last, "transform"):
        return "transformer"
    if hasattr(last, "kneighbors"):
        return "neighbours"
    raise AssertionError(
        f"No fitting recipe for {type(last).__name__}: add its kind to tests/saveable_cases.py."
    )


def fitted(model, X, y):
    """``model`` fitted by the recipe of its kind: string labels for a classifier, a float
    target for a regressor, the labels (used or ignored) otherwise."""
    recipe = kind(model)
    target = LETTERS[y] if recipe == "classifier" else (y * 0.5 if recipe == "regressor" else y)
    with warnings.catch_warnings():
        # What fitting says about the data (constant pixels of the digits) is not the test.
        warnings.simplefilter("ignore", UserWarning)
        return model.fit(X, target)


def outputs(model, X) -> dict:
    """Everything ``model`` answers about ``X``, by method name (at least one method)."""
    answers = {name: getattr(model, name)(X) for name in METHODS if hasattr(model, name)}
    assert answers, f"{type(model).__name__} answers none of {METHODS}"
    return answers


def fitted_attributes(model) -> dict:
    """The public fitted attributes (``name_``) of a model, or of each step of a pipeline."""
    if isinstance(model, Pipeline):
        return {name: fitted_attributes(step) for name, step in model.steps}
    return {
        key: value
        for key, value in vars(model).items()
        if key.endswith("_") and not key.startswith("_") and key != "metadata_"
    }


def assert_same(got, expected, where: str = "model") -> None:
    """``got`` equals ``expected`` exactly: types, dtypes, shapes and values (NaN equal)."""
    if isinstance(expected, dict) and not isinstance(expected, BaseEstimator):
        assert isinstance(got, dict) and got.keys() == expected.keys(), where
        for key in expected:
            assert_same(got[key], expected[key], f"{where}[{key!r}]")
        return
    assert type(got) is type(expected), f"{where}: {type(got)} != {type(expected)}"
    if sparse.issparse(expected):
        assert got.format == expected.format and got.shape == expected.shape, where
        assert got.dtype == expected.dtype and (got != expected).nnz == 0, where
    elif isinstance(expected, np.ndarray):
        assert got.dtype == expected.dtype, f"{where}: {got.dtype} != {expected.dtype}"
        if expected.dtype == object:
            assert got.shape == expected.shape, where
            for i, (a, b) in enumerate(zip(got.flat, expected.flat, strict=True)):
                assert_same(a, b, f"{where}.flat[{i}]")
        else:
            np.testing.assert_array_equal(got, expected, err_msg=where)
    elif isinstance(expected, list | tuple):
        assert len(got) == len(expected), where
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(expected, BaseEstimator):
        assert_same(fitted_attributes(got), fitted_attributes(expected), where)
    elif isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(got), where
    else:
        assert got == expected, f"{where}: {got!r} != {expected!r}"


def assert_round_trip(restored, model, X_new) -> None:
    """``restored`` is ``model`` again: same class, parameters, fitted attributes and answers."""
    assert type(restored) is type(model)
    if not isinstance(model, Pipeline):
        assert_same(restored.get_params(deep=False), model.get_params(deep=False), "params")
    assert_same(fitted_attributes(restored), fitted_attributes(model))
    assert_same(outputs(restored, X_new), outputs(model, X_new), "outputs")
