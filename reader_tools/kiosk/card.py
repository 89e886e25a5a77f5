"""What the kiosk writes on the card once the home approved: flow F, step by step.

With the DAM auth key (PICC key 0x10) from the home's answer: CreateDelegatedApplication with EncK
and DAMMAC; then, in the new application, authenticate with the default key the host chose, change
every key to the host's own (key 0 last: changing the authenticated key ends the session), prove the
new key 0 by authenticating with it, create the configured files, and read the slot back with
GetDelegatedInfo.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reader_tools.desfire.application import StdFileSpec
from reader_tools.desfire.commands import DelegatedInfo, Desfire, IntegrityError
from reader_tools.desfire.crypto import DAM_AUTH_KEY_NO
from reader_tools.desfire.protocol import PICC_AID
from reader_tools.kiosk.config import ApplicationKeys
from sgc_client.delegation.host import Authorisation


def install_application(
    card: Desfire,
    authorisation: Authorisation,
    default_key: bytes,
    keys: ApplicationKeys,
    files: Sequence[StdFileSpec],
    step: Callable[[str], None] = lambda _name: None,
) -> DelegatedInfo:
    """Create the delegated application with the host's keys and files; its DAM slot's info.

    ``step`` is told the name of each step before it runs (the display shows progress). Any
    card refusal raises :class:`~reader_tools.desfire.commands.DesfireError`.
    """
    aid = bytes.fromhex(authorisation.application.aid)
    step("create")
    card.select_application(PICC_AID)
    card.authenticate_ev2_first(DAM_AUTH_KEY_NO, authorisation.dam_auth_key)
    card.create_delegated_application(
        authorisation.dam_application(), authorisation.enck, authorisation.dam_mac
    )
    step("keys")
    card.select_application(aid)
    card.authenticate_ev2_first(0, default_key)
    for key_no in range(1, len(keys.keys)):
        card.change_key(key_no, keys.keys[key_no], keys.version, old_key=default_key)
    card.change_key(0, keys.keys[0], keys.version)
    card.authenticate_ev2_first(0, keys.keys[0])
    if files:
        step("files")
        for spec in files:
            card.create_std_data_file(spec)
    step("check")
    card.select_application(PICC_AID)
    card.authenticate_ev2_first(DAM_AUTH_KEY_NO, authorisation.dam_auth_key)
    info = card.get_delegated_info(authorisation.slot_no)
    card.end_session()
    if info.aid != aid:
        raise IntegrityError(
            f"DAM slot {authorisation.slot_no} holds {info.aid.hex().upper() if info.aid else 'no'}"
            f" application, not {aid.hex().upper()}"
        )
    return info
