"""The web API through FastAPI's test client: predictions, the page, and hostile input."""

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from optional_parts import WEB, require_dataset, require_module

require_module("fastapi", WEB)
require_module("python_multipart", WEB)
from fastapi.testclient import TestClient  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from knnvision.datasets import Dataset, load_dataset, load_digits  # noqa: E402
from knnvision.io import load, save  # noqa: E402
from knnvision.io.images import (  # noqa: E402
    frame_like_digits,
    frame_like_mnist,
    isolate_ink,
    to_features,
)
from knnvision.neighbors import KNNClassifier, KNNRegressor  # noqa: E402
from knnvision.neighbors.rerank import RerankKNNClassifier  # noqa: E402
from knnvision.results.experiment import ExperimentConfig, model_metadata  # noqa: E402
from knnvision.transforms.pca import PCA  # noqa: E402
from knnvision.transforms.preprocessing import Deskew  # noqa: E402
from knnvision.web import create_app, server  # noqa: E402
from knnvision.web.app import STATIC_DIR  # noqa: E402
from knnvision.web.preprocess import preprocess_image  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def model(digits):
    classifier = KNNClassifier(5).fit(digits.flat(), digits.labels)
    classifier.metadata_ = model_metadata(digits, ExperimentConfig())
    return classifier


@pytest.fixture(scope="module")
def client(model):
    return TestClient(create_app(model, max_upload_bytes=200_000, max_pixels=1_000_000))


def png_bytes(image: np.ndarray, image_format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=image_format)
    return buffer.getvalue()


def drawing_of_one(height=200, width=200) -> np.ndarray:
    """A white vertical stroke on black, as the page's canvas sends it."""
    image = np.zeros((height, width), dtype=np.uint8)
    image[height // 6 : -height // 6, width // 2 - 8 : width // 2 + 8] = 255
    return image


def upload(client, data: bytes, content_type="image/png", **params):
    return client.post(
        "/api/predict", params=params, files={"file": ("drawing", data, content_type)}
    )


def header_only_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header announces ``width x height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


# --- health, model, schema, page ------------------------------------------------------------


def test_health_and_model_description(client, digits):
    assert client.get("/api/health").json()["status"] == "ok"
    info = client.get("/api/model").json()
    assert info["params"]["n_neighbors"] == 5 and info["params"]["weights"] == "uniform"
    assert info["classes"] == list(digits.class_names)
    assert info["n_train"] == 1797 and info["image_shape"] == [8, 8] and info["max_value"] == 16
    assert info["dataset"] == "digits" and info["preprocess"] == "digits"
    assert info["max_upload_bytes"] == 200_000 and info["max_pixels"] == 1_000_000


def test_no_page_that_needs_a_cdn(client):
    # FastAPI's Swagger and ReDoc pages fetch their scripts from a CDN: they are switched off.
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404


def test_openapi_documents_both_body_types(client):
    schema = client.get("/openapi.json").json()
    predict = schema["paths"]["/api/predict"]["post"]
    assert set(predict["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert {"200", "413", "415", "422"} <= set(predict["responses"])
    assert {"/api/health", "/api/model"} <= set(schema["paths"])


def test_page_and_its_files_come_from_the_package_only(client):
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "style.css"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200
        assert response.headers["x-content-type-options"] == "nosniff"
    for path in (
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/..%2fapp.py",
        "/static//etc/passwd",
        "/static/missing.js",
    ):
        assert client.get(path).status_code == 404, path
    for file in STATIC_DIR.iterdir():  # no CDN, no outside resource
        assert "http://" not in file.read_text() and "https://" not in file.read_text(), file


# --- predictions ------------------------------------------------------------------------------


def test_predict_from_a_drawing(client):
    response = upload(client, png_bytes(drawing_of_one()))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["label"] == "1"
    assert sum(result["probabilities"].values()) == pytest.approx(1.0)
    assert list(result["probabilities"]) == [str(d) for d in range(10)]
    distances = [n["distance"] for n in result["neighbors"]]
    assert len(distances) == 5 and distances == sorted(distances)
    assert all(n["image"] is None for n in result["neighbors"]) and result["input_image"] is None
    assert response.headers["server-timing"].startswith("predict;dur=")


def test_probabilities_and_neighbours_are_the_models(client, model, digits):
    for row in (0, 17, 1000):
        response = client.post(
            "/api/predict", json=digits.images[row].tolist(), params={"preprocess": "none"}
        )
        result = response.json()
        features = digits.flat()[row : row + 1]
        distances, indices = model.kneighbors(features)
        assert [n["index"] for n in result["neighbors"]] == indices[0].tolist()
        assert [n["distance"] for n in result["neighbors"]] == pytest.approx(distances[0])
        assert [n["label"] for n in result["neighbors"]] == [
            str(digits.labels[i]) for i in indices[0]
        ]
        assert list(result["probabilities"].values()) == pytest.approx(
            model.predict_proba(features)[0]
        )
        assert result["label"] == str(model.predict(features)[0])


def test_distance_weighted_votes_match_predict_proba(digits):
    weighted = KNNClassifier(7, weights="distance").fit(digits.flat()[:900], digits.labels[:900])
    client = TestClient(create_app(weighted, metadata=model_metadata(digits, ExperimentConfig())))
    for row in (901, 1500):
        result = client.post(
            "/api/predict", json=digits.images[row].ravel().tolist(), params={"preprocess": "none"}
        ).json()
        expected = weighted.predict_proba(digits.flat()[row : row + 1])[0]
        assert list(result["probabilities"].values()) == pytest.approx(expected)


def test_images_on_request_are_small_pngs(client, digits):
    result = upload(client, png_bytes(drawing_of_one()), images="true").json()
    for url in [result["input_image"]] + [n["image"] for n in result["neighbors"]]:
        assert url.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert image.size == (8, 8) and image.format == "PNG"
    first = result["neighbors"][0]
    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(first["image"].split(",")[1]))))
    expected = np.rint(digits.images[first["index"]] * (255 / 16))
    assert np.array_equal(shown, expected)


