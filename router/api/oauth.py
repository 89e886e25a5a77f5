"""OAuth2 client credentials at ``/oauth/token`` (authlib), for short-lived bearer tokens.

A token is presented exactly like an API key (``Authorization: Bearer …``) and carries the scopes
granted to its client, narrowed to those the client asked for.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from flask import Flask, Response, current_app
from sqlalchemy import select

from router.db import utcnow
from router.domain import text
from router.models import OAuthClient, OAuthToken
from router.request_context import db_session
from router.services.caller import Scope
from router.services.credentials import digest


class ClientAdapter(ClientMixin):
    """Presents an :class:`OAuthClient` row to authlib; the secret is checked against its digest."""

    def __init__(self, record: OAuthClient) -> None:
        self.record = record

    def get_client_id(self) -> str:
        """The public client identifier."""
        return self.record.client_id

    def get_default_redirect_uri(self) -> None:
        """Client credentials never redirect."""
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The requested scopes (all held, the grant checked it); all of them when none asked."""
        if not scope:
            return self.record.scopes
        return list_to_scope(scope_to_list(scope))

    def holds(self, scope: str | None) -> bool:
        """Whether the client was granted every scope of ``scope``."""
        return set(scope_to_list(scope) or ()) <= set(self.record.scopes.split())

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """No redirection in this grant."""
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        """Compare the presented secret's digest with the stored one."""
        return hmac.compare_digest(digest(client_secret), self.record.secret_digest)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Clients authenticate with HTTP Basic or in the form body."""
        return endpoint == "token" and method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type: str) -> bool:
        """No authorization endpoint here."""
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        """Only the client credentials grant."""
        return grant_type == "client_credentials"


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """The client credentials grant, with the secret in HTTP Basic or in the form body."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self) -> None:
        """RFC 6749 section 5.2: a scope the client does not hold is ``invalid_scope``."""
        super().validate_token_request()
        scope = self.request.payload.scope
        if not self.request.client.holds(scope):
            raise InvalidScopeError(description="The client does not hold every scope asked for.")


def _query_client(client_id: str) -> ClientAdapter | None:
    # No stored id holds a NUL, and PostgreSQL refuses one in a query parameter (a 500).
    if text.NUL in client_id:
        return None
    record = db_session().scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if record is None or record.revoked_at is not None:
        return None
    return ClientAdapter(record)


def _client_secret_basic(query_client: Any, request: Any) -> ClientAdapter | None:
    """HTTP Basic client authentication (authlib's); credentials that are not UTF-8 name no client.

    authlib decodes them with ``bytes.decode`` and lets the UnicodeDecodeError out (a 500); no
    client is named so, and authlib then answers ``invalid_client`` as for any unknown client.
    """
    try:
        return authenticate_client_secret_basic(query_client, request)
    except UnicodeDecodeError:
        return None


def _save_token(token: dict[str, Any], request: Any) -> None:
    client: ClientAdapter = request.client
    session = db_session()
    now = utcnow()
    session.add(
        OAuthToken(
            token_digest=digest(token["access_token"]),
            client_pk=client.record.id,
            scope=token.get("scope", ""),
            issued_at=now,
            expires_at=now + dt.timedelta(seconds=int(token["expires_in"])),
        )
    )
    session.commit()


def init_oauth(app: Flask, token_lifetime: int) -> None:
    """Create the app's authorization server and its ``/oauth/token`` route."""
    app.config.setdefault("OAUTH2_TOKEN_EXPIRES_IN", {"client_credentials": token_lifetime})
    app.config.setdefault("OAUTH2_SCOPES_SUPPORTED", list(Scope.ALL))
    server = AuthorizationServer(app, query_client=_query_client, save_token=_save_token)
    server.register_grant(ClientCredentialsGrant)
    server.register_client_auth_method("client_secret_basic", _client_secret_basic)
    app.extensions["escr.oauth"] = server

    @app.post("/oauth/token")
    def issue_token() -> Response:
        """Exchange client credentials for a bearer token (RFC 6749 section 4.4)."""
        return current_app.extensions["escr.oauth"].create_token_response()
