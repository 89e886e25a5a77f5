"""Questions about cards, answered here or by the router that hosts the card's issuer.

The REST and GraphQL adapters call these instead of the local services: for a card of this
router (or when this router is standalone) they call the local service unchanged, after one
in-memory catalogue lookup; for a card whose issuer PIC the catalogue gives to another router,
they ask that router over a signed request and return its answer with the router it came from.
A forwarded request is answered from the receiving router's own data only: nothing is forwarded
twice, so loops cannot happen.

Forwarding another kind of request (a JSON POST answered with JSON, as delegation requests are
in :mod:`router.federation.delegation_forwarding`) takes one call on the sending side::

    answer = forwarding.forward_json(membership, escn.pic, "/api/x/federation/peer/delegations",
                                     {"jws": compact_jws})
    if answer is None:            # the PIC is hosted here: handle the request locally
        ...
    forwarding.raise_for_problem(answer)   # a 4xx of the peer becomes the same error here
    decision = answer.body                # verified JSON, signed by the home's router

and, on the receiving side, one route in ``router.api.federation`` on the ``peer_blp`` blueprint,
whose requests arrive authenticated (``peer_caller()`` names the calling router) and whose answers
are signed by the blueprint, with ``membership.require_hosted(pic)`` before anything else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from router.db import Executor
from router.domain.errors import CardNotFound, ForeignRouterCard, RouterError, all_error_classes
from router.domain.escn import parse_escn
from router.domain.verification import parse_scan
from router.federation.catalogue import RouterEntry
from router.federation.membership import Membership
from router.federation.peer_client import PeerAnswer
from router.federation.peer_errors import (
    FederationNotConfigured,
    ForwardedProblem,
    InvalidPeerSignature,
    NotHostedHere,
    PeerBadAnswer,
    PeerRefusedRequest,
    ReplayedPeerRequest,
    StalePeerRequest,
    UnknownPeerRouter,
)
from router.federation.wire import (
    PEER_CARD_PATH,
    PEER_VERIFICATIONS_PATH,
    PeerCard,
    WireError,
    parse_card,
    parse_verdict,
    verification_request_json,
)
from router.services import cards, verification
from router.services.caller import Caller, Scope
from router.services.cards import CardStatus
from router.services.lookups import CardRead, card_facts
from router.services.verification import Verdict

T = TypeVar("T")

# Refusals of this router's request by the peer: a federation fault, not the client's.
_REFUSALS = frozenset(
    cls.code
    for cls in (
        InvalidPeerSignature,
        UnknownPeerRouter,
        StalePeerRequest,
        ReplayedPeerRequest,
        NotHostedHere,
        FederationNotConfigured,
    )
)
# The client errors a peer's answer about a card may pass on: the request's own faults.
_PASSED_ON_STATUSES = frozenset({400, 404, 410, 422})
_CODE = re.compile(r"^[A-Z]{2}-[0-9]{4}$")


@dataclass(frozen=True)
class Answered(Generic[T]):
    """An answer, and the peer router it came from (None: this router answered)."""

    value: T
    router: RouterEntry | None = None


def raise_for_problem(
    answer: PeerAnswer, *, passed_on: frozenset[int] = _PASSED_ON_STATUSES
) -> None:
    """Raise the error a peer's 4xx answer stands for; return quietly on a 2xx answer.

    The peer's own client errors (unknown card, malformed number) become the same error here,
    marked with the peer's id (``answered_by``); its refusals of this router's request become
    :class:`PeerRefusedRequest` (502), since the client did nothing wrong. ``passed_on`` are
    the statuses that stand for the client's own faults on that path.
    """
    if 200 <= answer.status < 300:
        return
    router = answer.router
    body = answer.body if isinstance(answer.body, Mapping) else {}
    code, message = body.get("code"), body.get("message")
    if not isinstance(code, str) or not _CODE.match(code) or not isinstance(message, str):
        raise PeerBadAnswer(
            f"Router {router.id} answered HTTP {answer.status} without a problem.",
            router_id=router.id,
        )
    message = message[:1000]
    if code in _REFUSALS or answer.status not in passed_on:
        raise PeerRefusedRequest(
            f"Router {router.id} refused this router's request ({code}): {message}",
            router_id=router.id,
        )
    error = _known_error(code, answer.status, message) or ForwardedProblem(
        message,
        status=answer.status,
        code=code,
        title=str(body.get("title", "Problem reported by the peer router"))[:200],
        slug="forwarded-problem",
    )
    error.answered_by = router.id  # type: ignore[attr-defined]
    raise error


def _known_error(code: str, status: int, message: str) -> RouterError | None:
    for cls in all_error_classes():
        if cls.code == code and cls.status == status:
            try:
                return cls(message)
            except TypeError:  # an error class with its own constructor: pass it on as is
                return None
    return None


def forward_json(
    membership: Membership, pic: str, path: str, body: Mapping[str, Any]
) -> PeerAnswer | None:
    """POST ``body`` to ``path`` on the router hosting ``pic``; None if that is this router.

    The answer is signed by that router and verified here; 4xx answers are returned, not
    raised (see :func:`raise_for_problem`); transport and trust failures raise a PeerError.
    """
    catalogue = membership.catalogue()
    host = catalogue.host_of(pic) if catalogue is not None else None
    if host is None or host.id == membership.router_id:
        return None
    return membership.client.request(host, "POST", path, body)


def peer_card(membership: Membership, peer: RouterEntry, escn: str) -> PeerCard:
    """The peer's public answer about one of its cards, from the brief cache when fresh."""
    number = parse_escn(escn).value
    key = f"{peer.id} {number}"
    cached = membership.status_cache.get(key)
    if cached is not None:
        return cached
    answer = membership.client.request(peer, "GET", PEER_CARD_PATH.format(escn=number))
    raise_for_problem(answer)
    try:
        card = parse_card(answer.body, card_number=number, hosted_pics=peer.pics)
    except WireError as error:
        raise PeerBadAnswer(
            f"Router {peer.id} sent a malformed card answer: {error}.", router_id=peer.id
        ) from error
    membership.status_cache.put(key, card, max_age=answer.max_age)
    return card


