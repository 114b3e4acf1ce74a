"""Deformation-aware re-ranking: re-order the N nearest search candidates by a distance
that forgives small local distortions.

The image distortion model (IDM; Keysers, Deselaers, Gollan and Ney, "Deformation models for
image recognition", IEEE PAMI 2007) lets every pixel of the query match the best-fitting pixel
of the training image within a small window, comparing *local context*: the patch of
vertical and horizontal Sobel gradients around each pixel, not the lone pixel value. With
3 x 3 gradient contexts and a 5 x 5 warp window it is among the best nearest-neighbour
distances for handwritten digits, but it costs hundreds of Euclidean distances, so it is
applied only to the ``n_candidates`` nearest candidates of each query found by the exact
search, which almost always contain the right neighbours.

Cost. One IDM distance between two ``h x w`` images with warp radius ``r`` and context radius
``c`` takes at most ``h * w * (2r + 1)^2 * 2 (2c + 1)^2`` multiply-adds: 352,800 for 28 x 28,
r=2, c=1, measured at about 86 microseconds on one core of this project's machine, gradient
contexts of the candidate included (a Euclidean distance is 784). Two cuts make it cheaper without
changing any result: a query pixel whose context is all zero only looks up the precomputed context
energies of its window, and a candidate is abandoned once its running total exceeds the k-th best
complete distance of the same query (it can no longer be among the k nearest). Re-ranking therefore
costs at most ``n_queries * n_candidates`` IDM distances on top of the search, spread over
the cores (the kernels run in parallel over queries): MNIST's 10,000 test images with 100
candidates each took 90 s, with 200 candidates 138 s, on two cores of a shared machine
(``benchmarks/accuracy_mnist.md``).

:class:`RerankKNNClassifier` puts it together: training-set augmentation at ``fit``
(:mod:`knnvision.transforms.augmentation`), the exact search on pixels or gradient histograms for
candidates, the re-rank (alone or mixed with the search distance) and the vote.

The IDM kernels and their NumPy twins live in :mod:`knnvision.search.kernels.idm` (the search
layer holds every compiled loop); their names are re-exported here.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import progress
from ..io import register_saveable
from ..search import build_index, thread_limit
from ..search.kernels.idm import (
    context_features,
    context_features_numpy,
    grid_idm_to_candidates,
    idm_distance,
    idm_distance_numpy,
    idm_rerank,
    sobel_gradients_numpy,
)
from ..transforms.augmentation import augment_images, augmentation_factor
from ..transforms.preprocessing import GaussianBlur, GradientHistograms, resolve_image_shape
from ._base import (
    INPUT_DTYPES,
    _drop_self,
    check_enough_samples,
    check_n_neighbors,
    check_weights,
)
from .classifier import KNNClassifier

__all__ = [
    "DISTORTIONS",
    "SOFTMAX_WEIGHTS",
    "CandidateDistances",
    "RerankKNNClassifier",
    "context_features",
    "context_features_numpy",
    "idm_distance",
    "idm_distance_numpy",
    "idm_rerank",
    "sobel_gradients_numpy",
    "softmax_vote_weights",
]

# --- the estimator ---------------------------------------------------------------------------

#: Distances the candidates can be re-ranked by ("none" keeps the search's order).
DISTORTIONS = ("idm", "euclidean", "none")
#: Representations the candidate search can run on.
SEARCH_FEATURES = ("pixels", "hog")
#: The weighting of this estimator's own (``weights="softmax"``), beside scikit-learn's.
SOFTMAX_WEIGHTS = "softmax"
# Queries per call of the compiled re-rank (one progress step each).
_RERANK_BLOCK = 256
# Bound on the float64 difference block of the Euclidean re-rank, in values.
_EUCLIDEAN_BLOCK_VALUES = 2**23
# Training pairs whose mean squared distances set the scales of a mixed distance.
_SCALE_PAIRS = 256
# The gradient-histogram IDM (hog_idm_mix): cells of this many pixels, blocks matched within
# this many blocks, orientation bins, and the queries and stored images whose grids are held
# at once (12,168 float32 values per 28 x 28 image: 800 MB and 200 MB).
_HOG_IDM_CELL = 2
_HOG_IDM_WARP = 1
_HOG_IDM_ORIENTATIONS = 18
_HOG_IDM_QUERIES = 16384
_HOG_IDM_ROWS = 4096


@register_saveable
class RerankKNNClassifier(KNNClassifier):
    """k-nearest-neighbour image classification with augmentation and a deformation-aware
    re-rank.

    At ``fit`` the training images are augmented (shifted, rotated, scaled and/or mirrored
    copies, see :func:`~knnvision.transforms.augmentation.augment_images`; none by default) and
    indexed for exact search on ``features``. For each query, the ``n_candidates`` nearest training
    images by ``metric`` on those features are measured again with ``distortion``, and the
    ``n_neighbors`` nearest by the resulting distance vote. Ties go to the smaller training
    index. With ``distortion="euclidean"`` and ``n_candidates`` equal to the training-set
    size, the result is exactly that of :class:`~knnvision.KNNClassifier`.

    Parameters
    ----------
    n_neighbors : int, default=3
        Neighbours that vote, taken from the re-ranked candidates.
    weights : {"uniform", "distance", "softmax"} or callable, default="uniform"
        Vote weights from the final distances, as for :class:`~knnvision.KNNClassifier`, or
        ``"softmax"``: each of the ``n_neighbors`` nearest votes with weight
        ``exp(-(d**2 - d1**2) / (vote_temperature * d1**2))``, ``d1`` the query's nearest
        final distance (a softmax over the squared distances whose temperature is a fixed
        share of the nearest one, so it does not depend on the distances' unit); where
        ``d1`` is 0, the candidates at distance 0 vote alone. It is this package's own
        weighting (scikit-learn has no such option).
    vote_temperature : float > 0, default=0.1
        With ``weights="softmax"``: the temperature as a share of ``d1**2``. At 0.1 a
        neighbour whose squared distance is 10% above the nearest one's counts ``1/e`` as
        much; smaller values approach the 1-NN vote, larger ones the uniform vote.
    n_candidates : int, default=50
        Candidates re-ranked per query (at least ``n_neighbors`` are used). Prediction cost
        grows linearly with it: see the module notes for the cost of one IDM distance.
    distortion : {"idm", "euclidean", "none"}, default="idm"
        Re-rank distance, measured on the images: ``"idm"``, the image distortion model with
        gradient contexts (its square root is reported); ``"euclidean"``; or ``"none"`` to
        keep the search's order (plain, possibly augmented, k-NN).
    mix : float in [0, 1], default=1.0
        Weight of the re-rank distance in the final one. 1 ranks by the re-rank distance
        alone; below 1 the final squared distance is
        ``(1 - mix - unblurred_hog_mix - hog_idm_mix) * s / S + mix * r / R
        + unblurred_hog_mix * u / U + hog_idm_mix * g / G``, where ``s``, ``r``, ``u`` and
        ``g`` are the squared search, re-rank, unblurred-HOG and HOG-IDM distances and ``S``,
        ``R``, ``U``, ``G`` their means over fixed pairs of training images (learned at
        ``fit``).
    unblurred_hog_mix : float in [0, 1 - mix], default=0.0
        Weight of a third distance, measured on the candidates only: the squared Euclidean
        distance between gradient histograms of the images as given, not blurred
        (:class:`~knnvision.transforms.preprocessing.GradientHistograms` with its defaults).
        It keeps the finer edges that the blurred histograms of ``features="hog"`` smooth
        away. 0 (the default) does not compute it. While measuring, the histograms of the
        distinct candidates of all queries are held in memory (at most one per stored image:
        1,296 float32 values each for 28 x 28 images).
    hog_idm_mix : float in [0, 1 - mix - unblurred_hog_mix], default=0.0
        Weight of a fourth distance, measured on the candidates only: an IDM on the grid of
        gradient-histogram blocks. The images are blurred with sigma 1 and their gradient
        histograms taken with 2-pixel cells and 18 orientation bins
        (``GradientHistograms(cell_size=2, n_orientations=18)``, 13 x 13 blocks of 72 values
        for 28 x 28 images); each block of the query is matched to the
        best of the 3 x 3 neighbouring blocks of the candidate (blocks outside the grid are
        not candidates), so every block may move 2 pixels, and the distance is the sum of
        the blocks' smallest squared differences
        (:func:`~knnvision.search.kernels.idm.grid_idm_pairs`). 0 (the default) does not
        compute it. Each distinct candidate's grid is computed once per block of 16,384
        queries, a slice of the stored images at a time.
    hog_idm_block_weights : array-like of shape (n_blocks,), default=None
        One non-negative weight per block of that grid (row-major; 13 x 13 = 169 for 28 x 28
        images): each query block's smallest squared difference counts this many times.
        ``None`` weighs every block 1. The unit ``G`` stays the mean of the *unweighted*
        distance, so the weights shift importance between blocks without changing what
        ``hog_idm_mix`` means.
    search_block_weights : array-like of shape (n_blocks,), default=None
        With ``features="hog"``: one non-negative weight per block of the search's gradient
        histograms (row-major; 6 x 6 = 36 for 28 x 28 images). In the final distance, the
        search part ``s`` becomes the sum over blocks of each block's squared difference
        times its weight, measured again on the candidates; the candidate search itself and
        the unit ``S`` stay unweighted. ``None`` keeps the search's own distance.
    unblurred_hog_block_weights : array-like of shape (n_blocks,), default=None
        The same for the blocks of the unblurred gradient histograms of ``unblurred_hog_mix``
        (6 x 6 = 36 for 28 x 28 images).
    idm_pixel_weights : array-like of shape (height * width,) or (height, width), default=None
        With ``distortion="idm"``: one non-negative weight per query pixel (row-major), its
        least matching cost counts this many times in the IDM distance. ``None`` weighs every
        pixel 1. As for the block weights, the unit ``R`` stays the mean of the *unweighted*
        distance.
    warp : int, default=2
        IDM: each pixel may match any pixel up to ``warp`` rows and columns away.
    context : int, default=1
        IDM: radius of the gradient context compared (1 is a 3 x 3 patch).
    features : {"pixels", "hog"}, default="pixels"
        What the candidate search compares: the pixels as given, or gradient histograms of
        the images blurred with sigma 1 (:class:`~knnvision.transforms.preprocessing.GaussianBlur`,
        then :class:`~knnvision.transforms.preprocessing.GradientHistograms` with its defaults). The
        re-rank always compares the images themselves. The index keeps the features in
        memory: 1,296 float32 values per 28 x 28 image (1.5 GB for 300,000 images).
    algorithm, metric, p, n_jobs, working_memory
        The candidate search, as for :class:`~knnvision.KNNClassifier` (Euclidean by
        default).
    image_shape : (int, int), default=None
        ``(height, width)`` of the images the rows hold; ``None`` infers square images.
    shifts, directions, rotations, scales, flip
        Training-set augmentation, as for :func:`~knnvision.transforms.augmentation.augment_images`;
        none by default. The model (and a saved model file) holds the augmented images; the
        search features are recomputed when a model is loaded.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The sorted class labels.
    n_samples_fit_ : int
        Stored training images (augmented copies included).
    augmentation_factor_ : int
        Stored images per original training image.
    image_shape_ : (int, int)
        Shape of the images.
    search_scale_, rerank_scale_, unblurred_hog_scale_, hog_idm_scale_ : float
        Mean squared search, re-rank, unblurred-HOG and HOG-IDM distances over fixed training
        pairs (the units of ``mix``, ``unblurred_hog_mix`` and ``hog_idm_mix``).
    n_features_in_, effective_algorithm_
        As for :class:`~knnvision.KNNClassifier`.
    """

    def __init__(
        self,
        n_neighbors=3,
        *,
        weights="uniform",
        vote_temperature=0.1,
        n_candidates=50,
        distortion="idm",
        mix=1.0,
        unblurred_hog_mix=0.0,
        hog_idm_mix=0.0,
        hog_idm_block_weights=None,
        idm_pixel_weights=None,
        search_block_weights=None,
        unblurred_hog_block_weights=None,
        warp=2,
        context=1,
        features="pixels",
        algorithm="auto",
        metric="euclidean",
        p=2,
        n_jobs=None,
        working_memory=None,
        image_shape=None,
        shifts=(),
        directions=8,
        rotations=(),
        scales=(),
        flip=False,
    ):
        super().__init__(
            n_neighbors,
            weights=weights,
            algorithm=algorithm,
            metric=metric,
            p=p,
            n_jobs=n_jobs,
            working_memory=working_memory,
        )
        self.vote_temperature = vote_temperature
        self.n_candidates = n_candidates
        self.distortion = distortion
        self.mix = mix
        self.unblurred_hog_mix = unblurred_hog_mix
        self.hog_idm_mix = hog_idm_mix
        self.hog_idm_block_weights = hog_idm_block_weights
        self.idm_pixel_weights = idm_pixel_weights
        self.search_block_weights = search_block_weights
        self.unblurred_hog_block_weights = unblurred_hog_block_weights
        self.warp = warp
        self.context = context
        self.features = features
        self.image_shape = image_shape
        self.shifts = shifts
        self.directions = directions
        self.rotations = rotations
        self.scales = scales
        self.flip = flip

    # --- fitting ---------------------------------------------------------------------------

    # Dense images with one label each: not the sparse rows and several outputs that
    # KNNClassifier takes.
    _SPARSE_INPUT = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = False
        tags.classifier_tags.multi_label = False
        return tags

    def fit(self, X, y):
        """Augment and store the training images ``X`` (rows) with their labels ``y``."""
        self._check_rerank_parameters()
        self._check_weights()
        augmentation = self._augmentation()
        factor = augmentation_factor(**augmentation)
        X, y = validate_data(self, X, y, dtype=INPUT_DTYPES)
        check_classification_targets(y)
        self.image_shape_ = resolve_image_shape(X.shape[1], self.image_shape)
        # Checked before the work, against this image shape.
        self._hog_idm_weights()
        self._idm_pixel_weights()
        self._histogram_block_weights("search_block_weights")
        self._histogram_block_weights("unblurred_hog_block_weights")
        self.classes_, encoded = np.unique(y, return_inverse=True)
        rows, self._y = augment_images(X, encoded, image_shape=self.image_shape_, **augmentation)
        self.augmentation_factor_ = factor
        self._fit_training_rows(rows)
        (
            self.search_scale_,
            self.rerank_scale_,
            self.unblurred_hog_scale_,
            self.hog_idm_scale_,
        ) = self._distance_scales()
        return self

    def _augmentation(self) -> dict:
        return {
            "shifts": tuple(self.shifts),
            "directions": self.directions,
            "rotations": tuple(self.rotations),
            "scales": tuple(self.scales),
            "flip": self.flip,
        }

    def _build_index(self):
        return build_index(
            self._search_rows(self._fit_X),
            metric=self.metric,
            p=self.p,
            algorithm=self.algorithm,
            working_memory_mb=self.working_memory,
        )

    def _search_rows(self, rows: np.ndarray) -> np.ndarray:
        """The rows the candidate search compares: the pixels, or their gradient histograms."""
        if self.features == "pixels":
            return rows
        blurred = GaussianBlur(sigma=1.0, image_shape=self.image_shape_).fit_transform(rows)
        return self._gradient_histograms(blurred)

    def _gradient_histograms(self, rows: np.ndarray) -> np.ndarray:
        """Gradient histograms (:class:`GradientHistograms` with its defaults) of image rows."""
        return GradientHistograms(image_shape=self.image_shape_).fit_transform(rows)

    def _distance_scales(self) -> tuple[float, float, float, float]:
        """Mean squared search, re-rank, unblurred-HOG and HOG-IDM distances over fixed
        pairs of training images (image ``i`` and image ``i + n/2``): the units in which the
        mixes add them (1 for a distance that is not used)."""
        n = self.n_samples_fit_
        first = np.unique(np.linspace(0, n - 1, min(n, _SCALE_PAIRS)).astype(np.int64))
        second = (first + n // 2) % n
        search = self._search_rows(self._fit_X[np.concatenate([first, second])])
        diff = search[: len(first)].astype(np.float64) - search[len(first) :]
        queries, pairs = self._fit_X[first], second[:, None]
        rerank = unblurred_hog = hog_idm = None
        if self.distortion != "none":
            rerank = self._rerank_squared(queries, pairs, 1)
        if self.unblurred_hog_mix:
            unblurred_hog = self._unblurred_hog_squared(queries, pairs)
        if self.hog_idm_mix:
            hog_idm = self._hog_idm_squared(queries, pairs)
        return (
            _positive_mean((diff * diff).sum(axis=1)),
            _positive_mean(rerank),
            _positive_mean(unblurred_hog),
            _positive_mean(hog_idm),
        )

    # --- neighbours ------------------------------------------------------------------------

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """The ``n_neighbors`` nearest training images by the final distance.

        They are chosen among the ``n_candidates`` nearest by the search. ``X=None`` uses
        the training images as queries, each left out of its own candidates (not allowed on
        an augmented training set). Returns ``(distances, indices)`` sorted nearest first, or
        only the indices. Indices are rows of the ``X`` given to ``fit``: a neighbour that is
        an augmented copy is reported by the index of its original (so an index may repeat),
        with the distance to the copy.
        """
        k = check_n_neighbors(self.n_neighbors if n_neighbors is None else n_neighbors)
        found = self.candidate_distances(X, k, k_keep=k)
        squared, candidates = self.final_squared(found), found.candidates
        order = np.lexsort((candidates, squared), axis=-1)[:, :k]
        # Copies are stored in blocks of the training-set size after the originals, so the
        # original a stored image was made from is its index modulo that size.
        n_originals = self.n_samples_fit_ // self.augmentation_factor_
        indices = np.take_along_axis(candidates, order, axis=1) % n_originals
        if not return_distance:
            return indices
        return np.sqrt(np.take_along_axis(squared, order, axis=1)), indices

    def candidate_distances(self, X=None, n_neighbors=None, k_keep=None):
        """Each query's candidates with their squared search, re-rank, unblurred-HOG and
        HOG-IDM distances.

        Lets a caller score several ``n_neighbors``, ``weights`` and ``mix`` values from one
        search and one re-rank (see :mod:`knnvision.experiments.presets`).

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query images as rows; ``None`` for the training images, each left out.
        n_neighbors : int, default=None
            Largest number of neighbours that will vote (at least this many candidates are
            searched); ``None`` uses ``n_neighbors``.
        k_keep : int, default=None
            Only the ``k_keep`` smallest re-rank distances of each query are needed: larger
            ones may be reported as ``inf`` (the IDM then abandons hopeless candidates early).
            ``None`` measures every candidate.

        Returns
        -------
        CandidateDistances
            ``candidates`` (training-image indices, in the search's order) and the squared
            distances to them; ``rerank`` is ``None`` when ``distortion="none"``,
            ``unblurred_hog`` when ``unblurred_hog_mix`` is 0 and ``hog_idm`` when
            ``hog_idm_mix`` is 0.
        """
        check_is_fitted(self)
        self._check_rerank_parameters()
        k = check_n_neighbors(self.n_neighbors if n_neighbors is None else n_neighbors)
        leave_self_out = X is None
        if leave_self_out and self.augmentation_factor_ > 1:
            raise ValueError(
                "Leave-one-out neighbours (X=None) are meaningless on an augmented training "
                "set: each image's shifted copies would vote for it. Pass query images."
            )
        queries = self._fit_X if leave_self_out else self._validate_queries(X)
        available = self.n_samples_fit_ - (1 if leave_self_out else 0)
        check_enough_samples(k + leave_self_out, self.n_samples_fit_, leave_self_out)
        n_candidates = max(min(self.n_candidates, available), k)
        query_rows = self._search_rows(queries)
        with thread_limit(self.n_jobs):
            distances, candidates = self._index.query(query_rows, n_candidates + leave_self_out)
        if leave_self_out:
            distances, candidates = _drop_self(distances, candidates)
        search_squared = distances * distances
        search_weights = self._histogram_block_weights("search_block_weights")
        if search_weights is not None:
            search_squared = _block_squared_to_candidates(
                query_rows, self._search_rows, self._fit_X, candidates, search_weights
            )
        rerank_squared = None
        if self.distortion != "none":
            alone = self.mix == 1  # only then do the k_keep nearest by the re-rank decide
            keep = min(k_keep, n_candidates) if k_keep is not None and alone else n_candidates
            rerank_squared = self._rerank_squared(
                queries, candidates, keep, self._idm_pixel_weights()
            )
        unblurred_hog_squared = hog_idm_squared = None
        if self.unblurred_hog_mix:
            unblurred_hog_squared = self._unblurred_hog_squared(
                queries, candidates, self._histogram_block_weights("unblurred_hog_block_weights")
            )
        if self.hog_idm_mix:
            hog_idm_squared = self._hog_idm_squared(queries, candidates, self._hog_idm_weights())
        return CandidateDistances(
            candidates,
            search_squared,
            rerank_squared,
            unblurred_hog_squared,
            hog_idm_squared,
        )

    def final_squared(self, found: CandidateDistances, mix=None) -> np.ndarray:
        """The squared distance candidates are ranked by, from :meth:`candidate_distances`.

        ``mix`` overrides the estimator's ``mix`` (for tuning).
        """
        # A part that was not measured weighs nothing.
        mix = 0.0 if found.rerank is None else (self.mix if mix is None else mix)
        parts = [
            (weight, distances, scale)
            for weight, distances, scale in (
                (mix, found.rerank, "rerank_scale_"),
                (self.unblurred_hog_mix, found.unblurred_hog, "unblurred_hog_scale_"),
                (self.hog_idm_mix, found.hog_idm, "hog_idm_scale_"),
            )
            if weight and distances is not None
        ]
        search_weight = _search_weight([weight for weight, _, _ in parts])
        if not parts:
            return found.search
        if mix == 1 and found.rerank is not None:
            return found.rerank
        # Each part in units of its mean over fixed training pairs (set at fit).
        squared = search_weight * found.search / self.search_scale_
        for weight, distances, scale in parts:
            squared = squared + weight * distances / getattr(self, scale)
        return squared

    def _unblurred_hog_squared(self, queries, candidates, block_weights=None) -> np.ndarray:
        """Squared distances between gradient histograms of the images as given (not
        blurred), from each query to its candidates ``(n_queries, n_candidates)``, each block
        weighted by ``block_weights`` (``None``: the plain distance). Only the candidates'
        histograms are computed, each once."""
        rows, positions = np.unique(candidates, return_inverse=True)
        with progress.track(
            total=len(rows) + len(queries), description="unblurred gradient histograms"
        ) as task:
            train = self._gradient_histograms(self._fit_X[rows])
            task.advance(len(rows))
            query_histograms = self._gradient_histograms(queries)
            task.advance(len(queries))
        return _squared_euclidean_to_candidates(
            query_histograms, train, positions.reshape(candidates.shape), block_weights
        )

    def _hog_idm_squared(self, queries, candidates, block_weights=None) -> np.ndarray:
        """Squared IDM distances between grids of gradient-histogram blocks (see
        ``hog_idm_mix``), each block weighted by ``block_weights`` (``None``: 1), from each
        query to its candidates ``(n_queries, n_candidates)``. Queries go
        ``_HOG_IDM_QUERIES`` at a time; within them each distinct candidate's grid is
        computed once, ``_HOG_IDM_ROWS`` at a time."""
        squared = np.empty(candidates.shape)
        with (
            progress.track(total=candidates.size, description="gradient-histogram IDM") as task,
            thread_limit(self.n_jobs),
        ):
            for start in range(0, len(queries), _HOG_IDM_QUERIES):
                stop = start + _HOG_IDM_QUERIES
                squared[start:stop] = grid_idm_to_candidates(
                    self._hog_idm_grids(queries[start:stop]),
                    lambda rows: self._hog_idm_grids(self._fit_X[rows]),
                    candidates[start:stop],
                    self._hog_idm_blocks(),
                    _HOG_IDM_WARP,
                    _HOG_IDM_ROWS,
                    task.advance,
                    block_weights,
                )
        return squared

    def _hog_idm_weights(self) -> np.ndarray | None:
        """``hog_idm_block_weights`` as float64, checked against the fitted image's grid."""
        blocks_y, blocks_x = self._hog_idm_blocks()
        return _checked_weights(
            "hog_idm_block_weights",
            self.hog_idm_block_weights,
            f"block of the {blocks_y} x {blocks_x} grid",
            blocks_y * blocks_x,
        )

    def _histogram_block_weights(self, name) -> np.ndarray | None:
        """``search_block_weights`` or ``unblurred_hog_block_weights`` as float64, checked
        against the blocks of the default gradient histograms of the fitted image shape."""
        defaults = GradientHistograms()  # the histograms both HOG distances use
        cell, block = defaults.cell_size, defaults.block_size
        blocks_y, blocks_x = (max(-(-side // cell) - block + 1, 1) for side in self.image_shape_)
        grid = f"block of the {blocks_y} x {blocks_x} grid"
        return _checked_weights(name, getattr(self, name), grid, blocks_y * blocks_x)

    def _idm_pixel_weights(self) -> np.ndarray | None:
        """``idm_pixel_weights`` as float64, checked against the fitted image shape."""
        height, width = self.image_shape_
        return _checked_weights(
            "idm_pixel_weights",
            self.idm_pixel_weights,
            f"pixel of the {height} x {width} image",
            height * width,
        )

    def _hog_idm_grids(self, rows: np.ndarray) -> np.ndarray:
        """Gradient histograms (``_HOG_IDM_CELL``-pixel cells, ``_HOG_IDM_ORIENTATIONS``
        bins) of the blurred images (silently: the caller's bar counts the rows)."""
        with progress.quietly():
            blurred = GaussianBlur(sigma=1.0, image_shape=self.image_shape_).fit_transform(rows)
            histograms = GradientHistograms(
                cell_size=_HOG_IDM_CELL,
                n_orientations=_HOG_IDM_ORIENTATIONS,
                image_shape=self.image_shape_,
            )
            return histograms.fit_transform(blurred)

    def _hog_idm_blocks(self) -> tuple[int, int]:
        """``(blocks_y, blocks_x)`` of a grid: 2 x 2-cell blocks at a stride of one cell."""
        return tuple(max(-(-side // _HOG_IDM_CELL) - 1, 1) for side in self.image_shape_)

    def _rerank_squared(self, queries, candidates, k_keep, pixel_weights=None):
        """Squared re-rank distances ``(n_queries, n_candidates)`` on the images, the IDM's
        pixels weighted by ``pixel_weights`` (``None``: 1); ``inf`` marks candidates proven
        not to be among the ``k_keep`` nearest."""
        if self.distortion == "euclidean":
            return _squared_euclidean_to_candidates(queries, self._fit_X, candidates)
        height, width = self.image_shape_
        squared = np.empty(candidates.shape)
        with (
            progress.track(total=len(queries), description="re-ranking (IDM)") as task,
            thread_limit(self.n_jobs),
        ):
            for start in range(0, len(queries), _RERANK_BLOCK):
                stop = min(start + _RERANK_BLOCK, len(queries))
                squared[start:stop] = idm_rerank(
                    queries[start:stop],
                    self._fit_X,
                    candidates[start:stop],
                    height,
                    width,
                    self.warp,
                    self.context,
                    k_keep,
                    pixel_weights,
                )
                task.advance(stop - start)
        return squared

    # --- voting ----------------------------------------------------------------------------

    def _check_weights(self) -> None:
        if isinstance(self.weights, str) and self.weights == SOFTMAX_WEIGHTS:
            value = self.vote_temperature
            if not _is_real(value) or not float(value) > 0:
                raise ValueError(
                    f"vote_temperature must be a number > 0 (a share of the nearest squared "
                    f"distance), got {value!r}."
                )
            return
        check_weights(self.weights)

    def _vote_weights(self, distances, weights):
        if isinstance(weights, str) and weights == SOFTMAX_WEIGHTS:
            return softmax_vote_weights(distances, float(self.vote_temperature))
        return super()._vote_weights(distances, weights)

    def _check_rerank_parameters(self) -> None:
        if self.distortion not in DISTORTIONS:
            raise ValueError(
                f"distortion must be one of {', '.join(DISTORTIONS)}, got {self.distortion!r}."
            )
        if self.features not in SEARCH_FEATURES:
            raise ValueError(
                f"features must be one of {', '.join(SEARCH_FEATURES)}, got {self.features!r}."
            )
        check_n_neighbors(self.n_candidates, "n_candidates")
        if self.search_block_weights is not None and self.features != "hog":
            raise ValueError(
                "search_block_weights weigh the blocks of the gradient-histogram search and "
                f"need features='hog', got features={self.features!r}."
            )
        if self.unblurred_hog_block_weights is not None and not self.unblurred_hog_mix:
            raise ValueError(
                "unblurred_hog_block_weights weigh the unblurred gradient histograms and need "
                "unblurred_hog_mix > 0."
            )
        if self.idm_pixel_weights is not None and self.distortion != "idm":
            raise ValueError(
                "idm_pixel_weights weigh the IDM's pixels and need distortion='idm', got "
                f"distortion={self.distortion!r}."
            )
        for name in ("warp", "context"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{name} must be a whole number of pixels >= 0, got {value!r}.")
        mixes = ("mix", "unblurred_hog_mix", "hog_idm_mix")
        for name in mixes:
            value = getattr(self, name)
            if not _is_real(value) or not 0 <= float(value) <= 1:
                raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}.")
        _search_weight([float(getattr(self, name)) for name in mixes])


class CandidateDistances(NamedTuple):
    """What :meth:`RerankKNNClassifier.candidate_distances` returns: each query's candidates
    ``(n_queries, n_candidates)``, in the search's order, and the squared distances to them
    (float64, same shape)."""

    candidates: np.ndarray
    search: np.ndarray
    rerank: np.ndarray | None
    unblurred_hog: np.ndarray | None
    hog_idm: np.ndarray | None = None


def softmax_vote_weights(distances: np.ndarray, temperature: float) -> np.ndarray:
    """``exp(-(d**2 - d1**2) / (temperature * d1**2))`` for each neighbour at distance ``d``
    of a query whose nearest is at ``d1``: 1 for the nearest, less for the others. A query
    with a neighbour at distance 0 gives weight 1 to those at 0 and 0 to the rest (the rule
    of ``weights="distance"``: an exact match decides)."""
    squared = np.square(np.asarray(distances, dtype=np.float64))
    nearest = squared.min(axis=1, keepdims=True)
    exact = nearest == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.exp(-(squared - nearest) / (temperature * nearest))
    return np.where(exact, squared == 0, weights).astype(np.float64)


def _search_weight(mixes) -> float:
    """What the mixes leave to the search distance: 1 minus each of them, in order (the
    order the preset's recorded results were computed in); a ValueError if they exceed 1."""
    weight = 1.0
    for mix in mixes:
        weight -= mix
    if weight < -1e-12:  # more than rounding
        raise ValueError(
            "mix + unblurred_hog_mix + hog_idm_mix must be at most 1 (the rest weighs the "
            f"search distance), got {' + '.join(str(mix) for mix in mixes)}."
        )
    return max(weight, 0.0)


def _checked_weights(name, value, one_per, count) -> np.ndarray | None:
    """``value`` as ``count`` float64 weights (``None`` stays ``None``); a ValueError that
    says what they weigh (``one_per``, e.g. "block of the 13 x 13 grid") otherwise."""
    if value is None:
        return None
    wanted = (
        f"{name} needs one finite, non-negative weight per {one_per} ({count} values, "
        "row-major), not all 0"
    )
    try:
        weights = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"{wanted}; got {value!r}.") from None
    if len(weights) != count:
        raise ValueError(f"{wanted}; got {len(weights)} values.")
    if not (np.all(np.isfinite(weights)) and np.all(weights >= 0) and np.any(weights > 0)):
        raise ValueError(f"{wanted}; got a negative, non-finite or all-zero set.")
    return weights


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _positive_mean(squared) -> float:
    """The mean of ``squared`` as a unit of distance: 1 when it is absent or 0."""
    mean = 0.0 if squared is None else float(np.mean(squared))
    return mean if mean > 0 else 1.0


def _block_squared_to_candidates(query_rows, features_of, images, candidates, weights):
    """Weighted block distances (see :func:`_squared_euclidean_to_candidates`) from the
    feature rows ``query_rows`` to each query's candidate ``images``, whose features
    ``features_of(rows)`` computes once per distinct candidate."""
    rows, positions = np.unique(candidates, return_inverse=True)
    with progress.quietly():
        train = features_of(images[rows])
    return _squared_euclidean_to_candidates(
        query_rows, train, positions.reshape(candidates.shape), weights
    )


def _squared_euclidean_to_candidates(queries, train, candidates, block_weights=None):
    """Squared Euclidean distances (float64) from each query row to its candidate rows of
    ``train``, summed exactly as the search's float64 reference sums them (so equal rows tie
    exactly). With ``block_weights``, the rows are split into ``len(block_weights)`` equal
    blocks and the distance is ``sum_b block_weights[b] * |q_b - t_b|^2``."""
    n_queries, n_candidates = candidates.shape
    block = max(1, _EUCLIDEAN_BLOCK_VALUES // max(1, n_candidates * train.shape[1]))
    squared = np.empty(candidates.shape)
    for start in range(0, n_queries, block):
        stop = min(start + block, n_queries)
        rows = train[candidates[start:stop]].astype(np.float64)
        diff = np.abs(queries[start:stop, None, :].astype(np.float64) - rows)
        squares = diff * diff
        if block_weights is None:
            squared[start:stop] = squares.sum(axis=2)
        else:
            blocks = squares.reshape(stop - start, n_candidates, len(block_weights), -1)
            squared[start:stop] = blocks.sum(axis=3) @ block_weights
    return squared