def test_upload_json_and_jpeg_agree_and_light_paper_is_inverted(client):
    drawing = drawing_of_one(120, 90)
    as_png = upload(client, png_bytes(drawing)).json()
    as_json = client.post("/api/predict", json=drawing.tolist()).json()
    on_paper = upload(client, png_bytes(255 - drawing)).json()
    as_jpeg = upload(client, png_bytes(drawing, "JPEG"), content_type="image/jpeg").json()
    assert as_png == as_json == on_paper
    assert as_jpeg["label"] == as_png["label"]


def test_rgba_drawing_over_transparent_background(client):
    rgba = np.zeros((100, 100, 4), dtype=np.uint8)
    rgba[15:85, 45:55] = (0, 0, 0, 255)  # black ink, transparent elsewhere (composed on white)
    response = upload(client, png_bytes(rgba))
    assert response.status_code == 200 and response.json()["label"] == "1"


# --- hostile input ------------------------------------------------------------------------------


def assert_refused(response, status, words):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert words.lower() in response.json()["detail"].lower()


def test_body_over_the_limit_is_refused_before_reading(client):
    big = png_bytes(np.random.default_rng(0).integers(0, 256, (500, 500), dtype=np.uint8))
    assert len(big) > 200_000
    assert_refused(upload(client, big), 413, "larger than the limit")


