"""The card's PICC and application commands: version, UID, selection, listing, creation, keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reader_tools.desfire import crypto
from reader_tools.desfire.application import ApplicationSpec
from reader_tools.desfire.protocol import (
    CHANGE_KEY_FROZEN,
    CHANGE_KEY_WITH_SAME_KEY,
    KS1_CHANGE_KEY_SHIFT,
    KS1_FREE_CREATE_DELETE,
    KS1_FREE_DIRECTORY_LIST,
    KS1_MASTER_KEY_CHANGEABLE,
    KS2_AES,
    KS2_CRYPTO_MASK,
    MAX_APPLICATIONS,
    PICC_AID,
    Command,
    CommMode,
    Status,
    aid_from_wire,
    aid_to_wire,
)
from reader_tools.simulator.frames import Answer, CardError
from reader_tools.simulator.state import BLOCK_BYTES, Application, Key

if TYPE_CHECKING:
    from reader_tools.simulator.card import SimulatedCard

MAX_KEYS = 14
# GetVersion: NXP, DESFire, EV2 (major 0x12), 8 kB, ISO 14443-2 and -3.
HARDWARE_VERSION = bytes.fromhex("04010112001A05")
SOFTWARE_VERSION = bytes.fromhex("04010112001A05")
PRODUCTION_BATCH = bytes.fromhex("BA5E000001 3224")  # batch number, calendar week, year (BCD)
# PICC key settings: the same bits as an application's key settings 1.
PICC_FREE_CREATE = KS1_FREE_CREATE_DELETE
PICC_FREE_LISTING = KS1_FREE_DIRECTORY_LIST


def _require_master_key_unless(card: SimulatedCard, free: bool) -> None:
    if not free and card.authenticated_key != 0:
        raise CardError(Status.AUTHENTICATION_ERROR, "this needs the master key")


def get_version(card: SimulatedCard, data: bytes) -> Answer:
    """GetVersion: hardware, software and production data, in three frames."""
    card.require_ev2_or_plain()
    card.open_command(Command.GET_VERSION, data, CommMode.MAC, 0)
    answer = Answer(frames=[HARDWARE_VERSION, SOFTWARE_VERSION, card.state.uid + PRODUCTION_BATCH])
    return card.seal(answer, CommMode.MAC)


def get_card_uid(card: SimulatedCard, data: bytes) -> Answer:
    """GetCardUID: the real UID, encrypted, only to an authenticated reader."""
    if card.session is None:
        card.require_ev2_or_plain()
        raise CardError(Status.AUTHENTICATION_ERROR, "GetCardUID needs an authentication")
    card.open_command(Command.GET_CARD_UID, data, CommMode.MAC, 0)
    return card.seal(Answer.of(card.state.uid), CommMode.FULL)


def select_application(card: SimulatedCard, data: bytes) -> Answer:
    """SelectApplication: an AID (LSB first), or 000000 for the PICC level; ends authentication."""
    if len(data) != 3:
        raise CardError(Status.LENGTH_ERROR, "SelectApplication takes one AID")
    aid = aid_from_wire(data)
    if aid != PICC_AID and aid not in card.state.applications:
        raise CardError(Status.APPLICATION_NOT_FOUND, aid.hex().upper())
    card.end_authentication()
    card.selected = aid
    card.selected_file = None
    return Answer.of()


def get_application_ids(card: SimulatedCard, data: bytes) -> Answer:
    """GetApplicationIDs: every AID (LSB first), free if the PICC key settings allow listing."""
    card.require_ev2_or_plain()
    card.require_picc_level()
    card.open_command(Command.GET_APPLICATION_IDS, data, CommMode.MAC, 0)
    _require_master_key_unless(card, bool(card.state.picc_key_settings & PICC_FREE_LISTING))
    listing = b"".join(aid_to_wire(aid) for aid in card.state.applications)
    return card.seal(Answer.of(listing), CommMode.MAC)


def free_memory(card: SimulatedCard, data: bytes) -> Answer:
    """FreeMemory: free user memory in bytes (3 bytes, LSB first)."""
    card.require_ev2_or_plain()
    card.require_picc_level()
    card.open_command(Command.FREE_MEMORY, data, CommMode.MAC, 0)
    free = card.state.free_blocks() * BLOCK_BYTES
    return card.seal(Answer.of(free.to_bytes(3, "little")), CommMode.MAC)


def check_new_application(card: SimulatedCard, spec: ApplicationSpec) -> None:
    """Refuse an application the card cannot hold: identifiers taken, too many, not AES."""
    if spec.crypto != KS2_AES:
        raise CardError(Status.PARAMETER_ERROR, "this card simulates AES applications only")
    if not 1 <= spec.key_count <= MAX_KEYS:
        raise CardError(Status.PARAMETER_ERROR, "an application has 1 to 14 keys")
    existing = card.state.applications.values()
    if spec.aid in card.state.applications:
        raise CardError(Status.DUPLICATE_ERROR, f"application {spec.aid.hex().upper()} exists")
    if spec.iso_file_id is not None and any(a.iso_file_id == spec.iso_file_id for a in existing):
        raise CardError(Status.DUPLICATE_ERROR, "ISO file identifier already used")
    if spec.iso_df_name is not None and any(a.iso_df_name == spec.iso_df_name for a in existing):
        raise CardError(Status.DUPLICATE_ERROR, "ISO DF name already used")
    if len(card.state.applications) >= MAX_APPLICATIONS:
        raise CardError(Status.COUNT_ERROR, "the card holds 28 applications at most")


def add_application(card: SimulatedCard, spec: ApplicationSpec, key: Key) -> Application:
    """Put a checked application on the card, every key set to ``key``."""
    application = Application(
        aid=spec.aid,
        key_settings_1=spec.key_settings_1,
        key_settings_2=spec.key_settings_2,
        key_settings_3=spec.key_settings_3,
        keys=[Key(key.value, key.version) for _ in range(spec.key_count)],
        iso_file_id=spec.iso_file_id,
        iso_df_name=spec.iso_df_name,
    )
    card.state.applications[spec.aid] = application
    return application


def create_application(card: SimulatedCard, data: bytes) -> Answer:
    """CreateApplication: keys of zeros, version 0; needs the master key unless creation is free."""
    card.require_ev2_or_plain()
    card.require_picc_level()
    data = card.open_command(Command.CREATE_APPLICATION, data, CommMode.MAC, 0)
    _require_master_key_unless(card, bool(card.state.picc_key_settings & PICC_FREE_CREATE))
    try:
        spec = ApplicationSpec.decode(data)
    except ValueError as error:
        raise CardError(Status.LENGTH_ERROR, str(error)) from error
    check_new_application(card, spec)
    add_application(card, spec, Key())
    return card.seal(Answer.of(), CommMode.MAC)


def get_key_version(card: SimulatedCard, data: bytes) -> Answer:
    """GetKeyVersion: the version of a key of the current level."""
    card.require_ev2_or_plain()
    data = card.open_command(Command.GET_KEY_VERSION, data, CommMode.MAC, 0)
    if len(data) != 1:
        raise CardError(Status.LENGTH_ERROR, "GetKeyVersion takes a key number")
    return card.seal(Answer.of(bytes((card.key(data[0] & 0x3F).version,))), CommMode.MAC)


def _who_may_change(card: SimulatedCard, key_no: int) -> int | None:
    """Key whose authentication allows changing ``key_no``; None if nothing may."""
    application = card.application
    if application is None:
        return 0  # PICC master key, and the DAM keys: the PICC master key changes them
    if key_no == 0:
        return 0 if application.key_settings_1 & KS1_MASTER_KEY_CHANGEABLE else None
    rule = application.key_settings_1 >> KS1_CHANGE_KEY_SHIFT
    if rule == CHANGE_KEY_FROZEN:
        return None
    if rule == CHANGE_KEY_WITH_SAME_KEY:
        return key_no
    return rule


def change_key(card: SimulatedCard, data: bytes) -> Answer:
    """ChangeKey (EV2 full mode): KeyNo || E(new key || version [|| CRC32]) || MACt."""
    if card.session is None:
        card.require_ev2_or_plain()
        raise CardError(Status.AUTHENTICATION_ERROR, "ChangeKey needs an authentication")
    data = card.open_command(Command.CHANGE_KEY, data, CommMode.FULL, 1)
    if len(data) < 18:
        raise CardError(Status.LENGTH_ERROR, "ChangeKey takes a key number and a cryptogram")
    key_no_byte, plain = data[0], data[1:]
    key_no = key_no_byte & 0x3F
    if card.application is None and key_no == 0 and key_no_byte & 0xC0 != KS2_AES:
        raise CardError(Status.PARAMETER_ERROR, "this card simulates an AES PICC master key only")
    if card.application is not None and key_no_byte & KS2_CRYPTO_MASK:
        raise CardError(Status.PARAMETER_ERROR, "application key numbers carry no key type")
    target = card.key(key_no)
    if _who_may_change(card, key_no) != card.authenticated_key:
        raise CardError(Status.PERMISSION_DENIED, f"key {key_no:#04x} may not be changed now")
    own_key = key_no == card.authenticated_key
    if own_key:
        if len(plain) != 17:
            raise CardError(Status.LENGTH_ERROR, "new key and version")
        new_key = plain[:16]
    else:
        if len(plain) != 21:
            raise CardError(Status.LENGTH_ERROR, "new key XOR old key, version and CRC32")
        new_key = bytes(a ^ b for a, b in zip(plain[:16], target.value, strict=True))
        if crypto.desfire_crc32(new_key) != plain[17:21]:
            raise CardError(Status.INTEGRITY_ERROR, "CRC32 of the new key does not match")
    target.value, target.version = new_key, plain[16]
    if own_key:
        # The session's key is gone: the answer carries no MAC and the session ends.
        card.end_authentication()
        return Answer.of()
    return card.seal(Answer.of(), CommMode.MAC)
