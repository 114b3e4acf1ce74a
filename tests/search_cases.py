"""Test data and checks shared by the search backends' tests: rows full of ties and exact
duplicates, and the comparison with the float64 reference."""

import os
import subprocess
import sys
import zlib

import numpy as np

from knnvision.search import reference_kneighbors


def seeded_rng(*key):
    """A generator seeded from ``key``, so every parametrised case draws its own data."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def rows_with_ties(kind, dtype, rng, *, n_features, n_train=150, n_queries=30):
    """Training rows with exact duplicates appended, and queries (five equal training rows).

    ``kind="continuous"``: normal values (non-negative multiples for uint8); ``"integer"``:
    three values only, so distances tie everywhere.
    """
    if kind == "continuous":
        train = rng.normal(size=(n_train, n_features)) * 3
        queries = rng.normal(size=(n_queries, n_features)) * 3
        if dtype == np.uint8:
            train, queries = np.abs(train * 20), np.abs(queries * 20)
    else:
        train = rng.integers(0, 3, size=(n_train, n_features))
        queries = rng.integers(0, 3, size=(n_queries, n_features))
    train = np.vstack([train, train[: n_train // 6], train[: n_train // 30]]).astype(dtype)
    queries = np.vstack([queries, train[::37][:5]]).astype(dtype)
    return train, queries


def scaled_pixels(pixels, form):
    """Byte rows as they are (``"uint8"``) or as the tutorials scale them: float64 ``/ 255``,
    float32 rounded after (``"float32-after"``) or divided in float32 (``"float32-before"``)."""
    if form == "uint8":
        return pixels
    if form == "float64":
        return pixels / 255.0
    if form == "float32-after":
        return (pixels / 255.0).astype(np.float32)
    if form == "float32-before":
        return pixels.astype(np.float32) / np.float32(255)
    raise ValueError(f"unknown form {form!r}")


def assert_matches_reference(index, train, queries, k, metric, *, rtol=1e-12):
    """Indices equal to the float64 reference's; distances within ``rtol`` (0: identical)."""
    distances, indices = index.query(queries, k)
    ref_distances, ref_indices = reference_kneighbors(train, queries, k, metric)
    assert distances.dtype == np.float64 and indices.dtype == np.int64
    assert distances.shape == indices.shape == (len(queries), k)
    np.testing.assert_array_equal(indices, ref_indices)
    if rtol == 0:
        np.testing.assert_array_equal(distances, ref_distances)
    else:
        np.testing.assert_allclose(distances, ref_distances, rtol=rtol, atol=1e-300)


CPU_PATHS = ("baseline", "avx2", "avx512")


def run_on_every_cpu_path(script: str, cases: dict, tmp_path, flag: str):
    """Run ``script CASES.npz OUT.npz`` under each ``KNNVISION_CPU`` path in a fresh process.

    The script writes its answers plus ``level`` (the path taken) and ``flag`` (a bool the
    caller checks against the level). Asserts that every path gives the same answers; returns
    ``(answers, levels, flags)``, the answers being those of the baseline path.
    """
    np.savez(tmp_path / "cases.npz", **cases)
    runs = {}
    for path in CPU_PATHS:
        target = tmp_path / f"{path}.npz"
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "cases.npz"), str(target)],
            env={**os.environ, "KNNVISION_CPU": path},
            check=True,
        )
        runs[path] = dict(np.load(target))
    levels = {path: str(run.pop("level")) for path, run in runs.items()}
    flags = {path: bool(run.pop(flag)) for path, run in runs.items()}
    assert levels["baseline"] == "baseline"
    first = runs["baseline"]
    for path, run in runs.items():
        assert run.keys() == first.keys()
        for key in first:
            np.testing.assert_array_equal(run[key], first[key], err_msg=f"{path}: {key}")
    return first, levels, flags
