"""Draw a digit: the web page and HTTP API (``knnvision serve``; needs the ``[web]`` extra).

:func:`create_app` makes the FastAPI app for a fitted classifier; :func:`serve` runs it
with uvicorn, fitting a default model first when none is given.
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
    import python_multipart  # noqa: F401  (uploads)
    import uvicorn  # noqa: F401
except ImportError as error:
    raise ImportError(
        f"knnvision's web app needs the web extra ({error.name} is missing): "
        'pip install "knnvision[web]"'
    ) from error

from .app import MAX_PIXELS, MAX_UPLOAD_BYTES, create_app
from .server import default_model, serve

__all__ = ["MAX_PIXELS", "MAX_UPLOAD_BYTES", "create_app", "default_model", "serve"]
