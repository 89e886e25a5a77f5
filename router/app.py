"""The application factory."""

from __future__ import annotations

import gc

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from router.db import Database
from router.federation.membership import FederationPlaces, Membership
from router.flask_app import RouterFlask
from router.request_body import SizedChunkedBodies, refuse_unpaired_surrogates
from router.settings import Settings

# The largest request body the router reads (pictures, CSV files), chunked or not.
MAX_BODY_BYTES = 16 * 1024 * 1024


def create_app(settings: Settings | None = None) -> Flask:
    """Build the router application for ``settings`` (read from the environment by default)."""
    settings = settings or Settings.from_env()
    app = RouterFlask(__name__, instance_path=str(settings.instance_path.resolve()))
    app.config.update(
        SECRET_KEY=settings.server_secret,
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    app.wsgi_app = SizedChunkedBodies(app.wsgi_app, MAX_BODY_BYTES)  # type: ignore[method-assign]
    app.extensions["escr.settings"] = settings
    app.extensions["escr.database"] = Database.from_settings(settings)
    membership = Membership.create(
        settings.federation, FederationPlaces(settings.instance_path, settings.public_url)
    )
    membership.start()
    app.extensions["escr.federation"] = membership

    from router import request_context
    from router.anonymous_limits import AnonymousLimiter
    from router.api import init_api
    from router.api.plain_routes import document_plain_routes
    from router.cli import escr_group
    from router.graphql import init_graphql
    from router.logs import configure_logging
    from router.observability import init_observability
    from router.web import init_web

    configure_logging(settings.log_level)
    app.extensions["escr.anonymous_limiter"] = AnonymousLimiter(settings)
    if settings.trusted_proxies:
        # The client's address, scheme and host as the trusted proxies forwarded them: the rate
        # limit then counts the client, not the proxy.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    app.teardown_appcontext(request_context.close_session)
    # First, so that every request has its id and its log line, even one refused at the door.
    init_observability(app)
    api = init_api(app)
    # After the API's credential check: an anonymous caller learns nothing from a refused body.
    app.before_request(refuse_unpaired_surrogates)
    init_web(app)
    init_graphql(app, settings)
    # Last: the document also describes the routes the web and GraphQL parts registered.
    document_plain_routes(api, app)
    app.cli.add_command(escr_group, "escr")
    return app


def freeze_start_up_objects() -> int:
    """Hide what a worker built at start-up from the garbage collector's full passes; how many.

    A worker holds about 200,000 objects once the application is built (modules, SQLAlchemy's
    mappings, schemas, templates), all of them alive as long as the process. Each full
    collection walked them all: about 100 ms, every two or three seconds while lists were
    served, which made the slowest list requests of ``bench/listing.py`` 110 to 140 ms while
    their SQL took under 16 ms. Frozen (``gc.freeze``), they are no longer walked; what requests
    create is collected as before.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
