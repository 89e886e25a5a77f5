"""``/api/x/webhooks``: subscriptions to card status changes, and their deliveries."""

from __future__ import annotations

import json
from typing import Any

from flask.views import MethodView

from router.api import x_schemas
from router.api.blueprint import SECURITY, RouterBlueprint
from router.api.fields import SUBSCRIPTION_ID_PARAMETER
from router.models import WebhookDelivery, WebhookSubscription
from router.request_context import current_caller, db_session, settings
from router.services import webhooks

blp = RouterBlueprint(
    "x-webhooks", __name__, url_prefix="/api/x/webhooks", description="escrouter: webhooks"
)


def subscription_view(
    subscription: WebhookSubscription, *, with_secret: bool = False
) -> dict[str, Any]:
    """The WebhookView of a subscription (with its secret right after creating it)."""
    view: dict[str, Any] = {
        "id": subscription.id,
        "url": subscription.url,
        "events": subscription.event_types,
        "createdAt": subscription.created_at,
    }
    if with_secret:
        view["secret"] = subscription.secret
    return view


def delivery_view(delivery: WebhookDelivery) -> dict[str, Any]:
    """The DeliveryView of an outbox row."""
    return {
        "id": delivery.id,
        "eventId": delivery.event_id,
        "eventType": delivery.event_type,
        "cardNumber": delivery.card_number,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "nextAttemptAt": (
            delivery.next_attempt_at if delivery.status == webhooks.DeliveryStatus.PENDING else None
        ),
        "lastAttemptAt": delivery.last_attempt_at,
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error,
        "deliveredAt": delivery.delivered_at,
        "createdAt": delivery.created_at,
        "payload": json.loads(delivery.body),
    }


@blp.route("")
class Webhooks(MethodView):
    """Your organisation's webhook subscriptions."""

    @blp.response(200, x_schemas.WebhookView(many=True))
    @blp.doc(security=SECURITY)
    def get(self) -> list[dict[str, Any]]:
        """List your subscriptions (never their secrets)."""
        return [
            subscription_view(s)
            for s in webhooks.list_subscriptions(db_session(), current_caller())
        ]

    @blp.arguments(x_schemas.WebhookCreate)
    @blp.response(201, x_schemas.CreatedWebhookView)
    @blp.doc(security=SECURITY)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Subscribe an https:// URL; the signing secret is shown in this answer only."""
        subscription = webhooks.create_subscription(
            db_session(),
            current_caller(),
            body["url"],
            body["events"],
            allow_insecure=settings().webhook_allow_insecure,
        )
        return subscription_view(subscription, with_secret=True)


@blp.route("/<string:subscription_id>", parameters=[SUBSCRIPTION_ID_PARAMETER])
class WebhookById(MethodView):
    """One subscription."""

    @blp.response(204)
    @blp.doc(security=SECURITY)
    def delete(self, subscription_id: str) -> None:
        """Unsubscribe; events not yet delivered to it are dropped."""
        webhooks.delete_subscription(db_session(), current_caller(), subscription_id)


@blp.route("/<string:subscription_id>/deliveries", parameters=[SUBSCRIPTION_ID_PARAMETER])
class Deliveries(MethodView):
    """The deliveries of one subscription."""

    @blp.arguments(x_schemas.DeliveryArgs, location="query")
    @blp.response(200, x_schemas.DeliveryView(many=True))
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], subscription_id: str) -> list[dict[str, Any]]:
        """The newest deliveries, pending, delivered or dead (given up after every retry)."""
        rows = webhooks.list_deliveries(
            db_session(), current_caller(), subscription_id, args.get("status"), args["limit"]
        )
        return [delivery_view(d) for d in rows]
