"""The report: figure functions, the self-contained HTML page of `run`, `tune`, `evaluate` and
the recipes, the CLI, and a real browser."""

import base64
import io
import json
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
from knnvision.experiments.run import run_experiment
from knnvision.io import save
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
from knnvision.results.experiment import ExperimentConfig, model_metadata, split_for_experiment
from knnvision.selection.search_cv import cross_validate_grid
from optional_parts import require_chromium

DIGITS_FIGURES = {"samples", "accuracy_vs_k", "confusion", "per_class", "misclassified", "timings"}


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A full run on the bundled digits, report included (about 3 s)."""
    out = tmp_path_factory.mktemp("digits")
    config = ExperimentConfig(
        out_dir=str(out),
        n_neighbors=(1, 3, 5),
        cv=3,
        command=["knnvision", "run", "--k", "1,3,5", "--cv", "3"],
    )
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
    assert "<th>chosen p</th>" not in page  # a Euclidean model: p means nothing for it
    # Contents links wrap between links, never inside one ("Classification / report").
    assert "nav a { white-space: nowrap; }" in page and "flex-wrap: wrap" in page
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
    assert [name for name, _ in titles] == [
        result.class_names[result.train_labels[i]] for i in nearest
    ]
    assert [float(d) for _, d in titles] == pytest.approx(distances[nearest], rel=5e-3)


def test_pca_figures_appear_only_when_the_model_uses_pca(digits_run, tmp_path):
    result, _ = digits_run
    assert not {"pca_variance", "pca_scatter"} & set(experiment_figures(result))

    pipeline = make_pipeline(SklearnPCA(12, random_state=0), KNNClassifier(3))
    pipeline.fit(result.train_features, result.train_labels)
    with_pca = type(result)(
        **{
            **vars(result),
            "model": pipeline,
            "test_predictions": pipeline.predict(result.test_features),
        }
    )
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
    "tune": (
        [
            "--k",
            "1,3",
            "--metric",
            "euclidean,manhattan",
            "--weights",
            "uniform,distance",
            "--cv",
            "2",
        ],
        {"accuracy_vs_k", "confusion", "per_class", "misclassified", "timings"},
        {"top_settings", "scores"},
        "best setting",
    ),
    "evaluate": (
        ["MODEL"],
        {"confusion", "per_class", "misclassified", "timings"},
        {"scores"},
        "m.knnv: k-NN, k=3, minkowski p=2, uniform",
    ),
    # digits-grid's report (accuracy against k) is checked in tests/test_recipes.py.
    "recipe": (
        ["digits-quickstart", "--no-check"],
        {"confusion", "per_class", "timings"},
        {"numbers"},
        "class of the hand-drawn 1",
    ),
}


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    """A k=3 model of the digits' default training part, as `knnvision fit` saves it."""
    data = load_dataset("digits")
    config = ExperimentConfig()
    X_train, y_train, _, _ = split_for_experiment(data, config)
    path = tmp_path_factory.mktemp("model") / "m.knnv"
    return save(KNNClassifier(3).fit(X_train, y_train), path, metadata=model_metadata(data, config))


def _arguments(kind: str, model: Path) -> list:
    return [kind, *(model if arg == "MODEL" else arg for arg in OTHER_REPORTS[kind][0])]


@pytest.mark.parametrize("kind", OTHER_REPORTS)
def test_tune_evaluate_and_recipe_write_a_report_that_report_rebuilds(
    kind, digits_model, tmp_path, cli
):
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


@pytest.mark.parametrize(
    "kind,arguments",
    [
        ("tune", ["--k", "1,3", "--cv", "2"]),
        ("evaluate", ["MODEL"]),
        ("recipe", ["toy-regression", "--no-check"]),
    ],
)
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
    titles = [axes.get_title() for axes in figure.axes]
    chosen = "pca=none" if best_pca is None else "pca=12"
    # One panel per setting; constant metric and weights left out of its name.
    assert titles == [name + " (chosen)" * (name == chosen) for name in ("pca=12", "pca=none")]


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
        images[:2],
        [0, 1],
        [1, 2],
        images[2:8].reshape(2, 3, 12, 12),
        np.array([[1, 0, 2], [2, 2, 1]]),
        np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
        names,
        n_voting=2,
    )
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
    titles = [axes.get_title().removesuffix(" (chosen)") for axes in figure.axes]
    assert titles == ["weights=uniform", "weights=distance"]  # p is the same for all
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert f"chosen: k={search.best_params_['n_neighbors']}, CV {search.best_score_:.2%}" in labels

    one_split = {
        "params": [{"n_neighbors": k} for k in (1, 3)],
        "split0_test_score": [0.9, 0.8],
        "mean_test_score": [0.9, 0.8],
        "std_test_score": [0.0, 0.0],
    }
    labels = [t.get_text() for t in accuracy_vs_k(one_split).legends[0].get_texts()]
    assert labels == ["validation accuracy", "chosen: k=1, validation 90.00%"]


