"""The reader's DESFire command layer against the simulated card, connected directly (no PC/SC).

The same layer runs through pcscd in ``test_pcsc.py``; here every command and refusal is checked
quickly, including the whole delegated-application sequence the kiosk will run.
"""

from __future__ import annotations

import pytest

from reader_tools.desfire import crypto
from reader_tools.desfire.application import ApplicationSpec, StdFileSpec
from reader_tools.desfire.commands import (
    Desfire,
    DesfireError,
    IntegrityError,
    NotAuthenticated,
)
from reader_tools.desfire.protocol import PICC_AID, CommMode, Status
from reader_tools.simulator.card import SimulatedCard
from reader_tools.simulator.state import CardState

h = bytes.fromhex
UID = h("04A1B2C3D4E5F6")
ZERO = bytes(16)
HOST_AID = h("F58542")


@pytest.fixture
def card() -> SimulatedCard:
    return SimulatedCard(CardState.blank(UID))


@pytest.fixture
def desfire(card: SimulatedCard) -> Desfire:
    return Desfire(card)


class Tampering:
    """A transport that flips one bit of the card's answers once armed (a man in the middle)."""

    def __init__(self, card: SimulatedCard) -> None:
        self.card, self.armed = card, False

    def transmit(self, apdu: bytes) -> bytes:
        response = self.card.transmit(apdu)
        if self.armed and len(response) > 2:
            response = bytes((response[0] ^ 0x01,)) + response[1:]
        return response


def test_get_version_identifies_an_ev2(desfire: Desfire) -> None:
    version = desfire.get_version()
    assert (version.generation, version.uid, version.storage_bytes) == ("EV2", UID, 8192)


def test_authenticated_commands_are_maced_and_counted(
    desfire: Desfire, card: SimulatedCard
) -> None:
    desfire.authenticate_ev2_first(0, ZERO)
    assert desfire.get_card_uid() == UID
    assert desfire.free_memory() == 7936
    assert desfire.get_version().uid == UID
    assert desfire.session.cmd_ctr == card.session.cmd_ctr == 3
    assert desfire.get_key_version(0) == 0


def test_a_tampered_answer_ends_the_session(card: SimulatedCard) -> None:
    transport = Tampering(card)
    desfire = Desfire(transport)
    desfire.authenticate_ev2_first(0, ZERO)
    transport.armed = True
    with pytest.raises(IntegrityError):
        desfire.free_memory()
    assert desfire.session is None
    with pytest.raises(NotAuthenticated):
        desfire.get_card_uid()


def test_a_wrong_key_is_an_authentication_error(desfire: Desfire) -> None:
    with pytest.raises(DesfireError) as refused:
        desfire.authenticate_ev2_first(0, h("01") * 16)
    assert refused.value.status == Status.AUTHENTICATION_ERROR
    assert "AUTHENTICATION_ERROR" in str(refused.value)


def test_authenticate_aes_proves_the_key_and_allows_plain_commands_only(desfire: Desfire) -> None:
    session_key = desfire.authenticate_aes(0, ZERO, rnd_a=bytes(range(16)))
    assert len(session_key) == 16 and desfire.ev1_key == 0
    with pytest.raises(NotAuthenticated):
        desfire.free_memory()
    desfire.select_application(PICC_AID)
    assert desfire.ev1_key is None


def test_applications_files_and_chained_data(desfire: Desfire) -> None:
    desfire.authenticate_ev2_first(0, ZERO)
    spec = ApplicationSpec(
        aid=h("F58840"),
        key_settings_1=0x0B,
        key_settings_2=0xA3,
        iso_file_id=0x1000,
        iso_df_name=h("A00000061404F58840"),
    )
    desfire.create_application(spec)
    assert desfire.get_application_ids() == [h("F58840")]
    with pytest.raises(DesfireError) as duplicate:
        desfire.create_application(spec)
    assert duplicate.value.status == Status.DUPLICATE_ERROR
    desfire.select_application(h("F58840"))
    desfire.authenticate_ev2_first(0, ZERO)
    content = bytes(range(256)) * 2 + b"tail"
    for file_no, mode in ((0, CommMode.PLAIN), (1, CommMode.MAC), (2, CommMode.FULL)):
        desfire.create_std_data_file(
            StdFileSpec(
                file_no=file_no,
                size=len(content),
                comm_mode=mode,
                access_rights=0x0000,
                iso_file_id=0x1001 + file_no,
            )
        )
        desfire.write_data(file_no, content, mode=mode)
        assert desfire.read_data(file_no, mode=mode) == content
        assert desfire.read_data(file_no, offset=500, length=10, mode=mode) == content[500:510]
    assert desfire.get_file_ids() == [0, 1, 2]


