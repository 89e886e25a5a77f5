"""Typed errors of the router client, carrying the server's ``status``, ``code`` and ``message``.

The router answers errors as problem+json ``{"code", "message", "type", "title", "status",
"detail"}``; the real router sends at least ``{"code", "message"}``. Anything else (a proxy's
HTML error page, an empty body) still becomes an :class:`ApiError` with the HTTP status.
"""

from __future__ import annotations

import datetime as dt
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


class RouterClientError(Exception):
    """Base of every error raised by :mod:`sgc_client`."""


class TransportError(RouterClientError):
    """The router could not be reached, or did not answer in time, after every retry."""


class ApiError(RouterClientError):
    """The router answered with an error status."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        body: dict[str, Any] | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(f"{status} {code or '-'}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body or {}
        self.response = response


class BadRequest(ApiError):
    """400: the router could not read the request."""


class Unauthorized(ApiError):
    """401: no credential, or one the router does not accept."""


class Forbidden(ApiError):
    """403: the credential may not do this (another organisation's data, missing scope)."""


class NotFound(ApiError):
    """404: no such person, card, picture or endpoint."""


class MethodNotAllowed(ApiError):
    """405: the router does not offer this method on this path (e.g. an escrouter extension)."""


class Conflict(ApiError):
    """409: the person or card exists already."""


class Gone(ApiError):
    """410: the person was erased at their institution's request."""


class RuleViolation(ApiError):
    """422: a well-formed request that the router's rules refuse (e.g. a forbidden transition)."""


class RateLimited(ApiError):
    """429: too many requests; ``retry_after`` says how many seconds to wait, when known."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: the router failed."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    422: RuleViolation,
    429: RateLimited,
}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def error_from_response(response: httpx.Response) -> ApiError:
    """The typed error of an error response, reading the problem+json body when there is one."""
    body: dict[str, Any] = {}
    try:
        parsed = response.json()
        if isinstance(parsed, dict):
            body = parsed
    except ValueError:
        pass
    code = body.get("code") if isinstance(body.get("code"), str) else None
    message = body.get("message") or body.get("detail") or body.get("error_description")
    if not isinstance(message, str) or not message:
        message = response.reason_phrase or f"HTTP {response.status_code}"
    status = response.status_code
    if status >= 500:
        cls: type[ApiError] = ServerError
    else:
        cls = _BY_STATUS.get(status, ApiError)
    if cls is RateLimited:
        return RateLimited(
            status,
            code,
            message,
            body=body,
            response=response,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    return cls(status, code, message, body=body, response=response)
