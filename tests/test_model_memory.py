"""Models and results folders remember their data: `evaluate MODEL` and `report DIR` find it
again from any working folder, never download it, and `info` shows what matters; colour
folders keep their colours with --color (issue 12, section 5). Loading a large model maps its
training rows from the file instead of copying them (issue 15)."""

from __future__ import annotations

import io
import json
import mmap
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from knnvision import KNNClassifier, load, save
from knnvision.datasets import mnist as mnist_module
from knnvision.datasets import write_idx
from knnvision.datasets.mnist import FILES
from knnvision.io import read_header
from knnvision.report import figures

COLOURS = {"blue": (30, 40, 200), "green": (40, 190, 30), "red": (210, 30, 40)}


def _colour_folder(root, n_per_class=8, side=6, noise=60, seed=0):
    """One sub-folder of small colour PNGs per class; the classes differ by colour only."""
    rng = np.random.default_rng(seed)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(n_per_class):
            pixels = rng.integers(0, noise, (side, side, 3)) + np.array(colour)
            Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.fixture
def places(tmp_path, monkeypatch):
    """A working folder holding the dataset ``shapes``, and another folder to move to."""
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    _colour_folder(work / "shapes")
    elsewhere.mkdir()
    monkeypatch.chdir(work)
    return work, elsewhere


# --- a folder dataset is found again from anywhere -------------------------------------------


def test_folder_model_is_evaluated_and_reported_from_another_folder(cli, places, monkeypatch):
    work, elsewhere = places
    monkeypatch.chdir(work)
    assert cli("fit", "--dataset", "shapes", "--k", "1", "--out", "m.knnv")[0] == 0
    assert cli("run", "--dataset", "shapes", "--k", "1,3", "--out", "run")[0] == 0
    monkeypatch.chdir(elsewhere)

    status, out, err = cli("evaluate", work / "m.knnv", "--out", "ev")
    assert status == 0, err
    assert "Test accuracy on shapes" in out
    for folder in (work / "run", elsewhere / "ev"):
        status, out, err = cli("report", folder)
        assert status == 0, err
        assert (folder / "report.html").is_file()


def test_model_records_where_its_data_is(cli, places, monkeypatch):
    work, _ = places
    monkeypatch.chdir(work)
    (work / "data").mkdir()
    assert cli("fit", "--dataset", "shapes", "--data-dir", "data", "--out", "m.knnv")[0] == 0
    metadata = read_header(work / "m.knnv")["metadata"]
    assert metadata["dataset_path"] == str((work / "shapes").resolve())
    assert metadata["data_dir"] == str((work / "data").resolve())
    assert "color" not in metadata and metadata["image_shape"] == [28, 28]


def test_moved_dataset_is_one_clear_line(cli, places, monkeypatch):
    work, elsewhere = places
    assert cli("fit", "--dataset", "shapes", "--out", "m.knnv")[0] == 0
    (work / "shapes").rename(work / "moved")
    monkeypatch.chdir(elsewhere)
    status, _, err = cli("evaluate", work / "m.knnv")
    assert status == 1
    assert "no longer exists" in err and "--dataset" in err and "Traceback" not in err


# --- MNIST is looked for, never downloaded, when a model's data is reloaded -------------------


@pytest.fixture
def no_network(tmp_path, monkeypatch):
    """No MNIST anywhere, and every download attempt recorded and refused."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("KNNVISION_DATA", raising=False)
    monkeypatch.setitem(mnist_module.SYSTEM_DIRS, "mnist", ())
    attempts = []

    def refuse(url, *args, **kwargs):
        attempts.append(url)
        raise ConnectionError(f"could not download {url}: the network is blocked in tests")

    monkeypatch.setattr(mnist_module, "download_verified", refuse)
    monkeypatch.setattr("urllib.request.urlopen", refuse)
    return attempts


def _fake_mnist(folder, seed=0):
    """Four small IDX files shaped like MNIST's: 20 training and 10 test images."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    parts = {
        FILES[0]: rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        FILES[1]: (np.arange(20) % 10).astype(np.uint8),
        FILES[2]: rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        FILES[3]: (np.arange(10) % 10).astype(np.uint8),
    }
    for stem, array in parts.items():
        write_idx(folder / f"{stem}.gz", array)
    return parts


