"""Named presets: lookup, tuning on a validation split of the training data only, the CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from knnvision import load
from knnvision.datasets import load_dataset
from knnvision.experiments.presets import PRESETS, get_preset, preset_names, validation_scores
from knnvision.experiments.run import run_experiment
from knnvision.neighbors.rerank import RerankKNNClassifier
from knnvision.results.experiment import ExperimentConfig, split_for_experiment


def test_every_dataset_has_a_best_preset_that_builds():
    assert {"mnist/best", "fashion-mnist/best", "digits/best"} <= set(preset_names())
    for preset in PRESETS.values():
        model = preset.build(n_neighbors=1)
        assert isinstance(model, Pipeline) and isinstance(model[-1], RerankKNNClassifier)
        assert model[-1].n_neighbors == 1
        assert preset.build() is not preset.build()  # fresh objects each time


def test_lookup_is_forgiving_about_spelling_and_clear_when_unknown():
    assert get_preset("Fashion_MNIST", "Best") is PRESETS[("fashion-mnist", "best")]
    with pytest.raises(ValueError, match="No preset 'fastest' for dataset 'mnist'.*mnist/best"):
        get_preset("mnist", "fastest")
    assert preset_names("digits") == ["digits/best"]


def test_tuning_scores_every_k_and_weighting_on_one_validation_split():
    dataset = load_dataset("digits")
    X, y = dataset.flat("train")[:400], dataset.labels[:400]
    preset = get_preset("digits", "best")
    result = preset.tune(X, y, seed=0)
    assert result.n_folds == 1
    assert len(result.candidates) == len(preset.weights) * len(preset.n_neighbors)
    assert result.extra["n_validation"] == 80 and result.extra["n_fit"] == 320
    assert 0.9 < result.mean_scores.max() <= 1
    model = preset.fit(result.best, X, y)
    assert model[-1].n_neighbors == result.best.n_neighbors and model[-1].n_samples_fit_ == 400


def test_validation_size_follows_the_training_size():
    mnist = get_preset("mnist", "best")
    labels = np.arange(60_000) % 10
    assert mnist.validation_count(labels) == 5000  # capped
    assert mnist.validation_count(labels[:3000]) == 300
    assert mnist.validation_count(labels[:40]) == 10  # one per class at least


def test_validation_scores_equal_the_fitted_model_scores():
    dataset = load_dataset("digits")
    X, y = dataset.flat("train"), dataset.labels
    preset = get_preset("digits", "best")
    model = preset.build(n_neighbors=5).fit(X[:300], y[:300])
    scores = validation_scores(model, X[300:400], y[300:400], [1, 5], ["uniform", "distance"])
    for w, weighting in enumerate(["uniform", "distance"]):
        for j, k in enumerate([1, 5]):
            refit = preset.build(n_neighbors=k, weights=weighting).fit(X[:300], y[:300])
            assert scores[w, j] == refit.score(X[300:400], y[300:400])


def test_a_preset_run_never_looks_at_the_test_part_before_the_end(monkeypatch):
    config = ExperimentConfig(
        dataset="digits",
        preset="best",
        seed=1337,
        max_train=500,
        max_test=120,
        out_dir=None,
        report=False,
    )
    X_train, _, X_test, _ = split_for_experiment(load_dataset("digits"), config)
    # Compare rows as the classifier sees them: after the preset's per-image steps (deskew).
    steps = get_preset("digits", "best").build()[:-1]
    if len(steps):
        X_train, X_test = steps.fit(X_train).transform(X_train), steps.transform(X_test)
    train_rows = {row.tobytes() for row in X_train}
    test_only_rows = {row.tobytes() for row in X_test} - train_rows
    assert len(test_only_rows) > 100

    seen = []  # (what, rows) for every array the classifier is fitted on or queried with
    real_fit, real_kneighbors = RerankKNNClassifier.fit, RerankKNNClassifier.kneighbors

    def spy_fit(self, X, y):
        seen.append(("fit", np.asarray(X)))
        return real_fit(self, X, y)

    def spy_kneighbors(self, X=None, *args, **kwargs):
        seen.append(("query", np.asarray(self._fit_X if X is None else X)))
        return real_kneighbors(self, X, *args, **kwargs)

    monkeypatch.setattr(RerankKNNClassifier, "fit", spy_fit)
    monkeypatch.setattr(RerankKNNClassifier, "kneighbors", spy_kneighbors)
    result = run_experiment(config)

    touching_test = [
        i
        for i, (_, rows) in enumerate(seen)
        if any(row.tobytes() in test_only_rows for row in rows)
    ]
    assert touching_test == [len(seen) - 1]  # only the final evaluation
    assert seen[-1][0] == "query" and len(seen[-1][1]) == len(X_test)
    (_, fitted_on), (_, validated_on) = seen[0], seen[1]
    assert not {r.tobytes() for r in fitted_on} & {r.tobytes() for r in validated_on}
    assert {r.tobytes() for r in validated_on} <= train_rows
    assert result.cv.extra["preset"] == "digits/best" and result.accuracy > 0.95


def test_cli_runs_a_preset_and_saves_a_loadable_model(cli, tmp_path):
    status, out, _ = cli(
        "run",
        "--dataset",
        "digits",
        "--preset",
        "best",
        "--seed",
        "1337",
        "--max-train",
        "400",
        "--max-test",
        "100",
        "--no-report",
        "--out",
        tmp_path,
    )
    assert status == 0
    assert "preset digits/best" in out and "metric=idm" in out and "Test accuracy" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["preset"] == "best" and results["n_train"] == 400
    model = load(tmp_path / "model.knnv")
    assert isinstance(model, Pipeline) and model[-1].distortion == "idm"
    # A fresh process knows the preset's classes without importing their modules first.
    loader = "import sys, knnvision; print(type(knnvision.load(sys.argv[1])[-1]).__name__)"
    done = subprocess.run(
        [sys.executable, "-c", loader, str(tmp_path / "model.knnv")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "RerankKNNClassifier"


def test_cli_unknown_preset_is_a_one_line_error(cli, tmp_path):
    status, _, err = cli("run", "--dataset", "digits", "--preset", "fastest", "--out", tmp_path)
    assert status == 1 and "No preset 'fastest'" in err and "Traceback" not in err
