"""``/api/x/organisations`` and ``/api/x/api-keys``: escrouter's own administration endpoints."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from router.api import x_schemas
from router.api.blueprint import SECURITY, RouterBlueprint
from router.api.fields import KEY_PREFIX_PARAMETER, ORGANISATION_IDENTIFIER_PARAMETER
from router.api.representations import organisation_lite
from router.api.routing import ORGANISATION_SEGMENT
from router.models import ApiKey, Organisation
from router.request_context import current_caller, db_session
from router.services import credentials, organisations
from router.services.caller import Scope

blp = RouterBlueprint(
    "x-organisations",
    __name__,
    url_prefix="/api/x",
    description="escrouter: organisations and API keys",
)


def organisation_view(organisation: Organisation) -> dict[str, Any]:
    """The OrganisationView of an organisation."""
    return {
        **(organisation_lite(organisation) or {}),
        "kind": organisation.kind,
        "country": organisation.country,
        "escnPrefixes": organisation.prefix_codes,
    }


def key_view(key: ApiKey, secret: str | None = None) -> dict[str, Any]:
    """The ApiKeyView of a key (with its secret right after issuing it)."""
    view: dict[str, Any] = {
        "prefix": key.prefix,
        "name": key.name,
        "scopes": key.scopes.split(),
        "createdAt": key.created_at,
        "expiresAt": key.expires_at,
        "revokedAt": key.revoked_at,
        "lastUsedAt": key.last_used_at,
    }
    if secret is not None:
        view["secret"] = secret
    return view


@blp.route("/organisations")
class Organisations(MethodView):
    """The organisations of this router."""

    @blp.response(200, x_schemas.OrganisationView(many=True))
    @blp.doc(security=SECURITY)
    def get(self) -> list[dict[str, Any]]:
        """List every organisation (public facts only: identifier, name, country, prefixes)."""
        current_caller()
        return [organisation_view(o) for o in organisations.list_organisations(db_session())]

    @blp.arguments(x_schemas.OrganisationCreate)
    @blp.response(201, x_schemas.OrganisationView)
    @blp.doc(security=SECURITY)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register an organisation (scope ``admin``)."""
        current_caller().require(Scope.ADMIN)
        organisation = organisations.create_organisation(
            db_session(),
            organisations.OrganisationInput(
                identifier=body["identifier"],
                identifier_type=body["identifierType"],
                kind=body["kind"],
                name=body["name"],
                country=body.get("country"),
                schac_home_organization=body.get("schacHomeOrganization"),
                website=body.get("website"),
                prefixes=body["escnPrefixes"],
            ),
        )
        return organisation_view(organisation)


@blp.route("/organisations/me")
class OwnOrganisation(MethodView):
    """The caller's own organisation."""

    @blp.response(200, x_schemas.OrganisationView)
    @blp.doc(security=SECURITY)
    def get(self) -> dict[str, Any]:
        """Read your own organisation."""
        return organisation_view(current_caller().organisation)


@blp.route(f"/organisations/{ORGANISATION_SEGMENT}", parameters=[ORGANISATION_IDENTIFIER_PARAMETER])
class OrganisationByIdentifier(MethodView):
    """One organisation."""

    @blp.response(200, x_schemas.OrganisationView)
    @blp.doc(security=SECURITY)
    def get(self, identifier: str) -> dict[str, Any]:
        """Read an organisation by PIC or VAT number."""
        current_caller()
        return organisation_view(organisations.get_organisation(db_session(), identifier))

    @blp.arguments(x_schemas.OrganisationUpdate)
    @blp.response(200, x_schemas.OrganisationView)
    @blp.doc(security=SECURITY)
    def patch(self, body: dict[str, Any], identifier: str) -> dict[str, Any]:
        """Change an organisation's name, country, domain, website or prefixes (``admin``)."""
        current_caller().require(Scope.ADMIN)
        session = db_session()
        organisation = organisations.get_organisation(session, identifier)
        return organisation_view(
            organisations.update_organisation(
                session,
                organisation,
                name=body.get("name"),
                country=body.get("country"),
                schac_home_organization=body.get("schacHomeOrganization"),
                website=body.get("website"),
                prefixes=body.get("escnPrefixes"),
            )
        )


@blp.route("/api-keys")
class ApiKeys(MethodView):
    """The caller's organisation's API keys."""

    @blp.response(200, x_schemas.ApiKeyView(many=True))
    @blp.doc(security=SECURITY)
    def get(self) -> list[dict[str, Any]]:
        """List your organisation's keys by prefix (secrets are never shown again)."""
        return [key_view(k) for k in credentials.list_own_keys(db_session(), current_caller())]

    @blp.arguments(x_schemas.ApiKeyCreate)
    @blp.response(201, x_schemas.IssuedApiKeyView)
    @blp.doc(security=SECURITY)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Issue a key for your organisation (scope keys:manage), with at most your scopes."""
        issued = credentials.issue_own_key(
            db_session(),
            current_caller(),
            name=body["name"],
            scopes=body["scopes"],
            expires_at=body.get("expiresAt"),
        )
        return key_view(issued.record, issued.secret)


@blp.route("/api-keys/<string:prefix>", parameters=[KEY_PREFIX_PARAMETER])
class ApiKeyByPrefix(MethodView):
    """One API key of the caller's organisation."""

    @blp.response(204)
    @blp.doc(security=SECURITY)
    def delete(self, prefix: str) -> None:
        """Revoke a key at once (scope keys:manage, and every scope of that key)."""
        credentials.revoke_own_key(db_session(), current_caller(), prefix)


@blp.route("/api-keys/<string:prefix>/rotate", parameters=[KEY_PREFIX_PARAMETER])
class ApiKeyRotation(MethodView):
    """Key rotation."""

    @blp.response(201, x_schemas.IssuedApiKeyView)
    @blp.doc(security=SECURITY)
    def post(self, prefix: str) -> dict[str, Any]:
        """Replace a key by a new one with the same name and scopes (scope keys:manage)."""
        issued = credentials.rotate_own_key(db_session(), current_caller(), prefix)
        return key_view(issued.record, issued.secret)
