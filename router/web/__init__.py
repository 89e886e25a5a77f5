"""Pages for people rather than programs: the home page and the card's public status page."""

from __future__ import annotations

from flask import Flask


def init_web(app: Flask) -> None:
    """Register the public pages."""
    from router.web import card_page, certs, home

    app.register_blueprint(card_page.blp)
    app.register_blueprint(home.blp)
    app.register_blueprint(certs.blp)
