"""Flow A-F at the host's kiosk, for one presented card.

A: read the card's number (ESCN) and UID from its chip data zone. B: sign and send the delegation
request, with a fresh default key for the new application sealed to the home. C-E happen at the
router and the home; the kiosk shows the student what is asked and waits, watching the card. F:
verify and open the home's answer, write the card (:mod:`reader_tools.kiosk.card`), and tell the
router how it ended.

Nothing is written to the card unless the home approved and its answer verified. A card taken away
while the kiosk waits withdraws the request; once approved, anything that stops the writing (card
taken away, card error, bad answer) is reported to the router as ``failed``, with the reason.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from reader_tools import cdz, iso7816
from reader_tools.desfire.commands import (
    DelegatedInfo,
    Desfire,
    DesfireError,
    IntegrityError,
    NotAuthenticated,
    Transport,
)
from reader_tools.kiosk.card import install_application
from reader_tools.kiosk.config import ConfigError, KioskConfig
from reader_tools.kiosk.display import KioskDisplay
from reader_tools.pcsc import CardGone
from sgc_client import errors
from sgc_client.client import RouterClient
from sgc_client.delegation.directory import KeyResolver
from sgc_client.delegation.host import (
    Authorisation,
    DelegationError,
    DelegationHost,
    HostKeys,
    PreparedRequest,
)
from sgc_client.protocol.errors import ProtocolError

Outcome = Literal["completed", "refused", "expired", "cancelled", "failed"]
# What can go wrong while the card is being read or written.
CARD_ERRORS = (
    DesfireError,
    IntegrityError,
    NotAuthenticated,
    CardGone,
    iso7816.IsoStatusError,
    cdz.NoChipDataZone,
)
# The router keeps reasons up to 500 characters; a card or router message fits well within.
REASON_LENGTH = 300
# The application's default key: AES-128, version 0 (the host's keys replace it at once).
DEFAULT_KEY_VERSION = 0


class CardRemoved(Exception):
    """The card was taken out of the reader while the kiosk was waiting for the answer."""


@dataclass(frozen=True)
class Result:
    """How one card's visit ended: the delegation's final state, and why."""

    outcome: Outcome
    reason: str
    delegation_id: str | None = None
    escn: str | None = None
    info: DelegatedInfo | None = None

    @property
    def completed(self) -> bool:
        """Whether the application is now on the card."""
        return self.outcome == "completed"


class Kiosk:
    """The host's kiosk: one :meth:`serve` per presented card."""

    def __init__(
        self,
        config: KioskConfig,
        client: RouterClient,
        keys: HostKeys,
        display: KioskDisplay,
        *,
        resolver: KeyResolver | None = None,
        new_key: Callable[[], bytes] = lambda: secrets.token_bytes(16),
    ) -> None:
        self.config = config
        self.display = display
        self.application_keys = config.application_keys()
        self.host = DelegationHost(
            client, keys, config.host_pic, resolver=resolver, sleep=self._pause
        )
        self._new_key = new_key
        self._removed: Callable[[float], bool] | None = None

    def _pause(self, seconds: float) -> None:
        """The host's pause between two polls: the kiosk watches the card meanwhile."""
        if self._removed is not None and self._removed(seconds):
            raise CardRemoved

    def serve(self, transport: Transport, removed: Callable[[float], bool]) -> Result:
        """Run flow A-F for the card behind ``transport``.

        ``removed(t)`` waits up to ``t`` seconds for the card to be taken away, and says whether
        it was.
        """
        self._removed = removed
        try:
            result = self._serve(transport)
        finally:
            self._removed = None
        self.display.result(result)
        return result

    # -- A and B ---------------------------------------------------------------------------

    def _serve(self, transport: Transport) -> Result:
        try:
            chip = cdz.read_chip_data(transport)
        except CARD_ERRORS as error:
            return Result("failed", f"the card cannot be read: {error}")
        uid = chip.uid.hex().upper()
        self.display.card(chip.escn, uid)
        default_key = self._new_key()
        try:
            prepared = self.host.prepare(
                chip.escn,
                uid,
                self.config.application,
                default_key,
                DEFAULT_KEY_VERSION,
                lifetime=self.config.timeouts.request_lifetime,
            )
            self.host.submit(prepared)
        except errors.ApiError as error:
            reason = f"the router refused the request: {error.code or error.status} {error.message}"
            return Result("failed", reason, escn=chip.escn)
        except (ProtocolError, errors.RouterClientError, ConfigError) as error:
            message = error.message if isinstance(error, ProtocolError) else str(error)
            return Result("failed", f"the request could not be sent: {message}", escn=chip.escn)
        self.display.asked(
            prepared.id, self.config.host_name, self.config.application, prepared.home
        )
        try:
            return self._await_answer(transport, prepared, default_key, chip)
        except KeyboardInterrupt:
            self._withdraw(prepared.id, "the kiosk was stopped")
            raise

    # -- waiting, and the answer -----------------------------------------------------------

    def _await_answer(
        self,
        transport: Transport,
        prepared: PreparedRequest,
        default_key: bytes,
        chip: cdz.ChipData,
    ) -> Result:
        escn, request_id = chip.escn, prepared.id
        try:
            view = self.host.wait(request_id, timeout=self.config.timeouts.decision)
        except CardRemoved:
            reason = "the card was taken away before the answer came"
            return self._withdraw(request_id, reason, escn)
        except DelegationError:
            timeout = self.config.timeouts.decision
            reason = f"the home institution did not answer within {timeout:g} s"
            return self._withdraw(request_id, reason, escn)
        except errors.RouterClientError as error:
            return Result("failed", f"the router could not be asked: {error}", request_id, escn)
        state = view["state"]
        if state in ("expired", "cancelled"):
            return Result(state, _last_reason(view, state), request_id, escn)
        if state not in ("approved", "refused"):
            return Result("failed", f"the delegation is {state}", request_id, escn)
        try:
            opened = self.host.open(prepared, view)
        except (DelegationError, ConfigError) as error:
            reason = f"the home's answer is not valid: {error}"
            if state == "approved":
                return self._fail(request_id, reason, escn)
            return Result("failed", reason, request_id, escn)
        if not isinstance(opened, Authorisation):
            return Result("refused", opened.reason, request_id, escn)
        self.display.approved(opened.slot_no)
        return self._write(transport, opened, default_key, chip)

    # -- F ---------------------------------------------------------------------------------

    def _write(
        self,
        transport: Transport,
        authorisation: Authorisation,
        default_key: bytes,
        chip: cdz.ChipData,
    ) -> Result:
        request_id, escn = authorisation.delegation_id, chip.escn
        try:
            if iso7816.get_uid(transport) != chip.uid:
                return self._fail(request_id, "another card is in the reader", escn)
            info = install_application(
                Desfire(transport),
                authorisation,
                default_key,
                self.application_keys,
                self.config.files,
                step=self.display.step,
            )
        except CardGone:
            return self._fail(request_id, "the card was taken away while it was written", escn)
        except CARD_ERRORS as error:
            return self._fail(request_id, f"the card refused: {error}", escn)
        except KeyboardInterrupt:
            self._fail(request_id, "the kiosk was stopped while it wrote the card", escn)
            raise
        try:
            self.host.report(request_id, completed=True)
        except errors.RouterClientError as error:
            reason = f"the application is on the card, but the router could not be told: {error}"
            return Result("failed", reason, request_id, escn, info)
        return Result("completed", "the application is on the card", request_id, escn, info)

    # -- telling the router ------------------------------------------------------------------

    def _fail(self, request_id: str, reason: str, escn: str | None) -> Result:
        """Report an approved delegation as failed, saying why."""
        try:
            self.host.report(request_id, completed=False, reason=reason[:REASON_LENGTH])
        except errors.RouterClientError as error:
            reason += f" (and the router could not be told: {error})"
        return Result("failed", reason, request_id, escn)

    def _withdraw(self, request_id: str, reason: str, escn: str | None = None) -> Result:
        """Cancel a pending request; if the answer came meanwhile, say how it ended instead."""
        try:
            self.host.cancel(request_id, reason[:REASON_LENGTH])
            return Result("cancelled", f"{reason}; the request was withdrawn", request_id, escn)
        except errors.ApiError:
            pass  # decided meanwhile: read what it became
        except errors.RouterClientError as error:
            return Result(
                "failed", f"{reason}; the router could not be told: {error}", request_id, escn
            )
        try:
            state = self.host.client.delegations.get(request_id)["state"]
        except errors.RouterClientError as error:
            return Result(
                "failed", f"{reason}; the router could not be asked: {error}", request_id, escn
            )
        if state == "approved":
            return self._fail(request_id, reason, escn)
        if state in ("refused", "expired", "cancelled"):
            return Result(state, reason, request_id, escn)
        return Result("failed", f"{reason} (the delegation is {state})", request_id, escn)


def _last_reason(view: dict[str, Any], state: str) -> str:
    """Why the delegation ended in ``state``, from its history."""
    for event in reversed(view.get("history") or []):
        if event.get("state") == state and event.get("reason"):
            return str(event["reason"])
    if state == "expired":
        return "the request expired before the home institution answered"
    return "the request was withdrawn"
