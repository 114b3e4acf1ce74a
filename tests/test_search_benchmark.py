"""The benchmark's quick path runs end to end and its JSON has the documented fields; it
runs offline without the MNIST files and says which peers are not installed."""

import dataclasses
import json
import re
import sys

import numpy as np
import pytest

from knnvision.datasets import write_idx
from knnvision.experiments import bench as benchmark
from knnvision.experiments.bench import Sizes
from optional_parts import FAISS, require_module

TINY = Sizes(
    n_train=700,
    n_queries=40,
    single_queries=5,
    sklearn_slow_queries=20,
    reference_sample=5,
    scaling_train=(300, 700),
    scaling_queries=(10, 40),
)


def test_quick_benchmark_runs_and_reports(tmp_path):
    lines = []
    report = benchmark.run(synthetic=True, sizes=TINY, n_jobs=2, log=lines.append)
    json_path, md_path = tmp_path / "out.json", tmp_path / "out.md"
    benchmark.save(report, json_path, md_path)
    saved = json.loads(json_path.read_text())
    assert saved["sgemm_gflops"] > 0
    assert saved["machine"]["threads"] == 2
    cases = {case["name"]: case for case in saved["cases"]}
    assert set(cases) == set(benchmark.CASES)
    for name in ("mnist_euclidean", "fashion_manhattan", "fashion_pca10"):
        case = cases[name]
        ours = case["results"][0]
        assert ours["engine"] == "knnvision"
        assert {"seconds", "build_seconds", "peak_rss_mb", "queries_timed"} <= set(ours)
        assert case["agreement"]["reference_float64"]["index"] == 1.0
        for result in case["results"][1:]:
            key = f"{result['engine']}:{result['algorithm']}"
            assert case["ratios"][key] > 0
            assert case["agreement"][key]["distance"] == 1.0
    assert "gflops" in cases["mnist_euclidean"]["results"][0]
    single = cases["single_query"]["results"][0]
    assert single["p99_ms"] >= single["p50_ms"] > 0 and "cpu_p99_ms" in single
    assert len(cases["scaling"]["rows"]) == 4
    assert "mnist_euclidean" in md_path.read_text()


def test_unknown_case_is_a_value_error():
    with pytest.raises(ValueError, match="Unknown benchmark case"):
        benchmark.run(cases=("nope",), synthetic=True, sizes=TINY, log=lambda line: None)


