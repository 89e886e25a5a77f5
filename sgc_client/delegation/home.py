"""The home institution's side: judge each delegation request on its cards, and answer it signed.

:class:`HomeDesk` pulls the requests the router holds for the home (``role=home``), checks each
itself (the host's signature with the host's key, its times, that the card is one of ours) rather
than trusting the router's checks, and judges it by the policy (a decision tells the router the
request was delivered; a queued one is acknowledged at once):

- *approve*: open the application's default key (sealed to us), reserve a DAM slot of the card,
  compute EncK and DAMMAC from the card's DAM keys (diversified from our base keys with the UID),
  seal the card's DAM auth key to the host, sign the approval (bound to the request's hash);
- *queue*: confirm receipt, keep it for a person (``escr-sgc delegations approve|refuse ID``);
- *refuse*: sign a refusal with the reason.

Every decision is written to the ledger before it is sent, and sent again until the router has it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sgc_client import errors
from sgc_client.delegation.dam import authorise
from sgc_client.delegation.directory import KeyResolver
from sgc_client.delegation.keystore import KeyStore, KeyStoreError
from sgc_client.delegation.ledger import Ledger, NoFreeSlot
from sgc_client.delegation.policy import Action, Policy
from sgc_client.protocol import delegation as protocol
from sgc_client.protocol import jose
from sgc_client.protocol.errors import ProtocolError, Refusal

if TYPE_CHECKING:
    from sgc_client.client import RouterClient

# Router codes meaning the decision is there already (or can no longer be given).
_FINAL_CODES = frozenset({"ER-0205", "ER-0223", "ER-0224"})
DECISION_LIFETIME = protocol.DEFAULT_LIFETIME
# How often the desk asks how the hosts' card writes ended, to settle the reserved slots.
SETTLE_INTERVAL = 30.0


@dataclass
class PassReport:
    """What one pass of the desk did."""

    approved: int = 0
    refused: int = 0
    queued: int = 0
    resent: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        """How many requests this pass decided or queued."""
        return self.approved + self.refused + self.queued


class HomeDesk:
    """A home institution's delegation desk (one per card system)."""

    def __init__(
        self,
        client: RouterClient,
        keys: KeyStore,
        pic: str,
        policy: Policy,
        ledger: Ledger,
        *,
        resolver: KeyResolver | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.keys = keys
        self.pic = protocol.pic_of(pic, "pic")
        self.policy = policy
        self.ledger = ledger
        self.resolver = resolver or KeyResolver(client.public_keys, pins=policy.pins)
        self._clock = clock
        self._settled_at: float | None = None

    # -- one pass -----------------------------------------------------------------------------

    def run_once(self) -> PassReport:
        """Resend unsent decisions, handle every pending request, settle reported slots."""
        report = PassReport()
        self.ledger.drop_expired(self._clock())
        for request_id, token in self.ledger.unsent():
            if self._send(request_id, token, report):
                report.resent += 1
        pending = list(self.client.delegations.list(role="home", states=("requested", "delivered")))
        for view in reversed(pending):  # oldest first
            self.handle(view, report)
        if self._settled_at is None or self._clock() - self._settled_at >= SETTLE_INTERVAL:
            self.settle_slots()
            self._settled_at = self._clock()
        return report

    def handle(self, view: dict[str, Any], report: PassReport) -> None:
        """Judge one pending delegation of the router's list."""
        request_id = str(view["id"])
        if self.ledger.decision(request_id) is not None:
            return  # decided; an unsent decision is resent at the start of the pass
        try:
            message, request = self.check(view["request"])
        except ProtocolError as error:
            if error.refusal is Refusal.EXPIRED:
                return  # too late to answer; the router expires it
            self.refuse(request_id, view["host"], view["request"], f"refused: {error.message}")
            report.refused += 1
            return
        verdict = self.policy.judge(request)
        if verdict.action is Action.QUEUE:
            # Answered later by a person: confirm receipt now. (A decision confirms it too.)
            if view["state"] == "requested":
                self.client.delegations.acknowledge(request_id)
            self.ledger.enqueue(
                request_id,
                request.host,
                request.escn,
                request.application.aid,
                message.compact,
                request.expires_at,
            )
            report.queued += 1
        elif verdict.action is Action.REFUSE:
            self.refuse(request_id, request.host, message.compact, verdict.reason, report)
            report.refused += 1
        else:
            outcome = self.approve(message, request, report)
            if outcome is Action.APPROVE:
                report.approved += 1
            elif outcome is Action.REFUSE:
                report.refused += 1

    def check(self, compact: str) -> tuple[jose.SignedMessage, protocol.DelegationRequest]:
        """Check a request ourselves: the host's signature, its times, one of our cards."""
        message, request = protocol.read_request(compact)
        self.resolver.verify(message, request.host)
        protocol.check_validity(request.issued_at, request.expires_at, self._clock())
        if protocol.issuer_of(request.escn) != self.pic:
            raise ProtocolError(Refusal.NOT_BOUND, "the card is not one of ours")
        return message, request

    # -- decisions ----------------------------------------------------------------------------

    def _decision(
        self,
        request_id: str,
        host: str,
        compact: str,
        outcome: protocol.Outcome,
        reason: str,
        **approval: Any,
    ) -> str:
        now = int(self._clock())
        decision = protocol.Decision(
            decision_id=str(uuid.uuid4()),
            home=self.pic,
            host=host,
            request_id=request_id,
            request_hash=jose.message_hash(compact),
            issued_at=now,
            expires_at=now + DECISION_LIFETIME,
            outcome=outcome,
            reason=reason[: protocol.REASON_LENGTH],
            **approval,
        )
        return jose.sign_compact(decision.claims(), self.keys.signing_key(), protocol.DECISION_TYPE)

    def refuse(
        self,
        request_id: str,
        host: str,
        compact: str,
        reason: str,
        report: PassReport | None = None,
    ) -> bool:
        """Sign, keep and send a refusal; False if the request was decided already."""
        token = self._decision(request_id, host, compact, "refuse", reason or "refused")
        if not self.ledger.record_refusal(request_id, reason or "refused", token):
            return False
        self._send(request_id, token, report or PassReport())
        return True

    def approve(
        self,
        message: jose.SignedMessage,
        request: protocol.DelegationRequest,
        report: PassReport | None = None,
    ) -> Action | None:
        """Compute, sign, keep and send the approval; a card without a free slot is refused.

        Returns what was decided: approve, refuse (no slot, a key that cannot be used), or None
        if the request was decided already.
        """
        report = report or PassReport()
        try:
            app_key_kid = jose.read_jwe_header(request.app_key, protocol.APP_KEY_TYPE)["kid"]
            default = protocol.AppKeySecret.open(
                request.app_key, self.keys.encryption_key(app_key_kid), request.request_id
            )
            host_key = self.resolver.encryption_key(request.host)
        except (ProtocolError, KeyStoreError) as error:
            # Refused, not retried: the same request would fail the same way at every pass.
            reason = error.message if isinstance(error, ProtocolError) else "unusable key"
            refused = self.refuse(
                request.request_id, request.host, message.compact, f"refused: {reason}"
            )
            return Action.REFUSE if refused else None
        slot_version = request.application.slot_version
        try:
            with self.ledger.approval(
                request.request_id,
                request.uid,
                request.application.aid,
                self.policy.max_delegations_per_card,
            ) as slot:
                if slot is None:
                    return None
                card = authorise(
                    self.keys.dam_base_keys(),
                    request.uid,
                    request.application,
                    slot,
                    slot_version,
                    default.key,
                    default.key_version,
                )
                sealed = protocol.DamAuthKeySecret(
                    request.request_id, request.uid, card.dam_auth_key
                ).seal(host_key)
                token = self._decision(
                    request.request_id,
                    request.host,
                    message.compact,
                    "approve",
                    "",
                    authorisation=card.dam,
                    dam_auth_key=sealed,
                )
                self.ledger.keep_approval(request.request_id, token)
        except NoFreeSlot as error:
            refused = self.refuse(request.request_id, request.host, message.compact, str(error))
            return Action.REFUSE if refused else None
        self._send(request.request_id, token, report)
        return Action.APPROVE

    def _send(self, request_id: str, token: str, report: PassReport) -> bool:
        """Send a kept decision; True once the router has it (or can never take it)."""
        try:
            self.client.delegations.decide(request_id, token)
        except errors.ApiError as error:
            if error.code in _FINAL_CODES:
                # Received already, decided already, or expired: nothing more to send.
                self.ledger.mark_sent(request_id)
                return True
            report.failures.append(f"{request_id}: {error.status} {error.code} {error.message}")
            return False
        except errors.TransportError as error:
            report.failures.append(f"{request_id}: {error}")
            return False
        self.ledger.mark_sent(request_id)
        return True

    # -- slots and the queue --------------------------------------------------------------------

    def settle_slots(self) -> None:
        """Mark reserved slots used or free them, from the host's reports (completed, failed)."""
        for request_id in self.ledger.reserved():
            try:
                state = self.client.delegations.get(request_id)["state"]
            except errors.NotFound:
                state = "failed"
            if state == "completed":
                self.ledger.settle_slot(request_id, used=True)
            elif state == "failed":
                self.ledger.settle_slot(request_id, used=False)

    def decide_queued(self, request_id: str, approve: bool, reason: str = "") -> bool:
        """A person's decision on a queued request; False if it is no longer waiting."""
        queued = self.ledger.queued_request(request_id)
        if queued is None:
            return False
        try:
            message, request = self.check(queued.request)
        except ProtocolError as error:
            self.ledger.drop_queued(request_id)
            raise ProtocolError(error.refusal, f"{request_id}: {error.message}") from error
        if approve:
            return self.approve(message, request) is Action.APPROVE
        return self.refuse(request_id, request.host, message.compact, reason or "refused")
