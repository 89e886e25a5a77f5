"""The kiosk's flow A-F with the simulated card, against the router in-process (both databases).

The home's desk answers from inside the kiosk's wait (the hook the kiosk watches the card with),
so each test runs the whole flow in one thread: the card's state afterwards, what both institutions
see at the router, and what the kiosk printed. The card is the simulated card itself, and, for the
card taken away, the simulated card in pcscd's virtual reader.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from flask import Flask

from reader_tools import pcsc
from reader_tools.desfire.application import ApplicationSpec
from reader_tools.desfire.commands import Desfire, DesfireError
from reader_tools.desfire.crypto import diversify_dam_keys
from reader_tools.desfire.protocol import PICC_AID, Command
from reader_tools.kiosk import command
from reader_tools.kiosk.config import FileKeys, KioskConfig, load_config
from reader_tools.kiosk.display import KioskDisplay
from reader_tools.kiosk.flow import Kiosk, Result
from reader_tools.pcsc import CardGone
from reader_tools.simulator.card import SimulatedCard
from router.services.caller import Scope
from sgc_client import RouterClient
from sgc_client.delegation import HomeDesk, KeyStore, Ledger, parse_policy
from sgc_client.protocol import jose
from tests.conftest import MakeTenant, card_body, esi, person_body
from tests.reader_tools.kiosk_support import (
    HOST_APP_KEYS,
    HOST_KEY_VERSION,
    PICC_MASTER_KEY,
    issue_card,
    kiosk_folder,
)
from tests.reader_tools.pcsc_stack import VPCD_READER, CardSlot

HOME_PIC, HOST_PIC = "999999999", "888888888"
UID = "04A1B2C3D4E5F6"
DEFAULT_KEY = bytes.fromhex("5A" * 16)
AID = bytes.fromhex("F58542")


@dataclass
class Visit:
    """A router with a home and a host, the host's kiosk configuration, and the student's card."""

    config: KioskConfig
    home: RouterClient
    host: RouterClient
    home_keys: KeyStore
    host_keys: KeyStore
    ledger: Ledger
    card: SimulatedCard

    def desk(self, aids: tuple[str, ...] = ("F58542",)) -> HomeDesk:
        rule = {"pic": HOST_PIC, "aids": list(aids), "max_quota": 64, "approval": "auto"}
        policy = parse_policy({"hosts": [rule]})
        return HomeDesk(self.home, self.home_keys, HOME_PIC, policy, self.ledger)

    def kiosk(self, **timeouts: float) -> Kiosk:
        config = self.config
        if timeouts:
            config = dataclasses.replace(
                config, timeouts=dataclasses.replace(config.timeouts, **timeouts)
            )
        keys = FileKeys(config.signing_key_file, config.encryption_key_file)
        return Kiosk(config, self.host, keys, KioskDisplay(True), new_key=lambda: DEFAULT_KEY)

    def states(self, delegation_id: str) -> tuple[str, str]:
        """The delegation's state as the host and as the home see it."""
        return (
            self.host.delegations.get(delegation_id)["state"],
            self.home.delegations.get(delegation_id)["state"],
        )


@pytest.fixture
def visit(app: Flask, make_tenant: MakeTenant, tmp_path: Path) -> Iterator[Visit]:
    transport = httpx.WSGITransport(app=app)
    clients, stores = {}, {}
    for pic in (HOME_PIC, HOST_PIC):
        tenant = make_tenant(pic, scopes=[*Scope.INSTITUTION, Scope.KEYS_MANAGE])
        clients[pic] = RouterClient("http://router.test", api_key=tenant.key, transport=transport)
        stores[pic] = KeyStore(tmp_path / pic)
        for use in ("sig", "enc"):
            clients[pic].public_keys.register(stores[pic].create(use).public().jwk)
        if pic == HOST_PIC:
            config = load_config(kiosk_folder(tmp_path / "kiosk", "http://router.test",
                                              tenant.key, HOST_PIC, stores[pic]))
    stores[HOME_PIC].create_dam_base_keys()
    home = clients[HOME_PIC]
    home.persons.create(person_body(esi("KIOSK1"), HOME_PIC))
    escn = home.cards.create(card_body(esi("KIOSK1"), HOME_PIC, csn=UID))["cardNumber"]
    state = issue_card(bytes.fromhex(UID), escn, HOME_PIC, stores[HOME_PIC].dam_base_keys())
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    yield Visit(config, home, clients[HOST_PIC], stores[HOME_PIC], stores[HOST_PIC], ledger,
                SimulatedCard(state))
    ledger.close()
    for client in clients.values():
        client.close()


def answered_by(desk: HomeDesk) -> Callable[[float], bool]:
    """The kiosk's watch on the card while it waits: the home answers; the card stays."""

    def removed(_seconds: float) -> bool:
        desk.run_once()
        return False

    return removed


