"""The VNNI uint8 dot-product search against its NumPy twin (on CPUs with AVX-512 VNNI)."""

import zlib

import numpy as np
import pytest

from knnvision.search.kernels import dot_u8
from search_cases import run_on_every_cpu_path


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


@pytest.mark.skipif(not dot_u8.HAVE_VNNI, reason="CPU without AVX-512 VNNI")
@pytest.mark.parametrize("shape", [(9, 5, 13), (4, 64, 8), (23, 129, 41), (7, 784, 30)])
def test_u8_dot_topk_matches_twin(shape):
    n_queries, n_features, n_train = shape
    rng = _rng("vnni", shape)
    train = rng.integers(0, 256, size=(n_train, n_features), dtype=np.uint8)
    train[n_train // 2] = train[0]  # a duplicate: an exact tie
    queries = rng.integers(0, 256, size=(n_queries, n_features), dtype=np.uint8)
    queries[-1] = train[0]
    k = min(5, n_train)
    padded_t = dot_u8.pad_rows_u8(
        train, dot_u8.DOT_WIDTH, dot_u8.DOT_COLS, shift=128, dtype=np.int8
    )
    padded_q = dot_u8.pad_rows_u8(queries, dot_u8.DOT_WIDTH, dot_u8.DOT_ROWS)
    train_sq = (train.astype(np.int64) ** 2).sum(axis=1)
    want_d, want_i = dot_u8.u8_dot_topk_numpy(queries, train, k)
    for q_block in (4, 8, 64):
        got_d, got_i = dot_u8.u8_dot_topk(
            padded_q, n_queries, padded_t, n_train, train_sq, k, q_block
        )
        np.testing.assert_array_equal(got_i, want_i)
        np.testing.assert_array_equal(got_d, want_d)


@pytest.mark.skipif(not dot_u8.HAVE_VNNI, reason="CPU without AVX-512 VNNI")
def test_blank_chunks_are_skipped_exactly():
    # Rows blank in some 64-byte chunks (as MNIST's first and last image rows), in patterns
    # that differ from row to row: the products skip the chunks blank in a whole block of
    # queries, which run sorted by their blank chunks and come back in the caller's order.
    rng = _rng("blank chunks")
    queries = rng.integers(0, 256, size=(37, 300), dtype=np.uint8)
    train = rng.integers(0, 256, size=(50, 300), dtype=np.uint8)
    for rows in (queries, train[:25]):
        blank = rng.random((len(rows), 4)) < 0.5
        for chunk in range(4):
            rows[blank[:, chunk], 64 * chunk : 64 * chunk + 64] = 0
    queries[5] = 0
    padded_t = dot_u8.pad_rows_u8(train, dot_u8.DOT_WIDTH, dot_u8.DOT_COLS, 128, np.int8)
    padded_q = dot_u8.pad_rows_u8(queries, dot_u8.DOT_WIDTH, dot_u8.DOT_ROWS)
    train_sq = dot_u8.squared_norms_u8(train)
    for search, twin in (
        (dot_u8.u8_dot_topk, dot_u8.u8_dot_topk_numpy),
        (dot_u8.u8_dot_cosine_topk, dot_u8.u8_dot_cosine_topk_numpy),
    ):
        want_d, want_i = twin(queries, train, 6)
        for q_block in (4, 16):
            got_d, got_i = search(
                padded_q, len(queries), padded_t, len(train), train_sq, 6, q_block
            )
            np.testing.assert_array_equal(got_i, want_i)
            np.testing.assert_array_equal(got_d, want_d)


def _tile_case(rng, n_queries, n_features, n_train):
    """Random rows with exact ties across panels, blank 4-byte groups (zero rows among them),
    an all-zero query and rows of 255 (the largest estimates)."""
    train = rng.integers(0, 256, size=(n_train, n_features), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(n_queries, n_features), dtype=np.uint8)
    for rows in (queries, train):  # blank groups in patterns that differ from row to row
        n_groups = -(-n_features // 4)
        blank = np.repeat(rng.random((len(rows), n_groups)) < 0.6, 4, axis=1)[:, :n_features]
        rows[blank] = 0
    train[n_train // 2 :: 7] = train[1]  # the same row in many panels: ties beyond k
    queries[0] = train[1]
    queries[-1] = 0
    if n_queries > 2:
        queries[1] = 255
        train[-1] = 255
    return queries, train


@pytest.mark.skipif(not dot_u8.HAVE_VNNI, reason="CPU without AVX-512 VNNI")
@pytest.mark.parametrize(
    "shape", [(9, 5, 13), (14, 64, 64), (23, 129, 141), (40, 784, 200), (7, 70, 65)]
)
def test_u8_tiles_euclidean_and_cosine_match_twins(shape):
    n_queries, n_features, n_train = shape
    queries, train = _tile_case(_rng("tiles", shape), *shape)
    tiles, norms = dot_u8.tile_rows(train, dot_u8.squared_norms_u8(train))
    padded_q = dot_u8.pad_rows_u8(queries, dot_u8.DOT_WIDTH, dot_u8.PANEL_QUERIES)
    inverse = dot_u8.tile_inverse_norms(norms, n_train)
    for k in (1, 5, min(12, n_train)):
        want_d, want_i = dot_u8.u8_dot_topk_numpy(queries, train, k)
        cos_d, cos_i = dot_u8.u8_dot_cosine_topk_numpy(queries, train, k)
        for q_block in (6, 12, 252):
            got_d, got_i = dot_u8.u8_tiles_topk(
                padded_q, n_queries, tiles, n_train, norms, k, q_block
            )
            np.testing.assert_array_equal(got_i, want_i)
            np.testing.assert_array_equal(got_d, want_d)
            got_d, got_i = dot_u8.u8_tiles_cosine_topk(
                padded_q, n_queries, tiles, n_train, inverse, k, q_block
            )
            np.testing.assert_array_equal(got_i, cos_i)
            np.testing.assert_array_equal(got_d, cos_d)


def test_tile_rows_interleaves_groups_of_four_bytes():
    rows = _rng("tile layout").integers(0, 256, size=(70, 130), dtype=np.uint8)
    norms = dot_u8.squared_norms_u8(rows)
    tiles, tile_norms = dot_u8.tile_rows(rows, norms)
    width, n_tiles = 192, 8  # columns up to a whole chunk, rows up to whole panels (64)
    padded = np.zeros((n_tiles * 16, width), dtype=np.int8)
    padded[:70, :130] = rows.astype(np.int16) - 128
    want = padded.reshape(n_tiles, 16, width // 4, 4).transpose(0, 2, 1, 3)
    np.testing.assert_array_equal(tiles, want.reshape(n_tiles, -1))
    np.testing.assert_array_equal(tile_norms[:70], norms)
    assert (tile_norms[70:] == np.iinfo(np.int32).max).all()
    # Rows already shifted to int8 (the grid codes' layout) are copied as they are.
    shifted, _ = dot_u8.tile_rows(padded[:70, :130], norms, shift=0)
    np.testing.assert_array_equal(shifted, tiles)


@pytest.mark.skipif(not dot_u8.HAVE_VNNI, reason="CPU without AVX-512 VNNI")
def test_u8_tiles_topk_refuses_bad_layouts():
    queries, train = _tile_case(_rng("tiles bad"), 12, 64, 30)
    tiles, norms = dot_u8.tile_rows(train, dot_u8.squared_norms_u8(train))
    padded_q = dot_u8.pad_rows_u8(queries, dot_u8.DOT_WIDTH, dot_u8.PANEL_QUERIES)
    with pytest.raises(ValueError, match="multiple of 6"):
        dot_u8.u8_tiles_topk(padded_q, 12, tiles, 30, norms, 3, 8)
    with pytest.raises(ValueError, match="whole panels"):
        dot_u8.u8_tiles_topk(padded_q, 12, tiles[:3], 30, norms, 3, 6)
    with pytest.raises(ValueError, match="widths"):
        dot_u8.u8_tiles_topk(padded_q[:, :32], 12, tiles, 30, norms, 3, 6)


# Run in a fresh process per code path: the path is read once, from KNNVISION_CPU.
_EVERY_PATH_SCRIPT = """
import sys
import numpy as np
from knnvision.search.kernels import _topk, dot_u8

cases = np.load(sys.argv[1])
out = {"level": np.array(_topk.cpu_level()), "vnni": np.array(dot_u8.HAVE_VNNI)}
for key in sorted({name.rsplit("-", 1)[0] for name in cases.files}):
    queries, train = cases[key + "-q"], cases[key + "-t"]
    n_queries, n_train = (int(n) for n in cases[key + "-n"])
    train_sq = dot_u8.squared_norms_u8(cases[key + "-u"])
    out[key + "-sq"] = train_sq
    for q_block in (4, 8):
        d, i = dot_u8.u8_dot_topk(queries, n_queries, train, n_train, train_sq, 5, q_block)
        out[f"{key}-{q_block}-d"], out[f"{key}-{q_block}-i"] = d, i
        d, i = dot_u8.u8_dot_cosine_topk(queries, n_queries, train, n_train, train_sq, 5, q_block)
        out[f"{key}-{q_block}-cd"], out[f"{key}-{q_block}-ci"] = d, i
np.savez(sys.argv[2], **out)
"""


def test_every_cpu_path_gives_identical_exact_results(tmp_path):

    cases, plain = {}, {}
    # Widths off the 64-byte chunk (width=1 keeps them) exercise every path's plain tail.
    for shape, width in (
        ((9, 5, 13), 64),
        ((23, 129, 41), 64),
        ((7, 784, 30), 64),
        ((6, 100, 17), 1),
    ):
        n_queries, n_features, n_train = shape
        rng = _rng("vnni paths", shape)
        train = rng.integers(0, 256, size=(n_train, n_features), dtype=np.uint8)
        train[n_train // 2] = train[0]  # an exact tie
        queries = rng.integers(0, 256, size=(n_queries, n_features), dtype=np.uint8)
        queries[-1] = train[0]
        key = "x".join(map(str, shape))
        cases[key + "-q"] = dot_u8.pad_rows_u8(queries, width, dot_u8.DOT_ROWS)
        cases[key + "-t"] = dot_u8.pad_rows_u8(
            train, width, dot_u8.DOT_COLS, shift=128, dtype=np.int8
        )
        cases[key + "-n"] = np.array([n_queries, n_train])
        cases[key + "-u"] = train
        plain[key] = queries, train
    first, levels, flags = run_on_every_cpu_path(_EVERY_PATH_SCRIPT, cases, tmp_path, "vnni")
    for path, level in levels.items():
        assert flags[path] == (level == "avx512")
    # ...and that one answer is the twin's.
    for key, (queries, train) in plain.items():
        np.testing.assert_array_equal(first[key + "-sq"], (train.astype(np.int64) ** 2).sum(1))
        want_d, want_i = dot_u8.u8_dot_topk_numpy(queries, train, 5)
        cos_d, cos_i = dot_u8.u8_dot_cosine_topk_numpy(queries, train, 5)
        for q_block in (4, 8):
            np.testing.assert_array_equal(first[f"{key}-{q_block}-i"], want_i)
            np.testing.assert_array_equal(first[f"{key}-{q_block}-d"], want_d)
            np.testing.assert_array_equal(first[f"{key}-{q_block}-ci"], cos_i)
            np.testing.assert_array_equal(first[f"{key}-{q_block}-cd"], cos_d)


def test_radius_pairs_are_every_pair_within_the_limit():
    rng = np.random.default_rng(15)
    train = rng.integers(0, 256, size=(70, 100), dtype=np.uint8)
    train[40] = train[3]  # an exact tie
    queries = np.vstack([rng.integers(0, 256, size=(6, 100), dtype=np.uint8), train[3:4]])
    q, t = queries.astype(np.float64), train.astype(np.float64)
    exact = ((q[:, None, :] - t[None, :, :]) ** 2).sum(axis=2)  # exact: integers below 2^53
    limit = float(np.median(exact))
    want_rows, want_cols = np.nonzero(exact <= limit)
    shifted = dot_u8.pad_rows_u8(train, dot_u8.DOT_WIDTH, dot_u8.DOT_COLS, shift=128, dtype=np.int8)
    padded = dot_u8.pad_rows_u8(queries, dot_u8.DOT_WIDTH, dot_u8.DOT_ROWS)
    norms = dot_u8.squared_norms_u8(train)
    for capacity in (3, None):  # the first overflows and runs again
        rows, cols, squared = dot_u8.u8_dot_radius(
            padded, len(queries), shifted, len(train), norms, limit, 4, capacity=capacity
        )
        order = np.lexsort((cols, rows))
        np.testing.assert_array_equal(rows[order], want_rows)
        np.testing.assert_array_equal(cols[order], want_cols)
        np.testing.assert_array_equal(squared[order], exact[want_rows, want_cols])
