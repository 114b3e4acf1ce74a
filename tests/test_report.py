"""The report: figure functions, the self-contained HTML page of `run`, `tune`, `evaluate` and
the recipes, the CLI, and a real browser."""

import base64
import io
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image
from sklearn.decomposition import PCA as SklearnPCA
from sklearn.pipeline import make_pipeline

import knnvision
from knnvision import KNNClassifier, KNNSearchCV
from knnvision.datasets import load_dataset
from knnvision.io import save
from knnvision.model_selection import cross_validate_grid
from knnvision.pipeline import (
    ExperimentConfig, model_metadata, run_experiment, split_for_experiment,
)
from knnvision.report import (
    accuracy_vs_k,
    confusion_heatmap,
    experiment_figures,
    misclassified_neighbors,
    pca_explained_variance,
    pca_scatter,
    per_class_scores,
    rebuild_report,
    sample_grid,
    timing_breakdown,
    write_report,
)

DIGITS_FIGURES = {"samples", "accuracy_vs_k", "confusion", "per_class", "misclassified", "timings"}
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A full run on the bundled digits, report included (about 3 s)."""
    out = tmp_path_factory.mktemp("digits")
    config = ExperimentConfig(out_dir=str(out), n_neighbors=(1, 3, 5), cv=3,
                              command=["knnvision", "run", "--k", "1,3,5", "--cv", "3"])
    return run_experiment(config), out


class _Links(HTMLParser):
    """Every tag name, and every src/href value, of a page."""

    def __init__(self):
        super().__init__()
        self.tags, self.images, self.links, self.ids = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if "href" in attrs:
            self.links.append(attrs["href"])
        if "id" in attrs:
            self.ids.append(attrs["id"])


def _parse(page: str) -> _Links:
    parser = _Links()
    parser.feed(page)
    return parser


def _check_self_contained(out: Path, figures: set[str]) -> str:
    """The page in ``out``, checked to load nothing and to show exactly ``figures``, each as
    a section, an inline PNG and a file in ``figures/``."""
    page = (out / "report.html").read_text(encoding="utf-8")
    parsed = _parse(page)
    assert "http://" not in page and "https://" not in page
    assert not {"script", "link", "iframe", "object", "embed"} & set(parsed.tags)
    assert "url(" not in page  # no CSS-loaded resources either
    assert all(link.startswith("#") for link in parsed.links)
    assert len(parsed.images) == len(figures)
    for source in parsed.images:
        assert source.startswith("data:image/png;base64,")
        png = base64.b64decode(source.split(",", 1)[1], validate=True)
        assert Image.open(io.BytesIO(png)).format == "PNG"
    assert figures <= set(parsed.ids)
    assert {path.stem for path in (out / "figures").glob("*.png")} == figures
    return page


# --- the page --------------------------------------------------------------------------------


def test_run_writes_a_self_contained_report_with_every_figure(digits_run):
    result, out = digits_run
    assert Path(result.files["report"]) == out / "report.html"
    _check_self_contained(out, DIGITS_FIGURES)


def test_report_page_has_headline_scores_parameters_versions_and_command(digits_run):
    result, out = digits_run
    page = (out / "report.html").read_text(encoding="utf-8")
    assert f"{result.accuracy:.2%}" in page
    assert f"k={result.cv.best.n_neighbors}" in page
    for name in [*result.class_names, "macro avg", "weighted avg"]:
        assert f"<td>{name}</td>" in page
    assert "knnvision run --k 1,3,5 --cv 3" in page
    assert "run_experiment(ExperimentConfig(dataset=&#x27;digits&#x27;" in page
    assert "matplotlib" in page and "scikit-learn" in page
    recorded = json.loads((out / "results.json").read_text())
    assert recorded["config"]["command"] == ["knnvision", "run", "--k", "1,3,5", "--cv", "3"]
    assert "matplotlib" in recorded["versions"]


def test_misclassified_figure_shows_exact_nearest_neighbours(digits_run):
    result, _ = digits_run
    figure = experiment_figures(result)["misclassified"]
    wrong = np.flatnonzero(result.test_predictions != result.test_labels)
    assert wrong.size  # digits at k<=5 always has a few errors
    query = result.test_features[wrong[0]].astype(np.float64)
    distances = np.sqrt(((result.train_features.astype(np.float64) - query) ** 2).sum(axis=1))
    nearest = np.lexsort((np.arange(len(distances)), distances))[:5]  # ties: smaller index
    labels = [text.get_text() for text in figure.axes[0].texts]
    titles = [label.split("\nd = ") for label in labels[1:6]]  # after the test image's own
    assert [name for name, _ in titles] == [result.class_names[result.train_labels[i]]
                                            for i in nearest]
    assert [float(d) for _, d in titles] == pytest.approx(distances[nearest], rel=5e-3)


def test_pca_figures_appear_only_when_the_model_uses_pca(digits_run, tmp_path):
    result, _ = digits_run
    assert not {"pca_variance", "pca_scatter"} & set(experiment_figures(result))

    pipeline = make_pipeline(SklearnPCA(12, random_state=0), KNNClassifier(3))
    pipeline.fit(result.train_features, result.train_labels)
    with_pca = type(result)(**{**vars(result), "model": pipeline,
                               "test_predictions": pipeline.predict(result.test_features)})
    files = write_report(with_pca, tmp_path)
    names = {path.stem for path in Path(files["figures"]).glob("*.png")}
    assert names == DIGITS_FIGURES | {"pca_variance", "pca_scatter"}
    page = Path(files["report"]).read_text(encoding="utf-8")
    assert "PCA(12) → k-NN, k=3" in page


def test_figures_never_touch_pyplot(digits_run):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    experiment_figures(digits_run[0])
    assert plt.get_fignums() == before


# --- the CLI -------------------------------------------------------------------------------


def test_no_report_then_report_command_rebuilds_it(tmp_path, cli):
    out = tmp_path / "run"
    assert cli("run", "--k", "1,3", "--cv", "2", "--no-report", "--out", out)[0] == 0
    assert not (out / "report.html").exists() and not (out / "figures").exists()

    status, printed, _ = cli("report", out)
    assert status == 0 and "report.html" in printed
    page = (out / "report.html").read_text(encoding="utf-8")
    assert len(_parse(page).images) == len(DIGITS_FIGURES)
    recorded = json.loads((out / "results.json").read_text())
    assert f"{recorded['test_accuracy']:.2%}" in page
    assert "--no-report" in page  # the command that made the run

    recorded["test_accuracy"] = 0.5  # as if the dataset had changed since the run
    (out / "results.json").write_text(json.dumps(recorded))
    status, _, error = cli("report", out)
    assert status == 1 and "no longer gives the run's results" in error


def test_report_command_on_a_folder_without_results_fails_in_one_line(tmp_path, cli):
    status, _, error = cli("report", tmp_path)
    assert status == 1
    assert "results.json not found" in error and "Traceback" not in error
    with pytest.raises(FileNotFoundError, match="knnvision run --out"):
        rebuild_report(tmp_path)


# --- tune, evaluate and the recipes -------------------------------------------------------------

#: Per command: its arguments (after the command name; MODEL stands for a saved digits model),
#: the figures its digits report shows, its table sections, and the text of its headline.
OTHER_REPORTS = {
    "tune": (["--k", "1,3", "--metric", "euclidean,manhattan", "--weights", "uniform,distance",
              "--cv", "2"],
             {"accuracy_vs_k", "confusion", "per_class", "misclassified", "timings"},
             {"top_settings", "scores"}, "best setting"),
    "evaluate": (["MODEL"], {"confusion", "per_class", "misclassified", "timings"},
                 {"scores"}, "m.knnv: k-NN, k=3, minkowski p=2, uniform"),
    # digits-grid's report (accuracy against k) is checked in tests/test_recipes.py.
    "recipe": (["digits-quickstart", "--no-check"], {"confusion", "per_class", "timings"},
               {"numbers"}, "class of the hand-drawn 1"),
}


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    """A k=3 model of the digits' default training part, as `knnvision fit` saves it."""
    data = load_dataset("digits")
    config = ExperimentConfig()
    X_train, y_train, _, _ = split_for_experiment(data, config)
    path = tmp_path_factory.mktemp("model") / "m.knnv"
    return save(KNNClassifier(3).fit(X_train, y_train), path,
                metadata=model_metadata(data, config))


