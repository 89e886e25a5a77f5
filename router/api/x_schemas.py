"""Schemas of escrouter's own endpoints under ``/api/x`` (beside the real router's API)."""

from __future__ import annotations

from marshmallow import fields, validate

from router.api.fields import IsoDate, Text, Timestamp
from router.api.schemas import (
    BLANK_OR_ESCN_PATTERN,
    CardView,
    CsvValidationError,
    InputSchema,
    OrganisationLiteView,
)
from router.domain import text
from router.domain.lifecycle import CardAction, HistoryEvent
from router.services.batch import MAX_BATCH_ITEMS
from router.services.caller import Scope
from router.services.cards import CARD_TYPES, CSN_PATTERN
from router.services.organisations import KINDS
from router.services.webhooks import CARD_STATUS_CHANGED, EVENT_TYPES


class OrganisationCreate(InputSchema):
    """An organisation to register (administrators only)."""

    identifier = Text(
        text.ORGANISATION_IDENTIFIER_LENGTH,
        required=True,
        metadata={"description": "PIC (or VAT)"},
    )
    identifierType = fields.String(load_default="PIC", validate=validate.OneOf(["PIC", "VAT"]))
    kind = fields.String(load_default="institution", validate=validate.OneOf(KINDS))
    name = Text(text.NAME_LENGTH, required=True, min_length=1)
    country = Text(2, min_length=2, allow_none=True)
    schacHomeOrganization = Text(text.NAME_LENGTH, allow_none=True)
    website = Text(text.NAME_LENGTH, allow_none=True)
    escnPrefixes = fields.List(Text(3), load_default=lambda: ["001"])


class OrganisationUpdate(InputSchema):
    """Changes to an organisation; absent fields stay as they are."""

    name = Text(text.NAME_LENGTH, min_length=1)
    country = Text(2, min_length=2)
    schacHomeOrganization = Text(text.NAME_LENGTH)
    website = Text(text.NAME_LENGTH)
    escnPrefixes = fields.List(Text(3))


class OrganisationView(OrganisationLiteView):
    """An organisation with what only escrouter keeps: kind, country, ESCN prefixes."""

    kind = fields.String()
    country = fields.String()
    escnPrefixes = fields.List(fields.String())


class ApiKeyCreate(InputSchema):
    """A new API key for the caller's organisation."""

    name = Text(text.NAME_LENGTH, load_default="")
    scopes = fields.List(
        fields.String(validate=validate.OneOf(Scope.ALL)),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "At least one; only scopes your own credential holds"},
    )
    expiresAt = Timestamp(allow_none=True, metadata={"description": "In the future"})


class ApiKeyView(InputSchema):
    """An API key as listed: its prefix, never its secret."""

    prefix = fields.String()
    name = fields.String()
    scopes = fields.List(fields.String())
    createdAt = fields.DateTime()
    expiresAt = fields.DateTime(allow_none=True)
    revokedAt = fields.DateTime(allow_none=True)
    lastUsedAt = fields.DateTime(allow_none=True)


class IssuedApiKeyView(ApiKeyView):
    """A newly issued key: the secret appears in this answer only."""

    secret = fields.String()


class CardTransition(InputSchema):
    """A lifecycle action on a card; the renewal fields apply to the replacement card."""

    action = fields.String(required=True, validate=validate.OneOf([a.value for a in CardAction]))
    issuedAt = IsoDate(allow_none=True)
    expiresAt = IsoDate(allow_none=True)
    cardNumber = Text(
        text.CARD_NUMBER_LENGTH, allow_none=True, identifier_pattern=BLANK_OR_ESCN_PATTERN
    )
    cardType = fields.String(allow_none=True, validate=validate.OneOf(CARD_TYPES))
    displayName = Text(text.DISPLAY_NAME_LENGTH, allow_none=True)
    csn = Text(text.CSN_LENGTH, allow_none=True, identifier_pattern=CSN_PATTERN)


class CardLifecycleView(InputSchema):
    """A card's lifecycle: its state, what it allows next, and its replacement if renewed."""

    cardNumber = fields.String()
    state = fields.String()
    cardStatusType = fields.String(metadata={"description": "The v2 status: ACTIVE or INACTIVE"})
    allowedActions = fields.List(fields.String())
    replacedBy = fields.String(allow_none=True)
    replacement = fields.Nested(CardView, allow_none=True)


