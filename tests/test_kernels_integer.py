"""uint8 byte-difference sums against their NumPy twins, and their top-k loops against the
reference."""

import zlib

import numpy as np
import pytest

from knnvision.search import reference_kneighbors, resolve_metric
from knnvision.search.kernels import integer
from search_cases import run_on_every_cpu_path


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


@pytest.mark.parametrize("n_features", [1, 31, 32, 33, 784])
def test_uint8_sums_match_twins(n_features):
    rng = _rng("u8", n_features)
    Q = integer.pad_u8(rng.integers(0, 256, size=(3, n_features), dtype=np.uint8))
    T = integer.pad_u8(rng.integers(0, 256, size=(2, n_features), dtype=np.uint8))
    assert Q.shape[1] % integer.U8_WIDTH == 0
    for i in range(3):
        for j in range(2):
            assert integer.sad_u8(Q, i, T, j) == integer.sad_u8_numpy(Q[i], T[j])
            assert integer.sqd_u8(Q, i, T, j) == integer.sqd_u8_numpy(Q[i], T[j])
    assert integer.sad_u8_x2(Q, 0, T, 1) == (
        integer.sad_u8_numpy(Q[0], T[1]),
        integer.sad_u8_numpy(Q[1], T[1]),
    )
    # Extremes: 255 against 0 in every byte.
    full, zero = np.full((1, 64), 255, np.uint8), np.zeros((1, 64), np.uint8)
    assert integer.sad_u8(full, 0, zero, 0) == 64 * 255
    assert integer.sqd_u8(full, 0, zero, 0) == 64 * 255 * 255


@pytest.mark.parametrize("squared", [False, True])
def test_u8_topk_loops_match_reference(squared):
    rng = _rng("u8topk", squared)
    train = rng.integers(0, 4, size=(200, 40), dtype=np.uint8)
    queries = rng.integers(0, 4, size=(9, 40), dtype=np.uint8)
    metric = resolve_metric("euclidean" if squared else "manhattan")
    ref_d, ref_i = reference_kneighbors(train, queries, 6, metric)
    for got_d, got_i in (
        integer.u8_topk(squared, integer.pad_u8(queries), integer.pad_u8(train), 6, 2),
        integer.u8_topk(squared, integer.pad_u8(queries), integer.pad_u8(train), 6, 5),
        integer.u8_topk_few(squared, integer.pad_u8(queries), integer.pad_u8(train), 6, 3),
    ):
        np.testing.assert_array_equal(got_i, ref_i)
        np.testing.assert_array_equal(metric.to_distance(got_d), ref_d)


# Run in a fresh process per code path: the path is read once, from KNNVISION_CPU.
_EVERY_PATH_SCRIPT = """
import sys
import numpy as np
from knnvision.search.kernels import _integer, _topk, integer

cases = np.load(sys.argv[1])
out = {"level": np.array(_topk.cpu_level()), "simd": np.array(integer.HAVE_SIMD_U8)}
for key in sorted({name.rsplit("-", 1)[0] for name in cases.files}):
    queries, train = cases[key + "-q"], cases[key + "-t"]
    out[key + "-sums"] = np.array(
        [
            [_integer.sad_u8(queries, i, train, j), _integer.sqd_u8(queries, i, train, j)]
            for i in range(len(queries))
            for j in range(len(train))
        ]
    )
    out[key + "-x2"] = np.array(integer.sad_u8_x2(queries, 2, train, 5))
    for squared in (False, True):
        for loop, (d, i) in (
            ("block", integer.u8_topk(squared, queries, train, 4, 3)),
            ("few", integer.u8_topk_few(squared, queries, train, 4, 3)),
        ):
            out[f"{key}-{squared}-{loop}-d"], out[f"{key}-{squared}-{loop}-i"] = d, i
np.savez(sys.argv[2], **out)
"""


def test_every_cpu_path_gives_identical_exact_results(tmp_path):

    cases = {}
    for n_features in (1, 31, 33, 784, 1000):
        for padded in (True, False):  # unpadded rows exercise every path's plain tail
            rng = _rng("u8 paths", n_features, padded)
            prep = integer.pad_u8 if padded else np.ascontiguousarray
            train = rng.integers(0, 256, size=(70, n_features), dtype=np.uint8)
            train[35] = train[3]  # an exact tie
            train[60:] = rng.integers(0, 2, size=(10, n_features))  # near ties
            queries = rng.integers(0, 256, size=(7, n_features), dtype=np.uint8)
            queries[5:] = 0
            cases[f"{n_features}.{padded}-q"] = prep(queries)
            cases[f"{n_features}.{padded}-t"] = prep(train)
    first, levels, flags = run_on_every_cpu_path(_EVERY_PATH_SCRIPT, cases, tmp_path, "simd")
    for path, level in levels.items():
        assert flags[path] == (level != "baseline")
    # ...and that one answer is the twins' and the reference's.
    for key in {name.rsplit("-", 1)[0] for name in cases}:
        queries, train = cases[key + "-q"], cases[key + "-t"]
        want = [
            [integer.sad_u8_numpy(q, t), integer.sqd_u8_numpy(q, t)] for q in queries for t in train
        ]
        np.testing.assert_array_equal(first[key + "-sums"], want)
        for squared in (False, True):
            metric = resolve_metric("euclidean" if squared else "manhattan")
            ref_d, ref_i = reference_kneighbors(train, queries, 4, metric)
            for loop in ("block", "few"):
                np.testing.assert_array_equal(first[f"{key}-{squared}-{loop}-i"], ref_i)
                got = metric.to_distance(first[f"{key}-{squared}-{loop}-d"])
                np.testing.assert_array_equal(got, ref_d)
