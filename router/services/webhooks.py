"""Webhook subscriptions and the event outbox written beside each card or delegation change.

A change adds one outbox row per interested subscription in the same transaction as the change, so
an event exists exactly when the change was committed; :mod:`webhook_delivery` sends them later.
Who is interested in a card is decided in one place, :func:`subscriptions_for_card`; a
delegation's events go to its two institutions (:func:`subscriptions_of`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from router.db import utcnow
from router.domain.errors import (
    InsufficientScope,
    MalformedRequest,
    WebhookNotFound,
)
from router.domain.lifecycle import CardState, write_status
from router.federation.delegation_states import EVENT_TYPES as DELEGATION_EVENT_TYPES
from router.models import Card, VerificationRecord, WebhookDelivery, WebhookSubscription
from router.services.caller import Caller, Scope
from router.services.webhook_targets import Resolver, resolve_target, system_resolver

CARD_STATUS_CHANGED = "card.status_changed"
EVENT_TYPES = (CARD_STATUS_CHANGED, *DELEGATION_EVENT_TYPES)
DELETED_STATE = "DELETED"


class DeliveryStatus:
    """Where an outbox row stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"

    ALL = (PENDING, DELIVERED, DEAD)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Escr-Signature`` value: HMAC-SHA256 of ``"{timestamp}." + body`` under ``secret``."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


_SUBSCRIBER_SCOPES = frozenset({Scope.CARDS_READ, Scope.VERIFY, Scope.DELEGATIONS})


def _require_subscriber(caller: Caller) -> None:
    """Institutions (cards:read, delegations) and partners (verify) may subscribe; nobody else."""
    if not _SUBSCRIBER_SCOPES & caller.scopes:
        raise InsufficientScope(
            "Webhooks need the scope 'cards:read', 'delegations' or 'verify'; the credential has "
            f"{' '.join(sorted(caller.scopes)) or 'none'}."
        )


def create_subscription(
    session: Session,
    caller: Caller,
    url: str,
    events: list[str] | None = None,
    *,
    allow_insecure: bool = False,
    resolver: Resolver = system_resolver,
) -> WebhookSubscription:
    """Subscribe the caller's organisation; the new secret is on the returned subscription.

    The URL's host must resolve to public addresses only (see :mod:`webhook_targets`).
    """
    _require_subscriber(caller)
    wanted = list(dict.fromkeys(events or [CARD_STATUS_CHANGED]))
    unknown = [e for e in wanted if e not in EVENT_TYPES]
    if unknown:
        raise MalformedRequest(
            f"Unknown event type(s): {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}."
        )
    url = url.strip()
    resolve_target(url, allow_insecure=allow_insecure, resolver=resolver)
    subscription = WebhookSubscription(
        id=str(uuid.uuid4()),
        organisation_id=caller.organisation_id,
        url=url,
        events=" ".join(wanted),
        secret=secrets.token_urlsafe(32),
        created_at=utcnow(),
    )
    session.add(subscription)
    session.commit()
    return subscription


def list_subscriptions(session: Session, caller: Caller) -> list[WebhookSubscription]:
    """The caller's organisation's subscriptions, oldest first."""
    _require_subscriber(caller)
    return list(
        session.scalars(
            select(WebhookSubscription)
            .where(WebhookSubscription.organisation_id == caller.organisation_id)
            .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
        )
    )


def get_subscription(session: Session, caller: Caller, subscription_id: str) -> WebhookSubscription:
    """A subscription of the caller's organisation; another's is reported as not found."""
    _require_subscriber(caller)
    subscription = session.get(WebhookSubscription, subscription_id)
    # Not found rather than forbidden: a subscription id says nothing about other organisations.
    if subscription is None or subscription.organisation_id != caller.organisation_id:
        raise WebhookNotFound(f"No webhook subscription {subscription_id} is yours.")
    return subscription


def delete_subscription(session: Session, caller: Caller, subscription_id: str) -> None:
    """Remove a subscription and its pending deliveries."""
    session.delete(get_subscription(session, caller, subscription_id))
    session.commit()


def list_deliveries(
    session: Session,
    caller: Caller,
    subscription_id: str,
    status: str | None = None,
    limit: int = 100,
) -> list[WebhookDelivery]:
    """The newest deliveries of one of the caller's subscriptions, optionally of one status."""
    subscription = get_subscription(session, caller, subscription_id)
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription.id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    query = query.order_by(WebhookDelivery.id.desc()).limit(limit)
    return list(session.scalars(query))


def subscriptions_for_card(session: Session, card: Card) -> list[WebhookSubscription]:
    """The subscriptions that receive the events of ``card``.

    The card's issuer, and the partners that verified the card: they learn no more than a new
    verification would tell them, and only while their lookup is kept (the retention period).
    """
    verified_by = select(VerificationRecord.partner_id).where(
        VerificationRecord.card_number == card.card_number,
        VerificationRecord.partner_id.is_not(None),
    )
    candidates = session.scalars(
        select(WebhookSubscription)
        .where(
            or_(
                WebhookSubscription.organisation_id == card.issuer_id,
                WebhookSubscription.organisation_id.in_(verified_by),
            )
        )
        .order_by(WebhookSubscription.id)
    )
    return [s for s in candidates if CARD_STATUS_CHANGED in s.event_types]


def subscriptions_of(
    session: Session, organisation_ids: Iterable[int], event_type: str
) -> list[WebhookSubscription]:
    """The subscriptions of these organisations that receive ``event_type``."""
    candidates = session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.organisation_id.in_(set(organisation_ids)))
        .order_by(WebhookSubscription.id)
    )
    return [s for s in candidates if event_type in s.event_types]


def queue_event(
    session: Session,
    subscriptions: Iterable[WebhookSubscription],
    event_type: str,
    data: Mapping[str, Any],
    *,
    card_number: str | None = None,
) -> None:
    """Add one outbox row per subscription for an event (not committed: it joins the change)."""
    subscriptions = list(subscriptions)
    if not subscriptions:
        return
    occurred_at = utcnow()
    event_id = str(uuid.uuid4())
    body = json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "occurredAt": occurred_at.isoformat(),
            "data": dict(data),
        },
        separators=(",", ":"),
    )
    for subscription in subscriptions:
        session.add(
            WebhookDelivery(
                subscription_id=subscription.id,
                event_id=event_id,
                event_type=event_type,
                card_number=card_number,
                body=body,
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=occurred_at,
                created_at=occurred_at,
            )
        )


def record_card_event(
    session: Session,
    card: Card,
    previous_state: str | None,
    reason: str,
    *,
    deleted: bool = False,
) -> None:
    """Queue a ``card.status_changed`` event for each interested subscription (not committed).

    Call it before the change is committed: the event and the change then commit together.
    """
    state = DELETED_STATE if deleted else card.state
    status = "INACTIVE" if deleted else write_status(CardState(card.state)).value
    queue_event(
        session,
        subscriptions_for_card(session, card),
        CARD_STATUS_CHANGED,
        {
            "cardNumber": card.card_number,
            "state": state,
            "cardStatusType": status,
            "previousState": previous_state,
            "reason": reason,
        },
        card_number=card.card_number,
    )
