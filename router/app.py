"""The application factory."""

from __future__ import annotations

from flask import Flask

from router.db import Database
from router.federation.membership import FederationPlaces, Membership
from router.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the router application for ``settings`` (read from the environment by default)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_path.resolve()))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    app.extensions["escr.settings"] = settings
    app.extensions["escr.database"] = Database(settings.database_url, echo=settings.sql_echo)
    membership = Membership.create(
        settings.federation, FederationPlaces(settings.instance_path, settings.public_url)
    )
    membership.start()
    app.extensions["escr.federation"] = membership

    from router import request_context
    from router.api import init_api
    from router.cli import escr_group
    from router.graphql import init_graphql
    from router.web import init_web

    app.teardown_appcontext(request_context.close_session)
    init_api(app)
    init_web(app)
    init_graphql(app, settings)
    app.cli.add_command(escr_group, "escr")
    return app
