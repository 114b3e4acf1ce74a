"""Deformation-aware re-ranking: the estimator (its IDM kernels: test_kernels_idm.py)."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from knnvision import KNNClassifier, load, progress, save
from knnvision.neighbors import rerank
from knnvision.neighbors.rerank import RerankKNNClassifier
from knnvision.search.kernels.idm import grid_idm_numpy, idm_distance_numpy
from knnvision.transforms.augmentation import shift_images
from knnvision.transforms.preprocessing import Deskew, GaussianBlur, GradientHistograms


@parametrize_with_checks([RerankKNNClassifier()])
def test_scikit_learn_conformance(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype(np.uint8), y


# --- the estimator -----------------------------------------------------------------------------


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_euclidean_rerank_over_every_training_image_changes_nothing(digits, weights):
    X, y = digits
    X_train, y_train = (
        np.vstack([X[:300], X[:40]]),
        np.concatenate([y[:300], y[:40]]),
    )  # exact duplicates tie
    queries = np.vstack([X[300:360], X[:10]])
    plain = KNNClassifier(5, weights=weights).fit(X_train, y_train)
    reranked = RerankKNNClassifier(
        5, weights=weights, distortion="euclidean", n_candidates=len(X_train)
    ).fit(X_train, y_train)
    plain_distances, plain_indices = plain.kneighbors(queries)
    distances, indices = reranked.kneighbors(queries)
    np.testing.assert_array_equal(indices, plain_indices)
    np.testing.assert_array_equal(distances, plain_distances)
    np.testing.assert_array_equal(reranked.predict_proba(queries), plain.predict_proba(queries))
    np.testing.assert_array_equal(reranked.kneighbors(), plain.kneighbors())  # leave-one-out


def test_no_rerank_is_plain_knn_on_the_augmented_set(digits):
    X, y = digits
    model = RerankKNNClassifier(3, distortion="none", shifts=(1,), directions=4).fit(
        X[:200], y[:200]
    )
    assert model.n_samples_fit_ == 5 * 200 and model.augmentation_factor_ == 5
    stored = model._fit_X
    _, plain_indices = KNNClassifier(3).fit(stored, np.tile(y[:200], 5)).kneighbors(X[200:260])
    np.testing.assert_array_equal(model.kneighbors(X[200:260])[1], plain_indices % 200)
    with pytest.raises(ValueError, match="meaningless on an augmented training set"):
        model.kneighbors()


def test_softmax_votes_weigh_each_neighbour_by_its_squared_distance_over_the_nearest(digits):
    X, y = digits
    model = RerankKNNClassifier(
        7, weights="softmax", vote_temperature=0.1, n_candidates=20, warp=1
    ).fit(X[:600], y[:600])
    queries = X[600:680]
    distances, indices = model.kneighbors(queries)
    squared = distances.astype(np.float64) ** 2
    weights = np.exp(-(squared - squared[:, :1]) / (0.1 * squared[:, :1]))
    expected = np.zeros((len(queries), 10))
    for row in range(len(queries)):
        np.add.at(expected[row], y[:600][indices[row]], weights[row])
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(queries), expected, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(queries), np.argmax(expected, axis=1))
    # A very sharp vote is the nearest neighbour's; a flat one is the uniform vote.
    sharp = model.set_params(vote_temperature=1e-9).predict(queries)
    np.testing.assert_array_equal(sharp, y[:600][indices[:, 0]])
    flat = model.set_params(vote_temperature=1e9).predict_proba(queries)
    uniform = model.set_params(weights="uniform").predict_proba(queries)
    np.testing.assert_allclose(flat, uniform, atol=1e-6)


def test_softmax_votes_of_an_exact_match_go_to_the_matches_alone():
    weights = rerank.softmax_vote_weights(np.array([[0.0, 0.0, 1.0], [2.0, 2.0, 4.0]]), 0.05)
    np.testing.assert_array_equal(weights[0], [1.0, 1.0, 0.0])
    np.testing.assert_allclose(weights[1], [1.0, 1.0, np.exp(-3 / 0.05)])


@pytest.mark.parametrize("temperature", [0, -1.0, "hot", None, True])
def test_a_bad_vote_temperature_is_a_clear_error(digits, temperature):
    X, y = digits
    model = RerankKNNClassifier(weights="softmax", vote_temperature=temperature)
    with pytest.raises(ValueError, match="vote_temperature must be a number > 0"):
        model.fit(X[:50], y[:50])


def test_idm_rerank_classifies_shifted_digits_better_than_euclidean(digits):
    X, y = digits
    images = X[1000:1300].reshape(-1, 8, 8)
    shifted = shift_images(images, 1, 0).reshape(300, -1)
    euclidean = KNNClassifier(1).fit(X[:1000], y[:1000]).score(shifted, y[1000:1300])
    idm = RerankKNNClassifier(1, n_candidates=50, warp=1).fit(X[:1000], y[:1000])
    assert idm.score(shifted, y[1000:1300]) > euclidean + 0.1


def test_mixed_distance_lies_between_its_parts(digits):
    X, y = digits
    model = RerankKNNClassifier(3, mix=0.5, n_candidates=20).fit(X[:300], y[:300])
    found = model.candidate_distances(X[300:310])
    candidates, search, reranked, unblurred_hog, hog_idm = found
    assert candidates.shape == search.shape == reranked.shape == (10, 20)
    assert unblurred_hog is None and hog_idm is None  # their mixes are 0: not computed
    assert np.all(np.diff(search, axis=1) >= 0)  # the search's order
    mixed = model.final_squared(found)
    expected = 0.5 * search / model.search_scale_ + 0.5 * reranked / model.rerank_scale_
    np.testing.assert_allclose(mixed, expected)
    np.testing.assert_array_equal(model.final_squared(found, mix=0), search)
    np.testing.assert_array_equal(model.final_squared(found, mix=1), reranked)


def test_unblurred_hog_distance_is_the_histograms_distance_to_each_candidate(digits):
    X, y = digits
    model = RerankKNNClassifier(
        3, features="hog", mix=0.25, unblurred_hog_mix=0.25, n_candidates=15
    ).fit(X[:300], y[:300])
    found = model.candidate_distances(X[300:310])
    histograms = GradientHistograms(image_shape=(8, 8)).fit(X[:1])
    query_hog = histograms.transform(X[300:310]).astype(np.float64)
    train_hog = histograms.transform(X[:300]).astype(np.float64)
    expected = ((query_hog[:, None, :] - train_hog[found.candidates]) ** 2).sum(axis=2)
    np.testing.assert_allclose(found.unblurred_hog, expected, rtol=1e-5, atol=1e-9)
    # The scale is the mean over the fixed pairs i, i + n/2, as for the other two parts.
    first = np.unique(np.linspace(0, 299, 256).astype(np.int64))
    pairs = ((train_hog[first] - train_hog[(first + 150) % 300]) ** 2).sum(axis=1)
    assert model.unblurred_hog_scale_ == pytest.approx(pairs.mean(), rel=1e-5)
    mixed = model.final_squared(found)
    np.testing.assert_allclose(
        mixed,
        0.5 * found.search / model.search_scale_
        + 0.25 * found.rerank / model.rerank_scale_
        + 0.25 * found.unblurred_hog / model.unblurred_hog_scale_,
    )
    # The ranking follows the mixed distance: kneighbors reports its smallest values.
    distances, _ = model.kneighbors(X[300:310])
    np.testing.assert_allclose(distances**2, np.sort(mixed, axis=1)[:, :3])
    with pytest.raises(ValueError, match="at most 1"):
        model.final_squared(found, mix=0.9)


def fine_histogram_grids(rows):
    """The HOG-IDM's grids of 8 x 8 digits: 2-pixel cells of the sigma-1 blur, 3 x 3 blocks."""
    blurred = GaussianBlur(sigma=1.0, image_shape=(8, 8)).fit_transform(rows)
    histograms = GradientHistograms(cell_size=2, n_orientations=18, image_shape=(8, 8))
    histograms = histograms.fit_transform(blurred)
    return histograms.reshape(len(rows), 3, 3, -1)


