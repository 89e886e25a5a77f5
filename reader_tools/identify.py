"""What card is in the reader: UID, ATR, DESFire generation, and its European Student Card type.

A DESFire card carrying application F58840 is of card type SMART_CDZ (chip with the ESC data
zone); any other chip is SMART_NO_CDZ. The DESFire generation comes from GetVersion.
"""

from __future__ import annotations

from dataclasses import dataclass

from reader_tools import iso7816
from reader_tools.cdz import CDZ_DF_NAME
from reader_tools.desfire.commands import Desfire, DesfireError, IntegrityError, Transport


@dataclass(frozen=True)
class CardIdentity:
    """A presented card."""

    uid: bytes
    atr: bytes
    chip: str
    card_type: str

    def to_json(self) -> dict[str, str]:
        """A JSON-ready dictionary."""
        return {
            "uid": self.uid.hex().upper(),
            "atr": self.atr.hex().upper(),
            "chip": self.chip,
            "cardType": self.card_type,
        }


def identify(transport: Transport, atr: bytes) -> CardIdentity:
    """Identify the card behind ``transport`` (read-only: no key, no write)."""
    uid = iso7816.get_uid(transport)
    try:
        chip = f"MIFARE DESFire {Desfire(transport).get_version().generation}"
    except (DesfireError, IntegrityError):
        chip = "not a DESFire card"
    try:
        iso7816.select_df_name(transport, CDZ_DF_NAME)
    except iso7816.IsoStatusError:
        card_type = "SMART_NO_CDZ"
    else:
        card_type = "SMART_CDZ"
    return CardIdentity(uid=uid, atr=atr, chip=chip, card_type=card_type)
