"""The optional torch backend (int8 / bfloat16 products + exact re-check) against the float64
reference: every dtype, ties everywhere, k up to the training size, both folding paths (the
CPU's numba scan and the GPU's torch.topk, run here on the CPU), estimators and model files."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

import knnvision
from knnvision import KNNClassifier
from knnvision.search import (
    build_index,
    resolve_metric,
    thread_limit,
    torch_index,
)
from knnvision.search.brute import FEW_QUERIES
from optional_parts import TORCH, require_module
from search_cases import assert_matches_reference, rows_with_ties, seeded_rng

torch = require_module("torch", TORCH)

DTYPES = [np.float64, np.float32, np.uint8]


@pytest.mark.parametrize("metric_name", ["euclidean", "cosine"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["continuous", "integer"])
@pytest.mark.parametrize("topk_fold", [False, True], ids=["scan", "topk"])
def test_matches_reference(metric_name, dtype, kind, topk_fold):
    metric = resolve_metric(metric_name)
    # 37 features: not a multiple of 8, so the zero padding of the products is exercised.
    rng = seeded_rng(metric_name, dtype, kind)
    train, queries = rows_with_ties(kind, dtype, rng, n_features=37)
    index = build_index(train, metric=metric_name, algorithm="torch")
    assert index.algorithm == "torch" and index.device.type == "cpu"
    index._topk_fold = topk_fold  # True: the GPU's fold, checked here on the CPU
    for k in (1, 3, 20, len(train)):
        assert_matches_reference(index, train, queries, k, metric, rtol=0)


def test_near_ties_beyond_the_spare_candidates_are_collected(monkeypatch):
    # Every row is at one of a few distances: far more near-ties than spare candidates.
    rng = seeded_rng("overflow")
    train = rng.integers(0, 2, size=(400, 12)).astype(np.float32)
    queries = rng.integers(0, 2, size=(40, 12)).astype(np.float32)
    calls = []
    original = torch_index.TorchIndex._within_limits

    def counting(self, side, rows, which, limits):
        calls.append(len(which))
        return original(self, side, rows, which, limits)

    monkeypatch.setattr(torch_index.TorchIndex, "_within_limits", counting)
    index = build_index(train, algorithm="torch")
    assert_matches_reference(index, train, queries, 5, resolve_metric("euclidean"), rtol=0)
    assert calls and calls[0] > 0


def test_query_train_and_single_queries():
    train, _ = rows_with_ties("integer", np.uint8, seeded_rng("train"), n_features=37)
    index = build_index(train, algorithm="torch")
    brute = build_index(train, algorithm="brute")
    for got, expected in zip(index.query_train(4), brute.query_train(4), strict=True):
        np.testing.assert_array_equal(got, expected)
    # A handful of queries is answered by the brute force's few-query path: still exact.
    euclidean = resolve_metric("euclidean")
    assert_matches_reference(index, train, train[:FEW_QUERIES], 3, euclidean, rtol=0)


@pytest.mark.parametrize("metric_name", ["euclidean", "cosine"])
def test_zero_rows(metric_name):
    rng = seeded_rng("zeros", metric_name)
    train = rng.normal(size=(60, 20))
    train[[3, 10, 11]] = 0.0
    queries = np.vstack([np.zeros((3, 20)), rng.normal(size=(20, 20))])
    index = build_index(train, metric=metric_name, algorithm="torch")
    assert_matches_reference(index, train, queries, 6, resolve_metric(metric_name), rtol=0)


def test_extreme_bytes_and_a_tiny_memory_budget():
    # 0 and 255 only: shifted to -128 and 127, the int8 extremes. A 0.05 MiB budget makes
    # the smallest tiles and many query chunks.
    rng = seeded_rng("extreme")
    train = (rng.integers(0, 2, size=(300, 70)) * 255).astype(np.uint8)
    queries = (rng.integers(0, 2, size=(50, 70)) * 255).astype(np.uint8)
    index = build_index(train, algorithm="torch", working_memory_mb=0.05)
    assert_matches_reference(index, train, queries, 7, resolve_metric("euclidean"), rtol=0)


def test_huge_values_are_searched_exactly():
    rng = seeded_rng("huge")
    train, queries = rows_with_ties("continuous", np.float64, rng, n_features=37)
    train, queries = train * 1e100, queries * 1e100
    index = build_index(train, algorithm="torch")
    assert_matches_reference(index, train, queries, 3, resolve_metric("euclidean"), rtol=0)


def test_bf16_bound_covers_the_products_error():
    # The bound assumes float32 accumulation; check it holds here on long rows.
    rng = seeded_rng("bound")
    train = rng.normal(size=(64, 3000)) ** 3
    queries = rng.normal(size=(40, 3000)) ** 3
    index = build_index(train, algorithm="torch")
    side = index._bf16_side()
    x = torch_index._bf16_rows(queries, side.mean, unit=False)
    y = torch_index._bf16_rows(train, side.mean, unit=False)
    estimate = (
        side.offsets
        - 2.0 * (torch.from_numpy(x).bfloat16() @ torch.from_numpy(y).bfloat16().T).double().numpy()
    )
    exact = (y * y).sum(axis=1) - 2.0 * x @ y.T
    norms = np.sqrt((x * x).sum(axis=1))
    bound = torch_index.bf16_bound(norms, side.largest, x.shape[1], cosine=False)
    assert np.all(np.abs(estimate - exact) <= bound[:, None])


def test_threads_are_respected_and_restored():
    rng = seeded_rng("threads")
    train, queries = rows_with_ties("continuous", np.float32, rng, n_features=37)
    index = build_index(train, algorithm="torch")
    before = torch.get_num_threads()
    answers = []
    for n_jobs in (1, 2):
        with thread_limit(n_jobs):
            answers.append(index.query(queries, 4))
    assert torch.get_num_threads() == before
    np.testing.assert_array_equal(answers[0][1], answers[1][1])


def test_device_can_be_chosen_by_environment(monkeypatch):
    monkeypatch.setenv(torch_index.DEVICE_ENV, "cpu")
    assert torch_index.default_device() == "cpu"
    index = build_index(np.zeros((20, 3)), algorithm="torch")
    assert str(index.device) == "cpu"
    monkeypatch.setenv(torch_index.DEVICE_ENV, "meta")
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        build_index(np.zeros((20, 3)), algorithm="torch")


def test_other_metrics_are_refused_with_the_supported_ones():
    with pytest.raises(ValueError, match="supports euclidean, cosine"):
        build_index(np.zeros((5, 3)), metric="manhattan", algorithm="torch")
    with pytest.raises(ValueError, match="supports euclidean, cosine"):
        KNNClassifier(algorithm="torch", metric="chebyshev").fit(np.zeros((5, 3)), np.arange(5))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:1200].astype(np.uint8), y[:1200], X[1200:].astype(np.uint8)


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_classifier_predicts_like_brute(digits, dtype):
    X, y, X_new = (a.astype(dtype) if a.ndim == 2 else a for a in digits)
    torch_model = KNNClassifier(3, algorithm="torch").fit(X, y)
    brute_model = KNNClassifier(3, algorithm="brute").fit(X, y)
    assert torch_model.effective_algorithm_ == "torch"
    np.testing.assert_array_equal(torch_model.predict(X_new), brute_model.predict(X_new))
    for got, expected in zip(
        torch_model.kneighbors(X_new), brute_model.kneighbors(X_new), strict=True
    ):
        np.testing.assert_array_equal(got, expected)


def test_model_file_round_trip_and_missing_torch(tmp_path, digits, monkeypatch):
    X, y, X_new = digits
    model = KNNClassifier(3, algorithm="torch", metric="cosine").fit(X, y)
    path = knnvision.save(model, tmp_path / "torch.knnv")
    restored = knnvision.load(path)
    assert restored.algorithm == "torch" and restored.effective_algorithm_ == "torch"
    np.testing.assert_array_equal(restored.predict(X_new), model.predict(X_new))
    # On a machine without torch, loading says what to install.
    monkeypatch.setattr(torch_index, "torch", None)
    with pytest.raises(ValueError, match=r'pip install "knnvision\[torch\]"'):
        knnvision.load(path)


def test_benchmark_has_a_torch_row_identical_to_brute():
    from knnvision.experiments import bench as benchmark

    sizes = benchmark.Sizes(n_train=500, n_queries=40, reference_sample=5)
    report = benchmark.run(
        cases=("mnist_euclidean",), synthetic=True, sizes=sizes, n_jobs=2, log=lambda line: None
    )
    case = report["cases"][0]
    assert [r["algorithm"] for r in case["results"][:2]] == ["brute", "torch"]
    assert case["agreement"]["knnvision:torch"]["identical"] == 1.0
    assert "knnvision torch vs knnvision brute" in benchmark.markdown_table(report)