def _arguments(kind: str, model: Path) -> list:
    return [kind, *(model if arg == "MODEL" else arg for arg in OTHER_REPORTS[kind][0])]


@pytest.mark.parametrize("kind", OTHER_REPORTS)
def test_tune_evaluate_and_recipe_write_a_report_that_report_rebuilds(
        kind, digits_model, tmp_path, cli):
    _, figures, tables, headline = OTHER_REPORTS[kind]
    out = tmp_path / kind
    status, printed, _ = cli(*_arguments(kind, digits_model), "--out", out)
    assert status == 0 and "Report: " in printed
    page = _check_self_contained(out, figures)
    assert tables <= set(_parse(page).ids)
    assert f"<span>{headline}</span>" in page or f"<strong>{headline}</strong>" in page
    recorded = json.loads((out / "results.json").read_text())
    assert recorded["kind"] == kind
    if kind != "recipe":
        assert f"{recorded['test_accuracy']:.2%}" in page
    assert f"knnvision {kind}" in page  # the command that reproduces it

    (out / "report.html").unlink()
    shutil.rmtree(out / "figures")
    assert cli("report", out)[0] == 0
    assert (out / "report.html").read_text(encoding="utf-8") == page


@pytest.mark.parametrize("kind,arguments", [
    ("tune", ["--k", "1,3", "--cv", "2"]),
    ("evaluate", ["MODEL"]),
    ("recipe", ["toy-regression", "--no-check"]),
])
def test_no_report_writes_results_only(kind, arguments, digits_model, tmp_path, cli):
    out = tmp_path / kind
    arguments = [digits_model if arg == "MODEL" else arg for arg in arguments]
    assert cli(kind, *arguments, "--no-report", "--out", out)[0] == 0
    assert json.loads((out / "results.json").read_text())["kind"] == kind
    assert not (out / "report.html").exists() and not (out / "figures").exists()


