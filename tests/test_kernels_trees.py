"""kd-tree and ball-tree node bounds against their NumPy twins."""

import zlib

import numpy as np
import pytest

from knnvision.search.kernels import lp, metric_kinds, trees
from knnvision.search.metrics import Metric, reduced_distances


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


@pytest.mark.parametrize("kind_name", ["euclidean", "manhattan", "chebyshev", "minkowski"])
def test_box_bound_matches_twin(kind_name):
    rng = _rng("box", kind_name)
    kind = metric_kinds.KIND_OF_METRIC[kind_name]
    Q = rng.normal(size=(5, 6))
    LO = rng.normal(size=(3, 6)) - 0.5
    HI = LO + rng.random((3, 6))
    for qi in range(5):
        for node in range(3):
            got = trees.box_bound(kind, Q, qi, LO, HI, node, 3.0)
            want = trees.box_bound_numpy(kind, Q[qi], LO[node], HI[node], 3.0)
            assert got == pytest.approx(want, rel=1e-12, abs=0)


@pytest.mark.parametrize(
    "kind_name", ["euclidean", "manhattan", "chebyshev", "minkowski", "hamming"]
)
def test_ball_bound_matches_twin_and_bounds_the_points(kind_name):
    rng = _rng("ball", kind_name)
    kind = metric_kinds.KIND_OF_METRIC[kind_name]
    points = rng.integers(0, 3, size=(30, 5)).astype(np.float64)
    center = np.median(points, axis=0) if kind_name == "hamming" else points.mean(axis=0)
    metric = Metric(kind_name, 3.0)
    if kind_name == "hamming":
        radius = float((points != center).sum(axis=1).max())
    else:
        radius = float(metric.to_distance(reduced_distances(center[None], points, metric)).max())
    Q = rng.normal(size=(8, 5)) * 3
    shrink = 1.0 - 1e-12
    for qi in range(8):
        got = trees.ball_bound(kind, Q, qi, center[None], 0, radius, 3.0, shrink, lp.new_scratch())
        want = trees.ball_bound_numpy(kind, Q[qi], center, radius, 3.0, shrink)
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
        assert got <= reduced_distances(Q[qi : qi + 1], points, metric).min()
