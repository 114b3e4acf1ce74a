"""The image distortion model kernels against their NumPy twins."""

import numpy as np
import pytest

from knnvision.search.kernels.idm import (
    context_features,
    context_features_numpy,
    grid_idm_numpy,
    grid_idm_pairs,
    grid_idm_to_candidates,
    idm_distance,
    idm_distance_numpy,
    idm_rerank,
    sobel_gradients_numpy,
)
from knnvision.transforms.augmentation import shift_images
from search_cases import run_on_every_cpu_path


@pytest.mark.parametrize("shape", [(8, 8), (5, 9), (1, 6)])
@pytest.mark.parametrize("radius", [0, 1, 2])
def test_context_features_equal_their_twin(shape, radius):
    image = np.random.default_rng(0).uniform(0, 255, shape)
    np.testing.assert_array_equal(
        context_features(image.ravel(), *shape, radius), context_features_numpy(image, radius)
    )


@pytest.mark.parametrize("warp, context", [(0, 0), (1, 0), (1, 1), (2, 1), (1, 2)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_idm_distance_equals_its_twin(warp, context, dtype):
    rng = np.random.default_rng(warp * 10 + context)
    a, b = (rng.integers(0, 256, (7, 9)).astype(dtype) for _ in range(2))
    a[:2] = 0  # blank rows exercise the zero-context shortcut
    compiled = idm_distance(a.ravel(), b.ravel(), 7, 9, warp, context)
    np.testing.assert_allclose(compiled, idm_distance_numpy(a, b, warp, context), rtol=1e-12)


def test_idm_without_warp_or_context_is_the_squared_gradient_distance():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0, 1, (2, 6, 6))
    gradients_a, gradients_b = sobel_gradients_numpy(a), sobel_gradients_numpy(b)
    expected = sum(((ga - gb) ** 2).sum() for ga, gb in zip(gradients_a, gradients_b, strict=True))
    assert np.isclose(idm_distance(a.ravel(), b.ravel(), 6, 6, 0, 0), expected, rtol=1e-12)


def test_idm_forgives_a_one_pixel_shift_that_euclidean_does_not():
    image = np.zeros((1, 12, 12))
    image[0, 4:8, 3:9] = np.random.default_rng(2).uniform(50, 255, (4, 6))
    moved = shift_images(image, 1, -1)
    assert idm_distance(moved.ravel(), image.ravel(), 12, 12, 1, 1) == 0.0
    assert idm_distance(moved.ravel(), image.ravel(), 12, 12, 0, 1) > 0.0
    assert idm_distance(image.ravel(), image.ravel(), 12, 12, 2, 1) == 0.0


def test_rerank_kernel_matches_single_distances_and_abandons_only_losers():
    rng = np.random.default_rng(3)
    train = rng.integers(0, 256, (30, 36)).astype(np.uint8)
    queries = rng.integers(0, 256, (4, 36)).astype(np.uint8)
    candidates = np.stack([rng.permutation(30)[:12] for _ in range(4)]).astype(np.int64)
    full = idm_rerank(queries, train, candidates, 6, 6, 1, 1, 12)
    for q in range(4):
        for c in range(12):
            expected = idm_distance_numpy(
                queries[q].reshape(6, 6), train[candidates[q, c]].reshape(6, 6), 1, 1
            )
            assert np.isclose(full[q, c], expected, rtol=1e-12)
    pruned = idm_rerank(queries, train, candidates, 6, 6, 1, 1, 3)
    for q in range(4):
        best3 = np.sort(full[q])[:3]
        np.testing.assert_array_equal(np.sort(pruned[q])[:3], best3)
        measured = np.isfinite(pruned[q])
        np.testing.assert_array_equal(pruned[q][measured], full[q][measured])
        assert np.all(full[q][~measured] > best3[-1])


def test_pixel_weights_scale_each_pixels_cost_and_keep_abandoning_exact():
    rng = np.random.default_rng(12)
    train = rng.integers(0, 256, (30, 42)).astype(np.uint8)
    queries = rng.integers(0, 256, (4, 42)).astype(np.uint8)
    queries[0, :7] = 0  # a blank row: the zero-context shortcut is weighted too
    candidates = np.stack([rng.permutation(30)[:12] for _ in range(4)]).astype(np.int64)
    weights = rng.uniform(0, 2, (6, 7))
    weights[0, :3] = 0.0  # pixels that do not count
    full = idm_rerank(queries, train, candidates, 6, 7, 1, 1, 12, weights)
    for q in range(4):
        for c in range(12):
            expected = idm_distance_numpy(
                queries[q].reshape(6, 7), train[candidates[q, c]].reshape(6, 7), 1, 1, weights
            )
            assert np.isclose(full[q, c], expected, rtol=1e-12)
    unweighted = idm_rerank(queries, train, candidates, 6, 7, 1, 1, 12)
    ones = idm_rerank(queries, train, candidates, 6, 7, 1, 1, 12, np.ones(42))
    np.testing.assert_array_equal(ones, unweighted)
    assert not np.allclose(full, unweighted)
    pruned = idm_rerank(queries, train, candidates, 6, 7, 1, 1, 3, weights.ravel())
    for q in range(4):
        np.testing.assert_array_equal(np.sort(pruned[q])[:3], np.sort(full[q])[:3])
    with pytest.raises(ValueError, match="pixel_weights"):
        idm_rerank(queries, train, candidates, 6, 7, 1, 1, 12, np.ones(41))


@pytest.mark.parametrize("warp", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("blocks", [(4, 5), (1, 3), (3, 1)])
def test_grid_idm_equals_its_twin_for_every_pair(warp, dtype, blocks):
    rng = np.random.default_rng(warp)
    queries = rng.uniform(0, 1, (3, blocks[0] * blocks[1] * 4)).astype(dtype)
    refs = rng.uniform(0, 1, (5, blocks[0] * blocks[1] * 4)).astype(dtype)
    query_rows, ref_rows = np.array([0, 2, 1, 0]), np.array([4, 0, 1, 4])
    compiled = grid_idm_pairs(queries, refs, query_rows, ref_rows, blocks, warp)
    expected = [
        grid_idm_numpy(queries[q].reshape(*blocks, 4), refs[r].reshape(*blocks, 4), warp)
        for q, r in zip(query_rows, ref_rows, strict=True)
    ]
    np.testing.assert_allclose(compiled, expected, rtol=1e-12)
    assert compiled[0] == compiled[3]  # the same pair measures the same


def test_block_weights_scale_each_blocks_cost():
    rng = np.random.default_rng(11)
    blocks = (4, 5)
    queries, refs = rng.uniform(0, 1, (2, 6, 20 * 6))
    weights = rng.uniform(0, 2, blocks)
    weights[0, 0] = 0.0  # a block that does not count
    query_rows, ref_rows = np.arange(6), np.arange(6)[::-1].copy()
    compiled = grid_idm_pairs(queries, refs, query_rows, ref_rows, blocks, 1, weights)
    expected = [
        grid_idm_numpy(queries[q].reshape(*blocks, 6), refs[r].reshape(*blocks, 6), 1, weights)
        for q, r in zip(query_rows, ref_rows, strict=True)
    ]
    np.testing.assert_allclose(compiled, expected, rtol=1e-12)
    unweighted = grid_idm_pairs(queries, refs, query_rows, ref_rows, blocks, 1)
    ones = grid_idm_pairs(queries, refs, query_rows, ref_rows, blocks, 1, np.ones(20))
    np.testing.assert_array_equal(ones, unweighted)
    assert not np.allclose(compiled, unweighted)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        grid_idm_pairs(queries, refs, query_rows, ref_rows, blocks, 1, np.ones(19))


@pytest.mark.parametrize("n_features", [3, 8, 13, 72, 128])
def test_one_block_costs_exactly_what_numpy_sums(n_features):
    # Each block's squares are added in NumPy's pairwise order (eight accumulators).
    rng = np.random.default_rng(n_features)
    queries, refs = rng.uniform(0, 1, (2, 6, n_features))
    pairs = np.repeat(np.arange(6), 6), np.tile(np.arange(6), 6)
    compiled = grid_idm_pairs(queries, refs, *pairs, (1, 1), 0)
    expected = [((queries[q] - refs[r]) ** 2).sum() for q, r in zip(*pairs, strict=True)]
    np.testing.assert_array_equal(compiled, expected)


# Run in a fresh process per code path: the path is read once, from KNNVISION_CPU.
_GRID_EVERY_PATH_SCRIPT = """
import sys
import numpy as np
from knnvision.search.kernels import _topk
from knnvision.search.kernels.idm import grid_idm_pairs

cases = np.load(sys.argv[1])
level = str(_topk.cpu_level())
out = {"level": np.array(level), "vector": np.array(level != "baseline")}
for name in cases.files:
    grids = cases[name]
    rows = np.arange(len(grids))
    out[name] = grid_idm_pairs(grids, grids, rows, rows[::-1].copy(), (3, 4), 1)
np.savez(sys.argv[2], **out)
"""


def test_grid_idm_gives_the_same_bits_on_every_cpu_path(tmp_path):
    rng = np.random.default_rng(8)
    cases = {
        f"{dtype.__name__}-{n_features}": rng.uniform(0, 1, (9, 12 * n_features)).astype(dtype)
        for dtype in (np.float32, np.float64)
        for n_features in (5, 16, 21, 72)
    }
    # The helper asserts that every path (levels: which one ran) gives the baseline's bits.
    first, _levels, _flags = run_on_every_cpu_path(
        _GRID_EVERY_PATH_SCRIPT, cases, tmp_path, "vector"
    )
    for name, grids in cases.items():
        n_features = grids.shape[1] // 12
        expected = [
            grid_idm_numpy(grids[i].reshape(3, 4, n_features), grids[8 - i].reshape(3, 4, -1))
            for i in range(9)
        ]
        np.testing.assert_allclose(first[name], expected, rtol=1e-13)


def test_grid_idm_without_warp_is_the_squared_distance_and_forgives_a_block_shift():
    rng = np.random.default_rng(4)
    grid = np.zeros((6, 6, 3))
    grid[1:5, 1:5] = rng.uniform(0.1, 1, (4, 4, 3))
    moved = np.zeros_like(grid)
    moved[2:6, 0:4] = grid[1:5, 1:5]  # one block down and one left; zeros around
    rows = np.stack([grid.ravel(), moved.ravel()])
    zero, one = np.array([0]), np.array([1])
    squared = ((grid - moved) ** 2).sum()
    assert grid_idm_pairs(rows, rows, zero, one, (6, 6), 0)[0] == pytest.approx(squared)
    assert grid_idm_pairs(rows, rows, one, zero, (6, 6), 1)[0] == 0.0
    assert 0 < grid_idm_pairs(rows, rows, one, zero, (6, 6), 0)[0]


@pytest.mark.parametrize(
    "query_rows, ref_rows, blocks, message",
    [
        ([0], [2], (2, 2), "outside its grids"),
        ([-1], [0], (2, 2), "outside its grids"),
        ([0], [0], (3, 3), "inconsistent shapes"),
        ([0, 1], [0], (2, 2), "inconsistent shapes"),
    ],
)
def test_grid_idm_rejects_rows_and_shapes_that_do_not_fit(query_rows, ref_rows, blocks, message):
    grids = np.ones((2, 8))
    with pytest.raises((ValueError, IndexError), match=message):
        grid_idm_pairs(grids, grids, np.array(query_rows), np.array(ref_rows), blocks, 1)


def test_grid_idm_to_candidates_computes_each_grid_once_and_measures_every_pair():
    rng = np.random.default_rng(6)
    train = rng.uniform(0, 1, (20, 2 * 3 * 5))
    queries = rng.uniform(0, 1, (4, 2 * 3 * 5))
    candidates = np.stack([rng.permutation(20)[:6] for _ in range(4)])
    asked, reported = [], []

    def candidate_grids(rows):
        asked.append(rows.copy())
        return train[rows]

    squared = grid_idm_to_candidates(
        queries, candidate_grids, candidates, (2, 3), 1, rows_at_once=4, on_slice=reported.append
    )
    expected = [
        [grid_idm_numpy(queries[q].reshape(2, 3, 5), train[c].reshape(2, 3, 5)) for c in row]
        for q, row in enumerate(candidates)
    ]
    np.testing.assert_allclose(squared, expected, rtol=1e-12)
    requested = np.concatenate(asked)
    np.testing.assert_array_equal(requested, np.unique(candidates))  # each once, sorted
    assert max(len(rows) for rows in asked) <= 4 and sum(reported) == candidates.size