def test_tune_report_draws_a_line_per_pca_size_and_saves_the_best_model(tmp_path, cli):
    out = tmp_path / "tune"
    assert cli("tune", "--k", "1,3", "--pca", "0,12", "--cv", "2", "--out", out)[0] == 0
    recorded = json.loads((out / "results.json").read_text())
    best_pca = recorded["best_params"].get("pca__n_components")
    model = knnvision.load(out / "model.knnv")  # "no PCA" is saved as the classifier alone
    assert hasattr(model, "steps") == (best_pca is not None)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert ("pca_variance" in _parse(page).ids) == (best_pca is not None)
    assert "pca=none" in page and "pca=12" in page  # in the table of best settings

    figure = accuracy_vs_k(recorded["cv_results"])
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert labels[:2] == ["pca=12", "pca=none"]  # constant metric and weights left out


def test_report_of_an_evaluation_needs_its_model_file(digits_model, tmp_path, cli):
    model = tmp_path / "copy.knnv"
    shutil.copy(digits_model, model)
    out = tmp_path / "evaluation"
    assert cli("evaluate", model, "--no-report", "--out", out)[0] == 0
    model.unlink()
    status, _, error = cli("report", out)
    assert status == 1
    assert "copy.knnv not found" in error and "Traceback" not in error


def test_report_command_refuses_an_unknown_kind(tmp_path, cli):
    (tmp_path / "results.json").write_text(json.dumps({"kind": "bench"}))
    status, _, error = cli("report", tmp_path)
    assert status == 1 and "unknown kind 'bench'" in error


# --- figure functions on their own ------------------------------------------------------------