def _mnist_model(path, train_images, train_labels, **metadata):
    model = KNNClassifier(1).fit(train_images.reshape(len(train_images), -1), train_labels)
    meta = {
        "dataset": "mnist",
        "image_shape": [28, 28],
        "max_value": 255,
        "class_names": [str(d) for d in range(10)],
        "split": {"test_size": 0.2, "seed": 0, "stratify": True, "official": True},
        **metadata,
    }
    return save(model, path, metadata=meta)


def test_evaluate_without_data_dir_never_downloads(cli, tmp_path, no_network):
    model = _mnist_model(
        tmp_path / "mnist.knnv",
        np.zeros((10, 28, 28), np.uint8),
        np.arange(10),
        data_dir=str(tmp_path / "was-here"),
    )
    status, _, err = cli("evaluate", model, "--no-report")
    assert status == 1
    assert no_network == []  # nothing was downloaded
    message = err.strip()
    assert "\n" not in message and "Traceback" not in message
    assert "--data-dir" in message
    assert str(tmp_path / "was-here") in message  # the recorded folder was looked in
    assert str(tmp_path / "cache" / "knnvision" / "mnist") in message


def test_evaluate_finds_mnist_in_the_recorded_data_dir(cli, tmp_path, no_network):
    parts = _fake_mnist(tmp_path / "data" / "mnist")
    model = _mnist_model(
        tmp_path / "mnist.knnv", parts[FILES[0]], parts[FILES[1]], data_dir=str(tmp_path / "data")
    )
    status, out, err = cli("evaluate", model, "--out", "ev")
    assert status == 0, err
    assert "(10 images)" in out and no_network == []
    recorded = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert recorded["config"]["data_dir"] == str(tmp_path / "data")
    # `report` finds it the same way, and an explicit --data-dir is the only place searched.
    assert cli("report", tmp_path / "ev")[0] == 0
    status, _, err = cli("report", tmp_path / "ev", "--data-dir", tmp_path / "empty")
    assert status == 1 and "in the --data-dir folder" in err and no_network == []


def test_run_downloads_once_and_names_data_dir_when_that_fails(cli, no_network):
    status, _, err = cli("run", "--dataset", "mnist", "--no-report")
    assert status == 1
    assert len(no_network) >= 1  # the first explicit run still tries the download
    message = err.strip()
    assert "\n" not in message and "--data-dir" in message and "download failed" in message


# --- info shows what means something for the model -------------------------------------------


def _info_rows(cli, path) -> dict[str, str]:
    status, out, err = cli("info", path)
    assert status == 0, err
    rows = {}
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if len(cells) == 2 and cells[0]:
            rows[cells[0]] = cells[1]
    return rows


def test_info_shows_p_only_for_minkowski(cli, tmp_path):
    X, y = np.arange(40).reshape(10, 4), np.arange(10) % 2
    manhattan = save(KNNClassifier(3, metric="manhattan", n_jobs=2).fit(X, y), tmp_path / "m.knnv")
    minkowski = save(KNNClassifier(3, metric="minkowski", p=3).fit(X, y), tmp_path / "p.knnv")
    rows = _info_rows(cli, manhattan)
    assert rows["metric"] == "manhattan" and rows["n_neighbors"] == "3"
    assert rows["training samples"] == "10"
    for hidden in ("p", "n_jobs", "working_memory", "backend", "scheduler"):
        assert hidden not in rows
    assert _info_rows(cli, minkowski)["p"] == "3"


def test_info_describes_the_official_split_without_test_size(cli, tmp_path):
    model = _mnist_model(tmp_path / "mnist.knnv", np.zeros((10, 28, 28), np.uint8), np.arange(10))
    rows = _info_rows(cli, model)
    assert rows["test part"] == "the dataset's official test part"
    assert "0.2" not in "".join(rows.values()) and "split" not in rows
    assert rows["images"] == "28×28 grayscale, values 0..255"


def test_info_of_a_folder_model_shows_its_held_out_share(cli, places):
    assert cli("fit", "--dataset", "shapes", "--test-size", "0.25", "--out", "m.knnv")[0] == 0
    rows = _info_rows(cli, "m.knnv")
    assert rows["test part"] == "25% held out (seed 0, stratified)"
    assert rows["classes"] == "3: blue, green, red"


