"""Pages for people rather than programs: the home page and the card's public status page."""

from __future__ import annotations

from flask import Flask


def init_web(app: Flask) -> None:
    """Register the public pages."""
    from router.web.card_page import blp
    from router.web.home import blp as home_blp

    app.register_blueprint(blp)
    app.register_blueprint(home_blp)
