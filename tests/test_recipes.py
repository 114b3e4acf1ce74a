"""The tutorials' recipes run, report their numbers, and agree with scikit-learn.

The digits and toy recipes run in full. The MNIST one runs on capped subsets (1,000 training,
200 validation, 200 test images) and the Fashion-MNIST one on 3,000 training and 500 test
images, when the IDX files are found (``$KNNVISION_DATA`` or ``../shared/datasets``); the full
Fashion-MNIST run (60,000 x 10,000) is left to ``benchmarks/recipes.py``.
"""

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from knnvision.datasets import load_dataset, train_val_test_split
from knnvision.experiments.recipes import RECIPES, RecipeOptions, run_recipe
from knnvision.report.recipe import write_outputs
from optional_parts import require_dataset


def data_dir(name: str) -> str:
    """Folder holding the dataset's IDX files, or skip the test (fail under CI=true)."""
    return str(require_dataset(name))


def test_registry_lists_every_tutorial():
    assert list(RECIPES) == [
        "fashion-pca",
        "digits-grid",
        "mnist-subset",
        "digits-quickstart",
        "toy-regression",
    ]
    assert [r.quick for r in RECIPES.values()] == [False, True, True, True, True]
    with pytest.raises(ValueError, match="No recipe named 'mnist'; choose one of fashion-pca"):
        run_recipe("mnist")


def test_toy_regression_rises_and_equals_scikit_learn():
    result = run_recipe("toy-regression")
    predictions = [row for row in result.rows if row.quantity.startswith("prediction for")]
    assert len(predictions) == 4
    for row in predictions:
        assert row.knnvision == row.scikit_learn
    assert result.row("predictions rise with the feature values").knnvision == "yes"
    assert predictions[0].knnvision < 0.5 < predictions[-1].knnvision


def test_digits_quickstart_reads_the_hand_drawn_one():
    result = run_recipe("digits-quickstart")
    drawn = result.row("class of the hand-drawn 1")
    assert drawn.knnvision == drawn.tutorial == drawn.scikit_learn == 1
    accuracy = result.row("test accuracy, k=5")
    assert accuracy.knnvision == accuracy.scikit_learn > 0.97
    assert set(result.seconds) == {"loading", "knnvision", "scikit-learn"}


def _report_figures(result, folder: Path) -> set[str]:
    """Write the recipe's report into ``folder``; the names of the figures it shows."""
    files = write_outputs(folder, result, RecipeOptions(check=False))
    page = Path(files["report"]).read_text(encoding="utf-8")
    shown = {path.stem for path in Path(files["figures"]).glob("*.png")}
    assert all(f'<section id="{name}">' in page for name in shown)
    return shown


def test_digits_grid_uses_the_tutorials_split_and_grid(tmp_path):
    X, y = load_digits(return_X_y=True)
    expected = train_test_split(X, y, test_size=0.2, random_state=1337)
    X_train, _, X_test, y_train, _, y_test = train_val_test_split(
        load_dataset("digits").flat("train"),
        y,
        val_size=0,
        test_size=0.2,
        seed=1337,
        stratify=False,
    )
    for ours, theirs in zip((X_train, X_test, y_train, y_test), expected, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    # scikit-learn's grid search (process pool) is left out to keep the test quick; the
    # scores equal GridSearchCV's by test_model_selection.
    result = run_recipe("digits-grid", RecipeOptions(check=False))
    assert result.row("test accuracy, k=20, kd-tree, p=2").knnvision > 0.95
    assert result.row("best cross-validated accuracy").knnvision > 0.97
    assert result.row("best parameters (5-fold grid search)").knnvision.startswith("n_neighbors=")
    assert _report_figures(result, tmp_path) == {
        "accuracy_vs_k",
        "confusion",
        "per_class",
        "timings",
    }


def test_mnist_subset_on_small_subsets_agrees_with_scikit_learn():
    options = RecipeOptions(data_dir=data_dir("mnist"), max_train=1000, max_test=200)
    result = run_recipe("mnist-subset", options)
    for k in (1, 3, 5, 9, 15, 25):
        row = result.row(f"validation accuracy, K={k}")
        assert row.knnvision == row.scikit_learn
    assert result.row("best K").knnvision == result.row("best K").scikit_learn
    assert result.row("… predictions equal to scikit-learn's").knnvision == "200/200"
    assert [table.title.split(",")[0] for table in result.tables] == [
        "Per-class report",
        "Confusion matrix",
    ]
    assert "1000 training, 200 validation, 200 test" in result.setup
    curve = result.plots["cv_results"]  # the report's accuracy against K
    assert [p["n_neighbors"] for p in curve["params"]] == [1, 3, 5, 9, 15, 25]
    assert np.asarray(result.plots["confusion_matrix"]).sum() == 200


def test_fashion_pca_on_a_subset_agrees_with_scikit_learn(tmp_path):
    options = RecipeOptions(data_dir=data_dir("fashion-mnist"), max_train=3000, max_test=500)
    result = run_recipe("fashion-pca", options)
    variance = result.row("variance kept by 10 components")
    # scikit-learn picks its randomized solver for this subset: close, not bit-equal.
    assert variance.knnvision == pytest.approx(variance.scikit_learn, rel=1e-6)
    assert 0.65 < variance.knnvision < 0.8
    for metric in ("euclidean", "manhattan"):
        row = result.row(f"test accuracy, k=10, {metric}")
        # scikit-learn's PCA route differs in rounding, which may flip a near tie or two.
        assert row.knnvision == pytest.approx(row.scikit_learn, abs=0.01)
    assert result.row("test accuracy, k=10, euclidean").tutorial == 0.8153
    assert len(result.tables[0].rows) == 20
    assert np.asarray(result.plots["confusion_matrix"]).sum() == 500
    assert _report_figures(result, tmp_path) == {
        "pca_variance",
        "confusion",
        "per_class",
        "timings",
    }


def test_cli_recipe_list_run_and_unknown(cli, tmp_path):
    status, out, _ = cli("recipe", "--list")
    assert status == 0
    assert all(name in out for name in RECIPES)
    status, out, _ = cli("recipe", "toy-regression")
    assert status == 0
    assert "tutorial" in out and "knnvision" in out and "scikit-learn" in out
    assert "Time:" in out
    # Its report (tests/test_report.py checks a digits recipe's page): numbers and timing only.
    folder = tmp_path / "results" / "recipes" / "toy-regression"
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "prediction for a point of all 5s" in page and "predictions rise" in page
    assert [path.name for path in (folder / "figures").iterdir()] == ["timings.png"]
    status, out, _ = cli("recipe", "digits-quickstart", "--no-check")
    assert status == 0 and "scikit-learn" not in out and "hand-drawn 1" in out
    status, _, err = cli("recipe", "tutorial-9")
    assert status == 1 and "No recipe named 'tutorial-9'" in err and "Traceback" not in err
