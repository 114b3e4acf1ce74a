"""Projection lower bounds against their NumPy twin, and that they bound the distance."""

import zlib

import numpy as np

from knnvision.search.kernels import projection


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def test_projected_bounds_match_twin_and_bound():
    rng = _rng("proj")
    x = rng.normal(size=(50, 20))
    basis, _ = np.linalg.qr(rng.normal(size=(20, 4)))
    proj = x @ basis
    residuals = np.sqrt(np.maximum((x * x).sum(1) - (proj * proj).sum(1), 0))
    q = rng.normal(size=20)
    qp = q @ basis
    qr = np.sqrt(max(q @ q - qp @ qp, 0))
    got = projection.projected_bounds(proj, residuals, qp, qr, 1e-9)
    np.testing.assert_allclose(
        got, projection.projected_bounds_numpy(proj, residuals, qp, qr, 1e-9)
    )
    assert np.all(got <= ((x - q) ** 2).sum(1) * (1 + 1e-12))
