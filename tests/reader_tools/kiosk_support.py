"""What the kiosk tests share: a card issued by the home, and a kiosk's configuration folder.

The home issues the card as its card system would: the chip data zone (ESCN, signature, its
certificate) with ``write-cdz``'s code, then the card's three DAM keys, diversified from the home's
DAM base keys, with ``write-dam-keys``'s code (the end-to-end test runs the command itself).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from reader_tools import cdz, dam_keys
from reader_tools.desfire import crypto
from reader_tools.desfire.commands import Desfire
from reader_tools.simulator.card import SimulatedCard
from reader_tools.simulator.state import CardState
from sgc_client.delegation import KeyStore
from tests.pki import make_institution, make_root

PICC_MASTER_KEY = bytes(16)
# The host's own keys of its application (key 0, key 1): never sent to the router or the home.
HOST_APP_KEYS = (bytes.fromhex("A0" * 16), bytes.fromhex("A1" * 16))
HOST_KEY_VERSION = 3
HOST_NAME = "Université Paris Exemple"

APPLICATION_TOML = """
[application]
aid = "{aid}"
name = "Paris payment"
description = "Pay for meals at the canteens of Paris"
slot_version = 0
quota = 8
key_settings_1 = 0x0B
key_settings_2 = 0xA2
iso_file_id = 0x2100
iso_df_name = "A00000061404{aid}"
keys = "application-keys.json"

[[application.files]]
number = 0
size = 64
communication = "full"
access_rights = "1010"
iso_file_id = 0x2101

[[application.files]]
number = 1
size = 32
communication = "plain"
access_rights = "E000"
"""


def issue_card(
    uid: bytes, escn: str, home_pic: str, dam_base: crypto.DamBaseKeys | None
) -> CardState:
    """A blank card with the home's chip data zone and, unless ``dam_base`` is None, DAM keys."""
    card = SimulatedCard(CardState.blank(uid))
    issued = make_institution(make_root(), home_pic, name="Home University")
    desfire = Desfire(card)
    cdz.write_chip_data(
        desfire,
        picc_master_key=PICC_MASTER_KEY,
        escn=escn,
        signing_key=issued.key,
        certificate=issued.der,
        base_keys=cdz.CdzBaseKeys.generate(),
    )
    if dam_base is not None:
        dam_keys.write_dam_keys(
            desfire, picc_master_key=PICC_MASTER_KEY, base=dam_base, version=1
        )
    return card.state


def _private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def kiosk_folder(
    folder: Path,
    router_url: str,
    api_key: str,
    host_pic: str,
    host_keys: KeyStore,
    *,
    aid: str = "F58542",
    decision_timeout: float = 30,
) -> Path:
    """Write a kiosk's host.toml, credentials and application keys; the host.toml's path."""
    folder.mkdir(parents=True, exist_ok=True)
    _private(folder / "credentials.toml", f'api_key = "{api_key}"\n')
    _private(
        folder / "application-keys.json",
        json.dumps({"version": HOST_KEY_VERSION, "keys": [k.hex() for k in HOST_APP_KEYS]}),
    )
    sig, enc = host_keys.current_kid("sig"), host_keys.current_kid("enc")
    config = f"""
[router]
url = "{router_url}"
credentials = "credentials.toml"

[host]
pic = "{host_pic}"
name = "{HOST_NAME}"
signing_key = "{host_keys.directory / f"sig-{sig}.jwk.json"}"
encryption_key = "{host_keys.directory / f"enc-{enc}.jwk.json"}"

[timeouts]
card = 20
decision = {decision_timeout}
router = 10
{APPLICATION_TOML.format(aid=aid)}"""
    (folder / "host.toml").write_text(config)
    return folder / "host.toml"