def events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def snapshot(card: SimulatedCard) -> str:
    return json.dumps(card.state.to_json(), sort_keys=True)


def test_an_approved_visit_puts_the_hosts_application_on_the_card(
    visit: Visit, capsys: pytest.CaptureFixture[str]
) -> None:
    result = visit.kiosk().serve(visit.card, answered_by(visit.desk()))

    assert result.completed, result.reason
    assert (result.info.aid, result.info.quota_limit, result.info.slot_version) == (AID, 8, 0)
    assert result.info.free_blocks == 8 - 3  # a 64-byte and a 32-byte file
    assert visit.states(result.delegation_id) == ("completed", "completed")
    # The host's keys are the application's keys: the host can authenticate, the default key not.
    card = Desfire(visit.card)
    card.select_application(AID)
    with pytest.raises(DesfireError, match="AUTHENTICATION_ERROR"):
        card.authenticate_ev2_first(0, DEFAULT_KEY)
    card.authenticate_ev2_first(1, HOST_APP_KEYS[1])
    card.authenticate_ev2_first(0, HOST_APP_KEYS[0])
    assert card.get_key_version(1) == HOST_KEY_VERSION
    assert card.get_file_ids() == [0, 1]
    card.select_application(PICC_AID)
    assert card.get_delegated_info(0).aid == AID

    printed = capsys.readouterr().out
    kinds = [event["event"] for event in events(printed)]
    assert kinds == ["card", "asked", "waiting", "approved", "step", "step", "step", "step",
                     "result"]
    asked = events(printed)[1]
    assert (asked["host"], asked["application"], asked["quota"]) == (
        "Université Paris Exemple", "Paris payment", 8)
    assert asked["description"] == "Pay for meals at the canteens of Paris"
    final = events(printed)[-1]
    assert final["outcome"] == "completed" and final["delegatedInfo"]["aid"] == "F58542"
    # No secret is ever printed: the host's keys, the default key, the card's DAM keys.
    dam = diversify_dam_keys(visit.home_keys.dam_base_keys(), bytes.fromhex(UID))
    for secret in (*HOST_APP_KEYS, DEFAULT_KEY, dam.auth, dam.mac, dam.enc):
        for form in (secret.hex(), secret.hex().upper(), jose.b64url_encode(secret)):
            assert form not in printed


