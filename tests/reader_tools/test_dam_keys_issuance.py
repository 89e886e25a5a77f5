"""``escr-reader write-dam-keys`` through pcscd with the simulated card in vpcd's reader.

The home writes a card's DAM keys from the base keys ``escr-sgc dam-keys create`` drew; then an
authorisation computed by the home's desk (``sgc_client.delegation.dam.authorise``) creates a
delegated application on that card, and one computed for another card's UID does not. Keys it
cannot vouch for are not overwritten (without ``--rotate-from``), a wrong PICC master key changes
nothing, and no key ever appears in what the command prints (checked after every test).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reader_tools import dam_keys, pcsc
from reader_tools.cli import cli
from reader_tools.desfire import crypto
from reader_tools.desfire.commands import Desfire, DesfireError
from reader_tools.desfire.protocol import PICC_AID, Status
from reader_tools.simulator.card import SimulatedCard
from reader_tools.simulator.state import CardState, Key
from sgc_client.delegation import KeyStore
from sgc_client.delegation.dam import authorise, dam_application
from sgc_client.protocol.delegation import Application
from tests.reader_tools.pcsc_stack import VPCD_READER, CardSlot

h = bytes.fromhex
UID = h("04D4A0E5000001")
OTHER_UID = h("04D4A0E5000002")
PICC_MASTER_KEY = h("5E" * 16)
APPLICATION = Application(
    aid="F58542", slot_version=0, quota_limit=8, key_settings_1=0x0B, key_settings_2=0xA2,
    iso_file_id=0x2100, name="Paris payment",
)
printed: list[str] = []
keys_used: list[bytes] = [PICC_MASTER_KEY]


def run(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["--reader", VPCD_READER, *args])
    printed.append(result.output)
    assert result.exit_code == code, result.output
    return result


def key_file(path: Path, key: bytes, mode: int = 0o600) -> Path:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key.hex() + "\n")
    os.chmod(path, mode)
    return path


def dam_key_store(folder: Path) -> KeyStore:
    """A key directory with DAM base keys, as ``escr-sgc dam-keys create`` makes it."""
    store = KeyStore(folder)
    store.create_dam_base_keys()
    base = store.dam_base_keys()
    keys_used.extend((base.auth, base.mac, base.enc))
    for uid in (UID, OTHER_UID):
        card = crypto.diversify_dam_keys(base, uid)
        keys_used.extend((card.auth, card.mac, card.enc))
    return store


@pytest.fixture
def home(tmp_path: Path) -> KeyStore:
    """The home's key directory."""
    return dam_key_store(tmp_path / "home-keys")


@pytest.fixture(autouse=True)
def no_key_printed() -> Iterator[None]:
    """After each test: no key it used is in anything the command printed, in any encoding."""
    printed.clear()
    del keys_used[1:]
    yield
    output = "\n".join(printed)
    assert output
    for key in keys_used:
        forms = {key.hex(), key.hex().upper(), base64.b64encode(key).decode().rstrip("=")}
        assert not [form for form in forms if form in output]


def card_with_master_key(uid: bytes = UID) -> CardState:
    state = CardState.blank(uid)
    state.master_key = Key(PICC_MASTER_KEY, 1)
    return state


def saved(card_slot: CardSlot, path: Path) -> bytes:
    card_slot.card.state.save(path)
    return path.read_bytes()


def test_the_keys_written_are_the_homes_and_open_a_delegation_on_this_card_only(
    card_slot: CardSlot, home: KeyStore, tmp_path: Path
) -> None:
    card_slot.insert(card_with_master_key())
    master = key_file(tmp_path / "picc.key", PICC_MASTER_KEY)
    written = run("--json", "write-dam-keys", "--keys", str(home.directory),
                  "--picc-key-file", str(master))
    assert json.loads(written.output) == {
        "uid": UID.hex().upper(),
        "changed": True,
        "keys": [
            {"keyNo": f"0x{no:02X}", "name": name, "version": 1, "outcome": "written",
             "was": "factory"}
            for no, name in ((0x10, "auth"), (0x11, "mac"), (0x12, "enc"))
        ],
    }
    base = home.dam_base_keys()
    expected = crypto.diversify_dam_keys(base, UID)
    keys = card_slot.card.state.dam_keys
    assert (keys[0x10].value, keys[0x11].value, keys[0x12].value) == (
        expected.auth, expected.mac, expected.enc)
    assert {key.version for key in keys.values()} == {1}

    default_key = bytes(range(16))
    ours = authorise(base, UID.hex().upper(), APPLICATION, 0, 0, default_key, 1)
    theirs = authorise(base, OTHER_UID.hex().upper(), APPLICATION, 0, 0, default_key, 1)
    application = dam_application(APPLICATION, 0, 0)
    with pcsc.connect(VPCD_READER) as transport:
        desfire = Desfire(transport)
        desfire.select_application(PICC_AID)
        with pytest.raises(DesfireError) as wrong_card_key:  # another card's DAM auth key
            desfire.authenticate_ev2_first(crypto.DAM_AUTH_KEY_NO, theirs.dam_auth_key)
        assert wrong_card_key.value.status == Status.AUTHENTICATION_ERROR
        desfire.authenticate_ev2_first(crypto.DAM_AUTH_KEY_NO, ours.dam_auth_key)
        with pytest.raises(DesfireError) as wrong_card_mac:  # another card's EncK and DAMMAC
            desfire.create_delegated_application(
                application, h(theirs.dam.enck), h(theirs.dam.dam_mac))
        assert wrong_card_mac.value.status == Status.INTEGRITY_ERROR
        assert card_slot.card.state.applications == {}
        desfire.authenticate_ev2_first(crypto.DAM_AUTH_KEY_NO, ours.dam_auth_key)
        desfire.create_delegated_application(application, h(ours.dam.enck), h(ours.dam.dam_mac))
        assert desfire.get_delegated_info(0).aid == h("F58542")
        desfire.select_application(h("F58542"))
        desfire.authenticate_ev2_first(0, default_key)  # EncK opened with the card's ENC key

    again = run("--json", "write-dam-keys", "--keys", str(home.directory),
                "--picc-key-file", str(master))
    assert json.loads(again.output)["changed"] is False
    assert {k["outcome"] for k in json.loads(again.output)["keys"]} == {"unchanged"}


