"""The FastAPI app: the draw-a-digit page, ``POST /api/predict``, ``/api/health``, ``/api/model``.

>>> from knnvision.web import create_app
>>> app = create_app(model)  # a fitted KNNClassifier (or a Pipeline ending in one) with metadata_
>>> # uvicorn.run(app, host="127.0.0.1", port=8000)

Input comes from outside and is refused with a 4xx and ``{"detail": message}`` when it is
too large (413), of the wrong type (415), malformed (400) or of the wrong shape (422).
The page and its files are served only from this package's ``static`` folder.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from .._version import __version__
from ..io.images import Framing, Invert
from .middleware import BodySizeLimit, PageHeaders
from .predictor import Predictor
from .preprocess import (
    InputError,
    decode_upload,
    pixels_from_json,
)

STATIC_DIR = Path(__file__).with_name("static")

#: Default largest request body, in bytes (a phone photo fits).
MAX_UPLOAD_BYTES = 5 * 2**20

#: Default largest width * height of an uploaded image, read from its header before decoding.
MAX_PIXELS = 16_000_000


# --- response shapes (they make the OpenAPI schema) -------------------------------------------


class Neighbor(BaseModel):
    index: int = Field(
        description="Row of the training set (an augmented copy is reported "
        "as the training image it was made from)."
    )
    label: str = Field(description="Class of the training image.")
    distance: float = Field(description="Distance to the query, in the model's metric.")
    image: str | None = Field(
        None,
        description="The training image as the classifier holds it "
        "(after the pipeline's image transformers), as a PNG data URL, "
        "when images=true; null when the classifier compares features "
        "that are not images (PCA, gradient histograms).",
    )


class Prediction(BaseModel):
    label: str = Field(description="The predicted class.")
    probabilities: dict[str, float] = Field(
        description="Share of the (weighted) vote of each class, in class order."
    )
    neighbors: list[Neighbor] = Field(description="The k nearest training images, nearest first.")
    input_image: str | None = Field(
        None,
        description="The input as the model saw it (after "
        "framing, and after the pipeline's image transformers when "
        "the neighbours are images), as a PNG data URL, when "
        "images=true.",
    )


Param = str | bool | int | float | list[int | float]


class Step(BaseModel):
    name: str = Field(description="The step's name in the pipeline.")
    estimator: str = Field(description="The step's class.")
    params: dict[str, Param] = Field(description="Its parameters that have plain values.")


class ModelInfo(BaseModel):
    estimator: str = Field(description="The classifier's class.")
    params: dict[str, Param] = Field(
        description="The classifier's parameters that have plain values."
    )
    steps: list[Step] = Field(
        description="What an image goes through after framing, in order: "
        "the pipeline's transformers, then the classifier (alone for a "
        "bare classifier)."
    )
    classes: list[str]
    n_train: int = Field(description="Training images the neighbours' indices refer to.")
    n_stored: int = Field(description="Rows the classifier holds (augmented copies included).")
    dataset: str | None
    image_shape: list[int] = Field(
        description="[height, width] of the training images, or "
        "[height, width, 3] for a colour model."
    )
    color: bool = Field(
        description="Whether the model was fitted on RGB images (--color): "
        "uploads are then read in colour and resized to the model's size, "
        "never framed like a drawing, and neighbour images are RGB."
    )
    max_value: int
    preprocess: str = Field(
        description="Framing applied with preprocess=auto to "
        "images of another size than the model's."
    )
    neighbor_images: bool = Field(
        description="Whether neighbours come with images "
        "(images=true): false when the classifier compares features "
        "that are not images."
    )
    max_upload_bytes: int
    max_pixels: int


class Health(BaseModel):
    status: str
    version: str


class ErrorMessage(BaseModel):
    detail: str


# The type FastAPI's `responses` takes (status code -> OpenAPI response fields).
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorMessage, "description": text}
    for status, text in {
        400: "The body is not valid JSON, or the upload is not a valid image.",
        413: "The body or the image is over the size limits.",
        415: "The body is neither multipart/form-data with a PNG/JPEG nor JSON.",
        422: "The pixel array, an option, or the image content is not usable.",
    }.items()
}

_PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A PNG or JPEG image.",
                        }
                    },
                },
            },
            "application/json": {
                "schema": {
                    "description": "Grayscale pixels, 0..255: rows of an image of any size, or "
                    "one flat row of the model's image size. A colour model "
                    "also takes RGB rows (height x width x 3) and a flat row "
                    "of height * width * 3 values.",
                    "oneOf": [
                        {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                        {
                            "type": "array",
                            "items": {
                                "type": "array",
                                "items": {"type": "array", "items": {"type": "number"}},
                            },
                        },
                        {"type": "array", "items": {"type": "number"}},
                    ],
                },
            },
        },
    },
}


# --- the app ----------------------------------------------------------------------------------


def create_app(
    model,
    *,
    metadata: dict | None = None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> FastAPI:
    """The web app serving one fitted classifier.

    Parameters
    ----------
    model : KNNClassifier or sklearn.pipeline.Pipeline
        A fitted classifier over images (rows of pixels), or a fitted pipeline of
        transformers over such images ending in one (``knnvision run --preset``,
        ``knnvision tune --pca``); see :class:`~knnvision.web.predictor.Predictor`.
    metadata : dict, optional
        The model's image format (see :func:`knnvision.experiments.run.model_metadata`); default
        ``model.metadata_``, which :func:`knnvision.io.load` sets.
    max_upload_bytes : int, default=MAX_UPLOAD_BYTES
        Largest request body accepted (413 beyond).
    max_pixels : int, default=MAX_PIXELS
        Largest ``width * height`` of an image, checked before decoding (413 beyond).

    Returns
    -------
    fastapi.FastAPI
        Its ``state.predictor`` is the :class:`~knnvision.web.predictor.Predictor` serving
        the model.
    """
    if metadata is None:
        metadata = getattr(model, "metadata_", None) or {}
    predictor = Predictor(model, metadata)
    limits = {"max_upload_bytes": int(max_upload_bytes), "max_pixels": int(max_pixels)}
    # No Swagger/ReDoc pages: FastAPI's load their scripts from a CDN, and the server must
    # work offline. The schema itself is served at /openapi.json.
    app = FastAPI(
        title="knnvision",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        description="Exact k-nearest-neighbours image classification: draw or upload "
        "an image, get its class and its nearest training images.",
    )
    app.state.predictor = predictor
    app.add_middleware(BodySizeLimit, max_bytes=limits["max_upload_bytes"])
    app.add_middleware(PageHeaders)
    _add_error_handlers(app)

    @app.get("/api/health", response_model=Health)
    def health() -> dict:
        """Whether the server is up."""
        return {"status": "ok", "version": __version__}

    @app.get("/api/model", response_model=ModelInfo)
    def model_info() -> dict:
        """The served model: its steps, the classifier's parameters, classes, training size,
        image format and limits."""
        return predictor.describe() | limits

    @app.post(
        "/api/predict", response_model=Prediction, responses=_ERRORS, openapi_extra=_PREDICT_BODY
    )
    async def predict(
        request: Request,
        images: bool = Query(
            False,
            description="Also return the neighbour images and the "
            "preprocessed input as PNG data URLs.",
        ),
        # The choices as Literal types, so that FastAPI checks them and the schema lists them.
        preprocess: Annotated[
            Framing,
            Query(
                description="How the image is made to look like the training images: "
                "mnist (bounding box into 20x20, centred by mass in 28x28), digits (UCI 4x4 block "
                "counts), resize, none (pixels are features already), auto (an image of the "
                "model's size as it is, any other framed as the model's dataset; the same as "
                "`knnvision predict --preprocess auto`). A colour model's images are only resized "
                "(auto, resize) or taken as they are (none).",
            ),
        ] = "auto",
        invert: Annotated[
            Invert,
            Query(
                description="Whether the image is dark ink on light paper. For a colour "
                "model only yes does something (inverts every channel).",
            ),
        ] = "auto",
    ) -> JSONResponse:
        """Classify one image: a PNG/JPEG upload (form field ``file``) or a JSON pixel array."""
        started = time.perf_counter()
        data, data_type = await _read_body(request)

        def work() -> dict:  # decoding and search off the event loop, in one hop
            image = _image_from(data, data_type, predictor, preprocess, limits["max_pixels"])
            return predictor.predict(
                image, preprocess=preprocess, invert=invert, with_images=images
            )

        result = await run_in_threadpool(work)
        elapsed_ms = (time.perf_counter() - started) * 1000
        # Returned as built (response_model documents it): validating our own dict again
        # would only cost time on every request.
        return JSONResponse(result, headers={"Server-Timing": f"predict;dur={elapsed_ms:.2f}"})

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


async def _read_body(request: Request) -> tuple[bytes, str]:
    """The image data and its content type: an uploaded file's, or ``application/json``."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=4) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InputError(422, "Send the image in a form field named file.")
            return await upload.read(), upload.content_type or ""
    if content_type.startswith("application/json"):
        return await request.body(), "application/json"
    raise InputError(
        415,
        "Send multipart/form-data with a PNG or JPEG in the field file, or "
        "application/json with an array of pixels.",
    )


def _image_from(
    data: bytes, data_type: str, predictor: Predictor, preprocess: str, max_pixels: int
):
    """Decode the body read by :func:`_read_body` to a uint8 image array (2-D gray, or
    ``(height, width, 3)`` RGB for a colour model)."""
    if data_type != "application/json":
        return decode_upload(data, data_type, max_pixels, predictor.image_format, preprocess)
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise InputError(400, "The body is not valid JSON.") from None
    return pixels_from_json(value, predictor.image_format, preprocess, max_pixels)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InputError)
    async def refused(request: Request, error: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=error.status)
