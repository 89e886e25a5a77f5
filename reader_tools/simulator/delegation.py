"""The card's delegated application management: CreateDelegatedApplication and GetDelegatedInfo.

The host, authenticated with the DAM authentication key (PICC key 0x10) under EV2 secure
messaging, sends ``C9 || AppData`` (the card answers AF), then ``AF || EncK || DAMMAC`` (both
frames MACed as one command). The card checks DAMMAC with its DAM MAC key, opens EncK with its DAM
ENC key and creates the application with the issuer's default key in every key slot.

The statuses of the refusals, kept here in one place (verify against NXP's MF3DHx2 data sheet):
a wrong DAMMAC is INTEGRITY_ERROR (the card's answer to any MAC that does not match), a DAM slot
that already holds an application is PERMISSION_DENIED, a quota larger than the free memory is
OUT_OF_EEPROM_ERROR (as is a file that would exceed the quota), an AID, ISO file identifier or DF
name in use is DUPLICATE_ERROR, and no authentication with the DAM key is AUTHENTICATION_ERROR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reader_tools.desfire import crypto
from reader_tools.desfire.application import ApplicationSpec
from reader_tools.desfire.protocol import (
    Command,
    CommMode,
    Status,
    aid_to_wire,
)
from reader_tools.simulator.applications import add_application, check_new_application
from reader_tools.simulator.frames import Answer, CardError, Pending
from reader_tools.simulator.state import DamSlot, Key

if TYPE_CHECKING:
    from reader_tools.simulator.card import SimulatedCard

SECOND_FRAME = crypto.ENCK_SIZE + crypto.DAM_MAC_SIZE
REFUSE_WRONG_DAMMAC = Status.INTEGRITY_ERROR
REFUSE_USED_SLOT = Status.PERMISSION_DENIED
REFUSE_QUOTA = Status.OUT_OF_EEPROM_ERROR


def _parse(data: bytes) -> crypto.DamApplication:
    try:
        return crypto.DamApplication.from_app_data(data)
    except ValueError as error:
        raise CardError(Status.LENGTH_ERROR, str(error)) from error


def start(card: SimulatedCard, data: bytes) -> Pending:
    """Frame 1: AppData, checked for form and authentication; the card asks for EncK and DAMMAC."""
    card.require_ev2_or_plain()
    card.require_picc_level()
    if card.session is None or card.session.key_no != crypto.DAM_AUTH_KEY_NO:
        raise CardError(Status.AUTHENTICATION_ERROR, "this needs the DAM authentication key")
    _parse(data)
    return Pending(kind="delegated", command=Command.CREATE_DELEGATED_APPLICATION, data=data)


def finish(card: SimulatedCard, pending: Pending, data: bytes) -> Answer:
    """Frame 2: EncK || DAMMAC (|| MACt): check, open, create; or refuse as a real card would."""
    app_data = pending.data
    body = card.open_command(Command.CREATE_DELEGATED_APPLICATION, app_data + data, CommMode.MAC, 0)
    if len(body) != len(app_data) + SECOND_FRAME:
        raise CardError(Status.LENGTH_ERROR, "the second frame is EncK (32) and DAMMAC (8)")
    enck = body[len(app_data) : len(app_data) + crypto.ENCK_SIZE]
    dammac = body[len(app_data) + crypto.ENCK_SIZE :]
    application = _parse(app_data)
    if not crypto.verify_dam_mac(
        card.state.dam_keys[crypto.DAM_MAC_KEY_NO].value, application, enck, dammac
    ):
        raise CardError(REFUSE_WRONG_DAMMAC, "DAMMAC does not match")
    slot = card.state.dam_slots.get(application.slot_no)
    if slot is not None and slot.aid is not None:
        raise CardError(REFUSE_USED_SLOT, f"DAM slot {application.slot_no} is in use")
    spec = ApplicationSpec(
        aid=application.aid,
        key_settings_1=application.key_settings_1,
        key_settings_2=application.key_settings_2,
        key_settings_3=application.key_settings_3,
        key_set_values=(
            bytes(
                (
                    application.aks_version,
                    application.no_key_sets,
                    application.max_key_size,
                    application.app_key_set_settings,
                )
            )
            if application.aks_version is not None
            else None
        ),
        iso_file_id=application.iso_file_id,
        iso_df_name=application.iso_df_name,
    )
    check_new_application(card, spec)
    if application.quota_limit > card.state.free_blocks():
        raise CardError(REFUSE_QUOTA, "the quota exceeds the card's free memory")
    try:
        default_key, version = crypto.open_enc_k(
            card.state.dam_keys[crypto.DAM_ENC_KEY_NO].value,
            enck,
            key_size=application.default_key_size,
        )
    except crypto.CryptogramError as error:
        raise CardError(Status.INTEGRITY_ERROR, str(error)) from error
    created = add_application(card, spec, Key(default_key, version))
    created.dam_slot_no = application.slot_no
    created.quota_blocks = application.quota_limit
    card.state.dam_slots[application.slot_no] = DamSlot(
        slot_no=application.slot_no,
        slot_version=application.slot_version,
        quota_limit=application.quota_limit,
        aid=application.aid,
    )
    return card.seal(Answer.of(), CommMode.MAC)


def get_delegated_info(card: SimulatedCard, data: bytes) -> Answer:
    """GetDelegatedInfo: SlotVersion, QuotaLimit, FreeBlocks and AID of a DAM slot.

    The simulated card answers it at PICC level without an authentication (MACed inside a session).
    """
    card.require_ev2_or_plain()
    card.require_picc_level()
    data = card.open_command(Command.GET_DELEGATED_INFO, data, CommMode.MAC, 0)
    if len(data) != 2:
        raise CardError(Status.LENGTH_ERROR, "GetDelegatedInfo takes a DAM slot number")
    slot = card.state.dam_slots.get(int.from_bytes(data, "little"))
    if slot is None:
        raise CardError(Status.APPLICATION_NOT_FOUND, "no such DAM slot")
    application = card.state.applications.get(slot.aid) if slot.aid is not None else None
    used = application.used_blocks if application is not None else 0
    answer = (
        bytes((slot.slot_version,))
        + slot.quota_limit.to_bytes(2, "little")
        + (slot.quota_limit - used).to_bytes(2, "little")
        + (aid_to_wire(slot.aid) if slot.aid is not None else bytes(3))
    )
    return card.seal(Answer.of(answer), CommMode.MAC)
