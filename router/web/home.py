"""``/``: a small page naming the router and its version, with its links and a card lookup."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for

from router.web.card_page import wants_json

blp = Blueprint("home", __name__)

HOME_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def router_version() -> str:
    """The installed escrouter's version."""
    try:
        return version("escrouter")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


@blp.get("/")
def home() -> Response:
    """The router's name, version and links; JSON for clients that ask for it."""
    links = {
        "docs": "/docs",
        "openapi": "/openapi.json",
        "graphql": "/graphql",
        "cardPage": "/cards/{escn}",
        "cardStatus": "/api/v2/cards/{escn}/status",
    }
    if wants_json():
        return jsonify({"name": "escrouter", "version": router_version(), "links": links})
    page = render_template("home.html", version=router_version())
    response = Response(page, mimetype="text/html")
    response.headers.update(HOME_HEADERS)
    return response


@blp.get("/cards")
def card_lookup() -> Response:
    """The lookup form's target: on to the card's public page."""
    number = request.args.get("number", "").strip().lower()
    if not number:
        return redirect(url_for("home.home"), code=303)  # type: ignore[return-value]
    return redirect(url_for("web.card_status_page", escn=number), code=303)  # type: ignore[return-value]