def test_hog_idm_distance_is_the_grid_idm_of_fine_histograms(digits, monkeypatch):
    X, y = digits
    model = RerankKNNClassifier(
        3, features="hog", mix=0.2, unblurred_hog_mix=0.2, hog_idm_mix=0.4, n_candidates=15
    ).fit(X[:300], y[:300])
    found = model.candidate_distances(X[300:306])
    query_grids, train_grids = fine_histogram_grids(X[300:306]), fine_histogram_grids(X[:300])
    expected = [
        [grid_idm_numpy(query_grids[q], train_grids[c]) for c in row]
        for q, row in enumerate(found.candidates)
    ]
    np.testing.assert_allclose(found.hog_idm, expected, rtol=1e-12)
    first = np.unique(np.linspace(0, 299, 256).astype(np.int64))
    pairs = [grid_idm_numpy(train_grids[i], train_grids[(i + 150) % 300]) for i in first]
    assert model.hog_idm_scale_ == pytest.approx(np.mean(pairs), rel=1e-12)
    mixed = model.final_squared(found)
    np.testing.assert_allclose(
        mixed,
        0.2 * found.search / model.search_scale_
        + 0.2 * found.rerank / model.rerank_scale_
        + 0.2 * found.unblurred_hog / model.unblurred_hog_scale_
        + 0.4 * found.hog_idm / model.hog_idm_scale_,
    )
    distances, _ = model.kneighbors(X[300:306])
    np.testing.assert_allclose(distances**2, np.sort(mixed, axis=1)[:, :3])
    # Queries and candidates' grids go a slice at a time; the slices change nothing.
    monkeypatch.setattr(rerank, "_HOG_IDM_ROWS", 7)
    np.testing.assert_array_equal(model.candidate_distances(X[300:306]).hog_idm, found.hog_idm)
    monkeypatch.setattr(rerank, "_HOG_IDM_QUERIES", 4)
    np.testing.assert_array_equal(model.candidate_distances(X[300:306]).hog_idm, found.hog_idm)


