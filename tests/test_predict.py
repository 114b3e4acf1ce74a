"""``knnvision predict``: the same answer as the web API for the same file, folders as
inputs, machine-readable output, and file names printed as they are."""

import csv
import io
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from knnvision.datasets import load_digits
from knnvision.io import load, save
from knnvision.io.images import ImageFormat, frame_image, framing_for
from knnvision.neighbors import KNNClassifier
from knnvision.results.experiment import ExperimentConfig, model_metadata
from optional_parts import WEB, require_module

MNIST_LIKE = ImageFormat((28, 28), 255, "mnist")


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def digits_model_file(digits, tmp_path_factory):
    model = KNNClassifier(5).fit(digits.flat(), digits.labels)
    path = tmp_path_factory.mktemp("models") / "digits.knnv"
    return save(model, path, metadata=model_metadata(digits, ExperimentConfig()))


def mnist_like_images(digits, n=600) -> np.ndarray:
    """Digits enlarged and framed as MNIST's images were: a 28x28 training set offline."""
    enlarged = [
        np.kron(image * 15, np.ones((12, 12))).astype(np.uint8) for image in digits.images[:n]
    ]
    return np.concatenate([frame_image(image, MNIST_LIKE, "mnist", "no") for image in enlarged])


@pytest.fixture(scope="module")
def mnist_like_model_file(digits, tmp_path_factory):
    rows = mnist_like_images(digits)
    model = KNNClassifier(3).fit(rows, digits.labels[: len(rows)])
    path = tmp_path_factory.mktemp("models") / "mnist-like.knnv"
    metadata = {
        "dataset": "mnist",
        "image_shape": [28, 28],
        "max_value": 255,
        "class_names": [str(d) for d in range(10)],
    }
    return save(model, path, metadata=metadata)


# --- the files a user sends -------------------------------------------------------------------


def drawn_zero(path):
    """Dark strokes on white, off-centre on a large canvas, as a drawing program makes it."""
    canvas = Image.new("L", (400, 300), 255)
    ImageDraw.Draw(canvas).ellipse((40, 30, 170, 250), outline=0, width=14)
    canvas.save(path)
    return path


def photographed_seven(path):
    """Grey, unevenly lit, noisy paper with a soft dark stroke, saved as a JPEG."""
    rng = np.random.default_rng(0)
    paper = 200 + 30 * np.linspace(0, 1, 320)[None, :] + rng.normal(0, 4, (240, 320))
    photo = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8))
    ImageDraw.Draw(photo).line([(110, 50), (210, 50), (150, 200)], fill=60, width=14)
    photo.filter(ImageFilter.GaussianBlur(1.5)).save(path, quality=85)
    return path


def training_like_28(path, digits):
    """A 28x28 image exactly like the MNIST-like model's training images."""
    Image.fromarray(mnist_like_images(digits, 1).reshape(28, 28)).save(path)
    return path


