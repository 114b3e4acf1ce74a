"""Screening re-rank distances and image sizes for ``digits/best`` by leave-one-out on the
training part.

Before the (slower) repeated cross-validation of ``digits_preset_cv.py``, each idea is scored
once by leave-one-out over the 1,437 training images of the reported split
(``train_test_split(X, y, test_size=0.2, random_state=1337)``; the 360 test images are never
loaded): every training image is classified by its neighbours among the other 1,436 (and
their augmented copies, never its own). The 100 nearest by Euclidean distance are re-ranked
by the distance screened; the table gives the errors for k=1, 3 and 5 (uniform and 1/distance
votes) and the seconds per row on one thread::

    python benchmarks/digits_loo_screen.py

Tangent distance (Simard, LeCun and Denker 1993) is written here for the screen only: seven
tangents (x and y shifts, rotation, scaling, two hyperbolic shears, thickening) of the image
smoothed with sigma 0.5, one-sided (the candidate's tangents) or two-sided, least squares with
a 1e-3 ridge. It writes ``digits_loo_screen.md`` beside this script (``--out`` to change).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import scipy.ndimage
from threadpoolctl import threadpool_limits

from digits_preset_cv import training_part as preset_training_part
from knnvision.search import thread_limit
from knnvision.search.kernels.idm import idm_rerank
from knnvision.transforms.augmentation import augment_images
from knnvision.transforms.preprocessing import Deskew, GaussianBlur
from knnvision.transforms.resize import Upsample

N_CANDIDATES = 100
VOTES = ((1, "uniform"), (3, "uniform"), (3, "distance"), (5, "distance"))


def training_part():
    """The 1,437 training images as float64 rows, with labels (the test part is dropped)."""
    X, y = preset_training_part()
    return X.astype(np.float64), y


def prepared(X, *, deskew=True, factor=2, order=3, blur=0.0):
    """The images after the preset's candidate steps; returns (rows, side)."""
    rows = Deskew(image_shape=(8, 8)).fit_transform(X) if deskew else X
    rows = Upsample(factor=factor, order=order, image_shape=(8, 8)).fit_transform(rows)
    side = 8 * factor
    if blur:
        rows = GaussianBlur(blur, image_shape=(side, side)).fit_transform(rows)
    return rows, side


def candidates(queries, train, owners):
    """The N_CANDIDATES nearest training rows of each query by Euclidean distance, the
    query's own rows (and copies) left out; ties to the smaller index."""
    squared = (queries**2).sum(1)[:, None] + (train**2).sum(1)[None] - 2 * queries @ train.T
    squared[owners[None, :] == np.arange(len(queries))[:, None]] = np.inf
    return np.argsort(squared, axis=1, kind="stable")[:, :N_CANDIDATES].astype(np.int64), squared


def idm(queries, train, cand, side, warp, context):
    with thread_limit(1):
        return idm_rerank(queries, train, cand, side, side, warp, context, cand.shape[1])


def tangent_vectors(rows, side, sigma=0.5):
    """(n, side * side, 7) tangents of each image (smoothed with ``sigma``)."""
    images = rows.reshape(len(rows), side, side)
    smooth = scipy.ndimage.gaussian_filter(images, (0, sigma, sigma), mode="constant")
    gy = scipy.ndimage.sobel(smooth, 1, mode="constant") / 8
    gx = scipy.ndimage.sobel(smooth, 2, mode="constant") / 8
    yy, xx = (2 * (g - (side - 1) / 2) / side for g in np.mgrid[0:side, 0:side])
    vectors = [gx, gy, yy * gx - xx * gy, xx * gx + yy * gy, xx * gx - yy * gy]
    vectors += [yy * gx + xx * gy, gx * gx + gy * gy]
    return np.stack(vectors, axis=-1).reshape(len(rows), side * side, len(vectors))


def tangent_distance(queries, train, cand, side, two_sided):
    """Squared tangent distances from each query to its candidates."""
    query_tangents, train_tangents = tangent_vectors(queries, side), tangent_vectors(train, side)
    out = np.empty(cand.shape)
    for i, row in enumerate(cand):
        diff = queries[i][None, :] - train[row]
        basis = -train_tangents[row]
        if two_sided:
            basis = np.concatenate([np.broadcast_to(query_tangents[i], basis.shape), basis], 2)
        gram = np.einsum("npm,npl->nml", basis, basis) + 1e-3 * np.eye(basis.shape[2])
        projected = np.einsum("npm,np->nm", basis, diff)
        solution = np.linalg.solve(gram, projected[..., None])[..., 0]
        out[i] = (diff * diff).sum(1) - (projected * solution).sum(1)
    return out


