"""The home's router: delegation requests forwarded by the host's router, and their later moves.

A peer router speaks only for the institutions the catalogue gives it: a forwarded request whose
host is not one of them is refused (:class:`HostNotOfCallingRouter`), and only the router that
forwarded a delegation may read it, cancel it or report its outcome (any other is told it does not
exist). The host's signature is checked against the public keys its router forwarded with the
request, inside that router's signed message: the host's keys are registered on its own router,
and the catalogue makes that router the one to vouch for them. Everything else (times, replays,
the card, the chip UID, the secret's recipient) is checked by the same rules as a local request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from router.db import utcnow
from router.domain.errors import MalformedRequest
from router.domain.escn import parse_escn
from router.federation import delegation_requests, delegations
from router.federation.delegation_requests import VerifiedRequest, read_signed, refusal
from router.federation.delegation_states import DelegationState, Party
from router.federation.errors import (
    DelegationNotFound,
    ForgedRequest,
    HostNotOfCallingRouter,
    InvalidForwardedKeys,
    RevokedSigningKey,
    UnknownSigningKey,
)
from router.federation.inbound import PeerCaller
from router.federation.membership import Membership
from router.federation.records import Delegation
from sgc_client.protocol import delegation as protocol
from sgc_client.protocol import jose
from sgc_client.protocol.errors import ProtocolError

MAX_FORWARDED_KEYS = 32


def _host_keys(document: Any) -> tuple[dict[str, Any], list[jose.PublicKey]]:
    """The forwarded JWKS, normalised (active keys only), and its keys; refuses anything else."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise InvalidForwardedKeys("hostKeys is a JWKS: an object with a list of keys.")
    members, revoked = document["keys"], document.get("revoked") or []
    if len(members) + len(revoked) > MAX_FORWARDED_KEYS or not isinstance(revoked, list):
        raise InvalidForwardedKeys(f"hostKeys lists at most {MAX_FORWARDED_KEYS} keys.")
    try:
        keys = [jose.public_key_from_jwk(member) for member in members]
        revoked_kids = {jose.public_key_from_jwk(member).kid for member in revoked}
    except ProtocolError as error:
        raise InvalidForwardedKeys(f"hostKeys holds an invalid key: {error.message}") from error
    return {"keys": [dict(k.jwk) for k in keys], "revoked": sorted(revoked_kids)}, keys


def verify_forwarded(
    session: Session, membership: Membership, caller: PeerCaller, body: Any
) -> VerifiedRequest:
    """Check a forwarded request: its host is the calling router's, signed by the host's key."""
    if not isinstance(body, Mapping):
        raise MalformedRequest("A forwarded delegation is an object with request and hostKeys.")
    now = utcnow()
    message = read_signed(body.get("request"), protocol.REQUEST_TYPE)
    try:
        host_pic = protocol.pic_of(message.claims.get("iss"), "iss")
        home_pic = parse_escn(str(message.claims.get("escn", ""))).pic
    except ProtocolError as error:
        raise refusal(error) from error
    if host_pic not in caller.router.pics:
        raise HostNotOfCallingRouter(
            f"Router {caller.router.id} does not host {host_pic} in the federation catalogue: "
            "it may forward requests of its own institutions only."
        )
    membership.require_hosted(home_pic)
    stored, keys = _host_keys(body.get("hostKeys"))
    if message.kid in stored["revoked"]:
        raise RevokedSigningKey(f"Signing key {message.kid!r} of {host_pic} is revoked.")
    key = next((k for k in keys if k.use == "sig" and k.kid == message.kid), None)
    if key is None:
        raise UnknownSigningKey(f"{host_pic} has no active signing key {message.kid!r}.")
    try:
        jose.verify_compact(message, key)
        request = protocol.DelegationRequest.from_claims(message.claims)
        protocol.check_validity(request.issued_at, request.expires_at, now.timestamp())
    except ProtocolError as error:
        raise refusal(error, ForgedRequest) from error
    return VerifiedRequest(
        message=message,
        request=request,
        host=None,
        host_pic=host_pic,
        peer_router=caller.router.id,
        host_keys=json.dumps(stored, sort_keys=True),
    )


def accept_forwarded(
    session: Session, membership: Membership, caller: PeerCaller, body: Any
) -> Delegation:
    """Record a peer's forwarded request for the home, as a local one (push and pull alike)."""
    verified = verify_forwarded(session, membership, caller, body)
    return delegation_requests.accept_request(session, verified)


def _forwarded_by(session: Session, caller: PeerCaller, delegation_id: str) -> Delegation:
    """A delegation the calling router forwarded; any other is not found."""
    delegations.expire_overdue(session)
    delegation = session.get(Delegation, delegation_id.strip().lower())
    if delegation is None or delegation.peer_router != caller.router.id or delegation.host_id:
        raise DelegationNotFound(f"Router {caller.router.id} forwarded no delegation "
                                 f"{delegation_id}.")
    return delegation


def peer_delegation(session: Session, caller: PeerCaller, delegation_id: str) -> Delegation:
    """Where a forwarded delegation stands, for the host's router."""
    return _forwarded_by(session, caller, delegation_id)


def _reason(body: Any) -> str | None:
    reason = body.get("reason") if isinstance(body, Mapping) else None
    if reason is not None and not isinstance(reason, str):
        raise MalformedRequest("reason is a string.")
    return delegations.clean_reason(reason)


def peer_cancel(session: Session, caller: PeerCaller, delegation_id: str, body: Any) -> Delegation:
    """The host, through its router, withdraws a request not yet decided."""
    delegation = _forwarded_by(session, caller, delegation_id)
    delegations.move(session, delegation, DelegationState.CANCELLED, Party.HOST,
                     reason=_reason(body))
    session.commit()
    return delegation


def peer_outcome(
    session: Session, caller: PeerCaller, delegation_id: str, body: Any
) -> Delegation:
    """The host, through its router, reports how the card write ended."""
    outcome = body.get("outcome") if isinstance(body, Mapping) else None
    if outcome not in ("completed", "failed"):
        raise MalformedRequest("outcome is completed or failed.")
    delegation = _forwarded_by(session, caller, delegation_id)
    delegations.move(session, delegation, DelegationState(outcome), Party.HOST,
                     reason=_reason(body))
    session.commit()
    return delegation