def test_chunked_body_over_the_limit_is_refused(client):
    def chunks():
        for _ in range(30):
            yield b"[" + b"0," * 5_000 + b"0]"

    response = client.post(
        "/api/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_refused(response, 413, "larger than the limit")


def test_decompression_bomb_is_refused_from_its_header(client):
    bomb = header_only_png(5_000, 5_000)
    assert len(bomb) < 200
    assert_refused(upload(client, bomb), 413, "5000x5000 pixels")
    assert_refused(upload(client, header_only_png(90_000, 90_000)), 413, "more pixels than")


@pytest.mark.parametrize("content_type", ["text/plain", "image/gif", "application/pdf", ""])
def test_upload_of_another_type_is_refused(client, content_type):
    response = client.post("/api/predict", files={"file": ("x", b"GIF89a....", content_type)})
    assert response.status_code == 415
    assert "png or jpeg" in response.json()["detail"].lower()


def test_body_of_another_type_is_refused(client):
    response = client.post("/api/predict", content=b"1,2,3", headers={"content-type": "text/csv"})
    assert_refused(response, 415, "multipart/form-data")
    assert_refused(client.post("/api/predict"), 415, "multipart/form-data")


@pytest.mark.parametrize(
    "data, declared",
    [
        (b"not an image at all", "image/png"),
        (png_bytes(drawing_of_one())[:60], "image/png"),  # truncated
        (png_bytes(drawing_of_one(), "JPEG"), "image/png"),  # a JPEG that claims to be PNG
        (png_bytes(drawing_of_one()), "image/jpeg"),  # and the other way round
    ],
)
def test_damaged_or_mislabelled_images_are_refused(client, data, declared):
    assert_refused(upload(client, data, declared), 400, "not a valid")


@pytest.mark.parametrize(
    "image_format, content_type", [("PNG", "image/png"), ("JPEG", "image/jpeg")]
)
def test_corrupted_images_never_crash_the_server(client, image_format, content_type):
    good = png_bytes(drawing_of_one(), image_format)
    rng = np.random.default_rng(1)
    for _ in range(25):
        damaged = np.frombuffer(good, dtype=np.uint8).copy()
        damaged[rng.integers(0, len(damaged), 8)] = rng.integers(0, 256, 8)
        response = upload(client, damaged.tobytes(), content_type)  # a 500 would raise here
        assert response.status_code in (200, 400, 413, 422), response.text


@pytest.mark.parametrize("mode", ["P", "RGB", "I;16", "LA"])
def test_other_pixel_modes_are_read_as_gray(client, mode):
    drawing = Image.fromarray(drawing_of_one())
    converted = (
        Image.fromarray(drawing_of_one().astype(np.uint16) * 257)
        if mode == "I;16"
        else drawing.convert(mode)
    )
    buffer = io.BytesIO()
    converted.save(buffer, format="PNG")
    assert upload(client, buffer.getvalue()).json()["label"] == "1"


def test_form_without_the_file_field_is_refused(client):
    response = client.post(
        "/api/predict", data={"image": "x"}, files={"other": ("a.png", b"x", "image/png")}
    )
    assert_refused(response, 422, "field named file")


@pytest.mark.parametrize(
    "body, words",
    [
        (b"[[1, 2], [3", "not valid json"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid json"),  # nesting bomb
    ],
)
def test_malformed_json_is_refused(client, body, words):
    response = client.post(
        "/api/predict", content=body, headers={"content-type": "application/json"}
    )
    assert_refused(response, 400, words)


@pytest.mark.parametrize(
    "value, words",
    [
        ({"pixels": [[1]]}, "json array"),
        ([], "json array"),
        ([[1, 2], [3]], "rectangular"),
        ([["a", "b"], ["c", "d"]], "only numbers"),
        ([[True, False]], "only numbers"),
        ([[[1, 2]], [[3, 4]]], "2-d"),
        ([[]], "2-d"),
        ([1, 2, 3], "64 values"),
        ([[0, 300], [0, 0]], "0 to 255"),
        ([[0, -1], [0, 0]], "0 to 255"),
    ],
)
def test_pixel_arrays_of_the_wrong_shape_or_range_are_refused(client, value, words):
    assert_refused(client.post("/api/predict", json=value), 422, words)


def test_grayscale_model_is_described_and_refuses_rgb_arrays(client):
    # Colour models are served too (tests/test_web_colour.py); a grayscale one stays gray.
    info = client.get("/api/model").json()
    assert info["color"] is False and info["image_shape"] == [8, 8]
    assert_refused(
        client.post("/api/predict", json=np.zeros((8, 8, 3)).tolist()),
        422,
        "the model reads grayscale images",
    )


def test_nan_pixels_are_refused(client):
    response = client.post(
        "/api/predict", content=b"[[NaN, 0], [0, 0]]", headers={"content-type": "application/json"}
    )
    assert_refused(response, 422, "0 to 255")


def test_json_pixel_count_limit(model):
    client = TestClient(create_app(model, max_pixels=100))
    assert_refused(client.post("/api/predict", json=[[0] * 20] * 20), 413, "more than the limit")


def test_raw_features_must_have_the_model_shape_and_range(client):
    assert_refused(
        client.post("/api/predict", json=[[0] * 9] * 9, params={"preprocess": "none"}),
        422,
        "must be 8x8",
    )
    assert_refused(
        client.post("/api/predict", json=[[17] * 8] * 8, params={"preprocess": "none"}),
        422,
        "0 to 16",
    )


def test_blank_drawing_is_refused(client):
    assert_refused(upload(client, png_bytes(np.zeros((50, 50), np.uint8))), 422, "blank")
    assert_refused(upload(client, png_bytes(np.full((50, 50), 255, np.uint8))), 422, "blank")


def test_bad_options_are_refused(client):
    response = upload(client, png_bytes(drawing_of_one()), preprocess="magic")
    assert response.status_code == 422
    response = upload(client, png_bytes(drawing_of_one()), images="perhaps")
    assert response.status_code == 422


def test_server_keeps_serving_after_hostile_requests(client):
    upload(client, header_only_png(100_000, 100_000))
    upload(client, b"\x89PNG garbage")
    client.post("/api/predict", content=b"[" * 50_000, headers={"content-type": "application/json"})
    assert client.get("/api/health").status_code == 200
    assert upload(client, png_bytes(drawing_of_one())).json()["label"] == "1"


# --- building the app ---------------------------------------------------------------------------


def test_create_app_needs_a_fitted_classifier_with_an_image_shape(model, digits):
    with pytest.raises(ValueError, match="image"):
        create_app(model, metadata={})
    with pytest.raises(ValueError, match="KNNClassifier"):
        create_app(object(), metadata=model_metadata(digits, ExperimentConfig()))
    with pytest.raises(ValueError, match="does not fit"):
        create_app(model, metadata={"image_shape": [28, 28]})


def test_loaded_model_file_serves_with_its_metadata(tmp_path, model):
    from knnvision.io import load

    path = save(model, tmp_path / "m.knnv", metadata=model.metadata_)
    client = TestClient(create_app(load(path)))
    assert client.get("/api/model").json()["dataset"] == "digits"


# --- pipelines: `knnvision run --preset` and `knnvision tune --pca` models -------------------

N_FIT = 1500  # the pipelines are fitted on the first digits; the rest are queries


def fitted_pipeline(digits, steps):
    pipeline = Pipeline(steps).fit(digits.flat()[:N_FIT], digits.labels[:N_FIT])
    pipeline.metadata_ = model_metadata(digits, ExperimentConfig())
    return pipeline


@pytest.fixture(scope="module")
def rerank_pipeline(digits):
    """Like the digits preset, smaller: deskew, then 1-pixel shifted copies (4 directions) and
    10 candidates re-ranked by IDM."""
    return fitted_pipeline(
        digits,
        [
            ("deskew", Deskew()),
            (
                "knn",
                RerankKNNClassifier(
                    3, weights="distance", n_candidates=10, warp=1, shifts=(1,), directions=4
                ),
            ),
        ],
    )


@pytest.fixture(scope="module")
def pca_pipeline(digits):
    """Like a `knnvision tune --pca 20` model."""
    return fitted_pipeline(digits, [("pca", PCA(n_components=20)), ("knn", KNNClassifier(5))])


@pytest.fixture(scope="module", params=["rerank", "pca"])
def served_pipeline(request):
    pipeline = request.getfixturevalue(f"{request.param}_pipeline")
    return pipeline, TestClient(create_app(pipeline))


def shown_pixels(data_url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))


def test_pipeline_predictions_are_the_pipelines(served_pipeline, digits):
    pipeline, client = served_pipeline
    knn = pipeline[-1]
    for row in (N_FIT, N_FIT + 7, 1700):
        result = client.post(
            "/api/predict", json=digits.images[row].tolist(), params={"preprocess": "none"}
        ).json()
        features = digits.flat()[row : row + 1]
        distances, indices = knn.kneighbors(pipeline[:-1].transform(features))
        assert [n["index"] for n in result["neighbors"]] == indices[0].tolist()
        assert [n["distance"] for n in result["neighbors"]] == pytest.approx(distances[0])
        assert [n["label"] for n in result["neighbors"]] == [
            str(digits.labels[i]) for i in indices[0]
        ]
        assert list(result["probabilities"].values()) == pytest.approx(
            pipeline.predict_proba(features)[0]
        )
        assert result["label"] == str(pipeline.predict(features)[0])


def test_pipeline_reads_a_drawing_framed_like_its_training_images(served_pipeline):
    pipeline, client = served_pipeline
    drawing = drawing_of_one()
    result = client.post("/api/predict", json=drawing.tolist()).json()
    framed = preprocess_image(drawing, client.app.state.predictor.image_format)
    assert result["label"] == str(pipeline.predict(framed)[0]) == "1"
    assert list(result["probabilities"].values()) == pytest.approx(
        pipeline.predict_proba(framed)[0]
    )


def test_rerank_pipeline_shows_its_transformed_training_images(rerank_pipeline, digits):
    client = TestClient(create_app(rerank_pipeline))
    row = 1600
    result = client.post(
        "/api/predict",
        json=digits.images[row].tolist(),
        params={"preprocess": "none", "images": "true"},
    ).json()
    deskewed = rerank_pipeline[:-1].transform(digits.flat()[:N_FIT])
    scale = 255 / 16
    for neighbor in result["neighbors"]:
        # Shifted copies are reported as (and shown like) the image they were made from.
        assert 0 <= neighbor["index"] < N_FIT
        assert np.array_equal(
            shown_pixels(neighbor["image"]),
            np.rint(deskewed[neighbor["index"]] * scale).reshape(8, 8),
        )
    query = rerank_pipeline[:-1].transform(digits.flat()[row : row + 1])
    assert np.array_equal(
        shown_pixels(result["input_image"]), np.rint(query[0] * scale).reshape(8, 8)
    )


def test_pca_pipeline_neighbours_have_no_image(pca_pipeline):
    client = TestClient(create_app(pca_pipeline))
    result = upload(client, png_bytes(drawing_of_one()), images="true").json()
    assert len(result["neighbors"]) == 5
    assert all(n["image"] is None for n in result["neighbors"])
    # The input is still shown, as framed before the PCA.
    assert shown_pixels(result["input_image"]).shape == (8, 8)
    assert client.get("/api/model").json()["neighbor_images"] is False


def test_model_description_lists_the_pipeline_steps(rerank_pipeline, pca_pipeline, client):
    info = TestClient(create_app(rerank_pipeline)).get("/api/model").json()
    assert [(s["name"], s["estimator"]) for s in info["steps"]] == [
        ("deskew", "Deskew"),
        ("knn", "RerankKNNClassifier"),
    ]
    assert info["estimator"] == "RerankKNNClassifier" and info["neighbor_images"] is True
    params = info["params"]
    assert params["n_neighbors"] == 3 and params["weights"] == "distance"
    assert params["n_candidates"] == 10 and params["distortion"] == "idm"
    assert params["shifts"] == [1] and params["flip"] is False
    assert info["steps"][-1]["params"] == params and "n_jobs" not in params
    assert info["n_train"] == N_FIT and info["n_stored"] == 5 * N_FIT
    assert info["image_shape"] == [8, 8] and info["dataset"] == "digits"

    info = TestClient(create_app(pca_pipeline)).get("/api/model").json()
    assert [(s["name"], s["estimator"]) for s in info["steps"]] == [
        ("pca", "PCA"),
        ("knn", "KNNClassifier"),
    ]
    assert info["steps"][0]["params"]["n_components"] == 20
    assert info["n_train"] == info["n_stored"] == N_FIT

    info = client.get("/api/model").json()  # a bare classifier is one step
    assert [(s["name"], s["estimator"]) for s in info["steps"]] == [("knn", "KNNClassifier")]
    assert info["n_train"] == info["n_stored"] == 1797 and info["neighbor_images"] is True


def test_pipeline_that_does_not_end_in_a_classifier_over_the_images_is_refused(digits):
    metadata = model_metadata(digits, ExperimentConfig())
    X, y = digits.flat(), digits.labels
    regressor = Pipeline([("pca", PCA(5)), ("knn", KNNRegressor())]).fit(X, y)
    with pytest.raises(ValueError, match="Pipeline ending in KNNRegressor"):
        create_app(regressor, metadata=metadata)
    cropped = Pipeline([("pca", PCA(5)), ("knn", KNNClassifier())]).fit(X[:, :60], y)
    with pytest.raises(ValueError, match="does not fit"):
        create_app(cropped, metadata=metadata)


def test_serve_command_serves_a_saved_pipeline(tmp_path, rerank_pipeline, cli, monkeypatch):
    path = save(rerank_pipeline, tmp_path / "best.knnv", metadata=rerank_pipeline.metadata_)
    apps = []
    monkeypatch.setattr(server.uvicorn, "run", lambda app, **options: apps.append(app))
    status, out, _ = cli("serve", path)
    assert status == 0 and len(apps) == 1, out
    assert "deskew -> RerankKNNClassifier, k=3, 1,500 training images of digits" in out
    drawing = png_bytes(drawing_of_one())
    assert (
        upload(TestClient(apps[0]), drawing).json()
        == upload(TestClient(create_app(load(path))), drawing).json()
    )


# --- default model and the serve command ----------------------------------------------------------


def _fake_mnist() -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset(
        name="mnist",
        images=rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
        labels=np.arange(60) % 10,
        class_names=tuple("0123456789"),
        test_images=np.zeros((5, 28, 28), np.uint8),
        test_labels=np.zeros(5, int),
    )


def test_default_model_uses_mnist_when_its_files_are_found(monkeypatch):
    requested = []

    def fake_load(name, *args, download=True, **kwargs):
        requested.append((name, download))
        return _fake_mnist()

    monkeypatch.setattr(server, "load_dataset", fake_load)
    said = []
    fitted = server.default_model(said.append)
    assert requested == [("mnist", False)]  # never downloads
    assert fitted.n_samples_fit_ == 60 and fitted.metadata_["dataset"] == "mnist"
    assert "MNIST files found" in said[0] and "60 training images" in said[0]


def test_default_model_falls_back_to_digits(monkeypatch):
    def fake_load(name, *args, download=True, **kwargs):
        if name == "mnist":
            raise FileNotFoundError("no MNIST here")
        return load_digits()

    monkeypatch.setattr(server, "load_dataset", fake_load)
    said = []
    fitted = server.default_model(said.append)
    assert fitted.metadata_["dataset"] == "digits" and fitted.metadata_["max_value"] == 16
    assert "MNIST files not found" in said[0] and "digits" in said[0]


def test_serve_command_runs_uvicorn_with_the_model(tmp_path, model, cli, monkeypatch):
    path = save(model, tmp_path / "m.knnv", metadata=model.metadata_)
    calls = []
    monkeypatch.setattr(server.uvicorn, "run", lambda app, **options: calls.append(options))
    status, out, _ = cli("serve", path, "--port", "8123")
    assert status == 0 and calls == [{"host": "127.0.0.1", "port": 8123, "log_level": "warning"}]
    assert "1,797 training images" in out and "http://127.0.0.1:8123/" in out


def test_serve_command_reports_a_missing_model_in_one_line(tmp_path, cli):
    status, _, err = cli("serve", tmp_path / "nope.knnv")
    assert status == 1 and "nope.knnv" in err and "Traceback" not in err


# --- framing drawings like the training images ------------------------------------------------


def test_isolate_ink_inverts_light_paper_and_finds_blank_images():
    paper = np.full((40, 40), 230, np.uint8)
    paper[10:30, 18:22] = 40  # dark ink
    ink = isolate_ink(paper)
    assert ink[20, 20] == 255 and ink[0, 0] == 0
    assert isolate_ink(np.full((40, 40), 200, np.uint8)) is None
    assert isolate_ink(np.zeros((40, 40), np.uint8)) is None


def test_mnist_framing_fits_20x20_and_centres_the_mass():
    image = np.zeros((300, 500), np.uint8)
    image[10:110, 400:450] = 255  # a tall block near a corner
    framed = frame_like_mnist(image).astype(float)
    rows = np.flatnonzero(framed.any(axis=1))
    assert framed.shape == (28, 28) and rows[-1] - rows[0] + 1 == 20
    centre = (
        np.array(
            [(framed.sum(axis=1) * np.arange(28)).sum(), (framed.sum(axis=0) * np.arange(28)).sum()]
        )
        / framed.sum()
    )
    assert np.all(np.abs(centre - 14) <= 0.5)


def test_digits_framing_fills_the_height_centred_in_block_counts():
    image = np.zeros((200, 200), np.uint8)
    image[20:180, 90:110] = 255  # a thin vertical stroke
    framed = frame_like_digits(image)
    counts = to_features(framed[None], 16, "no").reshape(8, 8)
    assert counts.max() <= 16 and counts[:, 3:5].all() and not counts[:, :2].any()
    assert np.array_equal(counts[:, :4], counts[:, 4:][:, ::-1])  # centred across


def test_digits_framing_of_enlarged_digits_keeps_most_predictions(digits):
    model = KNNClassifier(5).fit(digits.flat()[:1000], digits.labels[:1000])
    enlarged = [
        np.kron(image * 15, np.ones((20, 20))).astype(np.uint8)
        for image in digits.images[1000:1300]
    ]
    framed = np.array([frame_like_digits(isolate_ink(image)) for image in enlarged])
    accuracy = (model.predict(to_features(framed, 16, "no")) == digits.labels[1000:1300]).mean()
    assert accuracy >= 0.85


def test_mnist_framing_of_enlarged_mnist_digits_keeps_most_predictions():
    mnist = load_dataset("mnist", data_dir=require_dataset("mnist"))
    model = KNNClassifier(3).fit(mnist.flat()[:10_000], mnist.labels[:10_000])
    test = mnist.test_images[:200]
    enlarged = [
        np.asarray(Image.fromarray(image).resize((280, 280), Image.Resampling.BILINEAR))
        for image in test
    ]
    framed = np.array([frame_like_mnist(isolate_ink(image)) for image in enlarged])
    original = model.predict(test.reshape(200, -1))
    assert (model.predict(framed.reshape(200, -1)) == original).mean() >= 0.9


def test_an_upload_of_the_models_size_is_taken_as_it_is(client, model, digits):
    # An 8x8 image like the training ones is not reframed (as `knnvision predict` reads it):
    # it gives the model's own answer for that training row, as PNG and as JSON pixels.
    shares = model.predict_proba(digits.flat())
    for row in np.flatnonzero(shares.max(axis=1) < 1)[:3]:  # neighbours that disagree
        image = np.rint(digits.images[row] * (255 / 16)).astype(np.uint8)
        for result in (
            upload(client, png_bytes(255 - image)).json(),  # dark on light
            client.post("/api/predict", json=image.tolist()).json(),
        ):
            assert list(result["probabilities"].values()) == pytest.approx(shares[row])
    assert client.get("/api/model").json()["preprocess"] == "digits"  # for other sizes