def card_status(
    session: Executor,
    membership: Membership,
    escn: str,
    *,
    caller: Caller | None = None,
    read: CardRead | None = None,
) -> Answered[CardStatus]:
    """The v2 public status of any card of the federation.

    ``read``: the card read already, as for ``caller``; used if the card is this router's.
    """
    peer = membership.host_of_escn(escn)
    if peer is None:
        try:
            return Answered(cards.card_status(session, escn, caller=caller, read=read))
        except CardNotFound:
            membership.refuse_if_blind()
            raise
    return Answered(peer_card(membership, peer, escn).status, peer)


def public_verdict(session: Executor, membership: Membership, escn: str) -> Answered[Verdict]:
    """What the public card page shows about any card of the federation."""
    peer = membership.host_of_escn(escn)
    if peer is None:
        try:
            return Answered(verification.public_verdict(session, escn))
        except CardNotFound:
            membership.refuse_if_blind()
            raise
    return Answered(peer_card(membership, peer, escn).verdict, peer)


def verify_scan(
    session: Executor,
    membership: Membership,
    caller: Caller,
    scanned: str,
    *,
    public_url: str | None,
) -> Answered[Verdict]:
    """A partner's verification of any card of the federation, recorded at the issuer's router.

    A card of another router is verified, and the lookup recorded, by that router: this one
    keeps nothing about the card, and passes its answer on.
    """
    caller.require(Scope.VERIFY)
    try:
        escn = parse_scan(scanned, public_url)
    except ForeignRouterCard:
        # A QR code of another router of the federation names its own host: accept those.
        peers = membership.peer_urls()
        if not peers:
            raise
        escn = parse_scan(scanned, public_url, peers)
    peer = membership.host_of_escn(escn.value)
    if peer is None:
        # Only without a catalogue (never on the usual path) does this cost a lookup first.
        if membership.blind() and card_facts(session, escn.value) is None:
            membership.refuse_if_blind()
        return Answered(verification.verify_escn(session, caller, escn))
    request = verification_request_json(
        escn.value,
        caller.organisation.identifier,
        caller.organisation.name,
        holder_scope=Scope.VERIFY_HOLDER in caller.scopes,
    )
    answer = membership.client.request(peer, "POST", PEER_VERIFICATIONS_PATH, request)
    raise_for_problem(answer)
    try:
        verdict = parse_verdict(answer.body, card_number=escn.value, hosted_pics=peer.pics)
    except WireError as error:
        raise PeerBadAnswer(
            f"Router {peer.id} sent a malformed verdict: {error}.", router_id=peer.id
        ) from error
    return Answered(verdict, peer)
