"""The kiosk end to end: gunicorn, the home's ``escr-sgc delegations run``, ``escr-reader kiosk``
and the simulated card in pcscd's virtual reader, each its own process but the card. The home
issued the card as an operator does: its DAM keys written with ``escr-reader write-dam-keys``.

Approved: the host's application is on the card with the host's keys (the test authenticates with
them through pcscd), GetDelegatedInfo shows the slot, both institutions see ``completed``. Refused
by the home's policy: the card's saved state is the same byte for byte, both see ``refused``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from reader_tools import pcsc
from reader_tools.desfire.commands import Desfire
from reader_tools.desfire.protocol import PICC_AID
from sgc_client import RouterClient
from sgc_client.delegation import KeyStore
from tests.conftest import card_body, esi, person_body
from tests.e2e.test_delegation_gunicorn import (  # noqa: F401
    BIN,
    HOME_PIC,
    HOST_PIC,
    Live,
    database_dump,
    encodings,
    escr_sgc,
    live,
)
from tests.reader_tools.kiosk_support import HOST_APP_KEYS, issue_card, kiosk_folder
from tests.reader_tools.pcsc_stack import VPCD_READER, CardSlot

pytestmark = pytest.mark.e2e

UID = "04C0FFEE000001"


def run_kiosk(config: Path, printed: list[str]) -> tuple[int, list[dict]]:
    """``escr-reader kiosk --once --json``: its exit status and the events it printed."""
    done = subprocess.run(
        [str(BIN / "escr-reader"), "--reader", VPCD_READER, "kiosk", "--config", str(config),
         "--once", "--json"],
        capture_output=True, text=True, timeout=120,
    )
    printed += [done.stdout, done.stderr]
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()]


def test_the_kiosk_writes_an_approved_card_and_leaves_a_refused_one_alone(
    live: Live, card_slot: CardSlot, database_url: str, tmp_path: Path  # noqa: F811
) -> None:
    home_keys = tmp_path / "home-keys"
    escr_sgc(live, "keys", "create", "--keys", str(home_keys), "--register")
    escr_sgc(live, "dam-keys", "create", "--keys", str(home_keys))
    policy = tmp_path / "policy.toml"
    policy.write_text(f'[[hosts]]\npic = "{HOST_PIC}"\naids = ["F58542"]\nmax_quota = 64\n'
                      'approval = "auto"\n')
    home = RouterClient(live.url, api_key=live.home_key)
    host = RouterClient(live.url, api_key=live.host_key)
    home.persons.create(person_body(esi("KIOSK"), HOME_PIC))
    escn = home.cards.create(card_body(esi("KIOSK"), HOME_PIC, csn=UID))["cardNumber"]
    # The home issued the card: chip data zone, then DAM keys with its command. The host set up
    # its kiosk.
    card_slot.insert(issue_card(bytes.fromhex(UID), escn, HOME_PIC, None))
    issued = subprocess.run(
        [str(BIN / "escr-reader"), "--reader", VPCD_READER, "--json", "write-dam-keys",
         "--keys", str(home_keys), "--factory-default-picc-key"],
        capture_output=True, text=True, timeout=120,
    )
    assert issued.returncode == 0, issued.stderr
    assert json.loads(issued.stdout)["changed"] is True
    card = card_slot.card.state
    host_store = KeyStore(tmp_path / "host-keys")
    for use in ("sig", "enc"):
        host.public_keys.register(host_store.create(use).public().jwk)
    approved_config = kiosk_folder(tmp_path / "kiosk", live.url, live.host_key, HOST_PIC,
                                   host_store)
    refused_config = kiosk_folder(tmp_path / "kiosk-other", live.url, live.host_key, HOST_PIC,
                                  host_store, aid="F58543")

    desk = subprocess.Popen(
        [str(BIN / "escr-sgc"), "delegations", "run", "--keys", str(home_keys),
         "--policy", str(policy), "--interval", "0.2"],
        env={**os.environ, "ESCR_SGC_ROUTER": live.url, "ESCR_SGC_API_KEY": live.home_key},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    printed: list[str] = [issued.stdout, issued.stderr]
    try:
        card_slot.insert(card)
        status, events = run_kiosk(approved_config, printed)
        result = events[-1]
        assert (status, result["outcome"]) == (0, "completed"), events
        assert [e["event"] for e in events][:4] == ["ready", "card", "asked", "waiting"]
        assert events[1] == {"event": "card", "cardNumber": escn, "uid": UID}
        assert result["delegatedInfo"] == {"slotVersion": 0, "quotaLimit": 8, "freeBlocks": 5,
                                           "aid": "F58542"}
        with pcsc.connect(VPCD_READER) as transport:  # the host's keys open the application
            desfire = Desfire(transport)
            desfire.select_application(bytes.fromhex("F58542"))
            desfire.authenticate_ev2_first(0, HOST_APP_KEYS[0])
            assert desfire.get_file_ids() == [0, 1]
            desfire.select_application(PICC_AID)
            assert desfire.get_delegated_info(0).aid == bytes.fromhex("F58542")
        completed = result["delegation"]
        assert home.delegations.get(completed)["state"] == "completed"
        assert host.delegations.get(completed)["state"] == "completed"

        before, after = tmp_path / "before.json", tmp_path / "after.json"
        card_slot.card.state.save(before)
        status, events = run_kiosk(refused_config, printed)
        card_slot.card.state.save(after)
        result = events[-1]
        assert (status, result["outcome"]) == (1, "refused"), events
        assert "F58543 is not allowed" in result["reason"]
        assert after.read_bytes() == before.read_bytes()
        refused = result["delegation"]
        assert home.delegations.get(refused)["state"] == "refused"
        assert host.delegations.get(refused)["state"] == "refused"
    finally:
        desk.send_signal(signal.SIGTERM)
        out, err = desk.communicate(timeout=30)
        home.close()
        host.close()
    assert desk.returncode == 0, err
    assert "approved=1" in out and "refused=1" in out
    # The host's application keys went to the card only: not printed, not at the router.
    everywhere = {"kiosk output": "\n".join(printed), "router's logs": live.log.read_text(),
                  "router's database": database_dump(database_url)}
    for where, content in everywhere.items():
        for key in HOST_APP_KEYS:
            assert not [form for form in encodings(key) if form in content], where