def test_figure_functions_label_their_axes():
    rng = np.random.default_rng(0)
    names = ["T-shirt/top", "Trouser", "Ankle boot"]
    labels = np.repeat(np.arange(3), 6)
    images = rng.integers(0, 256, size=(18, 12, 12), dtype=np.uint8)

    grid = sample_grid(images, labels, names, per_class=4)
    assert [t.get_text() for t in grid.axes[0].get_yticklabels()] == names

    heatmap = confusion_heatmap([[5, 1, 0], [0, 6, 0], [2, 0, 4]], names)
    counts_axes = heatmap.axes[0]
    assert [t.get_text() for t in counts_axes.get_xticklabels()] == names
    assert counts_axes.get_xlabel() == "predicted class"
    assert counts_axes.get_ylabel() == "true class"
    assert "5" in [t.get_text() for t in counts_axes.texts]
    with pytest.raises(ValueError, match="square"):
        confusion_heatmap([[1, 2]], names)

    report = {n: {"precision": 0.9, "recall": 0.8, "f1-score": 0.85, "support": 6} for n in names}
    scores = per_class_scores({**report, "macro avg": {"f1-score": 0.85}}, names)
    assert [t.get_text() for t in scores.axes[0].get_yticklabels()][0] == "T-shirt/top  (n=6)"

    cv = cross_validate_grid(images.reshape(18, -1), labels, n_neighbors=(1, 3), cv=2)
    curve = accuracy_vs_k(cv, test_accuracy=0.5)
    assert curve.axes[0].get_xlabel() == "k (number of neighbours)"
    assert any("chosen" in t.get_text() for t in curve.legends[0].get_texts())

    neighbours = misclassified_neighbors(
        images[:2], [0, 1], [1, 2], images[2:8].reshape(2, 3, 12, 12),
        np.array([[1, 0, 2], [2, 2, 1]]), np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), names,
        n_voting=2)
    texts = [text.get_text() for text in neighbours.axes[0].texts]
    assert texts[:2] == ["true: T-shirt/top\npredicted: Trouser", "Trouser\nd = 1"]
    assert len(texts) == 2 * (1 + 3)

    variance = pca_explained_variance([0.5, 0.3, 0.15, 0.05])
    legend = variance.axes[1].get_legend()
    assert any("90% with 3 components" in t.get_text() for t in legend.get_texts())
    scatter = pca_scatter(rng.normal(size=(18, 2)), labels, names)
    assert [t.get_text() for t in scatter.legends[0].get_texts()] == names

    timing = timing_breakdown({"load_and_split": 0.1, "tune": 1.5})
    assert [t.get_text() for t in timing.axes[0].get_yticklabels()] == ["load and split", "tune"]

    for figure in (grid, heatmap, scores, curve, neighbours, variance, scatter, timing):
        assert isinstance(figure, Figure)
        assert figure.get_layout_engine() is not None  # constrained: nothing clipped


def test_accuracy_vs_k_reads_a_searchs_cv_results():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 5)), np.repeat([0, 1], 20)
    grid = {"n_neighbors": [1, 3, 5], "weights": ["uniform", "distance"], "p": [2]}
    search = KNNSearchCV(KNNClassifier(), grid, cv=2).fit(X, y)
    figure = accuracy_vs_k(search.cv_results_, test_accuracy=0.5)
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert labels[:2] == ["weights=uniform", "weights=distance"]  # p is the same for all
    assert labels[2] == (f"chosen: k={search.best_params_['n_neighbors']}, "
                         f"CV {search.best_score_:.2%}")

    one_split = {"params": [{"n_neighbors": k} for k in (1, 3)], "split0_test_score": [0.9, 0.8],
                 "mean_test_score": [0.9, 0.8], "std_test_score": [0.0, 0.0]}
    labels = [t.get_text() for t in accuracy_vs_k(one_split).legends[0].get_texts()]
    assert labels == ["validation accuracy", "chosen: k=1, validation 90.00%"]


def test_misclassified_figure_says_so_when_nothing_is_wrong():
    empty = np.zeros((0, 8, 8))
    figure = misclassified_neighbors(empty, [], [], np.zeros((0, 3, 8, 8)), np.zeros((0, 3)),
                                     np.zeros((0, 3)), ["a", "b"])
    assert "No test image was misclassified" in figure.axes[0].texts[0].get_text()


# --- a real browser --------------------------------------------------------------------------


def test_headless_chromium_renders_the_report(digits_run, tmp_path):
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; CI must install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed")
    _, out = digits_run
    screenshot = tmp_path / "report.png"
    completed = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={screenshot}",
         "--window-size=1280,4000", (out / "report.html").resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    image = Image.open(screenshot)
    assert image.size == (1280, 4000)
    # A page that failed to load is blank; the report has text, figures and colour.
    colours = image.convert("RGB").resize((320, 1000)).getcolors(maxcolors=1_000_000)
    assert len(colours) > 1000
