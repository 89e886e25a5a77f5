"""The chip data zone (card type SMART_CDZ): read it as any verifier does, write it as the issuer.

DESFire application F58840 (ISO DF 0x1000, DF name ``A0 00 00 06 14 04 F5 88 40``), AES keys,
three standard data files in plain communication, free to read (access rights 0xE000): file 0
(EF 1001) the ESCN as 16 raw bytes, file 1 (EF 1002) an ECDSA P-256 / SHA-256 signature (DER) over
ESCN bytes || card UID bytes, file 2 (EF 1003) the institution's X.509 certificate (DER). Each file
is exactly as long as its content. Key 0 (the application's master key) and keys 1 and 2 are
diversified from the issuer's base keys, so the issuer can prove the chip is no clone.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from reader_tools import iso7816
from reader_tools.desfire import crypto
from reader_tools.desfire.application import ApplicationSpec, StdFileSpec
from reader_tools.desfire.commands import Desfire, Transport
from reader_tools.desfire.protocol import (
    KS1_CONFIGURATION_CHANGEABLE,
    KS1_FREE_DIRECTORY_LIST,
    KS1_MASTER_KEY_CHANGEABLE,
    KS2_AES,
    KS2_ISO_FILE_IDS,
    PICC_AID,
    SW_FILE_NOT_FOUND,
    CommMode,
)

CDZ_AID = bytes.fromhex("F58840")
CDZ_DF_FILE_ID = 0x1000
CDZ_DF_NAME = bytes.fromhex("A00000061404F58840")
ESCN_FILE, SIGNATURE_FILE, CERTIFICATE_FILE = 0, 1, 2
FILE_IDS = {ESCN_FILE: 0x1001, SIGNATURE_FILE: 0x1002, CERTIFICATE_FILE: 0x1003}
FREE_READ = 0xE000  # read: free; write, read&write, change: key 0
KEY_SETTINGS_1 = (
    KS1_CONFIGURATION_CHANGEABLE | KS1_FREE_DIRECTORY_LIST | KS1_MASTER_KEY_CHANGEABLE
)  # keys changed with key 0; files created with key 0
KEY_SETTINGS_2 = KS2_AES | KS2_ISO_FILE_IDS | 3
APPLICATION = ApplicationSpec(
    aid=CDZ_AID,
    key_settings_1=KEY_SETTINGS_1,
    key_settings_2=KEY_SETTINGS_2,
    iso_file_id=CDZ_DF_FILE_ID,
    iso_df_name=CDZ_DF_NAME,
)


class NoChipDataZone(Exception):
    """The card has no chip data zone (card type SMART_NO_CDZ), or it cannot be read."""


def escn_bytes(escn: str) -> bytes:
    """The 16 raw bytes of an ESCN."""
    return uuid.UUID(escn).bytes


def escn_from_bytes(raw: bytes) -> str:
    """The written form (lower-case 8-4-4-4-12) of 16 raw ESCN bytes."""
    if len(raw) != 16:
        raise ValueError("an ESCN is 16 raw bytes")
    return str(uuid.UUID(bytes=raw))


def pic_of_escn(escn: str) -> str | None:
    """The issuer's PIC: the last 9 of the 12 node digits of a version 1 UUID; None if not."""
    try:
        parsed = uuid.UUID(escn)
    except ValueError:
        return None
    node = str(parsed)[-12:]
    if parsed.version != 1 or not node.isdigit():
        return None
    return node[3:]


def signed_message(escn: str, uid: bytes) -> bytes:
    """What the issuer signs: ESCN bytes || card UID bytes."""
    return escn_bytes(escn) + uid


def sign_chip_data(key: ec.EllipticCurvePrivateKey, escn: str, uid: bytes) -> bytes:
    """The ECDSA P-256 / SHA-256 signature (DER) of the chip data zone."""
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the chip data zone is signed with a P-256 key")
    return key.sign(signed_message(escn, uid), ec.ECDSA(hashes.SHA256()))


@dataclass(frozen=True)
class ChipData:
    """What the chip data zone holds, with the UID of the card it was read from."""

    uid: bytes
    escn: str
    signature: bytes
    certificate: bytes


