"""Schemas of the federation endpoints: institution keys, the JWKS, delegations."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from router.api.fields import Text
from router.api.schemas import InputSchema, Link, PageMetadata, page_args
from router.federation.delegation_states import DelegationState
from router.federation.key_directory import MAX_ROTATION_GRACE
from sgc_client.protocol.jose import PRIVATE_MEMBERS

_STATES = [s.value for s in DelegationState]
# One state, or several separated by commas.
_STATE_WORD = f"(?:{'|'.join(_STATES)})"
STATE_LIST_PATTERN = f"^{_STATE_WORD}(?:,{_STATE_WORD})*$"


class KeyRegistration(InputSchema):
    """A public key to register: a JWK without private members."""

    jwk = fields.Dict(
        required=True,
        metadata={
            "description": "Public JWK: EC P-256 (use sig with alg ES256, or use enc with alg "
            "ECDH-ES) or OKP Ed25519 (alg Ed25519); kid defaults to the RFC 7638 thumbprint",
            "example": {"kty": "EC", "crv": "P-256", "x": "…", "y": "…", "use": "sig"},
            # The members the router refuses (ER-0231), so the document says it as well.
            "not": {"anyOf": [{"required": [member]} for member in sorted(PRIVATE_MEMBERS)]},
        },
    )


class KeyRotation(KeyRegistration):
    """The successor of a key, and how long the old one stays valid beside it."""

    graceSeconds = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=int(MAX_ROTATION_GRACE.total_seconds())),
        metadata={"description": "The old key stays valid this long (0 to 7 days)"},
    )


class KeyRevocation(InputSchema):
    """Why a key is revoked (optional)."""

    reason = Text(255, load_default=None, allow_none=True)


class InstitutionKeyView(Schema):
    """One of your institution's keys."""

    kid = fields.String()
    use = fields.String(metadata={"enum": ["sig", "enc"]})
    alg = fields.String()
    jwk = fields.Dict()
    thumbprint = fields.String(metadata={"description": "RFC 7638 SHA-256 thumbprint"})
    createdAt = fields.DateTime()
    revokedAt = fields.DateTime(
        allow_none=True, metadata={"description": "In the future while a rotation's grace runs"}
    )
    revocationReason = fields.String(allow_none=True)
    replacedBy = fields.String(allow_none=True)


class JwksView(Schema):
    """An institution's public keys: active in ``keys``, revoked (with the time) in ``revoked``."""

    keys = fields.List(fields.Dict())
    revoked = fields.List(fields.Dict())


class DelegationSubmission(InputSchema):
    """A delegation request: the host's compact JWS."""

    request = Text(
        65536,
        min_length=1,
        required=True,
        metadata={"description": "Compact JWS, typ escr-delegation-request+jwt"},
    )


class DecisionSubmission(InputSchema):
    """The home's decision: a compact JWS."""

    decision = Text(
        65536,
        min_length=1,
        required=True,
        metadata={"description": "Compact JWS, typ escr-delegation-decision+jwt"},
    )


class CancelRequest(InputSchema):
    """Why the host withdraws its request (optional)."""

    reason = Text(500, load_default=None, allow_none=True)


class OutcomeReport(InputSchema):
    """How writing the application on the card ended."""

    outcome = fields.String(required=True, validate=validate.OneOf(["completed", "failed"]))
    reason = Text(500, load_default=None, allow_none=True)


class DelegationListArgs(page_args("DelegationPageArgs", ("requestedAt", "id"))):
    """Paging and filters of the delegation list (sort: requestedAt, the default, or id)."""

    class Meta:
        """No free-text search here; unknown fields are ignored."""

        unknown = EXCLUDE
        exclude = ("search",)

    role = fields.String(
        validate=validate.OneOf(["home", "host"]),
        metadata={"description": "home: asked of you; host: asked by you; both when absent"},
    )
    state = fields.List(
        Text(128, pattern=STATE_LIST_PATTERN),
        metadata={"description": "Repeat (or separate by commas) for several states"},
    )


class DelegationEventView(Schema):
    """One change of a delegation."""

    at = fields.DateTime()
    state = fields.String(metadata={"enum": _STATES})
    actor = fields.String(allow_none=True, metadata={"description": "PIC; null for the router"})
    reason = fields.String(allow_none=True)


class DelegationView(Schema):
    """A delegation as its host and its home see it (nobody else does)."""

    id = fields.String(metadata={"description": "The request's id (its jti)"})
    state = fields.String(metadata={"enum": _STATES})
    host = fields.String(metadata={"description": "PIC of the institution asking"})
    home = fields.String(metadata={"description": "PIC of the card's issuer, who decides"})
    cardNumber = fields.String()
    uid = fields.String()
    application = fields.Dict()
    issuedAt = fields.DateTime()
    expiresAt = fields.DateTime()
    requestedAt = fields.DateTime()
    deliveredAt = fields.DateTime(allow_none=True)
    decidedAt = fields.DateTime(allow_none=True)
    finishedAt = fields.DateTime(allow_none=True)
    decision = fields.String(allow_none=True, metadata={"enum": ["approve", "refuse"]})
    decisionReason = fields.String(allow_none=True)
    outcomeReason = fields.String(allow_none=True)
    request = fields.String(metadata={"description": "The request JWS as received"})
    requestHash = fields.String()
    decisionToken = fields.String(
        allow_none=True, metadata={"description": "The decision JWS as received"}
    )
    peerRouter = fields.String(
        allow_none=True,
        metadata={
            "description": "Id of the other institution's router when it is not this one: the "
            "card's home router answered (host's side), or the host's router asked (home's side)"
        },
    )
    history = fields.List(fields.Nested(DelegationEventView))


class PagedDelegations(Schema):
    """A page of delegations."""

    content = fields.List(fields.Nested(DelegationView))
    empty = fields.Boolean()
    links = fields.List(fields.Nested(Link))
    page = fields.Nested(PageMetadata)
