"""The application factory."""

from __future__ import annotations

from flask import Flask

from router.db import Database
from router.request_body import SizedChunkedBodies
from router.settings import Settings

# The largest request body the router reads (pictures, CSV files), chunked or not.
MAX_BODY_BYTES = 16 * 1024 * 1024


def create_app(settings: Settings | None = None) -> Flask:
    """Build the router application for ``settings`` (read from the environment by default)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_path.resolve()))
    app.config.update(
        SECRET_KEY=settings.server_secret,
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    app.wsgi_app = SizedChunkedBodies(app.wsgi_app, MAX_BODY_BYTES)  # type: ignore[method-assign]
    app.extensions["escr.settings"] = settings
    app.extensions["escr.database"] = Database(
        settings.database_url, echo=settings.sql_echo, erasure_key=settings.erasure_key
    )

    from router import request_context
    from router.api import init_api
    from router.api.plain_routes import document_plain_routes
    from router.cli import escr_group
    from router.graphql import init_graphql
    from router.web import init_web

    app.teardown_appcontext(request_context.close_session)
    api = init_api(app)
    init_web(app)
    init_graphql(app, settings)
    # Last: the document also describes the routes the web and GraphQL parts registered.
    document_plain_routes(api, app)
    app.cli.add_command(escr_group, "escr")
    return app