def test_a_refusal_writes_nothing_and_says_why(
    visit: Visit, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(visit.card)
    result = visit.kiosk().serve(visit.card, answered_by(visit.desk(aids=("F58543",))))
    assert result.outcome == "refused" and "F58542 is not allowed" in result.reason
    assert snapshot(visit.card) == before
    assert visit.states(result.delegation_id) == ("refused", "refused")
    final = events(capsys.readouterr().out)[-1]
    assert final["outcome"] == "refused" and "not allowed" in final["reason"]


def test_a_card_taken_away_while_waiting_withdraws_the_request(visit: Visit) -> None:
    before = snapshot(visit.card)
    result = visit.kiosk().serve(visit.card, lambda _seconds: True)
    assert result.outcome == "cancelled" and "taken away" in result.reason
    assert visit.states(result.delegation_id) == ("cancelled", "cancelled")
    assert snapshot(visit.card) == before


def test_no_answer_in_time_withdraws_and_an_expired_request_says_so(visit: Visit) -> None:
    before = snapshot(visit.card)
    waiting = visit.kiosk(decision=0.3).serve(visit.card, lambda s: time.sleep(s) or False)
    assert waiting.outcome == "cancelled" and "did not answer within 0.3 s" in waiting.reason
    assert visit.states(waiting.delegation_id) == ("cancelled", "cancelled")
    # A request that lives one second expires at the router while the kiosk waits for it.
    expired = visit.kiosk(request_lifetime=1, decision=10).serve(
        visit.card, lambda s: time.sleep(s) or False
    )
    assert expired.outcome == "expired" and "expired" in expired.reason
    assert visit.states(expired.delegation_id) == ("expired", "expired")
    assert snapshot(visit.card) == before


def test_an_answer_whose_signature_fails_is_reported_and_writes_nothing(
    visit: Visit, monkeypatch: pytest.MonkeyPatch
) -> None:
    kiosk, before = visit.kiosk(), snapshot(visit.card)
    genuine = visit.host.delegations.get

    def tampered(delegation_id: str) -> dict:
        view = genuine(delegation_id)
        if view.get("decisionToken"):  # a router changing the slot on the way
            header, payload, signature = view["decisionToken"].split(".")
            claims = json.loads(jose.b64url_decode(payload))
            claims["dam"]["slotNo"] = 7
            forged = jose.b64url_encode(json.dumps(claims).encode())
            view["decisionToken"] = f"{header}.{forged}.{signature}"
        return view

    monkeypatch.setattr(visit.host.delegations, "get", tampered)
    result = kiosk.serve(visit.card, answered_by(visit.desk()))
    monkeypatch.undo()
    assert result.outcome == "failed" and "answer is not valid" in result.reason
    assert visit.states(result.delegation_id) == ("failed", "failed")
    assert snapshot(visit.card) == before


class PulledOut:
    """The card, taken out of the reader at the first ChangeKey (half-way through writing)."""

    def __init__(self, card: SimulatedCard) -> None:
        self.card = card

    def transmit(self, apdu: bytes) -> bytes:
        if apdu[:2] == bytes((0x90, Command.CHANGE_KEY)):
            raise CardGone("the card stopped answering")
        return self.card.transmit(apdu)


def test_a_card_taken_away_while_written_is_reported_failed(visit: Visit) -> None:
    result = visit.kiosk().serve(PulledOut(visit.card), answered_by(visit.desk()))
    assert result.outcome == "failed" and "taken away while it was written" in result.reason
    view = visit.home.delegations.get(result.delegation_id)
    assert view["state"] == "failed" and "taken away" in view["outcomeReason"]


def test_a_card_refusing_the_application_is_reported_failed(visit: Visit) -> None:
    # The card already holds an application F58542 of its own: the card refuses a second one.
    card = Desfire(visit.card)
    card.authenticate_ev2_first(0, PICC_MASTER_KEY)
    card.create_application(ApplicationSpec(aid=AID, key_settings_1=0x0B, key_settings_2=0x81))
    card.end_session()
    before = snapshot(visit.card)
    result = visit.kiosk().serve(visit.card, answered_by(visit.desk()))
    assert result.outcome == "failed" and "DUPLICATE_ERROR" in result.reason
    assert visit.states(result.delegation_id) == ("failed", "failed")
    assert snapshot(visit.card) == before


def test_a_request_the_router_refuses_says_why(visit: Visit) -> None:
    visit.card.state.uid = bytes.fromhex("04A1B2C3D4E5F7")  # not the card's registered CSN
    result: Result = visit.kiosk().serve(visit.card, answered_by(visit.desk()))
    assert result.outcome == "failed" and "ER-0213" in result.reason
    assert result.delegation_id is None


def test_through_pcscd_a_card_taken_away_is_seen_while_waiting_and_while_writing(
    visit: Visit, card_slot: CardSlot
) -> None:
    """pyscard's card monitor sees the card go while the kiosk waits; a card pulled out once the
    answer came makes the connection fail, and the kiosk reports it."""
    kiosk = visit.kiosk()
    card_slot.insert(visit.card.state)
    with pcsc.CardWatcher(VPCD_READER) as watcher, pcsc.connect(VPCD_READER) as transport:
        assert watcher.wait_for_card(10) == VPCD_READER

        def student_leaves(seconds: float) -> bool:
            card_slot.remove(wait=False)
            return watcher.wait_for_removal(10)

        waited = kiosk.serve(transport, student_leaves)
    assert waited.outcome == "cancelled" and "taken away" in waited.reason
    assert visit.states(waited.delegation_id) == ("cancelled", "cancelled")

    card_slot.insert(visit.card.state)
    desk = visit.desk()
    with pcsc.connect(VPCD_READER) as transport:

        def approved_then_pulled(_seconds: float) -> bool:
            desk.run_once()
            card_slot.remove()  # the kiosk's watch misses it: the card itself must tell
            return False

        written = kiosk.serve(transport, approved_then_pulled)
    assert written.outcome == "failed" and "taken away while it was written" in written.reason
    assert visit.states(written.delegation_id) == ("failed", "failed")


class Counter:
    """A card watcher that presents the student's card twice, then the operator stops the kiosk."""

    def __init__(self, desk: HomeDesk) -> None:
        self.desk, self.presented = desk, 0

    def __enter__(self) -> Counter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def wait_for_card(self, timeout: float | None) -> str:
        assert timeout is None  # without --once the kiosk waits as long as it takes
        self.presented += 1
        if self.presented > 2:
            raise KeyboardInterrupt
        return VPCD_READER

    def wait_for_removal(self, timeout: float | None) -> bool:
        if timeout is None:  # after a visit: the student takes the card
            return True
        self.desk.run_once()
        return False


def test_without_once_the_kiosk_serves_card_after_card_until_stopped(
    visit: Visit, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    watcher = Counter(visit.desk())
    monkeypatch.setattr(command.pcsc, "CardWatcher", lambda _name: watcher)
    monkeypatch.setattr(command.pcsc, "connect", lambda _name: contextlib.nullcontext(visit.card))
    kiosk = visit.kiosk()
    with pytest.raises(KeyboardInterrupt):
        command._serve(kiosk, kiosk.display, None, visit.config, once=False)
    results = [e for e in events(capsys.readouterr().out) if e["event"] in ("result", "next")]
    assert [e.get("outcome") for e in results] == ["completed", None, "refused", None]
    assert "already" in results[2]["reason"]  # the same application twice: the home says no
