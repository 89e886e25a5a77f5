"""The DAM authorisation of one card, computed by the home from its base keys (DESFire module).

The card's three DAM keys are AN10922 diversifications of the home's base keys with the card's
UID (the inputs are documented in :mod:`reader_tools.desfire.crypto`): EncK wraps the new
application's default key under the card's DAM ENC key, DAMMAC authenticates the application's
layout and EncK under its DAM MAC key, and the host gets the card's DAM auth key (PICC key 0x10),
sealed to it alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reader_tools.desfire.crypto import (
    DamApplication,
    DamBaseKeys,
    dam_mac,
    diversify_dam_keys,
    enc_k,
)
from sgc_client.protocol.delegation import Application, DamAuthorisation


def dam_application(application: Application, slot_no: int, slot_version: int) -> DamApplication:
    """The DESFire module's view of a requested application in a given DAM slot."""
    return DamApplication(
        aid=bytes.fromhex(application.aid),
        slot_no=slot_no,
        slot_version=slot_version,
        quota_limit=application.quota_limit,
        key_settings_1=application.key_settings_1,
        key_settings_2=application.key_settings_2,
        key_settings_3=application.key_settings_3,
        aks_version=application.aks_version,
        no_key_sets=application.no_key_sets,
        max_key_size=application.max_key_size,
        app_key_set_settings=application.app_key_set_settings,
        iso_file_id=application.iso_file_id,
        iso_df_name=bytes.fromhex(application.iso_df_name) if application.iso_df_name else None,
    )


@dataclass(frozen=True)
class CardAuthorisation:
    """What the home sends for one card: the DAM data, and the card's DAM auth key (secret)."""

    dam: DamAuthorisation
    dam_auth_key: bytes = field(repr=False)


def authorise(
    base: DamBaseKeys,
    uid: str,
    application: Application,
    slot_no: int,
    slot_version: int,
    default_key: bytes,
    key_version: int,
) -> CardAuthorisation:
    """EncK and DAMMAC for this card, application and slot, and the card's DAM auth key."""
    card = diversify_dam_keys(base, bytes.fromhex(uid))
    enck = enc_k(card.enc, default_key, key_version)
    mac = dam_mac(card.mac, dam_application(application, slot_no, slot_version), enck)
    return CardAuthorisation(
        dam=DamAuthorisation(
            slot_no=slot_no,
            slot_version=slot_version,
            enck=enck.hex().upper(),
            dam_mac=mac.hex().upper(),
        ),
        dam_auth_key=card.auth,
    )