def test_hog_idm_block_weights_weigh_each_block_but_keep_the_unweighted_unit(digits):
    X, y = digits
    weights = np.array([0.0, 1.0, 2.0, 0.5, 1.0, 0.5, 2.0, 1.0, 0.0])  # the 3 x 3 grid
    params = {"features": "hog", "mix": 0.3, "hog_idm_mix": 0.5, "n_candidates": 15}
    plain = RerankKNNClassifier(3, **params).fit(X[:300], y[:300])
    weighted = RerankKNNClassifier(3, hog_idm_block_weights=weights, **params)
    weighted.fit(X[:300], y[:300])
    found = weighted.candidate_distances(X[300:306])
    query_grids, train_grids = fine_histogram_grids(X[300:306]), fine_histogram_grids(X[:300])
    expected = [
        [grid_idm_numpy(query_grids[q], train_grids[c], 1, weights) for c in row]
        for q, row in enumerate(found.candidates)
    ]
    np.testing.assert_allclose(found.hog_idm, expected, rtol=1e-12)
    assert weighted.hog_idm_scale_ == plain.hog_idm_scale_  # the unit: unweighted pairs
    ones = RerankKNNClassifier(3, hog_idm_block_weights=np.ones((3, 3)), **params)
    ones.fit(X[:300], y[:300])
    np.testing.assert_array_equal(
        ones.candidate_distances(X[300:306]).hog_idm, plain.candidate_distances(X[300:306]).hog_idm
    )


