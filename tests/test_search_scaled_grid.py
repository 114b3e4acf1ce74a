"""Float rows on an integer grid (``X / 255``, the digits' ``X / 16``): the brute force routes
them to the exact integer kernels and must still return the float64 reference's neighbours and
distances, bit for bit, ties and near-ties included."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from knnvision.search import reference_kneighbors, resolve_metric
from knnvision.search.brute import BruteIndex
from knnvision.search.kernels import dot_u8, integer
from knnvision.search.metrics import reduced_distances
from search_cases import assert_matches_reference, run_on_every_cpu_path, scaled_pixels, seeded_rng

GRID_METRICS = ["euclidean", "sqeuclidean", "manhattan"]


def _tied_pixels(rng, n_features=64):
    """Byte rows full of exact ties in the integer distance: random rows, duplicates, and
    permutations of one row (equal distances to a constant query, whose float64 sums still
    differ in the last bits from one order to another); queries include constant rows."""
    base = rng.integers(0, 256, size=n_features)
    permuted = np.array([rng.permutation(base) for _ in range(20)])
    random = rng.integers(0, 256, size=(40, n_features))
    train = np.vstack([random, permuted, random[:6], permuted[:3]]).astype(np.uint8)
    queries = np.vstack(
        [rng.integers(0, 256, size=(12, n_features)), np.full((3, n_features), 37), train[::9]]
    ).astype(np.uint8)
    return train, queries


def _check(train, queries, metric_name, k, routed=True):
    metric = resolve_metric(metric_name)
    index = BruteIndex(train, metric, working_memory_mb=64)
    if routed and index._integer_engine(len(queries)) is not None:
        assert index._engine(queries) == index._query_grid
    assert_matches_reference(index, train, queries, k, metric, rtol=0)
    return index


@pytest.mark.parametrize("metric_name", GRID_METRICS)
@pytest.mark.parametrize("form", ["float64", "float32-after", "float32-before"])
def test_pixels_over_255_match_the_reference(metric_name, form):
    train, queries = _tied_pixels(seeded_rng("grid", metric_name, form))
    train, queries = scaled_pixels(train, form), scaled_pixels(queries, form)
    for k in (1, 5, 11):
        index = _check(train, queries, metric_name, k)
    assert index._grid() is not None and index._grid()[0] == 255.0


@pytest.mark.parametrize("metric_name", GRID_METRICS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_digits_over_16_match_the_reference(metric_name, dtype):
    digits = load_digits().data
    train, queries = (digits[::3] / 16).astype(dtype), (digits[1::25] / 16).astype(dtype)
    index = _check(train, queries, metric_name, 4)
    assert index._grid()[0] == 16.0


@pytest.mark.parametrize("metric_name", GRID_METRICS)
def test_wide_float32_rows_whose_rounding_moves_integer_distances(metric_name):
    # d = 784 bytes in float32: the values' rounding may move s^2 R by more than 1 against D.
    rng = seeded_rng("wide", metric_name)
    train = rng.integers(0, 256, size=(120, 784)).astype(np.uint8)
    train[60:] = np.where(rng.random((60, 784)) < 0.5, train[:60], train[60:])
    queries = np.vstack([train[:5], rng.integers(0, 256, size=(10, 784))]).astype(np.uint8)
    _check(
        scaled_pixels(train, "float32-after"),
        scaled_pixels(queries, "float32-after"),
        metric_name,
        3,
    )
    # float64 queries against float32 rows: each side keeps its own rounding.
    _check(scaled_pixels(train, "float32-after"), scaled_pixels(queries, "float64"), metric_name, 3)


@pytest.mark.parametrize("metric_name", ["euclidean", "sqeuclidean"])
def test_float32_rounding_that_reverses_two_integer_distances(metric_name):
    # Every 128 / 255 rounds up in float32, which adds about 1.5 to s^2 R over 784 values:
    # against the zero query, the row of 128s (D) is farther than the row of 255s (D + 1).
    farther = np.full(784, 128)
    nearer = np.zeros(784, dtype=int)
    nearer[:198] = [255] * 195 + [251, 241, 210]
    assert (nearer**2).sum() == (farther**2).sum() + 1
    others = seeded_rng("reversed").integers(0, 256, size=(30, 784))
    train = np.vstack([others, farther, nearer]).astype(np.uint8)
    queries = np.vstack([np.zeros(784), others[:3]]).astype(np.uint8)
    train, queries = scaled_pixels(train, "float32-after"), scaled_pixels(queries, "float32-after")
    index = _check(train, queries, metric_name, 1)
    assert index.query(queries[:1], 1)[1][0, 0] == 31  # the larger integer distance


@pytest.mark.parametrize("metric_name", GRID_METRICS)
def test_more_equal_integer_distances_than_spare_candidates(metric_name):
    # Permutations of one row all have the same D to a constant query, but their float64
    # sums differ in the last bits: ordered so the reference's nearest come last, beyond
    # every spare candidate, which only the exact scan of the query finds.
    rng = seeded_rng("overflow", metric_name)
    base = rng.integers(0, 256, size=300)
    permuted = np.array([rng.permutation(base) for _ in range(60)]) / 255.0
    query = np.full((1, 300), 37 / 255.0)
    metric = resolve_metric(metric_name)
    reduced = reduced_distances(query, permuted, metric)[0]
    nearest = reduced == reduced.min()
    permuted = np.vstack([permuted[~nearest], permuted[nearest][:2]])
    train = np.vstack([rng.integers(200, 256, size=(10, 300)) / 255.0, permuted])  # far
    _check(train, query, metric_name, 3)
    assert reference_kneighbors(train, query, 1, metric)[1][0, 0] > 10 + 3 + 6


@pytest.mark.parametrize("metric_name", GRID_METRICS)
def test_k_near_the_number_of_rows(metric_name):
    train, queries = _tied_pixels(seeded_rng("k near n", metric_name))
    train, queries = scaled_pixels(train[:20], "float64"), scaled_pixels(queries, "float64")
    for k in (14, 19, 20):
        _check(train, queries, metric_name, k)


def test_queries_off_the_grid_take_the_float_engines():
    rng = seeded_rng("off grid")
    train, queries = _tied_pixels(rng)
    train, queries = scaled_pixels(train, "float64"), scaled_pixels(queries, "float64")
    queries[4, 7] += 1e-3  # one value off the grid: the whole chunk leaves it
    for metric_name in GRID_METRICS:
        index = _check(train, queries, metric_name, 5)
        assert index._grid_codes(queries, 255.0) is None


def test_values_beyond_a_byte_are_not_a_grid():
    train, queries = _tied_pixels(seeded_rng("256"))
    train = scaled_pixels(train, "float64")
    train[3, 3] = 256 / 255.0  # K = 256 does not fit a byte, and no other scale fits
    for metric_name in GRID_METRICS:
        index = _check(train, scaled_pixels(queries, "float64"), metric_name, 5, routed=False)
        assert index._grid() is None
    # Other metrics (but cosine) never look for a grid.
    assert (
        BruteIndex(scaled_pixels(queries, "float64"), resolve_metric("chebyshev"), 64)._grid()
        is None
    )


def _adversarial_rows(dtype, scale, rng, n_features=67):
    """Rows of grid values (``K / scale`` in ``dtype``), each with one value that is on or
    just off the grid, in the SIMD part or the scalar tail of the row (67 = 16 x 4 + 3)."""
    on = (np.arange(256) / scale).astype(dtype)
    special = [
        np.nextafter(on[[0, 1, 128, 254, 255]], dtype(np.inf)),  # one ulp off
        np.nextafter(on[[1, 128, 255]], dtype(-np.inf)),
        [-0.0, np.nan, np.inf, -np.inf, 255.0000001 / 255, 2.0, 256 / scale, -1 / scale],
        [-0.4 / scale, 255.4 / scale, 255.5 / scale, 0.5 / scale, 1e-300, 5e-324, 1e-45],
    ]
    special = np.concatenate([np.asarray(v, dtype=np.float64) for v in special])
    # K / s rounded to float32 (by a float32 or a float64 division): on a float32 grid, off
    # a float64 one (except where exact).
    k = rng.choice(256, size=64, replace=False)
    rounded = np.concatenate(
        [np.arange(256, dtype=np.float32)[k] / np.float32(scale), on[k].astype(np.float32)]
    ).astype(np.float64)
    placed = [(v, p) for v in special for p in (0, 33, n_features - 1)]
    placed += [(v, i % n_features) for i, v in enumerate(rounded)]
    rows = on[rng.integers(0, 256, size=(len(placed), n_features))]
    with np.errstate(over="ignore"):
        for row, (value, position) in zip(rows, placed, strict=True):
            row[position] = dtype(value)
    return rows


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", [255.0, 16.0, 1.0])
def test_compiled_grid_check_agrees_with_the_numpy_rule(dtype, scale):
    rows = _adversarial_rows(dtype, scale, seeded_rng("adversarial", dtype.__name__, scale))
    verdicts = []
    for row in rows:
        want = integer.grid_codes_numpy(row[None], scale)
        assert (integer.grid_codes(row[None], scale) is None) == (want is None), row
        verdicts.append(want is not None)
    assert 0 < sum(verdicts) < len(rows)  # both answers occur
    # Many rows at once (in parallel): off the grid as soon as one row is, else the codes.
    assert integer.grid_codes(rows, scale) is None
    on_grid = rows[np.array(verdicts)]
    want_codes, want_norms = integer.grid_codes_numpy(on_grid, scale)
    codes, norms = integer.grid_codes(on_grid, scale)
    np.testing.assert_array_equal(codes, integer.pad_u8(want_codes))
    np.testing.assert_array_equal(norms, want_norms)
    shifted, sums = integer.grid_codes(
        on_grid, scale, dot_u8.DOT_WIDTH, dot_u8.DOT_COLS, 128, squares=False
    )
    expected = dot_u8.pad_rows_u8(
        want_codes, dot_u8.DOT_WIDTH, dot_u8.DOT_COLS, shift=128, dtype=np.int8
    )
    assert shifted.dtype == expected.dtype
    np.testing.assert_array_equal(shifted, expected)
    np.testing.assert_array_equal(sums, want_codes.sum(axis=1))


@pytest.mark.parametrize("n_features", [1, 5, 67, 130])
@pytest.mark.parametrize("form", ["float64", "float32-before"])
def test_widths_off_the_simd_chunks_match_the_reference(n_features, form):
    rng = seeded_rng("widths", n_features, form)
    pixels = rng.integers(0, 256, size=(90, n_features)).astype(np.uint8)
    pixels[45:] = np.where(rng.random((45, n_features)) < 0.7, pixels[:45], pixels[45:])
    train, queries = scaled_pixels(pixels[:70], form), scaled_pixels(pixels[60:], form)
    for metric_name in GRID_METRICS:
        index = _check(train, queries, metric_name, 4)
        # The integer engines read exactly the bytes of the rows, in their layouts.
        np.testing.assert_array_equal(index._u8_padded_rows(), integer.pad_u8(pixels[:70]))
        if metric_name != "manhattan":
            shifted, norms = index._u8_dot_rows()
            np.testing.assert_array_equal(
                shifted,
                dot_u8.pad_rows_u8(
                    pixels[:70], dot_u8.DOT_WIDTH, dot_u8.DOT_COLS, shift=128, dtype=np.int8
                ),
            )
            np.testing.assert_array_equal(norms, (pixels[:70].astype(np.int64) ** 2).sum(1))
            if metric_name == "euclidean" and dot_u8.HAVE_VNNI:
                tiles, tile_norms = index._u8_dot_tiles()
                want_tiles, want_norms = dot_u8.tile_rows(pixels[:70], norms)
                np.testing.assert_array_equal(tiles, want_tiles)
                np.testing.assert_array_equal(tile_norms, want_norms)


@pytest.mark.skipif(not dot_u8.HAVE_VNNI, reason="the VNNI engine runs only with AVX-512 VNNI")
def test_bulk_euclidean_keeps_only_the_layout_it_reads():
    train, queries = _tied_pixels(seeded_rng("one layout"))
    index = _check(
        scaled_pixels(train, "float64"), scaled_pixels(queries, "float64"), "euclidean", 3
    )
    # The tiles are made from the shifted rows, which are then let go.
    assert set(index._prepared) & {"u8_tiles", "u8_dot", "u8_padded"} == {"u8_tiles"}


# Run in a fresh process per code path: the path is read once, from KNNVISION_CPU.
_EVERY_PATH_SCRIPT = """
import sys
import numpy as np
from knnvision.search import resolve_metric
from knnvision.search.brute import BruteIndex
from knnvision.search.kernels import _topk, integer