def errors(cand, squared, labels, y, k, weighting) -> int:
    order = np.lexsort((cand, squared), axis=-1)[:, :k]
    neighbours = np.take_along_axis(cand, order, 1)
    distances = np.sqrt(np.maximum(np.take_along_axis(squared, order, 1), 0))
    votes = np.ones_like(distances) if weighting == "uniform" else 1 / (distances + 1e-9)
    tally = np.zeros((len(y), 10))
    for j in range(k):
        np.add.at(tally, (np.arange(len(y)), labels[neighbours[:, j]]), votes[:, j])
    return int(np.sum(tally.argmax(1) != y))


def screen(X, y):
    """(description, distance function) rows; each function returns (cand, squared, labels)."""
    n = len(y)
    own = np.arange(n)

    def plain(distance, **prep):
        def run():
            rows, side = prepared(X, **prep)
            cand, squared = candidates(rows, rows, own)
            return cand, distance(rows, rows, cand, side, squared), y

        return run

    def euclidean(q, t, cand, side, squared):
        return np.take_along_axis(squared, cand, 1)

    def idm_with(warp, context):
        return lambda q, t, cand, side, squared: idm(q, t, cand, side, warp, context)

    def symmetric(q, t, cand, side, squared):
        forward = idm(q, t, cand, side, 2, 1)
        reverse = idm(t[cand.ravel()], q, np.repeat(own, cand.shape[1])[:, None], side, 2, 1)
        return forward + reverse.reshape(cand.shape)

    def tangent(two_sided, with_idm=False):
        def distance(q, t, cand, side, squared):
            td = tangent_distance(q, t, cand, side, two_sided)
            if not with_idm:
                return td
            warped = idm(q, t, cand, side, 2, 1)
            return td / td.mean() + warped / warped.mean()

        return distance

    def rotated(angles):
        def run():
            rows, side = prepared(X)
            train, labels = augment_images(
                rows, y, shifts=(), rotations=angles, image_shape=(side,) * 2
            )
            cand, _ = candidates(rows, train, np.tile(own, len(train) // n))
            return cand, idm(rows, train, cand, side, 2, 1), labels

        return run

    return [
        ("8 x 8, Euclidean", plain(euclidean, factor=1, deskew=False)),
        ("8 x 8, IDM warp 1, context 1", plain(idm_with(1, 1), factor=1, deskew=False)),
        ("deskew, 8 x 8, IDM warp 1 (round 1's choice)", plain(idm_with(1, 1), factor=1)),
        ("deskew, 16 x 16 cubic, Euclidean", plain(euclidean)),
        ("deskew, 16 x 16 cubic, IDM warp 2, context 1", plain(idm_with(2, 1))),
        ("deskew, 16 x 16 cubic, IDM warp 1", plain(idm_with(1, 1))),
        ("deskew, 16 x 16 cubic, IDM warp 2, context 0", plain(idm_with(2, 0))),
        ("deskew, 16 x 16 cubic, IDM warp 2, context 2", plain(idm_with(2, 2))),
        ("deskew, 16 x 16 bilinear, IDM warp 2", plain(idm_with(2, 1), order=1)),
        ("deskew, 16 x 16 cubic, blur 1.0, IDM warp 2", plain(idm_with(2, 1), blur=1.0)),
        ("16 x 16 cubic (no deskew), IDM warp 2", plain(idm_with(2, 1), deskew=False)),
        ("deskew, 24 x 24 cubic, IDM warp 3", plain(idm_with(3, 1), factor=3)),
        ("deskew, 16 x 16, symmetric IDM (both directions)", plain(symmetric)),
        ("deskew, 16 x 16, rotated copies +-10 degrees, IDM", rotated((-10, 10))),
        ("deskew, 16 x 16, tangent distance one-sided", plain(tangent(False))),
        ("deskew, 16 x 16, tangent distance two-sided", plain(tangent(True))),
        ("deskew, 16 x 16, two-sided tangent + IDM (each / mean)", plain(tangent(True, True))),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("digits_loo_screen.md")
    )
    args = parser.parse_args()
    threadpool_limits(1)
    X, y = training_part()
    votes = " | ".join(f"k={k} {w}" for k, w in VOTES)
    lines = [
        f"# digits/best: leave-one-out screen on the {len(y)} training images",
        "",
        f"Errors among the {len(y)} training images, each classified by the others (its own "
        f"augmented copies excluded); {N_CANDIDATES} Euclidean candidates re-ranked. "
        "s: seconds on one thread of a shared 2-core machine. From "
        "`python benchmarks/digits_loo_screen.py`.",
        "",
        f"| distance | {votes} | s |",
        "|---|" + "---|" * (len(VOTES) + 1),
    ]
    for description, run in screen(X, y):
        started = time.perf_counter()
        cand, squared, labels = run()
        counts = " | ".join(str(errors(cand, squared, labels, y, k, w)) for k, w in VOTES)
        line = f"| {description} | {counts} | {time.perf_counter() - started:.0f} |"
        print(line, flush=True)
        lines.append(line)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
