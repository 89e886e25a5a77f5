"""Request bodies the router refuses at the door: over-long chunked ones, and unpaired surrogates.

Chunked bodies are held to the same size limit as bodies that state their length.

A body sent with ``Transfer-Encoding: chunked`` states no length, and werkzeug's limit on such a
stream stops reading at the limit without failing, so an over-large chunked upload reached the
views truncated (a 400 "invalid JSON" instead of a 413). This middleware reads such a body up to
one byte past the limit and hands it on with its length: werkzeug then refuses it with the 413 a
sized body gets, and a body within the limit is served exactly as a sized one.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from flask import request

from router.domain.errors import MalformedRequest
from router.domain.text import UNPAIRED_SURROGATE, unpaired_surrogate_in_json

CHUNK = 64 * 1024


class SizedChunkedBodies:
    """WSGI middleware giving chunked request bodies a ``Content-Length`` (up to ``limit``+1)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Buffer a chunked body (at most ``limit`` + 1 bytes), then call the application."""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            stream = environ["wsgi.input"]
            body = bytearray()
            while len(body) <= self.limit:
                chunk = stream.read(min(CHUNK, self.limit + 1 - len(body)))
                if not chunk:
                    break
                body += chunk
            environ["wsgi.input"] = io.BytesIO(bytes(body))
            # Past the limit the stated length is too, and the request is refused (413).
            environ["CONTENT_LENGTH"] = str(len(body))
            # The body is no longer chunked (werkzeug ignores a length beside "chunked").
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ.pop("wsgi.input_terminated", None)
        return self.app(environ, start_response)


def unpaired_surrogate_reason() -> str | None:
    """Why the request's JSON body or a JSON query value is no text, or None if both are."""
    # A lookup (a GET without type or query) asks neither werkzeug's content type parser nor its
    # query parser: neither has anything to read.
    environ = request.environ
    if (
        environ.get("CONTENT_TYPE")
        and request.is_json
        and unpaired_surrogate_in_json(request.get_data(cache=True))
    ):
        return f"The request body: {UNPAIRED_SURROGATE}"
    if environ.get("QUERY_STRING"):
        for name, value in request.args.items(multi=True):
            if "\\u" in value and unpaired_surrogate_in_json(value):
                return f"{name}: {UNPAIRED_SURROGATE}"
    return None


def refuse_unpaired_surrogates() -> None:
    r"""Refuse (400) a JSON body, or a JSON query value, with an unpaired UTF-16 surrogate.

    Python decodes ``"\ud800"`` to a string that the databases cannot store: it reached them and
    answered 500, on every route. One check here covers every REST route and batch; ``/graphql``
    makes the same check and answers in GraphQL's error shape.
    """
    if request.endpoint == "graphql":
        return
    reason = unpaired_surrogate_reason()
    if reason is not None:
        raise MalformedRequest(reason)