def test_other_keys_are_not_overwritten_unless_rotating_from_their_base_keys(
    card_slot: CardSlot, home: KeyStore, tmp_path: Path
) -> None:
    previous = dam_key_store(tmp_path / "previous-keys")
    card_slot.insert(CardState.blank(UID))
    run("write-dam-keys", "--keys", str(previous.directory), "--factory-default-picc-key")
    before = saved(card_slot, tmp_path / "before.json")

    refused = run("write-dam-keys", "--keys", str(home.directory), "--factory-default-picc-key",
                  code=1)
    assert "neither the factory's nor the new one" in refused.output
    assert "--rotate-from" in refused.output
    stranger = dam_key_store(tmp_path / "stranger-keys")
    wrong_old = run("write-dam-keys", "--keys", str(home.directory), "--factory-default-picc-key",
                    "--rotate-from", str(stranger.directory), code=1)
    assert "derived from the old base keys" in wrong_old.output
    assert saved(card_slot, tmp_path / "after.json") == before

    rotated = run("--json", "write-dam-keys", "--keys", str(home.directory),
                  "--factory-default-picc-key", "--key-version", "2",
                  "--rotate-from", str(previous.directory / "dam-base-keys.json"))
    assert {(k["outcome"], k["was"], k["version"]) for k in json.loads(rotated.output)["keys"]} == {
        ("written", "old base keys", 2)}
    expected = crypto.diversify_dam_keys(home.dam_base_keys(), UID)
    assert card_slot.card.state.dam_keys[0x12] == Key(expected.enc, 2)


def test_a_card_written_half_way_is_finished_by_the_next_run(
    card_slot: CardSlot, home: KeyStore, tmp_path: Path
) -> None:
    expected = crypto.diversify_dam_keys(home.dam_base_keys(), UID)
    state = CardState.blank(UID)
    state.dam_keys[0x11] = Key(expected.mac, 1)  # pulled out after the first ChangeKey
    card_slot.insert(state)
    done = run("--json", "write-dam-keys", "--keys", str(home.directory),
               "--factory-default-picc-key")
    outcomes = {k["name"]: k["outcome"] for k in json.loads(done.output)["keys"]}
    assert outcomes == {"auth": "written", "mac": "unchanged", "enc": "written"}
    assert card_slot.card.state.dam_keys[0x10].value == expected.auth


def test_a_wrong_picc_master_key_or_a_careless_key_file_changes_nothing(
    card_slot: CardSlot, home: KeyStore, tmp_path: Path
) -> None:
    card_slot.insert(card_with_master_key())
    before = saved(card_slot, tmp_path / "before.json")
    keys = ("write-dam-keys", "--keys", str(home.directory))
    wrong = key_file(tmp_path / "wrong.key", h("5F" * 16))
    refused = run(*keys, "--picc-key-file", str(wrong), code=3)
    assert "refused the PICC master key" in refused.output
    factory = run(*keys, "--factory-default-picc-key", code=3)
    assert "refused the PICC master key" in factory.output
    readable = key_file(tmp_path / "readable.key", PICC_MASTER_KEY, mode=0o644)
    assert "chmod 600" in run(*keys, "--picc-key-file", str(readable), code=2).output
    assert "--picc-key-file" in run(*keys, code=2).output
    run(*keys, "--factory-default-picc-key", "--picc-key-file", str(wrong), code=2)
    short = key_file(tmp_path / "short.key", h("5E" * 8))
    assert "32 hex digits" in run(*keys, "--picc-key-file", str(short), code=2).output
    assert saved(card_slot, tmp_path / "after.json") == before


def test_an_unknown_mac_key_behind_a_factory_auth_key_is_refused_before_any_change(
    home: KeyStore
) -> None:
    """The card itself refuses the ChangeKey (CRC of new XOR an unknown old key): nothing moves."""
    state = CardState.blank(UID)
    state.dam_keys[0x11] = Key(h("3C" * 16), 7)
    before = json.dumps(state.to_json())
    with pytest.raises(dam_keys.DamKeysRefused, match=r"MAC key \(0x11\).*before it: none"):
        dam_keys.write_dam_keys(
            Desfire(SimulatedCard(state)), picc_master_key=bytes(16),
            base=home.dam_base_keys(), version=1,
        )
    assert json.dumps(state.to_json()) == before
    printed.append("(nothing printed: the command's code was called directly)")