def test_misclassified_figure_says_so_when_nothing_is_wrong():
    empty = np.zeros((0, 8, 8))
    figure = misclassified_neighbors(
        empty, [], [], np.zeros((0, 3, 8, 8)), np.zeros((0, 3)), np.zeros((0, 3)), ["a", "b"]
    )
    assert "No test image was misclassified" in figure.axes[0].texts[0].get_text()


# --- what a reader sees: captions, axes, ranks, numbers ---------------------------------------


def _drawn_tick_labels(axis) -> list[str]:
    """The tick labels of ``axis`` as drawn (labels are set at draw time), those in view."""
    axis.figure.canvas.draw()
    low, high = sorted(axis.get_view_interval())
    return [
        label.get_text()
        for label, tick in zip(axis.get_ticklabels(), axis.get_ticklocs(), strict=False)
        if low - 1e-9 <= tick <= high + 1e-9
    ]


def test_example_images_are_training_images_as_the_caption_says(digits_run):
    from knnvision.report.text import CAPTIONS

    result, _ = digits_run
    assert "training" in CAPTIONS["samples"][1]
    figure = experiment_figures(result)["samples"]
    mosaic = figure.axes[0].images[0].get_array().filled(np.nan)
    height, width = result.dataset.image_shape
    train_rows = {row.tobytes() for row in result.train_features.astype(float)}
    shown = [
        mosaic[top : top + height, left : left + width]
        for top in range(0, mosaic.shape[0], height + 1)
        for left in range(0, mosaic.shape[1], width + 1)
    ]
    shown = [image for image in shown if not np.isnan(image).any()]
    assert len(shown) == 8 * len(result.class_names)
    # Every example is a row of the training part (the whole dataset holds the test part too).
    assert all(image.ravel().tobytes() in train_rows for image in shown)
    assert "training" in figure.axes[0].get_title()


def test_per_class_score_axis_stops_at_100_percent():
    names = ["a", "b", "c"]
    perfect = {
        name: {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 5} for name in names
    }
    axes = per_class_scores(perfect, names).axes[0]
    assert axes.get_xlim()[1] == 1.0
    labels = _drawn_tick_labels(axes.xaxis)
    assert labels[-1] == "100%" and all(float(t.rstrip("%")) <= 100 for t in labels)

    mixed = {**perfect, "b": {"precision": 0.92, "recall": 0.95, "f1-score": 0.935, "support": 5}}
    axes = per_class_scores(mixed, names).axes[0]
    assert axes.get_xlim()[1] == 1.0
    labels = _drawn_tick_labels(axes.xaxis)
    # Ticks on whole percents read as such, all with the same decimals.
    assert labels[-1] == "100%" and all("." not in label for label in labels)


def test_ranks_follow_the_scores_as_shown():
    from knnvision.report.text import top_settings

    # 98.6769% and 98.6772% both read 98.68%: one rank, not 1 and 2.
    cv = {
        "params": [{"n_neighbors": k} for k in (1, 3, 5, 7)],
        "mean_test_score": [0.986769, 0.986772, 0.98, 0.986769],
        "std_test_score": [0.006, 0.006, 0.01, 0.007],
        "rank_test_score": [2, 1, 4, 2],
    }
    rows = top_settings(cv, 4)
    assert [row[0] for row in rows] == ["1", "1", "1", "4"]
    assert [row[1] for row in rows] == [
        "n_neighbors=3",
        "n_neighbors=1",
        "n_neighbors=7",
        "n_neighbors=5",
    ]  # the search's best stays first
    assert all(row[2].startswith("98.68% ±") for row in rows[:3])

    from knnvision.report.text import shown_ranks

    assert shown_ranks(["90.00%", "95.00%", "95.00%", "80.00%"]).tolist() == [3, 1, 1, 4]


def test_counts_are_written_with_thousands_separators():
    from knnvision.report.html import ReportPage, render_html
    from knnvision.report.text import dataset_text

    assert (
        dataset_text("mnist", 60000, 10000, (28, 28))
        == "mnist: 60,000 train / 10,000 test images, 28×28"
    )

    names = ["zero", "one"]
    matrix = [[1135, 15], [3, 9847]]
    heatmap = confusion_heatmap(matrix, names)
    assert heatmap.get_suptitle() == "Confusion matrix (11,000 test images)"
    cells = [text.get_text() for text in heatmap.axes[0].texts]
    assert "1,135" in cells and "9,847" in cells
    colorbar = heatmap.axes[2]  # the counts' colour bar
    assert any("," in label for label in _drawn_tick_labels(colorbar.yaxis))

    report = {
        "zero": {"precision": 0.99, "recall": 0.98, "f1-score": 0.985, "support": 1150},
        "one": {"precision": 0.99, "recall": 0.99, "f1-score": 0.99, "support": 9850},
        "macro avg": {"precision": 0.99, "recall": 0.985, "f1-score": 0.987, "support": 11000},
    }
    ticks = [t.get_text() for t in per_class_scores(report, names).axes[0].get_yticklabels()]
    assert ticks == ["zero  (n=1,150)", "one  (n=9,850)"]
    page = render_html(ReportPage("t", {}, [], classification_report=report, class_names=names))
    assert ">9,850</td>" in page and ">11,000</td>" in page and "9850" not in page


