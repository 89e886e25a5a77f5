"""``/api/x/cards``: the card lifecycle (lost, stolen, suspended, renewed...) and its history."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy import select

from router.api import x_schemas
from router.api.blueprint import SECURITY, RouterBlueprint
from router.api.fields import ESCN_PARAMETER
from router.api.v2_cards import full_view
from router.domain.lifecycle import CardAction, CardState, allowed_actions, write_status
from router.models import Card, Organisation
from router.request_context import current_caller, db_session
from router.services import cards

blp = RouterBlueprint(
    "x-cards", __name__, url_prefix="/api/x/cards", description="escrouter: card lifecycle"
)


def lifecycle_view(card: Card, replacement: Card | None = None) -> dict[str, Any]:
    """The CardLifecycleView of a card."""
    state = CardState(card.state)
    return {
        "cardNumber": card.card_number,
        "state": state.value,
        "cardStatusType": write_status(state).value,
        "allowedActions": sorted(a.value for a in allowed_actions(state)),
        "replacedBy": card.replaced_by,
        "replacement": full_view(replacement) if replacement else None,
    }


@blp.route("/<string:escn>/lifecycle", parameters=[ESCN_PARAMETER])
class Lifecycle(MethodView):
    """A card's lifecycle state."""

    @blp.response(200, x_schemas.CardLifecycleView)
    @blp.doc(security=SECURITY)
    def get(self, escn: str) -> dict[str, Any]:
        """Read a card's state and the actions it allows."""
        return lifecycle_view(cards.get_card(db_session(), current_caller(), escn))

    @blp.arguments(x_schemas.CardTransition)
    @blp.response(200, x_schemas.CardLifecycleView)
    @blp.doc(security=SECURITY)
    def post(self, body: dict[str, Any], escn: str) -> dict[str, Any]:
        """Report a card lost or stolen, suspend, deactivate, reactivate, renew or destroy it."""
        renewal = cards.RenewalInput(
            issued_at=body.get("issuedAt"),
            expires_at=body.get("expiresAt"),
            card_number=body.get("cardNumber"),
            card_type=body.get("cardType"),
            display_name=body.get("displayName"),
            csn=body.get("csn"),
        )
        card, replacement = cards.change_state(
            db_session(), current_caller(), escn, CardAction(body["action"]), renewal
        )
        return lifecycle_view(card, replacement)


@blp.route("/<string:escn>/history", parameters=[ESCN_PARAMETER])
class History(MethodView):
    """A card's append-only history."""

    @blp.response(200, x_schemas.HistoryEntryView(many=True))
    @blp.doc(security=SECURITY)
    def get(self, escn: str) -> list[dict[str, Any]]:
        """Every change of a card, oldest first: when, what, from which state to which, by whom."""
        session = db_session()
        entries = cards.card_history(session, current_caller(), escn)
        actor_ids = {e.actor_organisation_id for e in entries if e.actor_organisation_id}
        actors = dict(
            session.execute(
                select(Organisation.id, Organisation.identifier).where(
                    Organisation.id.in_(actor_ids)
                )
            ).all()
        )
        return [
            {
                "at": e.at,
                "event": e.event,
                "fromState": e.from_state,
                "toState": e.to_state,
                "actorOrganisation": actors.get(e.actor_organisation_id),
                "actorCredential": e.actor_credential,
                "relatedCardNumber": e.related_card_number,
            }
            for e in entries
        ]
