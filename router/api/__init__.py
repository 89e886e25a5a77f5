"""The REST adapters: the real router's v2 API and escrouter's own ``/api/x`` endpoints."""

from __future__ import annotations

from flask import Flask, request, send_from_directory
from flask_smorest import Api
from swagger_ui_bundle import swagger_ui_path

from router.api.problems import register_error_handlers
from router.request_context import current_caller

# The only API operations anyone may call without a credential: the status behind the QR code.
PUBLIC_API_ENDPOINTS = frozenset({"cards.CardStatus"})


def authenticate_api_request() -> None:
    """Authenticate every /api call before its arguments are parsed.

    Checking the credential first means an anonymous caller learns nothing from validation
    errors, and every API route is protected unless it is listed as public.
    """
    if (
        request.path.startswith("/api/")
        and request.endpoint is not None
        and request.endpoint not in PUBLIC_API_ENDPOINTS
        and request.method != "OPTIONS"
    ):
        current_caller()


def init_api(app: Flask) -> Api:
    """Register the blueprints, the OpenAPI document (/openapi.json) and Swagger UI (/docs)."""
    from router.api import (  # noqa: F401  (qr, v2_card_csv add routes to the cards blueprint)
        qr,
        v2_card_csv,
        v2_cards,
        v2_persons,
        v2_pictures,
        x_batch,
        x_cards,
        x_certificates,
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
                }
            },
        },
    )
    api = Api(app)
    api.register_blueprint(v2_persons.blp)
    api.register_blueprint(v2_cards.blp)
    api.register_blueprint(v2_pictures.blp)
    api.register_blueprint(x_cards.blp)
    api.register_blueprint(x_organisations.blp)
    api.register_blueprint(x_certificates.blp)
    api.register_blueprint(x_verify.blp)
    api.register_blueprint(x_batch.blp)
    api.register_blueprint(x_webhooks.blp)
    api.register_blueprint(v2_card_csv.x_blp)

    @app.get("/docs/assets/<path:filename>")
    def swagger_assets(filename: str):  # type: ignore[no-untyped-def]
        """Swagger UI's JavaScript and CSS."""
        return send_from_directory(swagger_ui_path, filename)

    app.before_request(authenticate_api_request)
    init_oauth(app, app.extensions["escr.settings"].token_lifetime_seconds)
    register_error_handlers(app)
    return api
