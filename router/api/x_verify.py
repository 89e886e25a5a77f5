"""``/api/x/verify`` (partners check a scanned card) and ``/api/x/verifications`` (the log)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from router.api.blueprint import SECURITY, RouterBlueprint
from router.api.fields import ESCN_PATTERN, BoundedInteger, Text
from router.api.problems import ANSWERED_BY_HEADER
from router.api.representations import json_response, paged
from router.api.schemas import InputSchema, Link, PageMetadata
from router.domain.text import INT32_MAX
from router.domain.verification import VerdictReason
from router.federation import forwarding
from router.models import VerificationRecord
from router.request_context import (
    current_caller,
    db_session,
    federation,
    lookup_connection,
    settings,
)
from router.services import verification
from router.services.pagination import PageRequest

blp = RouterBlueprint(
    "x-verify",
    __name__,
    url_prefix="/api/x",
    description="escrouter: partner verification of scanned cards, and its log",
)


class VerifyRequest(InputSchema):
    """What a partner's reader scanned."""

    scanned = Text(
        4096,
        min_length=1,
        required=True,
        metadata={
            "description": "The QR code's text (https://host/cards/<ESCN>, http://esc.gg/<ESCN>) "
            "or a bare card number",
            "example": "https://router.example/cards/f81d4fae-7dec-11d0-a765-001999999999",
        },
    )


class IssuerView(Schema):
    """The public facts of the card's issuer."""

    identifier = fields.String(metadata={"description": "PIC"})
    name = fields.String()
    country = fields.String(allow_none=True)


class VerdictView(Schema):
    """Minimal disclosure: valid or not, why, the issuer and the expiry."""

    valid = fields.Boolean()
    reason = fields.String(
        allow_none=True,
        metadata={
            "enum": [r.value for r in VerdictReason],
            "description": "null when valid",
        },
    )
    cardNumber = fields.String(allow_none=True)
    issuer = fields.Nested(IssuerView, allow_none=True)
    expiresAt = fields.Date(allow_none=True)
    displayName = fields.String(
        allow_none=True, metadata={"description": "Only with the verify:holder scope"}
    )
    checkedAt = fields.DateTime()
    answeredBy = fields.String(
        allow_none=True,
        metadata={
            "description": "The router of the federation that answered, when the card is hosted "
            "by another router (also in the Escr-Answered-By header); null when this one did"
        },
    )


class VerificationArgs(InputSchema):
    """Paging of the verification log, newest first by default."""

    cardNumber = Text(
        64,
        identifier_pattern=ESCN_PATTERN,
        metadata={"description": "Only the lookups of this card"},
    )
    sort = fields.String(
        load_default="checkedAt", validate=validate.OneOf(sorted(verification.VERIFICATION_SORTS))
    )
    direction = fields.String(
        load_default="DESC", validate=validate.OneOf(["ASC", "DESC", "asc", "desc"])
    )
    page = BoundedInteger(load_default=0, maximum=INT32_MAX)
    size = BoundedInteger(load_default=10, minimum=1, maximum=INT32_MAX)


class PartnerView(Schema):
    """The organisation that verified."""

    identifier = fields.String()
    name = fields.String()
    kind = fields.String(allow_none=True)
    router = fields.String(
        allow_none=True,
        metadata={"description": "The partner's router, when it is a partner of a peer router"},
    )


class VerificationRecordView(Schema):
    """One recorded lookup of one of your cards."""

    id = fields.Integer()
    cardNumber = fields.String()
    checkedAt = fields.DateTime()
    valid = fields.Boolean()
    reason = fields.String(allow_none=True)
    partner = fields.Nested(PartnerView, allow_none=True)


class PagedVerificationRecords(Schema):
    """A page of verification records."""

    content = fields.List(fields.Nested(VerificationRecordView))
    empty = fields.Boolean()
    links = fields.List(fields.Nested(Link))
    page = fields.Nested(PageMetadata)


def verdict_view(verdict: verification.Verdict, answered_by: str | None = None) -> dict[str, Any]:
    """The VerdictView of a verdict as JSON values (``answered_by``: the peer that gave it).

    What the schema's dump gives, without the dump (tests/api/test_representations holds them
    equal): the answer is rendered from this directly.
    """
    issuer = verdict.issuer
    return {
        "valid": verdict.valid,
        "reason": verdict.reason.value if verdict.reason else None,
        "cardNumber": verdict.card_number,
        "issuer": (
            {"identifier": issuer.identifier, "name": issuer.name, "country": issuer.country}
            if issuer
            else None
        ),
        "expiresAt": None if verdict.expires_at is None else verdict.expires_at.isoformat(),
        "displayName": verdict.display_name,
        "checkedAt": verdict.checked_at.isoformat(),
        "answeredBy": answered_by,
    }


def record_view(record: VerificationRecord) -> dict[str, Any]:
    """The VerificationRecordView of a record (the partner may since have been removed)."""
    partner = record.partner
    if partner is not None:
        partner_view: dict[str, Any] | None = {
            "identifier": partner.identifier,
            "name": partner.name,
            "kind": partner.kind,
            "router": None,
        }
    elif record.partner_router is not None:
        partner_view = {
            "identifier": record.partner_identifier,
            "name": record.partner_name,
            "kind": None,
            "router": record.partner_router,
        }
    else:
        partner_view = None
    return {
        "id": record.id,
        "cardNumber": record.card_number,
        "checkedAt": record.at,
        "valid": record.valid,
        "reason": record.reason,
        "partner": partner_view,
    }


@blp.route("/verify")
class Verify(MethodView):
    """Verify a scanned card."""

    @blp.arguments(VerifyRequest)
    @blp.response(200, VerdictView)
    @blp.doc(security=SECURITY, operationId="verifyScan")
    def post(self, body: dict[str, Any]) -> Response:
        """Tell a partner whether the scanned card is valid (scope ``verify``); recorded.

        A card hosted by another router of the federation is verified, and recorded, there.
        """
        connection = lookup_connection()  # one INSERT is the only write: no transaction around it
        answer = forwarding.verify_scan(
            connection,
            federation(),
            current_caller(),
            body["scanned"],
            public_url=settings().public_url,
        )
        origin = answer.router.id if answer.router is not None else None
        headers = {ANSWERED_BY_HEADER: origin} if origin is not None else {}
        # Rendered here, not dumped by the schema: the same JSON for less.
        return json_response(verdict_view(answer.value, origin), headers)


@blp.route("/verifications")
class Verifications(MethodView):
    """The recorded partner lookups of your organisation's cards."""

    @blp.arguments(VerificationArgs, location="query")
    @blp.response(200, PagedVerificationRecords)
    @blp.doc(security=SECURITY, operationId="listVerifications")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List who verified your cards, when, and the verdict (scope ``cards:read``)."""
        page = verification.list_verifications(
            db_session(),
            current_caller(),
            PageRequest(
                page=args["page"],
                size=args["size"],
                sort=args["sort"],
                direction=args["direction"].upper(),
            ),
            card_number=args.get("cardNumber"),
            max_size=settings().max_page_size,
        )
        return paged(page, [record_view(r) for r in page.items])
