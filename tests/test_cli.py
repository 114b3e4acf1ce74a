"""The command line, run in-process through its real entry point (the ``cli`` fixture of
tests/conftest.py)."""

import json
import sys

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

import knnvision


def test_run_on_digits_reports_and_saves(cli, tmp_path):
    status, out, _ = cli("run", "--out", tmp_path / "out")
    assert status == 0
    assert "Test accuracy" in out and "Per-class report" in out and "Confusion matrix" in out
    assert "1,437 training, 360 test images" in out  # counts with thousands separators
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["test_accuracy"] >= 0.98
    assert results["n_train"] == 1437 and results["n_test"] == 360
    assert len(results["cv_results"]) == 5
    assert np.asarray(results["confusion_matrix"]).sum() == 360
    model = knnvision.load(tmp_path / "out" / "model.knnv")
    assert model.n_neighbors == results["best_params"]["n_neighbors"]


def test_run_tunes_metric_and_weights_when_asked(cli, tmp_path):
    status, out, _ = cli(
        "run",
        "--k",
        "1,3",
        "--metric",
        "euclidean,manhattan,minkowski:3",
        "--weights",
        "uniform,distance",
        "--cv",
        "3",
        "--out",
        tmp_path / "o",
    )
    assert status == 0
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert len(results["cv_results"]) == 2 * 3 * 2
    assert "minkowski p=3" in out


def _save_png(path, image_0_to_16):
    """Dark ink on a light background, as a person would draw it."""
    light = 255 - np.rint(image_0_to_16 * (255 / 16)).astype(np.uint8)
    Image.fromarray(light).save(path)


def test_fit_info_evaluate_predict(cli, tmp_path):
    status, out, _ = cli("fit", "--k", "3", "--out", "m.knnv")
    assert status == 0 and "Saved m.knnv" in out

    status, out, _ = cli("info", "m.knnv")
    assert status == 0 and "KNNClassifier" in out and "1437" in out

    status, out, _ = cli("evaluate", "m.knnv")
    assert status == 0 and "Test accuracy on digits" in out and "(360 images)" in out
    # Like `run` writing to ./results: a folder of its own under it (tests/test_report.py
    # checks the page).
    assert (tmp_path / "results" / "evaluate" / "report.html").exists()
    results = json.loads((tmp_path / "results" / "evaluate" / "results.json").read_text())
    assert results["model_file"] == str(tmp_path / "m.knnv")

    digits = load_digits()
    model = knnvision.load(tmp_path / "m.knnv")
    for i in range(3):
        _save_png(tmp_path / f"digit{i}.png", digits.images[i])
    status, out, _ = cli("predict", "m.knnv", *[f"digit{i}.png" for i in range(3)])
    assert status == 0
    expected = model.predict(digits.data[:3].astype(np.uint8))
    for i in range(3):
        line = next(line for line in out.splitlines() if f"digit{i}.png" in line)
        assert f" {expected[i]} " in line


def test_predict_reads_npz_batches(cli, tmp_path):
    cli("fit", "--out", "m.knnv")
    images = np.rint(load_digits().images[:4] * (255 / 16)).astype(np.uint8)
    np.savez(tmp_path / "batch.npz", X=images)
    status, out, _ = cli("predict", "m.knnv", "batch.npz", "--invert", "no")
    assert status == 0 and "batch.npz[3]" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["run", "--dataset", "nosuch"], "unknown dataset 'nosuch'"),
        (["run", "--k", "2000"], "larger than a cross-validation training fold"),
        (["info", "missing.knnv"], "Model file not found"),
    ],
)
def test_user_errors_are_one_line_without_traceback(cli, args, message):
    status, out, err = cli(*args)
    assert status == 1
    assert message in err
    assert "Traceback" not in err + out
    assert err.strip().count("\n") == 0


def test_corrupt_model_and_bad_inputs(cli, tmp_path):
    (tmp_path / "bad.knnv").write_bytes(b"\x80\x04garbage" * 10)
    status, _, err = cli("predict", "bad.knnv", "x.png")
    assert status == 1 and "never loads" in err

    cli("fit", "--out", "m.knnv")
    (tmp_path / "notes.txt").write_text("not an image")
    status, _, err = cli("predict", "m.knnv", "notes.txt")
    assert status == 1 and "is not an image" in err

    (tmp_path / "fake.png").write_text("not a png either")
    status, _, err = cli("predict", "m.knnv", "fake.png")
    assert status == 1 and "fake.png" in err and "Traceback" not in err

    np.savez(tmp_path / "wrong.npz", X=np.zeros((2, 5, 5), dtype=np.uint8))
    status, _, err = cli("predict", "m.knnv", "wrong.npz")
    assert status == 1 and "expects 8x8 images" in err


@pytest.mark.parametrize(
    "args,message",
    [
        (["run", "--cv", "1"], "Invalid value for '--cv'"),
        (["run", "--k", "three"], "Invalid value for '--k': whole numbers separated by commas"),
        (
            ["run", "--metric", "euclidian"],
            "Invalid value for '--metric': Unknown metric 'euclidian'",
        ),
        (
            ["run", "--weights", "heavy"],
            "Invalid value for '--weights': uniform and/or distance, got 'heavy'",
        ),
        (["fit", "--metric", "euclidean,manhattan"], "fit takes one metric"),
        (["fit", "--weights", "uniform,distance"], "uniform or distance"),
    ],
)
def test_usage_errors_exit_with_status_2(cli, args, message):
    status, _, err = cli(*args)
    assert status == 2 and message in err
    assert "Traceback" not in err


def test_bench_quick_writes_table_and_json(cli, tmp_path, monkeypatch):
    # Offline, without the MNIST files (an empty --data-dir) and without faiss.
    monkeypatch.setitem(sys.modules, "faiss", None)
    status, out, _ = cli(
        "bench",
        "--quick",
        "--cases",
        "scaling",
        "--data-dir",
        tmp_path / "no-data",
        "--out",
        tmp_path / "bench" / "b.json",
    )
    assert status == 0
    report = json.loads((tmp_path / "bench" / "b.json").read_text())  # its folder is made
    assert [case["name"] for case in report["cases"]] == ["scaling"]
    markdown = (tmp_path / "bench" / "b.md").read_text()
    assert markdown.startswith("Machine:") and "mnist (synthetic)" in markdown
    lines = out.splitlines()
    assert any(
        line.startswith("mnist IDX files not found") and "generated" in line for line in lines
    )
    # Named once, with its install command printed literally (not eaten as rich markup).
    assert (
        'faiss-cpu is not installed, so it has no rows here (pip install "knnvision[bench]")'
    ) in lines


def test_bench_without_the_files_is_one_line_naming_data_dir(cli, tmp_path):
    status, out, err = cli("bench", "--cases", "scaling", "--data-dir", tmp_path / "no-data")
    assert status == 1
    assert len(err.strip().splitlines()) == 1
    assert "mnist IDX files not found" in err and "--data-dir" in err