def test_change_key_of_another_key_needs_its_old_value(
    desfire: Desfire, card: SimulatedCard
) -> None:
    desfire.authenticate_ev2_first(0, ZERO)
    with pytest.raises(ValueError):
        desfire.change_key(0x10, h("11") * 16, 1)
    desfire.change_key(0x10, h("11") * 16, 1, old_key=ZERO)
    assert card.state.dam_keys[0x10].value == h("11") * 16
    desfire.change_key(0x80, h("22") * 16, 2)
    assert desfire.session is None
    desfire.authenticate_ev2_first(0, h("22") * 16)
    assert desfire.get_key_version(0x10) == 1


def test_the_whole_delegation_as_home_and_host(desfire: Desfire, card: SimulatedCard) -> None:
    """The home sets the card's DAM keys; the host creates, keys and fills its application."""
    home_base = crypto.DamBaseKeys.generate()
    dam = crypto.diversify_dam_keys(home_base, UID)
    desfire.authenticate_ev2_first(0, ZERO)
    for key_no, key in ((0x10, dam.auth), (0x11, dam.mac), (0x12, dam.enc)):
        desfire.change_key(key_no, key, 1, old_key=ZERO)

    # The home's authorisation for this card (what the delegation answer carries).
    application = crypto.DamApplication(
        aid=HOST_AID,
        slot_no=3,
        slot_version=1,
        quota_limit=8,
        key_settings_1=0x0B,
        key_settings_2=0xA2,
        iso_file_id=0x2000,
        iso_df_name=h("A0000006140400F58542"),
    )
    default_key = crypto.DamBaseKeys.generate().auth
    enck = crypto.enc_k(dam.enc, default_key, 0x01)
    dammac = crypto.dam_mac(dam.mac, application, enck)

    # The host, with the per-card DAM auth key only.
    desfire.select_application(PICC_AID)
    desfire.authenticate_ev2_first(crypto.DAM_AUTH_KEY_NO, dam.auth)
    desfire.create_delegated_application(application, enck, dammac)
    info = desfire.get_delegated_info(3)
    assert (info.slot_version, info.quota_limit, info.free_blocks, info.aid) == (1, 8, 8, HOST_AID)
    desfire.select_application(HOST_AID)
    desfire.authenticate_ev2_first(0, default_key)
    host_keys = [bytes([0x40 + i]) * 16 for i in range(2)]
    desfire.change_key(1, host_keys[1], 1, old_key=default_key)
    desfire.change_key(0, host_keys[0], 1)
    desfire.authenticate_ev2_first(0, host_keys[0])
    desfire.create_std_data_file(
        StdFileSpec(
            file_no=1, size=64, comm_mode=CommMode.FULL, access_rights=0x1010, iso_file_id=0x2001
        )
    )
    desfire.authenticate_ev2_first(1, host_keys[1])
    desfire.write_data(1, b"host's data", mode=CommMode.FULL)
    assert desfire.read_data(1, length=11, mode=CommMode.FULL) == b"host's data"
    desfire.select_application(PICC_AID)
    assert desfire.get_delegated_info(3).free_blocks == 6
    assert [k.value for k in card.state.applications[HOST_AID].keys] == host_keys


def test_delegation_refusals_reach_the_reader_with_the_card_status(
    desfire: Desfire, card: SimulatedCard
) -> None:
    dam = crypto.diversify_dam_keys(crypto.DamBaseKeys.generate(), UID)
    card.state.dam_keys[0x10].value = dam.auth
    card.state.dam_keys[0x11].value = dam.mac
    card.state.dam_keys[0x12].value = dam.enc
    application = crypto.DamApplication(
        aid=HOST_AID,
        slot_no=0,
        slot_version=0,
        quota_limit=4,
        key_settings_1=0x0B,
        key_settings_2=0x82,
    )
    enck = crypto.enc_k(dam.enc, ZERO, 0)
    desfire.authenticate_ev2_first(0x10, dam.auth)
    with pytest.raises(DesfireError) as wrong_mac:
        desfire.create_delegated_application(application, enck, bytes(8))
    assert wrong_mac.value.status == Status.INTEGRITY_ERROR
    desfire.authenticate_ev2_first(0x10, dam.auth)
    desfire.create_delegated_application(
        application, enck, crypto.dam_mac(dam.mac, application, enck)
    )
    again = crypto.DamApplication(**{**application.__dict__, "aid": h("F58543")})
    with pytest.raises(DesfireError) as used:
        desfire.create_delegated_application(again, enck, crypto.dam_mac(dam.mac, again, enck))
    assert used.value.status == Status.PERMISSION_DENIED
    with pytest.raises(NotAuthenticated):
        desfire.create_delegated_application(again, enck, bytes(8))
