"""End to end in a real browser: draw on the page's canvas, see the prediction and neighbours.

Playwright drives Debian's Chromium (``/usr/bin/chromium``; browsers are never downloaded)
against the app served by uvicorn on 127.0.0.1. Without Chromium or Playwright the module is
skipped, with the install command as reason, except under ``CI=true``, where it fails.
"""

import math
import os
import tempfile
import threading
import time
from pathlib import Path

import pytest

from optional_parts import PLAYWRIGHT, WEB, require_chromium, require_dataset, require_module

CHROMIUM = require_chromium()
# Screenshots go to a temporary folder; set KNNVISION_SCREENSHOTS=docs/images to refresh the
# README's pictures (a test run never rewrites tracked files on its own).
SCREENSHOTS = Path(os.environ.get("KNNVISION_SCREENSHOTS", tempfile.gettempdir()))
for module in ("fastapi", "uvicorn", "python_multipart"):
    require_module(module, WEB)
require_module("playwright", PLAYWRIGHT)

import uvicorn  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from knnvision.datasets import load_dataset, load_digits  # noqa: E402
from knnvision.neighbors import KNNClassifier  # noqa: E402
from knnvision.results.experiment import ExperimentConfig, model_metadata  # noqa: E402
from knnvision.transforms.pca import PCA  # noqa: E402
from knnvision.web import create_app  # noqa: E402

K = 5


def serve(model):
    """Serve the app for ``model`` on a free loopback port from a background thread; yields
    the base URL."""
    app = create_app(model)
    # As `knnvision serve` does: the first search builds lazy structures (seconds on 60,000
    # images on a loaded machine), which would otherwise eat the page's first wait.
    app.state.predictor.warm_up()
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def fitted(dataset, **params):
    model = KNNClassifier(**params).fit(dataset.flat(), dataset.labels)
    model.metadata_ = model_metadata(dataset, ExperimentConfig(dataset=dataset.name))
    return model


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser):
    """The page of a small model: k=5 on the 1,797 bundled 8x8 digits."""
    for base_url in serve(fitted(load_digits(), n_neighbors=K)):
        page = browser.new_page(viewport={"width": 1000, "height": 720})
        page.goto(base_url)
        yield page
        page.close()


def draw(page, strokes):
    """Draw strokes with the mouse, each a list of (x, y) canvas pixels; wait for the answer."""
    box = page.locator("#pad").bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.up()
    expect(page.locator(".result")).to_have_attribute("aria-busy", "false")


def ellipse(cx, cy, rx, ry, start=0.0, points=32):
    return [
        (
            cx + rx * math.cos(start + 2 * math.pi * i / points),
            cy + ry * math.sin(start + 2 * math.pi * i / points),
        )
        for i in range(points + 1)
    ]


SEVEN = [[(70, 55), (205, 55), (120, 235)]]


def test_drawing_a_seven_shows_prediction_bars_and_neighbours(page):
    expect(page.locator("#model-info")).to_contain_text("1,797 training images")
    draw(page, SEVEN)
    expect(page.locator("#neighbors img")).to_have_count(K)
    expect(page.locator("#label")).to_have_text("7")
    expect(page.locator("#bars .bar-row")).to_have_count(10)
    expect(page.locator("#bars .bar-row.best .bar-name")).to_have_text("7")
    expect(page.locator("#seen")).to_be_visible()
    for image in page.locator("#neighbors img").all():
        assert image.get_attribute("src").startswith("data:image/png;base64,")
        assert image.evaluate("img => img.complete && img.naturalWidth") == 8
    assert page.locator("#error").is_hidden()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "web_demo_digits.png"), full_page=True)


def test_undo_and_clear(page):
    draw(page, [[(140, 40), (140, 240)]])  # a second stroke over the seven
    expect(page.locator("#neighbors img")).to_have_count(K)
    page.click("#undo")
    expect(page.locator("#label")).to_have_text("7")
    page.click("#clear")
    expect(page.locator("#label")).to_have_text("–")
    expect(page.locator("#neighbors img")).to_have_count(0)


def test_pipeline_without_neighbour_images_shows_placeholders(browser):
    """A `knnvision tune --pca` model: its neighbours are PCA features, not images."""
    digits = load_digits()
    model = Pipeline([("pca", PCA(n_components=20)), ("knn", KNNClassifier(K))])
    model.fit(digits.flat(), digits.labels)
    model.metadata_ = model_metadata(digits, ExperimentConfig(dataset=digits.name))
    for base_url in serve(model):
        page = browser.new_page(viewport={"width": 1000, "height": 720})
        page.goto(base_url)
        expect(page.locator("#model-info")).to_contain_text("pca → k = 5")
        draw(page, SEVEN)
        expect(page.locator("#label")).to_have_text("7")
        expect(page.locator("#neighbors figure")).to_have_count(K)
        expect(page.locator("#neighbors .no-image")).to_have_count(K)
        expect(page.locator("#neighbors img")).to_have_count(0)
        expect(page.locator("#seen")).to_be_visible()
        assert page.locator("#error").is_hidden()
        page.close()


def test_upload_of_a_file_that_is_not_an_image_shows_the_error(page, tmp_path):
    bad = tmp_path / "note.png"
    bad.write_bytes(b"this is not a PNG")
    page.set_input_files("#upload", str(bad))
    expect(page.locator("#error")).to_contain_text("not a valid PNG")


# Digits drawn as a person would, in canvas pixels (the canvas is 280x280).
DRAWN_DIGITS = {
    "0": [ellipse(140, 140, 60, 95)],
    "2": [[(80, 90), (110, 55), (160, 50), (195, 85), (185, 130), (90, 230), (210, 230)]],
    "4": [[(170, 235), (170, 45), (75, 170), (215, 170)]],
    "7": SEVEN[0:1],
    "3": [
        [
            (85, 60),
            (150, 45),
            (190, 80),
            (170, 125),
            (125, 140),
            (175, 155),
            (195, 200),
            (150, 240),
            (80, 225),
        ]
    ],
}


def test_mnist_model_reads_drawn_digits(browser):
    """Against all 60,000 MNIST training images, with the page's MNIST-style framing."""
    mnist_dir = require_dataset("mnist")
    model = fitted(load_dataset("mnist", data_dir=mnist_dir), n_neighbors=K, weights="distance")
    for base_url in serve(model):
        page = browser.new_page(viewport={"width": 1000, "height": 720})
        page.goto(base_url)
        expect(page.locator("#model-info")).to_contain_text("60,000 training images (mnist)")
        for digit, strokes in DRAWN_DIGITS.items():
            page.click("#clear")
            draw(page, strokes)
            expect(page.locator("#label")).to_have_text(digit)
            expect(page.locator("#neighbors img")).to_have_count(K)
            assert page.evaluate("document.querySelector('#seen').naturalWidth") == 28
        page.screenshot(path=str(SCREENSHOTS / "web_demo.png"), full_page=True)
        page.close()
