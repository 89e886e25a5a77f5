"""Pages for people rather than programs: the card's public status page behind the QR code."""

from __future__ import annotations

from flask import Flask


def init_web(app: Flask) -> None:
    """Register the public pages."""
    from router.web import card_page, certs

    app.register_blueprint(card_page.blp)
    app.register_blueprint(certs.blp)
