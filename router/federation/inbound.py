"""Peer requests arriving here: who signed them, whether they are fresh, and signed answers.

A router answers only routers of the catalogue it holds: the request's ``keyid`` must be a key
the catalogue gives some router (not this one), the signature and the body's digest must verify,
the signature and ``Date`` must be within the clock skew, and the request id must be new. Request
ids are remembered in the database for twice the skew (a request dated up to one skew ahead stays
acceptable for two), so a replay is refused by whichever worker or host receives it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import HTTPMessageSignaturesException
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from router.federation.catalogue import RouterEntry
from router.federation.http_signatures import (
    LABEL,
    REQUEST_ID_HEADER,
    REQUEST_ID_PATTERN,
    SignableRequest,
    SignableResponse,
    SignatureRefused,
    StaleSignature,
    UnknownKey,
    sign_response,
    verify_request,
)
from router.federation.membership import Membership
from router.federation.peer_errors import (
    InvalidPeerSignature,
    ReplayedPeerRequest,
    StalePeerRequest,
    UnknownPeerRouter,
)
from router.models import PeerRequestSeen


@dataclass(frozen=True)
class PeerCaller:
    """The router behind an authenticated peer request."""

    router: RouterEntry
    request_id: str


def authenticate_peer(
    session: Session,
    membership: Membership,
    request: SignableRequest,
    body: bytes,
    *,
    now: dt.datetime,
) -> PeerCaller:
    """Check a peer request's signature, freshness and novelty; name the router that sent it."""
    catalogue = membership.answering_catalogue()
    skew = dt.timedelta(seconds=membership.settings.clock_skew_seconds)

    def resolve(kid: str) -> Ed25519PublicKey | None:
        found = catalogue.key(kid)
        return found[1].key if found is not None else None

    try:
        verified = verify_request(request, body, resolve=resolve, now=now, skew=skew)
    except UnknownKey as error:
        raise UnknownPeerRouter(
            f"The key {error.kid} belongs to no router of the federation catalogue "
            f"(serial {catalogue.serial}) held by {membership.router_id}."
        ) from error
    except StaleSignature as error:
        raise StalePeerRequest(f"Refused: {error}.") from error
    except SignatureRefused as error:
        raise InvalidPeerSignature(f"Refused: {error}.") from error
    found = catalogue.key(verified.kid)
    assert found is not None
    router = found[0]
    if router.id == membership.router_id:
        raise UnknownPeerRouter("A router does not send requests to itself.")
    remember_request(session, router.id, verified.request_id, now=now, keep=2 * skew)
    return PeerCaller(router=router, request_id=verified.request_id)


def remember_request(
    session: Session, router_id: str, request_id: str, *, now: dt.datetime, keep: dt.timedelta
) -> None:
    """Record a peer's request id, refusing one already seen; forget those past ``keep``."""
    session.execute(delete(PeerRequestSeen).where(PeerRequestSeen.seen_at < now - keep))
    session.add(PeerRequestSeen(router_id=router_id, request_id=request_id, seen_at=now))
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise ReplayedPeerRequest(
            f"Request {request_id} of router {router_id} was received before; a request id "
            "is used once."
        ) from error


def sign_answer(
    membership: Membership,
    request: SignableRequest,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: dt.datetime,
) -> dict[str, str]:
    """The headers that sign an answer to ``request`` (empty when it cannot be signed).

    An answer is signed when this router has a key and the request carried a request id and a
    federation signature to bind the answer to, even when the request itself was refused: the
    caller can then trust the refusal.
    """
    identity = membership.identity
    request_headers = {k.lower(): v for k, v in request.headers.items()}
    request_id = request_headers.get(REQUEST_ID_HEADER.lower(), "")
    if (
        identity is None
        or not REQUEST_ID_PATTERN.match(request_id)
        or f"{LABEL}=" not in request_headers.get("signature", "")
    ):
        return {}
    response = SignableResponse(
        status_code=status,
        headers={"Content-Type": headers.get("Content-Type", ""), REQUEST_ID_HEADER: request_id},
        request=request,
    )
    try:
        sign_response(response, body, key=identity.private_key, kid=identity.public.kid, now=now)
    except HTTPMessageSignaturesException:  # the request's own signature header is malformed
        return {}
    return {
        name: response.headers[name]
        for name in ("Content-Digest", "Signature-Input", "Signature", REQUEST_ID_HEADER)
    }