def test_distance_labels_of_a_figure_share_one_format():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 17, size=(8, 8, 8)).astype(float)
    names = ["a", "b"]

    def distance_labels(distances):
        figure = misclassified_neighbors(
            images[:1],
            [0],
            [1],
            images[1:4].reshape(1, 3, 8, 8),
            np.array([[1, 0, 1]]),
            np.array([distances]),
            names,
        )
        return [text.get_text().split("d = ")[1] for text in figure.axes[0].texts[1:]]

    assert distance_labels([24.0, 28.14, 29.71]) == ["24.0", "28.1", "29.7"]  # not 24 / 28.1
    assert distance_labels([0.4123, 0.5, 0.655]) == ["0.412", "0.500", "0.655"]
    assert distance_labels([987.6, 1204.4, 2310.0]) == ["988", "1,204", "2,310"]
    assert distance_labels([56.0, 60.0, 61.0]) == ["56", "60", "61"]  # Manhattan on integers


def _grid_results(settings: list[dict], means_by_k: list[list[float]]) -> dict:
    """A GridSearchCV-style cv_results of ``settings`` x k = 1, 3, 5 (two folds)."""
    params, means = [], []
    for setting, row in zip(settings, means_by_k, strict=True):
        for k, mean in zip((1, 3, 5), row, strict=True):
            params.append({**setting, "n_neighbors": k})
            means.append(mean)
    means = np.array(means)
    return {
        "params": params,
        "mean_test_score": means,
        "std_test_score": np.full(len(means), 0.02),
        "split0_test_score": means,
        "split1_test_score": means,
        "rank_test_score": 1 + np.array([np.sum(means > m) for m in means]),
    }


def test_accuracy_vs_k_draws_one_panel_per_setting_on_shared_axes():
    settings = [
        {"metric": metric, "pca": pca}
        for metric in ("euclidean", "manhattan")
        for pca in (20, "none")
    ]
    cv = _grid_results(
        settings, [[0.97, 0.96, 0.95], [0.99, 1.0, 0.99], [0.96, 0.97, 0.96], [0.95, 0.95, 0.94]]
    )
    figure = accuracy_vs_k(cv, test_accuracy=0.99)
    panels = figure.axes
    assert [axes.get_title() for axes in panels] == [
        "metric=euclidean, pca=20",
        "metric=euclidean, pca=none (chosen)",
        "metric=manhattan, pca=20",
        "metric=manhattan, pca=none",
    ]
    assert len({axes.get_ylim() for axes in panels}) == 1  # shared axes
    assert len({axes.get_xlim() for axes in panels}) == 1
    # The band of a 100% accuracy stops at 100%, and so does the axis.
    assert panels[0].get_ylim()[1] <= 1.0
    assert all(float(t.rstrip("%")) <= 100 for t in _drawn_tick_labels(panels[0].yaxis))
    # The chosen setting's star is in its own panel only.
    stars = [[line for line in axes.get_lines() if line.get_marker() == "*"] for axes in panels]
    assert [len(found) for found in stars] == [0, 1, 0, 0]
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert labels.count("other settings") == 1 and len(labels) == len(set(labels))

    many = [{"metric": f"m{i}"} for i in range(9)]
    cv = _grid_results(many, [[0.90 + 0.01 * i] * 3 for i in range(9)])
    figure = accuracy_vs_k(cv)
    assert len(figure.axes) == 6  # the best six, in grid order
    assert [axes.get_title().removesuffix(" (chosen)") for axes in figure.axes] == [
        f"metric=m{i}" for i in range(3, 9)
    ]
    assert "best 6 of 9 settings" in figure.get_suptitle()


# --- a real browser --------------------------------------------------------------------------


def test_headless_chromium_renders_the_report(digits_run, tmp_path):
    chromium = require_chromium()
    _, out = digits_run
    screenshot = tmp_path / "report.png"
    completed = subprocess.run(
        [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={screenshot}",
            "--window-size=1280,4000",
            (out / "report.html").resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    image = Image.open(screenshot)
    assert image.size == (1280, 4000)
    # A page that failed to load is blank; the report has text, figures and colour.
    colours = image.convert("RGB").resize((320, 1000)).getcolors(maxcolors=1_000_000)
    assert len(colours) > 1000
