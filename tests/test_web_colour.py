"""The web API serves colour models (``--color``): uploads and pixel arrays are read in RGB,
resized without framing as ``knnvision predict`` reads files, and neighbours are RGB images
(issue 12, section 5)."""

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from optional_parts import WEB, require_module

require_module("fastapi", WEB)
require_module("python_multipart", WEB)
from fastapi.testclient import TestClient  # noqa: E402

from knnvision.datasets import load_dataset, read_image  # noqa: E402
from knnvision.io import load, save  # noqa: E402
from knnvision.io.images import ImageFormat, read_color_inputs  # noqa: E402
from knnvision.neighbors import KNNClassifier  # noqa: E402
from knnvision.results.experiment import ExperimentConfig, model_metadata  # noqa: E402
from knnvision.web import create_app  # noqa: E402
from test_web_api import header_only_png  # noqa: E402

COLOURS = {"blue": (30, 40, 200), "green": (40, 190, 30), "red": (210, 30, 40)}

#: (height, width) of the model's images: not square, so rows and columns cannot be swapped.
MODEL_SIZE = (6, 8)


def noisy_square(colour, size=(12, 10), seed=0) -> np.ndarray:
    """A (height, width, 3) patch of one colour with noise."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(-40, 40, (*size, 3)) + np.array(colour)
    return pixels.clip(0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def colour_folder(tmp_path_factory):
    """One sub-folder of colour images per class (PNG and JPEG); classes differ by colour."""
    root = tmp_path_factory.mktemp("colours")
    for number, (name, colour) in enumerate(COLOURS.items()):
        (root / name).mkdir()
        for i in range(6):
            image = Image.fromarray(noisy_square(colour, seed=10 * number + i))
            image.save(root / name / (f"{i}.jpg" if i % 2 else f"{i}.png"))
    return root


@pytest.fixture(scope="module")
def colour_data(colour_folder):
    return load_dataset(colour_folder, image_size=MODEL_SIZE, color=True)


@pytest.fixture(scope="module")
def colour_model_file(colour_data, tmp_path_factory):
    model = KNNClassifier(5).fit(colour_data.flat(), colour_data.labels)
    path = tmp_path_factory.mktemp("models") / "colour.knnv"
    return save(model, path, metadata=model_metadata(colour_data, ExperimentConfig()))


@pytest.fixture(scope="module")
def client(colour_model_file):
    return TestClient(
        create_app(load(colour_model_file), max_upload_bytes=200_000, max_pixels=100_000)
    )


def encoded(image: np.ndarray, image_format="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=image_format)
    return buffer.getvalue()


def upload(client, data: bytes, content_type="image/png", **params):
    return client.post("/api/predict", params=params, files={"file": ("photo", data, content_type)})


def shown(data_url: str) -> Image.Image:
    assert data_url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """What a user uploads: photos of other sizes, mixed colours, transparency, gray."""
    folder = tmp_path_factory.mktemp("photos")
    purple = noisy_square((120, 35, 120), (40, 50), seed=1)  # between red and blue: split vote
    Image.fromarray(purple).save(folder / "purple.png")
    Image.fromarray(noisy_square(COLOURS["blue"], (300, 200), seed=3)).save(
        folder / "blue.jpg", quality=80
    )
    rgba = np.zeros((30, 30, 4), dtype=np.uint8)
    rgba[..., :3], rgba[5:25, 5:25, 3] = COLOURS["green"], 255  # green square on transparency
    Image.fromarray(rgba).save(folder / "sticker.png")
    Image.new("L", (16, 16), 90).save(folder / "gray.png")
    return sorted(folder.iterdir())


# --- the model is served and described in colour ---------------------------------------------


def test_colour_model_is_served_and_described(client, colour_data):
    info = client.get("/api/model").json()
    assert info["image_shape"] == [*MODEL_SIZE, 3] and info["color"] is True
    assert info["preprocess"] == "resize" and info["neighbor_images"] is True
    assert info["classes"] == list(colour_data.class_names) and info["n_train"] == 18


@pytest.mark.parametrize(
    "image_format, content_type", [("PNG", "image/png"), ("JPEG", "image/jpeg")]
)
@pytest.mark.parametrize("name", list(COLOURS))
def test_uploads_are_classified_by_their_colour(client, name, image_format, content_type):
    photo = noisy_square(COLOURS[name], (90, 120), seed=7)
    response = upload(client, encoded(photo, image_format), content_type)
    assert response.status_code == 200, response.text
    assert response.json()["label"] == name
    assert response.json()["probabilities"][name] == 1.0


def test_neighbour_and_input_images_are_rgb(client, colour_data):
    photo = noisy_square(COLOURS["green"], (30, 40), seed=5)
    result = upload(client, encoded(photo), images="true").json()
    for neighbour in result["neighbors"]:
        image = shown(neighbour["image"])
        assert image.mode == "RGB" and image.size == MODEL_SIZE[::-1]
        assert np.array_equal(np.asarray(image), colour_data.images[neighbour["index"]])
    seen = shown(result["input_image"])
    assert seen.mode == "RGB"
    expected = Image.fromarray(photo).resize(MODEL_SIZE[::-1], Image.Resampling.BILINEAR)
    assert np.array_equal(np.asarray(seen), np.asarray(expected))


def test_a_training_file_uploaded_is_its_own_nearest_neighbour(client, colour_folder, colour_data):
    for file in (colour_folder / "red" / "0.png", colour_folder / "blue" / "1.jpg"):
        content_type = "image/jpeg" if file.suffix == ".jpg" else "image/png"
        nearest = upload(client, file.read_bytes(), content_type).json()["neighbors"][0]
        assert nearest["distance"] == 0.0, file
        assert np.array_equal(
            colour_data.images[nearest["index"]], read_image(file, MODEL_SIZE, color=True)
        )


# --- one file, one answer: the command line and the page ------------------------------------


def test_command_line_and_web_api_give_the_same_answer(cli, client, colour_model_file, user_files):
    status, out, err = cli(
        "predict", str(colour_model_file), *map(str, user_files), "--format", "json"
    )
    assert status == 0, err
    from_cli = json.loads(out)
    assert [answer["input"] for answer in from_cli] == [str(path) for path in user_files]
    shares = set()
    for path, answer in zip(user_files, from_cli, strict=True):
        content_type = "image/jpeg" if path.suffix == ".jpg" else "image/png"
        from_api = upload(client, path.read_bytes(), content_type).json()
        assert answer["label"] == from_api["label"], path.name
        assert answer["probabilities"] == pytest.approx(from_api["probabilities"]), path.name
        shares.add(tuple(from_api["probabilities"].values()))
    assert len(shares) > 2 and any(0 < share < 1 for votes in shares for share in votes)


def test_command_line_options_mean_what_they_mean_on_the_page(
    cli, client, colour_model_file, tmp_path
):
    opposite_of_red = tmp_path / "opposite[red].png"
    opposite_of_red.write_bytes(encoded(255 - noisy_square(COLOURS["red"], seed=9)))
    status, out, err = cli(
        "predict",
        str(colour_model_file),
        str(opposite_of_red),
        "--invert",
        "yes",
        "--format",
        "json",
    )
    assert status == 0, err
    from_api = upload(client, opposite_of_red.read_bytes(), invert="yes").json()
    assert json.loads(out)[0]["label"] == from_api["label"] == "red"
    # A drawing's framing, or an image of another size taken as features, is refused by both.
    for option in ("mnist", "none"):
        status, _, err = cli(
            "predict", str(colour_model_file), str(opposite_of_red), "--preprocess", option
        )
        assert status == 1 and len(err.strip().splitlines()) == 1, err
        assert upload(client, opposite_of_red.read_bytes(), preprocess=option).status_code == 422


def test_command_line_reads_a_file_as_the_folder_read_it(colour_folder, colour_data):
    files = [colour_folder / "green" / "2.png", colour_folder / "green" / "3.jpg"]
    _, rows = read_color_inputs(files, ImageFormat(MODEL_SIZE, 255, "resize", color=True))
    for file, row in zip(files, rows, strict=True):
        assert np.array_equal(row, read_image(file, MODEL_SIZE, color=True).ravel()), file


# --- pixel arrays ----------------------------------------------------------------------------


def test_rgb_pixel_arrays_of_any_size_are_resized(client):
    pixels = noisy_square(COLOURS["blue"], (9, 11), seed=4)
    result = client.post("/api/predict", json=pixels.tolist()).json()
    assert result["label"] == "blue"


def test_flat_and_exact_rgb_arrays_are_the_features(client, colour_data):
    training = colour_data.images[4]
    for value in (training.tolist(), training.ravel().tolist()):
        response = client.post("/api/predict", params={"preprocess": "none"}, json=value)
        assert response.status_code == 200, response.text
        nearest = response.json()["neighbors"][0]
        assert nearest["index"] == 4 and nearest["distance"] == 0.0


def test_a_gray_pixel_array_is_read_as_rgb(client):
    response = client.post("/api/predict", json=np.full((4, 4), 200).tolist())
    assert response.status_code == 200, response.text
    assert set(response.json()["probabilities"]) == set(COLOURS)


@pytest.mark.parametrize(
    "value, words",
    [
        (np.zeros((6, 8, 2)).tolist(), "3-D (height x width x 3, RGB)"),
        (np.zeros((6, 8, 4)).tolist(), "got shape [6, 8, 4]"),
        ([0] * 48, "must hold 144 values (a 6x8 RGB image), got 48"),
        (np.full((6, 8, 3), 256).tolist(), "from 0 to 255"),
    ],
)
def test_bad_rgb_arrays_are_refused(client, value, words):
    response = client.post("/api/predict", json=value)
    assert response.status_code == 422 and words in response.json()["detail"]


def test_exact_rgb_array_must_have_the_models_size(client):
    response = client.post(
        "/api/predict", params={"preprocess": "none"}, json=np.zeros((5, 8, 3)).tolist()
    )
    assert response.status_code == 422
    assert "must be 6x8 RGB pixels, got 5x8x3" in response.json()["detail"]


# --- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize("framing", ["mnist", "digits"])
def test_drawing_framings_are_refused_for_a_colour_model(client, framing):
    response = upload(client, encoded(noisy_square(COLOURS["red"])), preprocess=framing)
    assert response.status_code == 422
    assert "resized, not framed like a drawing" in response.json()["detail"]


def test_invert_yes_inverts_every_channel(client):
    opposite_of_red = 255 - noisy_square(COLOURS["red"], seed=9)
    assert upload(client, encoded(opposite_of_red), invert="yes").json()["label"] == "red"
    assert upload(client, encoded(opposite_of_red)).json()["label"] != "red"


def test_upload_of_another_size_with_preprocess_none_is_refused(client):
    response = upload(client, encoded(noisy_square(COLOURS["red"])), preprocess="none")
    assert response.status_code == 422 and "6x8 RGB" in response.json()["detail"]


def test_a_canvas_drawing_goes_through_the_colour_path(client):
    canvas = np.zeros((280, 280, 4), dtype=np.uint8)  # what the page's canvas sends: RGBA
    canvas[..., 3] = 255
    canvas[40:240, 130:150, :3] = 255
    result = upload(client, encoded(canvas), images="true")
    assert result.status_code == 200, result.text
    seen = shown(result.json()["input_image"])
    assert seen.mode == "RGB" and seen.size == MODEL_SIZE[::-1]


# --- hostile input still refused -------------------------------------------------------------


def test_too_many_pixels_are_refused_before_decoding(client):
    response = upload(client, header_only_png(1000, 1000))
    assert response.status_code == 413 and "1000x1000" in response.json()["detail"]


def test_json_with_too_many_pixels_is_refused(client):
    # 400 x 300 pixels claimed by the first row and column: over the limit of 100,000.
    value = [[[0, 0, 0]] * 400] + [[[0, 0, 0]]] * 299
    response = client.post("/api/predict", json=value)
    assert response.status_code == 413


def test_oversized_body_is_refused(client):
    response = upload(client, b"\0" * 300_000)
    assert response.status_code == 413


def test_damaged_upload_is_refused_and_the_server_keeps_serving(client):
    assert upload(client, encoded(noisy_square(COLOURS["red"]))[:60]).status_code == 400
    assert upload(client, encoded(noisy_square(COLOURS["red"]))).status_code == 200


# --- the model's image format ---------------------------------------------------------------


def test_image_format_reads_colour_metadata():
    image_format = ImageFormat.from_metadata(
        {"image_shape": [6, 8, 3], "color": True, "dataset": "mnist", "max_value": 255}
    )
    assert image_format.color and image_format.image_shape == (6, 8)
    assert image_format.array_shape == (6, 8, 3) and image_format.n_pixels == 144
    assert image_format.framing == "resize"  # never framed like a drawing
    gray = ImageFormat.from_metadata({"image_shape": [28, 28], "dataset": "mnist"})
    assert not gray.color and gray.n_pixels == 784 and gray.framing == "mnist"


def test_image_format_refuses_other_channel_counts():
    with pytest.raises(ValueError, match=r"\[6, 8, 4\].*RGB \[height, width, 3\]"):
        ImageFormat.from_metadata({"image_shape": [6, 8, 4]})
