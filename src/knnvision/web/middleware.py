"""Two small ASGI wrappers: a request-body size limit and security headers for the page."""

from __future__ import annotations

import json

from .preprocess import InputError

# The page and its files only ever load from the app itself; images may be data URLs.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


class BodySizeLimit:
    """Refuse request bodies larger than ``max_bytes`` with 413 and a JSON message.

    A declared ``Content-Length`` over the limit is refused before any of the body is read;
    a body that turns out longer (chunked, or a false length) is refused as soon as the
    limit is crossed, by raising :class:`InputError` to the endpoint reading it.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await send_json(send, 413, self._message())
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise InputError(413, self._message())
            return message

        return await self.app(scope, limited_receive, send)

    def _message(self) -> str:
        return (
            f"The request body is larger than the limit of {self.max_bytes} bytes; "
            "send a smaller image."
        )


class PageHeaders:
    """Add a strict content-security policy and ``nosniff`` to the page and its files."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/" or path.startswith("/static/")):
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [
                    (b"content-security-policy", PAGE_POLICY.encode()),
                    (b"x-content-type-options", b"nosniff"),
                ]
            await send(message)

        return await self.app(scope, receive, send_with_headers)


async def send_json(send, status: int, detail: str) -> None:
    """Answer with ``{"detail": ...}`` (FastAPI's error shape) without calling the app."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
