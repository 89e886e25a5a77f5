"""The host's side: ask a card's home institution, through the router, to delegate an application.

A kiosk builds and signs a request (:meth:`DelegationHost.prepare`), sending the new application's
default key sealed to the home; sends it (:meth:`~DelegationHost.submit`); waits for the decision
(:meth:`~DelegationHost.wait`); opens it (:meth:`~DelegationHost.open`), which checks the home's
signature and the decision's binding to the request and decrypts the card's DAM auth key; writes
the card; and reports how that ended (:meth:`~DelegationHost.report`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from reader_tools.desfire.crypto import DamApplication
from sgc_client import errors
from sgc_client.delegation.dam import dam_application
from sgc_client.delegation.directory import KeyResolver
from sgc_client.protocol import delegation as protocol
from sgc_client.protocol import jose
from sgc_client.protocol.errors import ProtocolError, Refusal

if TYPE_CHECKING:
    from sgc_client.client import RouterClient

PENDING_STATES = frozenset({"requested", "delivered"})


@dataclass(frozen=True)
class PreparedRequest:
    """A signed request, ready to send, and what the host must remember of it."""

    request: protocol.DelegationRequest
    compact: str
    home: str

    @property
    def id(self) -> str:
        """The request's id, which is also the delegation's."""
        return self.request.request_id


@dataclass(frozen=True)
class Authorisation:
    """An approval opened by the host: what the card needs to create the application."""

    delegation_id: str
    uid: str
    application: protocol.Application
    slot_no: int
    slot_version: int
    enck: bytes
    dam_mac: bytes
    dam_auth_key: bytes = field(repr=False)

    def dam_application(self) -> DamApplication:
        """The CreateDelegatedApplication layout the DAMMAC covers."""
        return dam_application(self.application, self.slot_no, self.slot_version)


@dataclass(frozen=True)
class Refused:
    """A refusal by the home, with its reason."""

    delegation_id: str
    reason: str


class HostKeys(Protocol):
    """The host's private keys: a :class:`~sgc_client.delegation.keystore.KeyStore`, or files."""

    def signing_key(self) -> jose.PrivateKey:
        """The key requests are signed with."""
        ...

    def encryption_key(self, kid: str | None = None) -> jose.PrivateKey:
        """The encryption key named ``kid`` (a DAM auth key is sealed to it)."""
        ...


class DelegationError(Exception):
    """The delegation did not end in a decision the host can use (timeout, bad decision)."""


class DelegationHost:
    """A host institution's delegation client: one per kiosk (or per host system)."""

    def __init__(
        self,
        client: RouterClient,
        keys: HostKeys,
        pic: str,
        *,
        resolver: KeyResolver | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.keys = keys
        self.pic = protocol.pic_of(pic, "pic")
        self.resolver = resolver or KeyResolver(client.public_keys)
        self._clock = clock
        self._sleep = sleep

    def prepare(
        self,
        escn: str,
        uid: str,
        application: protocol.Application,
        default_key: bytes,
        key_version: int,
        *,
        lifetime: int = protocol.DEFAULT_LIFETIME,
    ) -> PreparedRequest:
        """Sign a request for ``application`` on card ``escn`` (chip ``uid``, as read)."""
        if not 0 < lifetime <= protocol.MAX_LIFETIME:
            raise ValueError(f"a request lives 1 to {protocol.MAX_LIFETIME} seconds")
        home = protocol.issuer_of(escn)
        request_id = str(uuid.uuid4())
        sealed = protocol.AppKeySecret(request_id, default_key, key_version).seal(
            self.resolver.encryption_key(home)
        )
        now = int(self._clock())
        request = protocol.DelegationRequest(
            request_id=request_id,
            host=self.pic,
            issued_at=now,
            expires_at=now + lifetime,
            escn=escn.strip().lower(),
            uid=protocol.normalise_hex(uid, "uid", (4, 7, 10)),
            application=application,
            app_key=sealed,
        )
        compact = jose.sign_compact(
            request.claims(), self.keys.signing_key(), protocol.REQUEST_TYPE
        )
        return PreparedRequest(request=request, compact=compact, home=home)

    def submit(self, prepared: PreparedRequest) -> dict[str, Any]:
        """Send the request; the router's view of the new delegation."""
        try:
            return self.client.delegations.submit(prepared.compact)
        except errors.Conflict as error:
            # A retry after a lost answer: the first copy was recorded; read it back.
            if error.code == "ER-0205":
                return self.client.delegations.get(prepared.id)
            raise

    def wait(
        self,
        delegation_id: str,
        *,
        timeout: float = 120.0,
        interval: float = 0.25,
        max_interval: float = 2.0,
    ) -> dict[str, Any]:
        """Poll until the delegation is no longer pending (or ``timeout`` passes).

        The pause between reads starts at ``interval`` and grows by half each time up to
        ``max_interval``: an answer that comes quickly is seen quickly, and a kiosk waiting for
        a person's decision does not keep the router busy.
        """
        deadline = self._clock() + timeout
        pause = interval
        while True:
            view = self.client.delegations.get(delegation_id)
            if view["state"] not in PENDING_STATES:
                return view
            if self._clock() >= deadline:
                raise DelegationError(f"no decision on {delegation_id} within {timeout:.0f} s")
            self._sleep(min(pause, max(deadline - self._clock(), 0.0)))
            pause = min(pause * 1.5, max_interval)

    def open(self, prepared: PreparedRequest, view: dict[str, Any]) -> Authorisation | Refused:
        """Check the home's decision and open it: the card's authorisation, or the refusal."""
        token = view.get("decisionToken")
        if not token:
            raise DelegationError(f"delegation {prepared.id} is {view.get('state')}: no decision")
        try:
            message, decision = protocol.read_decision(token)
            self.resolver.verify(message, prepared.home)
            if (
                decision.home != prepared.home
                or decision.host != self.pic
                or decision.request_id != prepared.id
                or decision.request_hash != jose.message_hash(prepared.compact)
            ):
                raise ProtocolError(Refusal.NOT_BOUND, "the decision answers another request")
            protocol.check_validity(decision.issued_at, decision.expires_at, self._clock())
            if not decision.approved:
                return Refused(prepared.id, decision.reason)
            assert decision.authorisation is not None and decision.dam_auth_key is not None
            kid = jose.read_jwe_header(decision.dam_auth_key, protocol.DAM_AUTH_KEY_TYPE)["kid"]
            secret = protocol.DamAuthKeySecret.open(
                decision.dam_auth_key,
                self.keys.encryption_key(kid),
                prepared.id,
                prepared.request.uid,
            )
        except ProtocolError as error:
            raise DelegationError(f"the decision on {prepared.id} is refused: {error}") from error
        dam = decision.authorisation
        return Authorisation(
            delegation_id=prepared.id,
            uid=prepared.request.uid,
            application=prepared.request.application,
            slot_no=dam.slot_no,
            slot_version=dam.slot_version,
            enck=bytes.fromhex(dam.enck),
            dam_mac=bytes.fromhex(dam.dam_mac),
            dam_auth_key=secret.key,
        )

    def report(self, delegation_id: str, completed: bool, reason: str | None = None) -> None:
        """Tell both institutions whether the application is now on the card."""
        self.client.delegations.report_outcome(delegation_id, completed, reason)

    def cancel(self, delegation_id: str, reason: str | None = None) -> None:
        """Withdraw a request not yet decided (the student walked away)."""
        self.client.delegations.cancel(delegation_id, reason)