@pytest.mark.parametrize(
    "weights, message",
    [
        (np.ones(8), "got 8 values"),
        (-np.ones(9), "negative, non-finite or all-zero"),
        (np.zeros(9), "negative, non-finite or all-zero"),
        (np.r_[np.ones(8), np.nan], "negative, non-finite or all-zero"),
        (["heavy"] * 9, "got \\['heavy'"),
    ],
)
def test_bad_hog_idm_block_weights_fail_before_any_work(digits, weights, message):
    X, y = digits
    model = RerankKNNClassifier(3, mix=0.5, hog_idm_mix=0.5, hog_idm_block_weights=weights)
    with pytest.raises(ValueError, match=f"3 x 3 grid \\(9 values.*{message}"):
        model.fit(X[:100], y[:100])


def test_idm_pixel_weights_weigh_each_pixel_but_keep_the_unweighted_unit(digits):
    X, y = digits
    weights = np.random.default_rng(5).uniform(0, 2, (8, 8))
    weights[:, 0] = 0.0  # a column that does not count
    params = {"features": "hog", "mix": 0.5, "n_candidates": 12}
    plain = RerankKNNClassifier(3, **params).fit(X[:300], y[:300])
    weighted = RerankKNNClassifier(3, idm_pixel_weights=weights, **params).fit(X[:300], y[:300])
    found = weighted.candidate_distances(X[300:305])
    expected = [
        [idm_distance_numpy(X[300 + q].reshape(8, 8), X[c].reshape(8, 8), 2, 1, weights)
         for c in row]
        for q, row in enumerate(found.candidates)
    ]  # fmt: skip
    np.testing.assert_allclose(found.rerank, expected, rtol=1e-12)
    assert weighted.rerank_scale_ == plain.rerank_scale_  # the unit: unweighted pairs
    ones = RerankKNNClassifier(3, idm_pixel_weights=np.ones(64), **params).fit(X[:300], y[:300])
    np.testing.assert_array_equal(
        ones.candidate_distances(X[300:305]).rerank, plain.candidate_distances(X[300:305]).rerank
    )


def test_histogram_block_weights_weigh_the_search_and_unblurred_hog_blocks(digits):
    X, y = digits
    big = np.kron(X.reshape(-1, 8, 8), np.ones((2, 2), dtype=np.uint8)).reshape(len(X), -1)
    rng = np.random.default_rng(6)
    search_weights, unblurred_weights = rng.uniform(0, 2, (2, 9))  # 3 x 3 blocks of 16 x 16
    params = {"features": "hog", "mix": 0.4, "unblurred_hog_mix": 0.3, "n_candidates": 10}
    plain = RerankKNNClassifier(3, **params).fit(big[:200], y[:200])
    weighted = RerankKNNClassifier(
        3, search_block_weights=search_weights, unblurred_hog_block_weights=unblurred_weights,
        **params,
    ).fit(big[:200], y[:200])  # fmt: skip
    found = weighted.candidate_distances(big[200:204])
    hog = GradientHistograms(image_shape=(16, 16))
    blur = GaussianBlur(sigma=1.0, image_shape=(16, 16))
    for images, weights, measured in (
        (blur.fit_transform(big), search_weights, found.search),
        (big, unblurred_weights, found.unblurred_hog),
    ):
        features = hog.fit_transform(images).astype(np.float64).reshape(len(big), 9, -1)
        diff = features[200:204, None] - features[found.candidates]
        np.testing.assert_allclose(measured, ((diff**2).sum(axis=3) @ weights), rtol=1e-10)
    assert (weighted.search_scale_, weighted.unblurred_hog_scale_) == (
        plain.search_scale_,
        plain.unblurred_hog_scale_,
    )
    plain_found = plain.candidate_distances(big[200:204])
    np.testing.assert_array_equal(found.candidates, plain_found.candidates)
    assert not np.allclose(found.search, plain_found.search)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"idm_pixel_weights": np.ones(63)}, "pixel of the 8 x 8 image \\(64 values.*got 63"),
        ({"idm_pixel_weights": -np.ones(64)}, "negative, non-finite or all-zero"),
        ({"features": "hog", "search_block_weights": np.ones(2)}, "1 x 1 grid.*got 2"),
        (
            {"unblurred_hog_mix": 0.5, "mix": 0.5, "unblurred_hog_block_weights": [np.nan]},
            "negative, non-finite or all-zero",
        ),
        ({"distortion": "euclidean", "idm_pixel_weights": np.ones(64)}, "need distortion='idm'"),
        ({"search_block_weights": np.ones(1)}, "need features='hog'"),
        ({"unblurred_hog_block_weights": np.ones(1)}, "need unblurred_hog_mix > 0"),
    ],
)
def test_bad_part_weights_fail_before_any_work(digits, params, message):
    X, y = digits
    with pytest.raises(ValueError, match=message):
        RerankKNNClassifier(3, **params).fit(X[:100], y[:100])


