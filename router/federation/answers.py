"""What this router answers a peer about its own cards, from its own data only.

Every answer first checks that the catalogue puts the card's issuer here: a router answers for
its PICs and never passes a peer's request on (one hop only).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from router.domain.errors import MalformedRequest
from router.domain.escn import parse_escn
from router.federation.inbound import PeerCaller
from router.federation.membership import Membership
from router.federation.wire import PeerCard, WireError, parse_verification_request
from router.services import cards, verification
from router.services.verification import Verdict


def card_for_peer(session: Session, membership: Membership, escn: str) -> PeerCard:
    """The public facts of a card hosted here, for a peer router (nothing personal)."""
    number = parse_escn(escn)
    membership.require_hosted(number.pic)
    status = cards.card_status(session, number.value)
    verdict = verification.public_verdict(session, number.value)
    return PeerCard(status=status, verdict=verdict)


def verification_for_peer(
    session: Session, membership: Membership, caller: PeerCaller, body: Any
) -> Verdict:
    """A partner of ``caller`` verifies a card hosted here: judged and recorded here."""
    try:
        request = parse_verification_request(body, router_id=caller.router.id)
    except WireError as error:
        raise MalformedRequest(f"Malformed verification request: {error}.") from error
    escn = parse_escn(request.card_number)
    membership.require_hosted(escn.pic)
    return verification.verify_for_peer(
        session, escn, request.partner, show_holder=request.holder_scope
    )