def _no_data_anywhere(monkeypatch, tmp_path):
    """No IDX files in any default folder, and a dead mirror should a download be tried."""
    monkeypatch.delenv("KNNVISION_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("KNNVISION_MNIST_URL", "http://127.0.0.1:9/")
    monkeypatch.setattr(benchmark, "_shared_datasets", lambda: tmp_path / "shared")


def test_quick_run_without_the_files_uses_generated_images_and_says_so(monkeypatch, tmp_path):
    _no_data_anywhere(monkeypatch, tmp_path)
    lines = []
    report = benchmark.run(quick=True, cases=("scaling",), sizes=TINY, log=lines.append)
    assert [row["dataset"] for row in report["cases"][0]["rows"]] == ["mnist (synthetic)"] * 4
    said = [line for line in lines if line.startswith("mnist IDX files not found")]
    assert len(said) == 1 and "generated MNIST-shaped images" in said[0]
    assert said[0] in report["notes"]
    assert f"Note: {said[0]}." in benchmark.markdown_table(report)


def test_full_run_without_the_files_names_the_folders_and_data_dir(monkeypatch, tmp_path):
    _no_data_anywhere(monkeypatch, tmp_path)
    with pytest.raises(FileNotFoundError) as error:
        benchmark.run(cases=("scaling",), sizes=TINY, log=lambda line: None)
    message = str(error.value)
    assert "\n" not in message and "--data-dir" in message
    assert str(tmp_path / "shared") in message and str(tmp_path / "cache") in message
    with pytest.raises(FileNotFoundError, match=re.escape(f"not found in {tmp_path / 'empty'} ")):
        benchmark.run(
            cases=("scaling",), data_dir=tmp_path / "empty", sizes=TINY, log=lambda line: None
        )


def test_files_are_read_by_the_strict_idx_reader(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(30, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(12, dtype=np.uint8) % 10,
    }
    for stem, array in arrays.items():
        write_idx(folder / stem, array)
    data = benchmark._load_images("mnist", tmp_path)  # the parent of mnist/ will do
    np.testing.assert_array_equal(data.train, arrays["train-images-idx3-ubyte"].reshape(30, -1))
    np.testing.assert_array_equal(data.test, arrays["t10k-images-idx3-ubyte"].reshape(12, -1))
    damaged = folder / "t10k-images-idx3-ubyte"
    damaged.write_bytes(damaged.read_bytes()[:-100])  # a truncated copy
    with pytest.raises(ValueError, match="t10k-images"):
        benchmark._load_images("mnist", tmp_path)


def test_missing_peers_are_named_with_their_install_command(monkeypatch):
    for module in ("faiss", "torch"):
        monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    lines = []
    report = benchmark.run(
        synthetic=True, cases=("scaling", "mnist_euclidean"), sizes=TINY, log=lines.append
    )
    assert report["missing_peers"] == {
        "faiss-cpu": 'pip install "knnvision[bench]"',
        "PyTorch": 'pip install "knnvision[torch]"',
    }
    assert sum(line.startswith("faiss-cpu is not installed") for line in lines) == 1
    assert (
        sum(
            line.startswith("PyTorch is not installed") and "knnvision[torch]" in line
            for line in lines
        )
        == 1
    )
    scaling = benchmark._scaling_table(report["cases"][0])
    assert scaling[2] == "| train | queries | knnvision s |"  # no empty faiss columns
    assert not any("-" in cell for line in scaling[4:] for cell in line.split("|"))
    engines = {r["engine"] + ":" + r["algorithm"] for r in report["cases"][1]["results"]}
    assert engines == {"knnvision:brute", "sklearn:brute"}
    assert benchmark._missing_peers(("auto_table",)) == {}  # a case that uses neither


def test_faiss_rows_and_columns_when_faiss_is_installed():
    require_module("faiss", FAISS)
    report = benchmark.run(synthetic=True, cases=("scaling",), sizes=TINY, log=lambda line: None)
    assert "faiss-cpu" not in report["missing_peers"]
    for row in report["cases"][0]["rows"]:
        assert [r["engine"] for r in row["results"]] == ["knnvision", "faiss"]
        assert row["agreement"]["faiss:IndexFlatL2"]["distance"] == 1.0
    assert "| knnvision s | faiss s | knnvision / faiss |" in benchmark.markdown_table(report)


def test_float_cases_report_targets_and_exactness():
    lines = []
    cases = ("mnist_float32", "mnist_cosine_float64", "fashion_manhattan_float32", "pca_output")
    sizes = dataclasses.replace(TINY, n_train=1200)  # trees need 1,000 rows to be picked
    report = benchmark.run(synthetic=True, cases=cases, sizes=sizes, n_jobs=1, log=lines.append)
    by_name = {case["name"]: case for case in report["cases"]}
    for name in cases[:3]:
        case = by_name[name]
        assert case["results"][0]["engine"] == "knnvision"
        assert case["agreement"]["reference_float64"]["index"] == 1.0
        assert case["agreement"]["reference_float64"]["distance_max_rel"] == 0.0
    picked = {row["n_features"]: row["auto_picked"] for row in by_name["pca_output"]["rows"]}
    assert picked == {10: "kd_tree", 20: "brute", 50: "brute", 100: "brute"}
    table = benchmark.markdown_table(report)
    # One target row per case that has targets, with the exactness verdict.
    for name in cases[:3]:
        assert re.search(rf"^\| {name} \| .* \| yes, 5 queries \|$", table, re.MULTILINE)
    assert "| 10 | kd_tree |" in table


def test_every_case_has_a_function_and_its_datasets():
    cases = {*benchmark.CASES, *benchmark.EXTRA_CASES}
    assert set(benchmark.CASE_FUNCTIONS) == cases == set(benchmark.CASE_DATASETS)
    assert set(benchmark.TARGETS) <= cases
