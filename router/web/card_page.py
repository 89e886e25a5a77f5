"""``/cards/<ESCN>``: the page a phone opens when it scans a card's QR code.

Anyone may open it, so it shows nothing personal: valid or not, why not, the issuing institution
and the validity date. No JavaScript; localised from Accept-Language. ``Accept: application/json``
gets the v2 CardStatusView instead, as ``/api/v2/cards/{escn}/status`` answers it.
"""

from __future__ import annotations

from functools import cache, lru_cache

from flask import Blueprint, Response, current_app, request
from werkzeug.datastructures import LanguageAccept, MIMEAccept
from werkzeug.http import parse_accept_header

from router.anonymous_limits import limit_anonymous_lookup
from router.api.problems import ANSWERED_BY_HEADER, render_router_error
from router.api.representations import json_response
from router.api.v2_cards import public_status_view
from router.domain.errors import CardNotFound, InvalidIdentifier, RateLimited, RouterError
from router.federation import forwarding
from router.observability import note_problem
from router.request_context import federation, lookup_connection
from router.web.messages import Messages, negotiate

blp = Blueprint("web", __name__)

# The page has no script and loads nothing: forbid everything but its inline style.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The status changes when a card is reported lost: never serve a stale copy.
    "Cache-Control": "no-store",
    "Vary": "Accept, Accept-Language",
}


# A browser, a phone or a scanner app sends the same few Accept and Accept-Language values over
# and over: each is parsed once per process (as werkzeug's request attributes parse it), not on
# every scan. Bounded: the headers are the client's to choose.
_HEADER_VALUES_KEPT = 256


@lru_cache(maxsize=_HEADER_VALUES_KEPT)
def _prefers_json(accept_header: str | None) -> bool:
    accept = parse_accept_header(accept_header, MIMEAccept)
    best = accept.best_match(["text/html", "application/json"])
    return best == "application/json" and accept["application/json"] > accept["text/html"]


@lru_cache(maxsize=_HEADER_VALUES_KEPT)
def _messages_for(accept_language: str | None) -> Messages:
    return _messages_of(negotiate(parse_accept_header(accept_language, LanguageAccept)))


@cache  # one per language of the catalogues: negotiate answers no other
def _messages_of(language: str) -> Messages:
    """The one catalogue of ``language``, its messages escaped once, shared by its header values."""
    return Messages(language)


def wants_json() -> bool:
    """True when the client prefers JSON to HTML (browsers send text/html first)."""
    return _prefers_json(request.environ.get("HTTP_ACCEPT"))


def messages() -> Messages:
    """The catalogue of the visitor's preferred language."""
    return _messages_for(request.environ.get("HTTP_ACCEPT_LANGUAGE"))


def _page(template: str, status: int, **context: object) -> Response:
    text = messages()
    # Rendered by Jinja directly: the pages use only what they are given, not the request,
    # session and config Flask's render_template adds to every template's context.
    page = current_app.jinja_env.get_template(template)
    response = Response(
        page.render(t=text, lang=text.language, **context),
        status=status,
        mimetype="text/html",
    )
    response.headers.update(SECURITY_HEADERS)
    return response


@blp.get("/cards/<string:escn>")
def card_status_page(escn: str) -> Response:
    """The card's public status, as a page or (Accept: application/json) as the v2 view."""
    if wants_json():
        # Rendered as the API renders it, so both URLs answer byte-for-byte the same view.
        view, headers = public_status_view(escn)
        response = json_response(
            view, {"Cache-Control": "no-store", "Vary": "Accept, Accept-Language"}
        )
        response.headers.update(headers)
        return response
    limit_anonymous_lookup()
    answer = forwarding.public_verdict(lookup_connection(), federation(), escn)
    answered_by = answer.router.id if answer.router is not None else None
    response = _page("card_status.html", 200, verdict=answer.value, answered_by=answered_by)
    if answered_by is not None:
        response.headers[ANSWERED_BY_HEADER] = answered_by
    return response


@blp.errorhandler(RouterError)
def render_page_error(error: RouterError) -> Response:
    """Errors of the page as a page (problem+json for JSON clients), with the same status."""
    if wants_json():
        return render_router_error(error)
    note_problem(error.code)
    text = messages()
    answered_by = getattr(error, "answered_by", None)
    if isinstance(error, CardNotFound):
        response = _page("card_status.html", 404, verdict=None, answered_by=answered_by)
    elif isinstance(error, InvalidIdentifier):
        response = _page("card_error.html", 400, message=text("error.bad_number"))
    elif isinstance(error, RateLimited):
        response = _page(
            "card_error.html", 429, message=text("error.rate_limited", seconds=error.retry_after)
        )
        response.headers["Retry-After"] = str(error.retry_after)
    else:
        response = _page("card_error.html", error.status, message=error.message)
        # A peer whose circuit is open says when to try again (router.federation).
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
    if answered_by is not None:
        response.headers[ANSWERED_BY_HEADER] = answered_by
    return response
