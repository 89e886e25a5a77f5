"""Schemas of escrouter's own endpoints under ``/api/x`` (beside the real router's API)."""

from __future__ import annotations

from marshmallow import fields, validate

from router.api.schemas import CardView, CsvValidationError, InputSchema, OrganisationLiteView
from router.domain.lifecycle import CardAction, HistoryEvent
from router.services.caller import Scope
from router.services.organisations import KINDS
from router.services.webhooks import CARD_STATUS_CHANGED, EVENT_TYPES


class OrganisationCreate(InputSchema):
    """An organisation to register (administrators only)."""

    identifier = fields.String(required=True, metadata={"description": "PIC (or VAT)"})
    identifierType = fields.String(load_default="PIC", validate=validate.OneOf(["PIC", "VAT"]))
    kind = fields.String(load_default="institution", validate=validate.OneOf(KINDS))
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    country = fields.String(validate=validate.Length(equal=2), allow_none=True)
    schacHomeOrganization = fields.String(allow_none=True)
    website = fields.String(allow_none=True)
    escnPrefixes = fields.List(fields.String(), load_default=lambda: ["001"])


class OrganisationUpdate(InputSchema):
    """Changes to an organisation; absent fields stay as they are."""

    name = fields.String(validate=validate.Length(min=1, max=255))
    country = fields.String(validate=validate.Length(equal=2))
    schacHomeOrganization = fields.String()
    website = fields.String()
    escnPrefixes = fields.List(fields.String())


class OrganisationView(OrganisationLiteView):
    """An organisation with what only escrouter keeps: kind, country, ESCN prefixes."""

    kind = fields.String()
    country = fields.String()
    escnPrefixes = fields.List(fields.String())


class ApiKeyCreate(InputSchema):
    """A new API key for the caller's organisation."""

    name = fields.String(load_default="", validate=validate.Length(max=255))
    scopes = fields.List(fields.String(validate=validate.OneOf(Scope.ALL)))
    expiresAt = fields.AwareDateTime(allow_none=True)


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
    issuedAt = fields.Date(allow_none=True)
    expiresAt = fields.Date(allow_none=True)
    cardNumber = fields.String(allow_none=True)
    cardType = fields.String(allow_none=True)
    displayName = fields.String(allow_none=True)
    csn = fields.String(allow_none=True)


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

    items = fields.List(fields.Raw(), required=True)


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

    url = fields.String(required=True, validate=validate.Length(min=1, max=2048))
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