class HistoryEntryView(InputSchema):
    """One entry of a card's history: no personal data, only what happened and who did it."""

    at = fields.DateTime()
    event = fields.String(validate=validate.OneOf([e.value for e in HistoryEvent]))
    fromState = fields.String(allow_none=True)
    toState = fields.String(allow_none=True)
    actorOrganisation = fields.String(allow_none=True)
    actorCredential = fields.String(allow_none=True)
    relatedCardNumber = fields.String(allow_none=True)


class BatchRequest(InputSchema):
    """A batch: 1 to 500 items, each validated on its own so one bad item fails alone."""

    items = fields.List(
        # Any JSON value: an item that is not a valid view fails alone, in the results.
        fields.Raw(allow_none=True),
        required=True,
        # Checked by the service (ER-0083, after the scope), documented here.
        metadata={
            "description": "Each item is validated on its own",
            "minItems": 1,
            "maxItems": MAX_BATCH_ITEMS,
        },
    )


class BatchItemError(InputSchema):
    """Why an item failed: the code and message the single call would have answered."""

    code = fields.String()
    message = fields.String()


class BatchItemResult(InputSchema):
    """The result of one item of a batch."""

    index = fields.Integer()
    outcome = fields.String(validate=validate.OneOf(["created", "updated", "unchanged", "failed"]))
    status = fields.Integer(metadata={"description": "HTTP status of the equivalent single call"})
    identifier = fields.String(allow_none=True, metadata={"description": "ESI or card number"})
    error = fields.Nested(BatchItemError, allow_none=True)


class BatchSummary(InputSchema):
    """How many items ended in each outcome."""

    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    failed = fields.Integer()


class BatchResponse(InputSchema):
    """Per-item results, in the order of the items, and their summary."""

    results = fields.List(fields.Nested(BatchItemResult))
    summary = fields.Nested(BatchSummary)


class WebhookCreate(InputSchema):
    """A callback URL (https://) and the event types it receives."""

    url = Text(text.URL_LENGTH, required=True, min_length=1)
    events = fields.List(
        fields.String(validate=validate.OneOf(EVENT_TYPES)),
        load_default=lambda: [CARD_STATUS_CHANGED],
        validate=validate.Length(min=1),
    )


class WebhookView(InputSchema):
    """A webhook subscription, without its secret."""

    id = fields.String()
    url = fields.String()
    events = fields.List(fields.String())
    createdAt = fields.DateTime()


class CreatedWebhookView(WebhookView):
    """A new subscription: the signing secret appears in this answer only."""

    secret = fields.String()


class DeliveryArgs(InputSchema):
    """Filter of the delivery list."""

    status = fields.String(validate=validate.OneOf(["pending", "delivered", "dead"]))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class DeliveryView(InputSchema):
    """One event sent (or to send) to a subscription, with its attempts."""

    id = fields.Integer()
    eventId = fields.String()
    eventType = fields.String()
    cardNumber = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "pending, delivered or dead (gave up)"})
    attempts = fields.Integer()
    nextAttemptAt = fields.DateTime(allow_none=True)
    lastAttemptAt = fields.DateTime(allow_none=True)
    lastStatusCode = fields.Integer(allow_none=True)
    lastError = fields.String(allow_none=True)
    deliveredAt = fields.DateTime(allow_none=True)
    createdAt = fields.DateTime()
    payload = fields.Dict(metadata={"description": "The JSON body sent"})


class CsvImportRowResult(InputSchema):
    """The outcome of one row of a CSV import."""

    rowNumber = fields.Integer()
    outcome = fields.String(
        validate=validate.OneOf(["created", "updated", "unchanged", "deleted", "failed"])
    )
    status = fields.Integer(metadata={"description": "HTTP status of the equivalent single call"})
    identifier = fields.String(allow_none=True, metadata={"description": "The card number"})
    error = fields.Nested(BatchItemError, allow_none=True)
    errors = fields.List(fields.Nested(CsvValidationError))


class CsvImportSummary(BatchSummary):
    """How many rows ended in each outcome."""

    deleted = fields.Integer()


class CsvImportResponse(InputSchema):
    """Per-row results, in file order, and their summary."""

    results = fields.List(fields.Nested(CsvImportRowResult))
    summary = fields.Nested(CsvImportSummary)
