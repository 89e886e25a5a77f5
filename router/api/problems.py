"""Errors as ``application/problem+json``, carrying the real router's ``code`` and ``message``."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, has_request_context, json
from werkzeug.exceptions import HTTPException

from router.db import is_unavailable
from router.domain.errors import (
    DatabaseUnavailable,
    InternalError,
    NotFound,
    RouterError,
    all_error_classes,
)
from router.logs import get_logger
from router.observability import note_problem

PROBLEM_JSON = "application/problem+json"
# The header marking an answer given by another router of the federation: that router's id.
ANSWERED_BY_HEADER = "Escr-Answered-By"
log = get_logger(__name__)

# Errors raised by Flask and webargs before a service runs, mapped to stable codes of ours.
_HTTP_CODES = {
    400: ("ER-0400", "malformed-request", "Malformed request"),
    401: ("SE-0001", "not-authenticated", "Authentication required"),
    403: ("SE-0000", "access-denied", "Access denied"),
    404: ("ER-0404", "not-found", "Not found"),
    405: ("ER-0405", "method-not-allowed", "Method not allowed"),
    406: ("ER-0406", "not-acceptable", "Not acceptable"),
    413: ("ER-0413", "payload-too-large", "Payload too large"),
    415: ("ER-0415", "unsupported-media-type", "Unsupported media type"),
    429: ("ER-0429", "too-many-requests", "Too many requests"),
}


def problem_response(
    status: int,
    code: str,
    slug: str,
    title: str,
    message: str,
    extra: dict[str, Any] | None = None,
) -> Response:
    """Build the problem+json response every error of the router uses."""
    body: dict[str, Any] = {
        "code": code,
        "message": message,
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": message,
    }
    if extra:
        body.update(extra)
    if has_request_context():
        note_problem(code)
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)


def render_router_error(error: RouterError) -> Response:
    """Render a domain error."""
    extra = {"errors": error.details} if error.details else None
    response = problem_response(
        error.status, error.code, error.slug, error.title, error.message, extra
    )
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="escrouter"'
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    # A peer router's problem passed on (router.federation.forwarding) says where it came from.
    answered_by = getattr(error, "answered_by", None)
    if answered_by is not None:
        response.headers[ANSWERED_BY_HEADER] = answered_by
    return response


def flatten_messages(messages: Any) -> str:
    """Turn webargs/marshmallow messages into one readable sentence."""
    if isinstance(messages, dict):
        parts = []
        for key, value in messages.items():
            inner = flatten_messages(value)
            parts.append(
                inner if key in {"json", "query", "form", "files", "headers"} else f"{key}: {inner}"
            )
        return "; ".join(parts)
    if isinstance(messages, list | tuple):
        return " ".join(flatten_messages(m) for m in messages)
    return str(messages)


def render_http_exception(error: HTTPException) -> Response:
    """Render Flask's and webargs' HTTP errors (validation, 404 route, 405) as problems."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if status == 422 and messages is not None:
        # webargs reports schema validation failures as 422; for us they are malformed: 400.
        status = 400
    code, slug, title = _HTTP_CODES.get(status, ("ER-0500", "error", error.name))
    message = flatten_messages(messages) if messages else (error.description or error.name)
    extra = {"errors": messages} if messages else None
    response = problem_response(status, code, slug, title, message, extra)
    for header in ("Allow", "Retry-After"):
        if error.get_response().headers.get(header):
            response.headers[header] = error.get_response().headers[header]
    return response


def render_unexpected(error: Exception) -> Response:
    """Last resort: 503 while the database is away, else log the failure and answer 500."""
    if is_unavailable(error):
        log.warning(
            "database unavailable", problem=DatabaseUnavailable.code, error=type(error).__name__
        )
        return render_router_error(DatabaseUnavailable())
    log.error("unexpected error", problem=InternalError.code, exc_info=error)
    return render_router_error(InternalError())


def register_error_handlers(app: Flask) -> None:
    """Install the handlers; called after flask-smorest so that ours take precedence."""
    app.register_error_handler(RouterError, render_router_error)
    app.register_error_handler(HTTPException, render_http_exception)
    app.register_error_handler(Exception, render_unexpected)

    @app.get("/problems/<slug>")
    def problem_type(slug: str) -> Response:
        """Describe a problem type: the ``type`` URI of every error points here."""
        for cls in all_error_classes():
            if cls.slug == slug:
                return Response(
                    json.dumps(
                        {
                            "type": f"/problems/{slug}",
                            "title": cls.title,
                            "status": cls.status,
                            "code": cls.code,
                            "description": cls.__doc__,
                        }
                    ),
                    mimetype="application/json",
                )
        for code, known_slug, title in _HTTP_CODES.values():
            if known_slug == slug:
                return Response(
                    json.dumps({"type": f"/problems/{slug}", "title": title, "code": code}),
                    mimetype="application/json",
                )
        raise NotFound(f"No problem type {slug!r}.")
