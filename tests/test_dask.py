"""knnvision on Dask: sharded search, estimators, model selection, resilience, the CLI.

One LocalCluster of 2 worker processes (1 thread each) serves the whole module, named by its
address (its client is not the process's default, as in the CLI). The tests that kill workers
run last: the nanny restarts each killed worker.
"""

import json
import os
import signal

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.pipeline import Pipeline

import knnvision
from knnvision import PCA, KNNClassifier, KNNOutlierDetector, KNNSearchCV, progress
from knnvision.search import build_index
from knnvision.selection.search_cv import cross_validate_grid
from optional_parts import DASK, require_module

distributed = require_module("distributed", DASK)
# The Dask backend imports distributed, so it is imported once the guard above has passed.
from knnvision.search.dask import build_sharded_index, get_client  # noqa: E402
from knnvision.search.dask import cluster as cluster_module  # noqa: E402
from knnvision.search.dask import sharded as sharded_search  # noqa: E402

N_FEATURES = 784  # MNIST-sized rows


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client
        for connection in cluster_module._clients.values():  # made from the address string
            connection.close()
        cluster_module._clients.clear()


@pytest.fixture(scope="module")
def address(client):
    return client.scheduler.address


def tied_rows(seed, n_rows, dtype):
    """Small integers, so distances tie often; every row also appears 700 rows later, so
    exact duplicates sit in different shards and the tie rule crosses shards."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, 3, size=(n_rows, N_FEATURES)).astype(dtype)
    return np.concatenate([rows, rows[:700]])


@pytest.fixture(scope="module")
def data():
    train = tied_rows(0, 1300, np.uint8)  # 2000 rows
    queries = np.concatenate([train[:16], tied_rows(1, 16, np.uint8)[:16]])
    return train, queries


# --- sharded search ----------------------------------------------------------------------

METRICS = [
    ("euclidean", 2, np.uint8),
    ("euclidean", 2, np.float64),
    ("manhattan", 2, np.uint8),
    ("chebyshev", 2, np.uint8),
    ("minkowski", 3, np.uint8),
    ("cosine", 2, np.uint8),
    ("hamming", 2, np.uint8),
]
# Minkowski re-checks near-ties one query at a time, and these rows are nearly all ties:
# a quarter of the queries keeps it quick (half are copies of training rows all the same).
QUERY_STEP = {"minkowski": 4}


@pytest.mark.parametrize("metric, p, dtype", METRICS)
def test_sharded_search_equals_single_machine_bit_for_bit(address, data, metric, p, dtype):
    train, queries = (part.astype(dtype) for part in data)
    queries = queries[:: QUERY_STEP.get(metric, 1)]
    # The single machine first: its kernels, compiled here and written to numba's disk cache,
    # are then loaded by the workers instead of compiled again by each of them.
    expected_distances, expected_indices = build_index(train, metric=metric, p=p).query(queries, 9)
    index = build_sharded_index(train, scheduler=address, metric=metric, p=p, n_shards=3)
    distances, indices = index.query(queries, 9)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_array_equal(distances, expected_distances)
    assert index.algorithm.endswith("(dask, 3 shards)")


def test_exact_duplicates_in_other_shards_go_to_the_smaller_index(address, data):
    train, _ = data
    index = build_sharded_index(train, scheduler=address, metric="manhattan", n_shards=2)
    distances, indices = index.query(train[5:6], 2)
    assert indices.tolist() == [[5, 1305]] and distances.tolist() == [[0.0, 0.0]]


def test_training_rows_loaded_on_the_workers_from_npy(address, data, tmp_path):
    train, queries = data
    np.save(tmp_path / "train.npy", train)
    index = build_sharded_index(tmp_path / "train.npy", scheduler=address)
    assert len(index.bounds) == 2  # one shard per worker thread
    _, indices = index.query(queries, 5)
    np.testing.assert_array_equal(indices, build_index(train).query(queries, 5)[1])


def test_more_neighbours_than_a_shard_holds(address, data):
    train, queries = data
    index = build_sharded_index(train[:10], scheduler=address, n_shards=4)  # shards of 2-3
    _, indices = index.query(queries, 7)
    np.testing.assert_array_equal(indices, build_index(train[:10]).query(queries, 7)[1])


def test_bad_search_input_is_a_clear_error(address, data, tmp_path):
    train, queries = data
    index = build_sharded_index(train[:50], scheduler=address)
    with pytest.raises(ValueError, match="only 50 training rows"):
        index.query(queries, 51)
    with pytest.raises(ValueError, match="784 features"):
        index.query(queries[:, :10], 3)
    with pytest.raises(ValueError, match="n_shards"):
        build_sharded_index(train, scheduler=address, n_shards=0)
    with pytest.raises(FileNotFoundError):
        build_sharded_index(tmp_path / "missing.npy", scheduler=address)


# --- estimators ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:900].astype(np.uint8), y[:900], X[900:1200].astype(np.uint8), y[900:1200]


def test_classifier_fit_predict_round_trip_through_dask(address, digits, tmp_path):
    X, y, X_test, _ = digits
    local = KNNClassifier(5, weights="distance").fit(X, y)
    sharded = KNNClassifier(5, weights="distance", backend="dask", scheduler=address).fit(X, y)
    assert "dask" in sharded.effective_algorithm_
    np.testing.assert_array_equal(sharded.predict(X_test), local.predict(X_test))
    np.testing.assert_array_equal(sharded.predict_proba(X_test), local.predict_proba(X_test))
    # kneighbors() without X leaves each training point out of its own neighbours.
    for got, expected in zip(sharded.kneighbors(), local.kneighbors(), strict=True):
        np.testing.assert_array_equal(got, expected)
    # Where the search ran is no part of the model: the file holds a local model.
    knnvision.save(sharded, tmp_path / "model.knnv")
    loaded = knnvision.load(tmp_path / "model.knnv")
    assert loaded.backend == "local" and "dask" not in loaded.effective_algorithm_
    np.testing.assert_array_equal(loaded.predict(X_test), local.predict(X_test))


def test_outlier_detector_scores_the_same_through_dask(address, digits):
    X, _, X_test, _ = digits
    local = KNNOutlierDetector(4, contamination=0.05).fit(X)
    sharded = KNNOutlierDetector(4, contamination=0.05, backend="dask", scheduler=address).fit(X)
    assert "dask" in sharded.effective_algorithm_
    assert sharded.offset_ == local.offset_
    np.testing.assert_array_equal(sharded.score_samples(X_test), local.score_samples(X_test))
    np.testing.assert_array_equal(sharded.predict(X_test), local.predict(X_test))


def test_scheduler_address_parameter_clones(address, digits):
    X, y, X_test, _ = digits
    copy = clone(KNNClassifier(3, backend="dask", scheduler=address))
    assert copy.get_params()["scheduler"] == address
    predictions = copy.fit(X, y).predict(X_test)
    np.testing.assert_array_equal(predictions, KNNClassifier(3).fit(X, y).predict(X_test))


def test_no_scheduler_means_the_current_client(client, digits):
    X, y, X_test, _ = digits
    with client.as_current():
        assert get_client() is client
        model = KNNClassifier(3, backend="dask").fit(X, y)
    np.testing.assert_array_equal(model.predict(X_test), KNNClassifier(3).fit(X, y).predict(X_test))


def test_bad_backend_or_scheduler_is_a_clear_error(client, digits):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match="Unknown backend 'spark'"):
        KNNClassifier(backend="spark").fit(X, y)
    with pytest.raises(ValueError, match="cannot be cloned"):
        KNNClassifier(backend="dask", scheduler=client).fit(X, y)
    with pytest.raises(ValueError, match="scheduler address"):
        KNNClassifier(backend="dask", scheduler=8786).fit(X, y)


def test_unreachable_scheduler_fails_fast_and_clearly():
    with pytest.raises(ValueError, match="Cannot reach a Dask scheduler at 'tcp://127.0.0.1:9'"):
        get_client("tcp://127.0.0.1:9", timeout=1)


# --- model selection -----------------------------------------------------------------------


def test_search_cv_on_dask_scores_exactly_as_locally(address, digits):
    X, y, _, _ = digits
    grid = {
        "pca__n_components": [8, 16],
        "knn__n_neighbors": [1, 3, 5],
        "knn__weights": ["uniform", "distance"],
        "knn__metric": ["euclidean", "manhattan"],
    }

    def search(backend):
        knn = KNNClassifier(backend=backend, scheduler=address)
        model = Pipeline([("pca", PCA()), ("knn", knn)])
        return KNNSearchCV(model, grid, cv=3).fit(X, y)

    local, on_dask = search("local"), search("dask")
    for split in range(3):
        key = f"split{split}_test_score"
        np.testing.assert_array_equal(on_dask.cv_results_[key], local.cv_results_[key])
    assert on_dask.best_params_ == local.best_params_
    # The refitted best model searches on the cluster too.
    assert "dask" in on_dask.best_estimator_[-1].effective_algorithm_


def test_cross_validate_grid_on_a_scheduler_address(address, digits):
    X, y, _, _ = digits
    settings = {
        "n_neighbors": (1, 3),
        "weights": ("uniform", "distance"),
        "metrics": (("euclidean", 2), ("manhattan", 2)),
        "cv": 3,
    }
    local = cross_validate_grid(X, y, **settings)
    on_dask = cross_validate_grid(X, y, scheduler=address, **settings)
    np.testing.assert_array_equal(on_dask.fold_scores, local.fold_scores)


def test_cli_run_with_scheduler(address, cli, tmp_path):
    status, out, _ = cli(
        "run", "--k", "1,3", "--cv", "2", "--no-report", "--out", tmp_path, "--scheduler", address
    )
    assert status == 0
    assert "Test accuracy" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["scheduler"] == address
    assert results["test_accuracy"] >= 0.95


def test_cli_tune_with_scheduler(address, cli, tmp_path):
    status, out, _ = cli(
        "tune",
        "--k",
        "1,3",
        "--pca",
        "0,10",
        "--cv",
        "2",
        "--scheduler",
        address,
        "--no-report",
        "--out",
        tmp_path,
    )
    assert status == 0
    assert "Test accuracy" in out


def test_cli_unreachable_scheduler_is_one_line(cli, monkeypatch, tmp_path):
    monkeypatch.setattr("knnvision.search.dask.cluster.DEFAULT_CONNECT_TIMEOUT_S", 1.0)
    status, _, err = cli(
        "run", "--no-report", "--out", tmp_path, "--scheduler", "tcp://127.0.0.1:9"
    )
    assert status == 1
    assert "Cannot reach a Dask scheduler" in err


# --- resilience (last: these kill workers; each nanny starts a new one) -----------------------


def kill_worker_holding(client, future) -> str:
    """SIGKILL the worker process that holds ``future``; returns its address."""
    victim = next(iter(client.who_has(future).values()))[0]
    pid = client.run(os.getpid, workers=[victim])[victim]
    os.kill(pid, signal.SIGKILL)
    return victim


class _KillOnFirstBlock:
    """A progress reporter that kills a worker process when the first query block is merged,
    so the kill lands in the middle of the search, every time."""

    def __init__(self, kill):
        self.kill, self.done = kill, []

    def start(self, description, total):
        return self

    def stop(self, task):
        pass

    def advance(self, amount=1):
        if not self.done:
            self.kill()
        self.done.append(amount)


def test_killed_worker_mid_search_same_answer(client, address, data, monkeypatch):
    train, queries = data
    queries = np.concatenate([queries] * 8)  # 256 queries in 16 blocks of 16
    monkeypatch.setattr(sharded_search, "MAX_QUERY_BLOCK_ROWS", 16)
    index = build_sharded_index(train, scheduler=address, n_shards=2)
    victims = []
    reporter = _KillOnFirstBlock(
        lambda: victims.append(kill_worker_holding(client, index.shard_future(0)))
    )
    with progress.reporting(reporter):
        distances, indices = index.query(queries, 5)
    assert len(reporter.done) == 16  # killed after the first of 16 blocks
    assert victims[0] not in client.nthreads()
    expected_distances, expected_indices = build_index(train).query(queries, 5)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_array_equal(distances, expected_distances)


def test_shard_lost_with_its_worker_is_sent_again(client, address, data):
    # Dask may copy a small shard to the other worker mid-search (then nothing is lost); a
    # kill between fit and search always loses the shard, so the restore path surely runs.
    client.wait_for_workers(2, timeout=30)
    train, queries = data
    index = build_sharded_index(train, scheduler=address, metric="manhattan", n_shards=2)
    lost = index.shard_future(0)
    kill_worker_holding(client, lost)
    _, indices = index.query(queries, 5)
    assert index.shard_future(0) is not lost
    expected = build_index(train, metric="manhattan").query(queries, 5)[1]
    np.testing.assert_array_equal(indices, expected)