@pytest.fixture(scope="module")
def user_files(digits, tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    return [
        drawn_zero(folder / "zero.png"),
        photographed_seven(folder / "seven.jpg"),
        training_like_28(folder / "small.png", digits),
    ]


def predictions(cli, *args) -> list[dict]:
    status, out, err = cli("predict", *map(str, args), "--format", "json")
    assert status == 0, err
    return json.loads(out)


def api_prediction(client, path) -> dict:
    content_type = "image/jpeg" if path.suffix == ".jpg" else "image/png"
    response = client.post(
        "/api/predict", files={"file": (path.name, path.read_bytes(), content_type)}
    )
    assert response.status_code == 200, response.text
    return response.json()


# --- one image, one answer --------------------------------------------------------------------


@pytest.mark.parametrize("model_fixture", ["digits_model_file", "mnist_like_model_file"])
def test_command_line_and_web_api_give_the_same_answer(cli, request, model_fixture, user_files):
    require_module("fastapi", WEB)
    require_module("python_multipart", WEB)
    from fastapi.testclient import TestClient

    from knnvision.web import create_app

    model_file = request.getfixturevalue(model_fixture)
    client = TestClient(create_app(load(model_file)))
    from_cli = predictions(cli, model_file, *user_files)
    assert [answer["input"] for answer in from_cli] == [str(path) for path in user_files]
    for path, answer in zip(user_files, from_cli, strict=True):
        from_api = api_prediction(client, path)
        assert answer["label"] == from_api["label"], path.name
        assert list(answer["probabilities"]) == list(from_api["probabilities"])
        assert list(answer["probabilities"].values()) == pytest.approx(
            list(from_api["probabilities"].values())
        ), path.name


def test_a_drawn_zero_is_a_zero(cli, digits_model_file, user_files):
    answer = predictions(cli, digits_model_file, user_files[0])[0]
    assert answer["label"] == "0" and answer["probability"] == pytest.approx(1.0)


def test_an_image_of_the_models_size_is_taken_as_it_is(
    cli, digits, tmp_path, mnist_like_model_file
):
    # A 28x28 training image for the 28x28 model: not reframed, so it finds itself.
    small = training_like_28(tmp_path / "small.png", digits)
    model = load(mnist_like_model_file)
    row = np.asarray(Image.open(small)).reshape(1, -1)
    answer = predictions(cli, mnist_like_model_file, small)[0]
    assert list(answer["probabilities"].values()) == pytest.approx(model.predict_proba(row)[0])
    assert framing_for((28, 28), MNIST_LIKE) == "resize"
    assert framing_for((27, 28), MNIST_LIKE) == "mnist"


def test_images_of_the_digits_size_and_npz_rows_are_the_training_rows(
    cli, digits, tmp_path, digits_model_file
):
    model = load(digits_model_file)
    # Training images whose neighbours disagree: their vote shares tell rows apart.
    all_shares = model.predict_proba(digits.flat())
    chosen = np.flatnonzero(all_shares.max(axis=1) < 1)[:3]
    scaled = np.rint(digits.images[chosen] * (255 / 16)).astype(np.uint8)
    for i, image in enumerate(scaled):
        Image.fromarray(255 - image).save(tmp_path / f"d{i}.png")  # dark on light: inverted
    np.savez(tmp_path / "rows.npz", X=scaled)
    np.savez(tmp_path / "features.npz", X=digits.images[chosen].astype(np.uint8))
    for inputs, options in (
        [[f"d{i}.png" for i in range(3)], []],
        [["rows.npz"], []],
        [["features.npz"], ["--preprocess", "none"]],
    ):
        answers = predictions(cli, digits_model_file, *inputs, *options)
        np.testing.assert_allclose(
            [list(a["probabilities"].values()) for a in answers],
            all_shares[chosen],
            err_msg=str(inputs),
        )


# --- folders ----------------------------------------------------------------------------------


def test_folders_give_every_image_below_them_sorted(cli, tmp_path, digits_model_file):
    folder = tmp_path / "scans"
    for name in ["b.png", "a.PNG", "sub/c.jpg", "sub/deeper/d.bmp", ".hidden.png", ".cache/e.png"]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        drawn_zero(folder / name)
    (folder / "notes.txt").write_text("not an image")
    single = drawn_zero(tmp_path / "single.png")
    answers = predictions(cli, digits_model_file, single, folder)
    assert [a["input"] for a in answers] == [
        str(single),
        *(str(folder / name) for name in ["a.PNG", "b.png", "sub/c.jpg", "sub/deeper/d.bmp"]),
    ]


def test_a_folder_without_images_is_one_line(cli, tmp_path, digits_model_file):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    status, out, err = cli("predict", digits_model_file, tmp_path / "empty")
    assert status == 1 and "holds no image files" in err and "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1


def test_a_blank_image_names_its_file(cli, tmp_path, digits_model_file):
    Image.new("L", (100, 100), 255).save(tmp_path / "blank.png")
    status, _, err = cli("predict", digits_model_file, tmp_path / "blank.png")
    assert status == 1 and "blank.png" in err and "no strokes" in err


# --- output -----------------------------------------------------------------------------------


def test_csv_and_json_hold_the_same_answers_with_every_class(
    cli, tmp_path, digits_model_file, user_files
):
    answers = predictions(cli, digits_model_file, *user_files)
    status, out, err = cli("predict", digits_model_file, *user_files, "--format", "csv")
    assert status == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    classes = [str(d) for d in range(10)]
    assert list(rows[0]) == ["input", "label", "probability", *(f"p_{c}" for c in classes)]
    assert len(rows) == len(answers) == len(user_files)
    for row, answer in zip(rows, answers, strict=True):
        shares = [float(row[f"p_{c}"]) for c in classes]
        assert row["input"] == answer["input"] and row["label"] == answer["label"]
        assert shares == list(answer["probabilities"].values())
        assert sum(shares) == pytest.approx(1.0)
        assert row["label"] == classes[int(np.argmax(shares))]
        assert float(row["probability"]) == max(shares) == answer["probability"]


def test_file_names_are_printed_literally(cli, tmp_path, digits_model_file):
    (tmp_path / "[scans]").mkdir()  # the cli fixture runs in tmp_path
    drawn_zero(tmp_path / "[scans]" / "seven[red].png")
    status, out, err = cli("predict", digits_model_file, "[scans]/seven[red].png")
    assert status == 0, err
    assert "[scans]/seven[red].png" in out
    status, out, _ = cli("predict", digits_model_file, "[scans]", "--format", "csv")
    assert status == 0 and next(csv.DictReader(io.StringIO(out)))["input"] == (
        "[scans]/seven[red].png"
    )
    assert predictions(cli, digits_model_file, "[scans]")[0]["input"] == "[scans]/seven[red].png"


@pytest.mark.parametrize(
    "option,value", [("--invert", "maybe"), ("--format", "xml"), ("--preprocess", "magic")]
)
def test_bad_option_values_are_usage_errors(cli, tmp_path, digits_model_file, option, value):
    path = drawn_zero(tmp_path / "zero.png")
    status, _, err = cli("predict", digits_model_file, path, option, value)
    assert status == 2 and option in err and value in err