def read_chip_data(transport: Transport) -> ChipData:
    """Read the chip data zone over ISO 7816-4, as a verifier without keys does."""
    uid = iso7816.get_uid(transport)
    try:
        iso7816.select_df_name(transport, CDZ_DF_NAME)
    except iso7816.IsoStatusError as error:
        if error.status_word == SW_FILE_NOT_FOUND:
            raise NoChipDataZone("the card has no chip data zone (application F58840)") from error
        raise NoChipDataZone(str(error)) from error
    contents = {}
    for file_no, file_id in FILE_IDS.items():
        try:
            iso7816.select_file(transport, file_id)
            contents[file_no] = iso7816.read_binary(transport)
        except iso7816.IsoStatusError as error:
            raise NoChipDataZone(f"the chip data zone cannot be read: {error}") from error
    if len(contents[ESCN_FILE]) != 16:
        raise NoChipDataZone("the chip data zone's ESCN file does not hold 16 bytes")
    return ChipData(
        uid=uid,
        escn=escn_from_bytes(contents[ESCN_FILE]),
        signature=contents[SIGNATURE_FILE],
        certificate=contents[CERTIFICATE_FILE],
    )


@dataclass(frozen=True)
class CdzBaseKeys:
    """The issuer's base keys of the chip data zone: key 0 (master), key 1 (ESCN), key 2 (UID)."""

    master: bytes = field(repr=False)
    key_1: bytes = field(repr=False)
    key_2: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> CdzBaseKeys:
        """Three fresh AES-128 base keys."""
        return cls(*(secrets.token_bytes(crypto.AES_KEY_SIZE) for _ in range(3)))

    @classmethod
    def load(cls, path: Path) -> CdzBaseKeys:
        """Read ``{"master": hex, "key1": hex, "key2": hex}``."""
        data = json.loads(path.read_text())
        return cls(*(bytes.fromhex(data[name]) for name in ("master", "key1", "key2")))

    def save(self, path: Path) -> None:
        """Write the keys as JSON, readable by the owner only."""
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        document = {"master": self.master.hex(), "key1": self.key_1.hex(), "key2": self.key_2.hex()}
        path.write_text(json.dumps(document, indent=2) + "\n")

    def card_keys(self, escn: str, uid: bytes) -> tuple[bytes, bytes, bytes]:
        """Keys 0, 1 and 2 of one card's chip data zone."""
        key_1, key_2 = crypto.cdz_keys(self.key_1, self.key_2, escn_bytes(escn), uid)
        return crypto.cdz_master_key(self.master, uid), key_1, key_2


def write_chip_data(
    card: Desfire,
    *,
    picc_master_key: bytes,
    escn: str,
    signing_key: ec.EllipticCurvePrivateKey,
    certificate: bytes,
    base_keys: CdzBaseKeys,
) -> ChipData:
    """Create application F58840 with its three files, signed for this card, and set its keys.

    The UID signed is the one every verifier reads (``FF CA``); it must be the card's real UID
    (GetCardUID): a card with random UIDs could not be verified and is refused.
    """
    uid = iso7816.get_uid(card.transport)
    card.select_application(PICC_AID)
    card.authenticate_ev2_first(0, picc_master_key)
    if card.get_card_uid() != uid:
        raise ValueError("the card announces a random UID: its chip data could not be verified")
    card.create_application(APPLICATION)
    card.select_application(CDZ_AID)
    blank = bytes(crypto.AES_KEY_SIZE)
    card.authenticate_ev2_first(0, blank)
    signature = sign_chip_data(signing_key, escn, uid)
    contents = {
        ESCN_FILE: escn_bytes(escn),
        SIGNATURE_FILE: signature,
        CERTIFICATE_FILE: certificate,
    }
    for file_no, content in contents.items():
        card.create_std_data_file(
            StdFileSpec(
                file_no=file_no,
                size=len(content),
                comm_mode=CommMode.PLAIN,
                access_rights=FREE_READ,
                iso_file_id=FILE_IDS[file_no],
            )
        )
        card.write_data(file_no, content)
    key_0, key_1, key_2 = base_keys.card_keys(escn, uid)
    card.change_key(1, key_1, 1, old_key=blank)
    card.change_key(2, key_2, 1, old_key=blank)
    card.change_key(0, key_0, 1)  # the session's own key, last: it ends the session
    return ChipData(uid=uid, escn=escn, signature=signature, certificate=certificate)


def prove_keys(card: Desfire, base_keys: CdzBaseKeys, chip: ChipData) -> None:
    """Authenticate with keys 1 and 2 of this card: the issuer's proof that the chip is no clone.

    Raises :class:`reader_tools.desfire.commands.DesfireError` if the card does not hold them.
    """
    _, key_1, key_2 = base_keys.card_keys(chip.escn, chip.uid)
    card.select_application(CDZ_AID)
    card.authenticate_ev2_first(1, key_1)
    card.authenticate_ev2_first(2, key_2)
    card.end_session()
