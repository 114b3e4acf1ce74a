"""The benchmark's quick path runs end to end and its JSON has the documented fields."""

import json

import pytest

from knnvision import benchmark
from knnvision.benchmark import Sizes

TINY = Sizes(n_train=700, n_queries=40, single_queries=5, sklearn_slow_queries=20,
             reference_sample=5, scaling_train=(300, 700), scaling_queries=(10, 40))


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
