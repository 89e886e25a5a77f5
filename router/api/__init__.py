"""The REST adapters: the real router's v2 API and escrouter's own ``/api/x`` endpoints."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from router.api.federation import PUBLIC_ENDPOINTS as FEDERATION_PUBLIC_ENDPOINTS
from router.api.openapi import RouterApi, TruthfulDocument
from router.api.problems import register_error_handlers
from router.api.routing import ExceptConverter
from router.domain.text import check_text
from router.request_context import current_caller, lookup_connection
from router.services.caller import Scope

# The only API operations anyone may call without a credential: the status behind the QR code,
# the institutions' public keys, and the federation's (router identity and catalogue; peer routers
# sign their requests instead).
PUBLIC_API_ENDPOINTS = frozenset({"cards.CardStatus", "x-keys.Jwks"}) | FEDERATION_PUBLIC_ENDPOINTS


# Operations of the QR-scan path whose every write is one statement: their session is opened
# outside any transaction (see router.request_context.lookup_connection), before the credential is
# read with it. The status opens its own (it reads the credential only when one is presented).
LOOKUP_ENDPOINTS = frozenset({"x-verify.Verify"})


def authenticate_api_request() -> None:
    """Authenticate every /api call before its arguments are parsed.

    Checking the credential first means an anonymous caller learns nothing from validation
    errors, and every API route is protected unless it is listed as public.
    """
    req = request._get_current_object()  # type: ignore[attr-defined]
    endpoint = req.endpoint
    if (
        req.path.startswith("/api/")
        and endpoint is not None
        and endpoint not in PUBLIC_API_ENDPOINTS
        and req.method != "OPTIONS"
    ):
        if endpoint in LOOKUP_ENDPOINTS:
            lookup_connection()
        current_caller()
    check_path_values(req.view_args)


# Path values longer than this are no identifier of ours; refusing them spares the database.
MAX_PATH_VALUE_LENGTH = 255


def check_path_values(view_args: dict[str, Any] | None) -> None:
    """Refuse (400) a path value no route could use: a NUL character or an over-long value.

    Path parameters skip the schemas that check bodies and query strings, and a NUL reaching
    PostgreSQL is a 500; this check covers every route, those added later included.
    """
    for name, value in (view_args or {}).items():
        if isinstance(value, str):
            check_text(name, value, MAX_PATH_VALUE_LENGTH)


def init_api(app: Flask) -> RouterApi:
    """Register the blueprints, the OpenAPI document (/openapi.json) and Swagger UI (/docs)."""
    from router.api import (  # noqa: F401  (qr, v2_card_csv add routes to the cards blueprint)
        federation,
        health,
        qr,
        v2_card_csv,
        v2_cards,
        v2_persons,
        v2_pictures,
        x_batch,
        x_cards,
        x_certificates,
        x_delegations,
        x_keys,
        x_organisations,
        x_verify,
        x_webhooks,
    )
    from router.api.oauth import init_oauth

    app.config.update(
        API_TITLE="escrouter",
        API_VERSION="2",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        # Served from the installed swagger-ui-bundle, so the docs work offline.
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
        API_SPEC_OPTIONS={
            "info": {
                "description": "A self-hostable clone of the European Student Card Router. "
                "The /api/v2 endpoints are the real router's; /api/x are escrouter's own.",
            },
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer"},
                    "api_key": {"type": "apiKey", "in": "header", "name": "api_key"},
                    "clientBasic": {"type": "http", "scheme": "basic"},
                    "oauth2": {
                        "type": "oauth2",
                        "flows": {
                            "clientCredentials": {
                                "tokenUrl": "/oauth/token",
                                "scopes": {scope: scope for scope in Scope.ALL},
                            }
                        },
                    },
                }
            },
        },
    )
    app.url_map.converters["except"] = ExceptConverter
    api = RouterApi(app, spec_kwargs={"extra_plugins": [TruthfulDocument()]})
    api.register_blueprint(v2_persons.blp)
    api.register_blueprint(v2_cards.blp)
    api.register_blueprint(v2_pictures.blp)
    api.register_blueprint(x_cards.blp)
    api.register_blueprint(x_organisations.blp)
    api.register_blueprint(x_certificates.blp)
    api.register_blueprint(x_verify.blp)
    api.register_blueprint(x_batch.blp)
    api.register_blueprint(x_webhooks.blp)
    api.register_blueprint(x_keys.blp)
    api.register_blueprint(x_delegations.blp)
    api.register_blueprint(v2_card_csv.x_blp)
    api.register_blueprint(health.blp)
    api.register_blueprint(federation.blp)
    api.register_blueprint(federation.peer_blp)

    @app.get("/docs/assets/<path:filename>")
    def swagger_assets(filename: str) -> Response:
        """Swagger UI's JavaScript and CSS."""
        return send_from_directory(swagger_ui_path, filename)

    app.before_request(authenticate_api_request)
    init_oauth(app, app.extensions["escr.settings"].token_lifetime_seconds)
    register_error_handlers(app)
    return api