def test_hog_idm_reports_one_bar_for_its_pairs(digits, monkeypatch, progress_recorder):
    X, y = digits
    model = RerankKNNClassifier(3, mix=0.5, hog_idm_mix=0.5, n_candidates=40).fit(X[:300], y[:300])
    monkeypatch.setattr(rerank, "_HOG_IDM_ROWS", 16)  # several slices of candidates
    with progress.reporting(progress_recorder):
        found = model.candidate_distances(X[300:310])
    bars = [description for description, _ in progress_recorder.started]
    assert ("gradient-histogram IDM", found.candidates.size) in progress_recorder.started
    assert progress_recorder.advanced >= found.candidates.size  # every pair reported
    assert "gradient histograms" not in bars  # the slices' own transforms are silent


def test_a_saved_pipeline_predicts_the_same(digits, tmp_path):
    X, y = digits
    model = make_pipeline(
        Deskew(),
        RerankKNNClassifier(
            3,
            features="hog",
            mix=0.25,
            unblurred_hog_mix=0.25,
            hog_idm_mix=0.25,
            shifts=(1,),
            directions=4,
        ),
    )
    model.fit(X[:200], y[:200])
    path = save(model, tmp_path / "model.knnv")
    loaded = load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X[200:260]), model.predict_proba(X[200:260]))
    assert loaded[-1].get_params()["shifts"] == (1,)  # tuples come back as tuples
    loaded.fit(X[:50], y[:50])


@pytest.mark.parametrize(
    "params, message",
    [
        ({"distortion": "tangent"}, "distortion must be one of"),
        ({"features": "sift"}, "features must be one of"),
        ({"warp": -1}, "warp must be a whole number"),
        ({"mix": 1.5}, "mix must be a number between 0 and 1"),
        ({"unblurred_hog_mix": -0.1}, "unblurred_hog_mix must be a number between 0 and 1"),
        ({"unblurred_hog_mix": True}, "unblurred_hog_mix must be a number between 0 and 1"),
        ({"hog_idm_mix": 1.2}, "hog_idm_mix must be a number between 0 and 1"),
        (
            {"mix": 0.8, "unblurred_hog_mix": 0.3},
            "mix \\+ unblurred_hog_mix \\+ hog_idm_mix must be",
        ),
        ({"mix": 0.5, "unblurred_hog_mix": 0.2, "hog_idm_mix": 0.4}, "got 0.5 \\+ 0.2 \\+ 0.4"),
        ({"n_candidates": 0}, "n_candidates must be a positive integer"),
        ({"shifts": (0,)}, "positive whole pixel distances"),
    ],
)
def test_bad_parameters_are_clear_errors(digits, params, message):
    X, y = digits
    with pytest.raises(ValueError, match=message):
        RerankKNNClassifier(**params).fit(X[:50], y[:50])
