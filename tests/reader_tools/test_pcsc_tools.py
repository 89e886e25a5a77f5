"""escr-reader and the kiosk's card commands through pcscd, with the simulated card in vpcd.

The chip data zone is written with ``write-cdz``, read back, verified offline, copied onto another
card and checked under a wrong root; the delegated-application sequence the kiosk will run goes
through the same stack, and the card's saved state is read back later.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import segno
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization

from reader_tools import cdz, iso7816, pcsc
from reader_tools.cli import cli
from reader_tools.desfire import crypto
from reader_tools.desfire.application import StdFileSpec
from reader_tools.desfire.commands import Desfire
from reader_tools.desfire.protocol import PICC_AID, CommMode
from reader_tools.simulator.state import CardState
from tests.pki import make_institution, make_root
from tests.reader_tools.pcsc_stack import VPCD_READER, CardSlot, wait_for_presence

h = bytes.fromhex
UID = h("04ABCDEF012345")
ESCN = "5b0f3a4e-7c2d-11ef-8b1e-001999999999"
ESCR_READER = str(Path(sys.executable).parent / "escr-reader")


@pytest.fixture(scope="module")
def issuer_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The issuer's signing key, certificate, chip data zone base keys, and the pinned root."""
    folder = tmp_path_factory.mktemp("issuer")
    root = make_root()
    issued = make_institution(root, "999999999", name="Demo University")
    files = {
        "key": folder / "signing.key.pem",
        "certificate": folder / "chain.pem",
        "cdz_keys": folder / "cdz-keys.json",
        "root": folder / "root.pem",
        "other_root": folder / "other-root.pem",
    }
    files["key"].write_bytes(
        issued.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files["certificate"].write_text(issued.pem + root.pem)
    cdz.CdzBaseKeys.generate().save(files["cdz_keys"])
    files["root"].write_text(root.pem)
    files["other_root"].write_text(make_root("Another federation").pem)
    return files


def run(*args: str, ok: bool = True) -> Result:
    result = CliRunner().invoke(cli, ["--reader", "Virtual PCD 00 00", *args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_write_read_and_verify_offline_then_a_copy_and_a_wrong_root_fail(
    card_slot: CardSlot, issuer_files: dict[str, Path], tmp_path: Path
) -> None:
    card = card_slot.insert(CardState.blank(UID))
    run(
        "write-cdz",
        "--escn",
        ESCN,
        "--signing-key",
        str(issuer_files["key"]),
        "--certificate",
        str(issuer_files["certificate"]),
        "--cdz-keys",
        str(issuer_files["cdz_keys"]),
    )
    read = json.loads(run("--json", "read").output)
    assert (read["cardNumber"], read["uid"], read["pic"]) == (ESCN, UID.hex().upper(), "999999999")
    assert read["certificate"]["pic"] == "999999999"

    offline = [
        "--json",
        "verify",
        "--offline",
        "--root",
        str(issuer_files["root"]),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    genuine = json.loads(run(*offline, "--cdz-keys", str(issuer_files["cdz_keys"])).output)
    assert genuine["valid"] and genuine["keysProved"] and genuine["chainSource"] == "none"

    card.state.save(tmp_path / "card.json")
    clone = copy.deepcopy(card.state)
    clone.uid = h("04000000000001")
    card_slot.insert(clone)
    copied = run(*offline, ok=False)
    assert copied.exit_code == 1
    assert json.loads(copied.output)["reason"] == "SIGNATURE_MISMATCH"
    not_proved = run(*offline, "--cdz-keys", str(issuer_files["cdz_keys"]), ok=False)
    assert json.loads(not_proved.output)["keysProved"] is False

    card_slot.insert(CardState.load(tmp_path / "card.json"))
    wrong_root = run(
        "--json",
        "verify",
        "--offline",
        "--root",
        str(issuer_files["other_root"]),
        "--cache-dir",
        str(tmp_path / "cache"),
        ok=False,
    )
    assert wrong_root.exit_code == 1
    assert json.loads(wrong_root.output)["reason"] == "UNTRUSTED_CHAIN"

    qr = tmp_path / "qr.png"
    segno.make(f"https://router.example/cards/{ESCN}", error="m").save(qr, scale=5)
    assert json.loads(run("--json", "qr", str(qr)).output)["cardNumber"] == ESCN
    assert json.loads(run(*offline, "--qr", str(qr)).output)["valid"]
    segno.make("http://esc.gg/5b0f3a4e-7c2d-11ef-8b1e-001888888888").save(qr, scale=5)
    mismatch = run(*offline, "--qr", str(qr), ok=False)
    assert json.loads(mismatch.output)["reason"] == "SCAN_MISMATCH"

    table = run(
        "verify",
        "--offline",
        "--root",
        str(issuer_files["root"]),
        "--cache-dir",
        str(tmp_path / "cache"),
    )
    assert "GENUINE" in table.output


def test_tools_say_what_is_wrong_with_exit_status_3(
    card_slot: CardSlot, issuer_files: dict[str, Path]
) -> None:
    empty = run("read", ok=False)
    assert empty.exit_code == 3 and "no card" in empty.output
    card_slot.insert(CardState.blank(UID))
    blank = run("read", ok=False)
    assert blank.exit_code == 3 and "no chip data zone" in blank.output
    args = [
        "write-cdz",
        "--escn",
        ESCN,
        "--signing-key",
        str(issuer_files["key"]),
        "--certificate",
        str(issuer_files["certificate"]),
        "--cdz-keys",
        str(issuer_files["cdz_keys"]),
    ]
    wrong_master = run(*args, "--picc-key", "11" * 16, ok=False)
    assert wrong_master.exit_code == 3 and "AUTHENTICATION_ERROR" in wrong_master.output
    run(*args)
    twice = run(*args, ok=False)
    assert twice.exit_code == 3 and "DUPLICATE_ERROR" in twice.output
    assert run("write-cdz", "--escn", "nope", *args[3:], ok=False).exit_code == 2


def test_the_console_script_lists_readers_and_waits_for_a_card(card_slot: CardSlot) -> None:
    listed = subprocess.run(
        [ESCR_READER, "--json", "readers"], capture_output=True, text=True, check=True
    )
    assert {"name": VPCD_READER, "cardPresent": False, "atr": None} in json.loads(listed.stdout)
    threading.Timer(
        0.5, card_slot.insert, args=(CardState.blank(UID),), kwargs={"wait": False}
    ).start()
    waited = subprocess.run(
        [ESCR_READER, "--json", "--reader", "00 00", "wait", "--timeout", "20"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout) == {
        "reader": VPCD_READER,
        "uid": UID.hex().upper(),
        "atr": "3B8180018080",
        "chip": "MIFARE DESFire EV2",
        "cardType": "SMART_NO_CDZ",
    }
    none = subprocess.run(
        [ESCR_READER, "--reader", "00 01", "wait", "--timeout", "0.5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert none.returncode == 3 and "no card was presented" in none.stderr


def test_the_kiosk_sequence_through_pcscd_and_the_card_read_back_later(
    card_slot: CardSlot, tmp_path: Path
) -> None:
    """Everything the kiosk will send: DAM auth, CreateDelegatedApplication, keys, files."""
    dam = crypto.diversify_dam_keys(crypto.DamBaseKeys.generate(), UID)
    state = CardState.blank(UID)
    card_slot.insert(state)
    host_aid, host_keys = h("F58542"), [bytes([0x50 + i]) * 16 for i in range(2)]
    with pcsc.connect(VPCD_READER) as transport:
        desfire = Desfire(transport)
        desfire.authenticate_ev2_first(0, bytes(16))  # the home issues the card
        for key_no, key in ((0x10, dam.auth), (0x11, dam.mac), (0x12, dam.enc)):
            desfire.change_key(key_no, key, 1, old_key=bytes(16))
        application = crypto.DamApplication(
            aid=host_aid,
            slot_no=1,
            slot_version=0,
            quota_limit=4,
            key_settings_1=0x0B,
            key_settings_2=0xA2,
            iso_file_id=0x2100,
        )
        default_key = bytes(range(16))
        enck = crypto.enc_k(dam.enc, default_key, 0)
        dammac = crypto.dam_mac(dam.mac, application, enck)

        desfire.select_application(PICC_AID)
        desfire.authenticate_ev2_first(crypto.DAM_AUTH_KEY_NO, dam.auth)
        desfire.create_delegated_application(application, enck, dammac)
        desfire.select_application(host_aid)
        desfire.authenticate_ev2_first(0, default_key)
        desfire.change_key(1, host_keys[1], 1, old_key=default_key)
        desfire.change_key(0, host_keys[0], 1)
        desfire.authenticate_ev2_first(0, host_keys[0])
        desfire.create_std_data_file(
            StdFileSpec(
                file_no=0,
                size=40,
                comm_mode=CommMode.FULL,
                access_rights=0x1010,
                iso_file_id=0x2101,
            )
        )
        desfire.authenticate_ev2_first(1, host_keys[1])
        desfire.write_data(0, b"host payment application", mode=CommMode.FULL)
        desfire.select_application(PICC_AID)
        info = desfire.get_delegated_info(1)
        assert (info.aid, info.quota_limit, info.free_blocks) == (host_aid, 4, 2)
    card_slot.card.state.save(tmp_path / "card.json")
    card_slot.remove()

    card_slot.insert(CardState.load(tmp_path / "card.json"))
    with pcsc.connect(VPCD_READER) as transport:
        assert iso7816.get_uid(transport) == UID
        desfire = Desfire(transport)
        desfire.select_application(host_aid)
        desfire.authenticate_ev2_first(1, host_keys[1])
        assert desfire.read_data(0, length=24, mode=CommMode.FULL) == b"host payment application"


def test_escr_reader_simulate_is_the_card_and_saves_it(card_slot: CardSlot, tmp_path: Path) -> None:
    state_file = tmp_path / "simulated.json"
    simulator = subprocess.Popen(
        [ESCR_READER, "simulate", "--state", str(state_file), "--uid", UID.hex()],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        wait_for_presence(VPCD_READER, True)
        with pcsc.connect(VPCD_READER) as transport:
            desfire = Desfire(transport)
            assert desfire.get_version().uid == UID
            desfire.authenticate_ev2_first(0, bytes(16))
            desfire.change_key(0x10, h("77") * 16, 2, old_key=bytes(16))
    finally:
        simulator.send_signal(signal.SIGTERM)
        simulator.wait(timeout=10)
    saved = CardState.load(state_file)
    assert saved.uid == UID and saved.dam_keys[0x10].value == h("77") * 16
    wait_for_presence(VPCD_READER, False)
