"""``/api/x/public-keys`` (your institution's keys) and the public ``/api/x/directory`` JWKS."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, json
from flask.views import MethodView

from router.api import x_federation_schemas as schemas
from router.api.blueprint import SECURITY, RouterBlueprint
from router.api.fields import KID_PARAMETER, PIC_PARAMETER
from router.federation import delegation_forwarding, key_directory
from router.request_context import current_caller, db_session, federation

blp = RouterBlueprint(
    "x-keys",
    __name__,
    url_prefix="/api/x",
    description="escrouter: institutions' public signing and encryption keys (JWK)",
)

# The directory is public and changes rarely; verifiers may cache it briefly.
JWKS_MAX_AGE = 300


@blp.route("/public-keys")
class Keys(MethodView):
    """Your institution's public keys (scope ``keys:manage``)."""

    @blp.response(200, schemas.InstitutionKeyView(many=True))
    @blp.doc(security=SECURITY, operationId="listInstitutionKeys")
    def get(self) -> list[Any]:
        """List your keys, revoked ones included."""
        session = db_session()
        organisation = key_directory.key_manager(current_caller())
        return [key_directory.key_view(k) for k in key_directory.list_keys(session, organisation)]

    @blp.arguments(schemas.KeyRegistration)
    @blp.response(201, schemas.InstitutionKeyView)
    @blp.doc(security=SECURITY, operationId="registerInstitutionKey")
    def post(self, body: dict[str, Any]) -> Any:
        """Register a public key (a JWK with private members is refused, ER-0231)."""
        session = db_session()
        organisation = key_directory.key_manager(current_caller())
        return key_directory.key_view(
            key_directory.register_key(session, organisation, body["jwk"])
        )


@blp.route("/public-keys/<string:kid>", parameters=[KID_PARAMETER])
class KeyByKid(MethodView):
    """One of your keys."""

    @blp.response(200, schemas.InstitutionKeyView)
    @blp.doc(security=SECURITY, operationId="getInstitutionKey")
    def get(self, kid: str) -> Any:
        """Read one key."""
        organisation = key_directory.key_manager(current_caller())
        return key_directory.key_view(key_directory.get_key(db_session(), organisation, kid))


@blp.route("/public-keys/<string:kid>/revoke", parameters=[KID_PARAMETER])
class KeyRevocation(MethodView):
    """Revoke a key."""

    @blp.arguments(schemas.KeyRevocation)
    @blp.response(200, schemas.InstitutionKeyView)
    @blp.doc(security=SECURITY, operationId="revokeInstitutionKey")
    def post(self, body: dict[str, Any], kid: str) -> Any:
        """Revoke a key now; it stays listed as revoked, with the time."""
        organisation = key_directory.key_manager(current_caller())
        record = key_directory.revoke_key(db_session(), organisation, kid, body.get("reason"))
        return key_directory.key_view(record)


@blp.route("/public-keys/<string:kid>/rotate", parameters=[KID_PARAMETER])
class KeyRotation(MethodView):
    """Replace a key by a new one."""

    @blp.arguments(schemas.KeyRotation)
    @blp.response(201, schemas.InstitutionKeyView)
    @blp.doc(security=SECURITY, operationId="rotateInstitutionKey")
    def post(self, body: dict[str, Any], kid: str) -> Any:
        """Register the successor; the old key stays valid for ``graceSeconds``, then is revoked."""
        organisation = key_directory.key_manager(current_caller())
        record = key_directory.rotate_key(
            db_session(),
            organisation,
            kid,
            body["jwk"],
            dt.timedelta(seconds=body["graceSeconds"]),
        )
        return key_directory.key_view(record)


@blp.route("/directory/<string:pic>/jwks.json", parameters=[PIC_PARAMETER])
class Jwks(MethodView):
    """An institution's public keys, for anyone (no credential)."""

    @blp.response(200, schemas.JwksView)
    @blp.doc(security=[], operationId="getInstitutionJwks")
    def get(self, pic: str) -> Response:
        """The JWKS of institution ``pic``: active keys, and revoked ones apart with the time."""
        document = delegation_forwarding.jwks(db_session(), federation(), pic)
        response = Response(json.dumps(document), mimetype="application/jwk-set+json")
        response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
        return response