# --- colour images: a notice, or RGB all the way with --color --------------------------------


def test_colour_folder_prints_the_grayscale_notice(cli, places):
    status, out, _ = cli("fit", "--dataset", "shapes", "--out", "m.knnv")
    assert status == 0
    assert "24 colour images converted to grayscale; pass --color to keep RGB" in out
    status, out, _ = cli("fit", "--dataset", "shapes", "--color", "--out", "c.knnv")
    assert status == 0 and "converted to grayscale" not in out


def test_colour_run_keeps_rgb_and_writes_its_report(cli, places, monkeypatch):
    work, elsewhere = places
    status, out, err = cli("run", "--dataset", "shapes", "--color", "--k", "1", "--out", "run")
    assert status == 0, err
    metadata = read_header(work / "run" / "model.knnv")["metadata"]
    assert metadata["image_shape"] == [28, 28, 3] and metadata["color"] is True
    header = read_header(work / "run" / "model.knnv")
    assert header["model"]["state"]["n_features_in_"]["value"] == 28 * 28 * 3
    assert (work / "run" / "report.html").is_file()
    assert _has_colour(work / "run" / "figures" / "samples.png")
    # From elsewhere: evaluate and rebuild the report of the colour model.
    monkeypatch.chdir(elsewhere)
    assert cli("evaluate", work / "run" / "model.knnv", "--out", "ev")[0] == 0
    assert cli("report", work / "run")[0] == 0


def test_colour_model_predicts_image_files(cli, places):
    work, _ = places
    assert cli("fit", "--dataset", "shapes", "--color", "--k", "1", "--out", "c.knnv")[0] == 0
    Image.new("RGB", (50, 40), COLOURS["green"]).save(work / "leaf.png")
    status, out, err = cli("predict", "c.knnv", "leaf.png", "--format", "json")
    assert status == 0, err
    (record,) = json.loads(out)
    assert record["label"] == "green"


def test_colour_figures_draw_rgb_images():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 5, 5, 3), dtype=np.uint8)
    grid = figures.sample_grid(images, np.arange(6) % 2, ["a", "b"])
    assert _has_colour(_png(grid))
    neighbours = figures.misclassified_neighbors(
        images[:2],
        [0, 1],
        [1, 0],
        images[2:6].reshape(2, 2, 5, 5, 3),
        np.array([[1, 0], [0, 1]]),
        np.array([[1.0, 2.0], [1.5, 3.0]]),
        ["a", "b"],
    )
    assert _has_colour(_png(neighbours))


def _png(figure) -> io.BytesIO:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    buffer.seek(0)
    return buffer


def _has_colour(png) -> bool:
    """Whether a drawn figure holds coloured pixels beyond its thin coloured frames."""
    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=np.int16)
    spread = pixels.max(axis=-1) - pixels.min(axis=-1)
    return bool((spread > 60).mean() > 0.05)


# --- a large model is mapped, not copied, when loaded ----------------------------------------


def test_loading_maps_the_training_rows_in_bounded_memory(tmp_path):
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 256, (16_000, 784), dtype=np.uint8)  # 12.5 MB
    labels = rng.integers(0, 10, len(rows))
    model = KNNClassifier(3).fit(rows, labels)
    path = save(model, tmp_path / "big.knnv")
    del model
    tracemalloc.start()
    try:
        loaded = load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Before issue 15 loading allocated twice the rows (the file's bytes, then a copy);
    # now the checksum is read in 1 MiB chunks and the rows are a view of the file.
    assert peak < rows.nbytes / 4
    mapped = loaded._fit_X
    assert not mapped.flags.writeable and not mapped.flags.owndata
    owner = mapped
    while isinstance(owner, np.ndarray):
        owner = owner.base
    assert isinstance(owner, memoryview) and isinstance(owner.obj, mmap.mmap)
    assert loaded.classes_.flags.writeable  # small arrays are copied, as before
    queries = rng.integers(0, 256, (20, 784), dtype=np.uint8)
    expected = KNNClassifier(3).fit(rows, labels).predict(queries)
    np.testing.assert_array_equal(loaded.predict(queries), expected)
    np.testing.assert_array_equal(mapped, rows)  # predicting wrote nothing