cases = np.load(sys.argv[1])
out = {"level": np.array(_topk.cpu_level()), "routed": np.array(False)}
for name in ("adversarial64", "adversarial32"):
    out[name] = np.array([integer.grid_codes(row[None], 255.0) is not None for row in cases[name]])
for name in ("euclidean", "manhattan"):
    index = BruteIndex(cases["train"], resolve_metric(name), 64)
    out[name + "-d"], out[name + "-i"] = index.query(cases["queries"], 6)
    out["routed"] |= index._engine(cases["queries"]) == index._query_grid
np.savez(sys.argv[2], **out)
"""


def test_every_cpu_path_gives_the_reference(tmp_path):
    train, queries = _tied_pixels(seeded_rng("grid paths"))
    cases = {
        "train": scaled_pixels(train, "float32-after"),
        "queries": scaled_pixels(queries, "float32-after"),
    }
    for dtype in (np.float64, np.float32):  # the compiled grid check, plain and SIMD
        cases[f"adversarial{8 * dtype().itemsize}"] = _adversarial_rows(
            dtype, 255.0, seeded_rng("adversarial paths", dtype.__name__)
        )
    first, _, routed = run_on_every_cpu_path(_EVERY_PATH_SCRIPT, cases, tmp_path, "routed")
    assert all(routed.values())  # Manhattan at least takes the integer kernels everywhere
    for name in ("adversarial64", "adversarial32"):
        want = [integer.grid_codes_numpy(row[None], 255.0) is not None for row in cases[name]]
        np.testing.assert_array_equal(first[name], want)
    for name in ("euclidean", "manhattan"):
        want_d, want_i = reference_kneighbors(
            cases["train"], cases["queries"], 6, resolve_metric(name)
        )
        np.testing.assert_array_equal(first[name + "-i"], want_i)
        np.testing.assert_array_equal(first[name + "-d"], want_d)


@pytest.mark.parametrize("form", ["float64", "float32-after", "float32-before"])
def test_radius_on_grid_rows_matches_the_reference(form):
    """Radius queries on grid rows run on the exact integer scan (with VNNI) and return the
    reference's rows, distances and order; the radii include exact pair distances, so rows lie
    on the boundary."""
    from knnvision.search.kernels import dot_u8
    from knnvision.search.radius import radius_by_blocks

    train, queries = _tied_pixels(seeded_rng("grid-radius", form))
    train, queries = scaled_pixels(train, form), scaled_pixels(queries, form)
    metric = resolve_metric("euclidean")
    index = BruteIndex(train, metric, working_memory_mb=64)
    calls = []
    grid_engine = index._radius_grid
    index._radius_grid = lambda *args: calls.append(1) or grid_engine(*args)
    on_boundary = np.sqrt(reduced_distances(queries[:3], train[:3], metric)).ravel()
    for radius in [0.0, *on_boundary[:4], 2.5, 4.0, np.inf]:
        got = index.query_radius(queries, float(radius))
        expected = radius_by_blocks(train, queries, float(radius), metric)
        np.testing.assert_array_equal(got.indptr, expected.indptr)
        np.testing.assert_array_equal(got.indices, expected.indices)
        np.testing.assert_array_equal(got.distances, expected.distances)
    assert bool(calls) == dot_u8.HAVE_VNNI  # the integer scan ran (the radii > 0 take it)
