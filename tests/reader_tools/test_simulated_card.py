"""Each command of the simulated DESFire EV2 card, at the APDU level, against reference vectors.

The frames are built here by hand (cryptography's AES directly, and the vectors of AN12343 and of
the DAM reference), not with the reader's command layer, so that the card and the reader cannot
agree on a mistake.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from reader_tools.desfire import crypto
from reader_tools.desfire.protocol import CommMode
from reader_tools.desfire.session import Ev2Session
from reader_tools.simulator.card import ATR, SimulatedCard
from reader_tools.simulator.state import Application, CardState, DataFile, Key

h = bytes.fromhex
UID = h("04782E21801D80")
AN12343_RND_A = h("B04D0787C93EE0CC8CACC8E86F16C6FE")
AN12343_RND_B = h("FA659AD0DCA738DD65DC7DC38612AD81")


def scripted(*chunks: bytes) -> Callable[[int], bytes]:
    """A card random source that returns ``chunks`` in order."""
    queue = iter(chunks)
    return lambda n: next(queue)[:n]


def cbc(key: bytes, data: bytes, iv: bytes = bytes(16), *, decrypt: bool = False) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    worker = cipher.decryptor() if decrypt else cipher.encryptor()
    return worker.update(data) + worker.finalize()


def wrapped(card: SimulatedCard, command: int, data: bytes = b"") -> tuple[int, bytes]:
    apdu = bytes((0x90, command, 0, 0)) + (bytes((len(data),)) + data if data else b"") + b"\0"
    response = card.transmit(apdu)
    assert response[-2] == 0x91, response.hex()
    return response[-1], response[:-2]


def blank_card(**kwargs: Any) -> SimulatedCard:
    return SimulatedCard(CardState.blank(UID), **kwargs)


def ev2_authenticate(card: SimulatedCard, key_no: int, key: bytes, rnd_a: bytes) -> Ev2Session:
    """AuthenticateEV2First by hand; the session the reader derives."""
    status, challenge = wrapped(card, 0x71, bytes((key_no, 0)))
    assert status == 0xAF and len(challenge) == 16
    rnd_b = cbc(key, challenge, decrypt=True)
    status, answer = wrapped(card, 0xAF, cbc(key, rnd_a + rnd_b[1:] + rnd_b[:1]))
    assert status == 0x00, hex(status)
    plain = cbc(key, answer, decrypt=True)
    assert plain[4:20] == rnd_a[1:] + rnd_a[:1]
    return Ev2Session.establish(key_no, key, rnd_a, rnd_b, plain[:4])


# --- authentication ---------------------------------------------------------------------------


def test_authenticate_ev2_first_derives_the_an12343_session_keys() -> None:
    ti = h("9D00C4DF")
    card = blank_card(random=scripted(AN12343_RND_B, ti))
    status, challenge = wrapped(card, 0x71, h("0000"))
    assert status == 0xAF and challenge == cbc(bytes(16), AN12343_RND_B)
    proof = cbc(bytes(16), AN12343_RND_A + AN12343_RND_B[1:] + AN12343_RND_B[:1])
    status, answer = wrapped(card, 0xAF, proof)
    assert status == 0x00
    expected = ti + AN12343_RND_A[1:] + AN12343_RND_A[:1] + bytes(12)
    assert cbc(bytes(16), answer, decrypt=True) == expected
    assert card.session is not None
    assert card.session.ses_enc == h("63DC07286289A7A6C0334CA31C314A04")
    assert card.session.ses_mac == h("774F26743ECE6AF5033B6AE8522946F6")
    assert (card.session.ti, card.session.cmd_ctr) == (ti, 0)


def test_authentication_with_a_wrong_key_is_refused_and_leaves_no_session() -> None:
    card = blank_card()
    status, challenge = wrapped(card, 0x71, h("0000"))
    wrong = bytes(15) + b"\x01"
    rnd_b = cbc(wrong, challenge, decrypt=True)
    status, _ = wrapped(card, 0xAF, cbc(wrong, bytes(16) + rnd_b[1:] + rnd_b[:1]))
    assert status == 0xAE and card.session is None


def test_authenticate_aes_chains_its_ivs_as_ev1_cards_do() -> None:
    card = blank_card(random=scripted(AN12343_RND_B))
    status, challenge = wrapped(card, 0xAA, h("00"))
    assert status == 0xAF and challenge == cbc(bytes(16), AN12343_RND_B)
    proof = cbc(bytes(16), AN12343_RND_A + AN12343_RND_B[1:] + AN12343_RND_B[:1], challenge)
    status, answer = wrapped(card, 0xAF, proof)
    assert status == 0x00
    assert (
        cbc(bytes(16), answer, proof[-16:], decrypt=True) == AN12343_RND_A[1:] + AN12343_RND_A[:1]
    )
    assert card.authenticated_key == 0 and card.session is None
    # EV1 secure messaging is not simulated: a command needing it is refused, plainly.
    assert wrapped(card, 0x6E) == (0x9D, b"")


def test_the_dam_mac_and_enc_keys_cannot_authenticate() -> None:
    card = blank_card()
    assert wrapped(card, 0x71, h("1100"))[0] == 0x9D
    assert wrapped(card, 0x71, h("1300"))[0] == 0x40


# --- EV2 secure messaging: the AN12343 WriteData / ReadData exchange ----------------------------


def test_an12343_write_then_read_in_mac_mode() -> None:
    state = CardState.blank(UID)
    state.applications[h("F58840")] = Application(
        aid=h("F58840"),
        key_settings_1=0x0F,
        key_settings_2=0x81,
        keys=[Key()],
        files={0: DataFile(file_no=0, size=48, comm_mode=CommMode.MAC, access_rights=0x0000)},
    )
    card = SimulatedCard(state)
    assert wrapped(card, 0x5A, h("4088F5")) == (0x00, b"")
    card.session = Ev2Session(
        key_no=0,
        ses_enc=bytes(16),
        ses_mac=h("9366FA195EB566F5BD2BAD4020B83002"),
        ti=h("E2D3AF69"),
    )
    write = h("00000000190000") + b"\x22" * 25 + h("68F2C28C575A1628")
    assert wrapped(card, 0x8D, write) == (0x00, h("0820F68898C2A7F1"))
    read = wrapped(card, 0xAD, h("00000000300000") + h("0D9BE191D5960834"))
    assert read == (0x00, b"\x22" * 25 + bytes(23) + h("A49A44222D926666"))
    assert card.session.cmd_ctr == 2


def test_a_wrong_command_mac_is_an_integrity_error_that_ends_the_session() -> None:
    card = blank_card()
    session = ev2_authenticate(card, 0, bytes(16), AN12343_RND_A)
    mac = session.command_mac(0x6E, b"")
    assert wrapped(card, 0x6E, bytes(8)) == (0x1E, b"")
    assert card.session is None
    assert wrapped(card, 0x6E, mac)[0] == 0x00  # now plain, unauthenticated


# --- PICC level -------------------------------------------------------------------------------


def test_get_version_answers_three_frames_with_the_uid_in_the_last() -> None:
    card = blank_card()
    assert wrapped(card, 0x60) == (0xAF, h("04010112001A05"))
    assert wrapped(card, 0xAF) == (0xAF, h("04010112001A05"))
    status, production = wrapped(card, 0xAF)
    assert status == 0x00 and production[:7] == UID and len(production) == 14


def test_get_version_in_a_session_macs_the_three_frames_as_one_answer() -> None:
    card = blank_card()
    session = ev2_authenticate(card, 0, bytes(16), AN12343_RND_A)
    _, first = wrapped(card, 0x60, session.command_mac(0x60, b""))
    _, second = wrapped(card, 0xAF)
    status, last = wrapped(card, 0xAF)
    body, mac = (first + second + last)[:-8], (first + second + last)[-8:]
    assert status == 0x00 and mac == session.response_mac(0x00, body)


def test_get_card_uid_is_encrypted_for_an_authenticated_reader_only() -> None:
    card = blank_card()
    assert wrapped(card, 0x51)[0] == 0xAE
    session = ev2_authenticate(card, 0, bytes(16), AN12343_RND_A)
    status, answer = wrapped(card, 0x51, session.command_mac(0x51, b""))
    assert status == 0x00
    cryptogram, mac = answer[:-8], answer[-8:]
    assert mac == session.response_mac(0x00, cryptogram)
    assert session.decrypt_response(cryptogram) == UID


def test_native_framing_answers_status_first() -> None:
    card = blank_card()
    assert card.transmit(h("6E")) == h("00") + (7936).to_bytes(3, "little")
    assert card.transmit(h("5A112233")) == h("A0")
    assert card.transmit(h("FA")) == h("1C")
    assert card.transmit(h("CA 4088F5 0F 81")) == h("00")  # native CreateApplication
    assert card.transmit(h("6A")) == h("00 4088F5")


def test_create_select_and_list_applications() -> None:
    card = blank_card()
    # A blank card lets anyone create applications (PICC key settings 0x0F).
    assert wrapped(card, 0xCA, h("4088F5 0B A3 0010 A00000061404F58840")) == (0x00, b"")
    assert wrapped(card, 0x6A) == (0x00, h("4088F5"))
    assert wrapped(card, 0xCA, h("4088F5 0B A3 0020"))[0] == 0xDE  # AID taken
    assert wrapped(card, 0xCA, h("4188F5 0B A3 0010"))[0] == 0xDE  # ISO identifier taken
    assert wrapped(card, 0xCA, h("4288F5 0B 03"))[0] == 0x9E  # not AES
    assert wrapped(card, 0xCA, h("4288F5 0B"))[0] == 0x7E
    assert wrapped(card, 0x5A, h("4088F5")) == (0x00, b"")
    assert wrapped(card, 0x6A)[0] == 0x9D  # not at PICC level
    assert wrapped(card, 0x5A, h("010203"))[0] == 0xA0


def test_creation_needs_the_master_key_once_the_picc_settings_require_it() -> None:
    card = blank_card()
    card.state.picc_key_settings = 0x09
    assert wrapped(card, 0xCA, h("4088F5 0B 81"))[0] == 0xAE
    assert wrapped(card, 0x6A)[0] == 0xAE
    session = ev2_authenticate(card, 0, bytes(16), AN12343_RND_A)
    data = h("4088F5 0B 81")
    assert wrapped(card, 0xCA, data + session.command_mac(0xCA, data))[0] == 0x00


def test_change_key_sends_new_xor_old_with_a_crc_for_another_key_and_the_key_for_its_own() -> None:
    card = blank_card()
    session = ev2_authenticate(card, 0, bytes(16), AN12343_RND_A)
    dam_auth = bytes(range(16))
    plain = bytes(a ^ b for a, b in zip(dam_auth, bytes(16), strict=True)) + b"\x03"
    plain += crypto.desfire_crc32(dam_auth)
    cryptogram = session.encrypt_command(plain)
    command = b"\x10" + cryptogram
    status, answer = wrapped(card, 0xC4, command + session.command_mac(0xC4, command))
    assert status == 0x00 and answer == session.response_mac(0x00, b"")
    session.advance()
    assert (card.state.dam_keys[0x10].value, card.state.dam_keys[0x10].version) == (dam_auth, 3)

    master = bytes(range(16, 32))
    command = b"\x80" + session.encrypt_command(master + b"\x01")
    assert wrapped(card, 0xC4, command + session.command_mac(0xC4, command)) == (0x00, b"")
    assert card.state.master_key.value == master and card.session is None


def test_change_key_with_a_bad_crc_is_an_integrity_error() -> None:
    card = blank_card()
    session = ev2_authenticate(card, 0, bytes(16), AN12343_RND_A)
    command = b"\x11" + session.encrypt_command(bytes(16) + b"\x01" + b"CRC!")
    assert wrapped(card, 0xC4, command + session.command_mac(0xC4, command))[0] == 0x1E
    assert card.state.dam_keys[0x11] == Key()


# --- files ------------------------------------------------------------------------------------


@pytest.fixture
def cdz_card() -> SimulatedCard:
    card = blank_card()
    wrapped(card, 0xCA, h("4088F5 0F A3 0010 A00000061404F58840"))
    wrapped(card, 0x5A, h("4088F5"))
    return card


def test_files_are_created_written_in_chained_frames_and_read(cdz_card: SimulatedCard) -> None:
    card = cdz_card
    # 768 bytes, EF 1003, free to read and write.
    assert wrapped(card, 0xCD, h("02 0310 00 E0EE 000300")) == (0x00, b"")
    assert wrapped(card, 0xCD, h("02 0410 00 00E0 100000"))[0] == 0xDE
    assert wrapped(card, 0xCD, h("03 0310 00 00E0 100000"))[0] == 0xDE  # EF identifier taken
    assert wrapped(card, 0x6F) == (0x00, h("02"))
    content = bytes(range(256)) * 3
    header = h("02 000000 000300")
    frames = [header + content[:47]] + [content[i : i + 54] for i in range(47, len(content), 54)]
    assert wrapped(card, 0x3D, frames[0]) == (0xAF, b"")
    for frame in frames[1:-1]:
        assert wrapped(card, 0xAF, frame) == (0xAF, b"")
    assert wrapped(card, 0xAF, frames[-1]) == (0x00, b"")
    status, first = wrapped(card, 0xBD, h("02 000000 000000"))
    read = first
    while status == 0xAF:
        status, more = wrapped(card, 0xAF)
        read += more
    assert status == 0x00 and read == content and len(first) == 59
    assert wrapped(card, 0xBD, h("02 FF0200 020000"))[0] == 0xBE
    assert wrapped(card, 0xBD, h("07 000000 000000"))[0] == 0xF0
    wrapped(card, 0xCD, h("03 0410 00 00E0 100000"))  # written with key 0 only
    assert wrapped(card, 0x3D, h("03 000000 400000") + bytes(47))[0] == 0xAE  # at the first frame


def test_full_mode_files_travel_encrypted(cdz_card: SimulatedCard) -> None:
    card = cdz_card
    session = ev2_authenticate(card, 0, bytes(16), AN12343_RND_A)
    create = h("05 0510 03 0000 200000")
    assert wrapped(card, 0xCD, create + session.command_mac(0xCD, create))[0] == 0x00
    session.advance()
    header = h("05 000000 0B0000")
    body = header + session.encrypt_command(b"hello world")
    assert wrapped(card, 0x3D, body + session.command_mac(0x3D, body))[0] == 0x00
    session.advance()
    assert bytes(card.application.files[5].data[:11]) == b"hello world"
    header = h("05 000000 0B0000")
    status, answer = wrapped(card, 0xBD, header + session.command_mac(0xBD, header))
    assert status == 0x00
    assert answer[-8:] == session.response_mac(0x00, answer[:-8])
    assert session.decrypt_response(answer[:-8]) == b"hello world"


def test_protected_files_need_the_right_key(cdz_card: SimulatedCard) -> None:
    card = cdz_card
    wrapped(card, 0xCD, h("06 0610 00 1000 100000"))  # read: key 1
    assert wrapped(card, 0xBD, h("06 000000 000000"))[0] == 0xAE
    ev2_authenticate(card, 2, bytes(16), AN12343_RND_A)
    assert wrapped(card, 0xBD, h("06 000000 000000") + bytes(8))[0] == 0x9D


# --- ISO 7816-4 and PC/SC ---------------------------------------------------------------------


def test_iso_select_and_read_binary_of_the_chip_data_zone(cdz_card: SimulatedCard) -> None:
    card = cdz_card
    wrapped(card, 0xCD, h("00 0110 00 E0EE 100000"))
    content = bytes(range(16))
    wrapped(card, 0x3D, h("00 000000 100000") + content)
    wrapped(card, 0x5A, h("000000"))
    assert card.transmit(h("FFCA000000")) == UID + h("9000")
    assert card.transmit(h("00A4040009A00000061404F5884000")) == h("9000")
    assert card.transmit(h("00A4000C021001")) == h("9000")
    assert card.transmit(h("00B0000000")) == content + h("6282")
    assert card.transmit(h("00B0000010")) == content + h("9000")
    assert card.transmit(h("00B0000804")) == content[8:12] + h("9000")
    assert card.transmit(h("00B0001000")) == h("6B00")
    assert card.transmit(h("00A4000C021009")) == h("6A82")
    assert card.transmit(h("00A4040003A00000")) == h("6A82")
    assert card.transmit(h("00A4000C023F00")) == h("9000")
    assert card.transmit(h("00A4000C021000")) == h("9000")  # the DF by its identifier
    assert card.transmit(h("00B0000000")) == h("6A82")  # no EF selected yet
    assert card.transmit(h("00CA000000")) == h("6D00")
    assert card.transmit(h("FFCA010000")) == h("6A86")


def test_read_binary_refuses_files_that_need_a_key(cdz_card: SimulatedCard) -> None:
    card = cdz_card
    wrapped(card, 0xCD, h("06 0610 00 1000 100000"))
    assert card.transmit(h("00A4000C021006")) == h("9000")
    assert card.transmit(h("00B0000000")) == h("6982")


# --- delegated application management ----------------------------------------------------------

DAM_ENC = h("A580B1A4D014DB32219F756F3A2B3471")
DAM_MAC = h("41F23FB097ADDABE1195C0E096204A2F")
APP_DATA = h("4285F5 0000 FF 1000 0B A3 0010 A00000061404F58542")
ENCK = h("353BA660E6B923837AFBC70BAF6B1CAFEB697124F822D25C01C89AF48611F8E0")
DAMMAC = h("3B1AAD4F8AA37DBE")
DAM_AUTH = bytes(range(0x30, 0x40))


@pytest.fixture
def issued_card() -> SimulatedCard:
    """A card whose issuer set the DAM keys of the reference vector."""
    card = blank_card()
    card.state.dam_keys = {0x10: Key(DAM_AUTH), 0x11: Key(DAM_MAC), 0x12: Key(DAM_ENC)}
    return card


def create_delegated(
    card: SimulatedCard,
    session: Ev2Session,
    app_data: bytes = APP_DATA,
    enck: bytes = ENCK,
    dammac: bytes = DAMMAC,
) -> tuple[int, bytes]:
    status, _ = wrapped(card, 0xC9, app_data)
    if status != 0xAF:
        return status, b""
    second = enck + dammac
    return wrapped(card, 0xAF, second + session.command_mac(0xC9, app_data + second))


def test_create_delegated_application_with_the_reference_dammac(issued_card: SimulatedCard) -> None:
    card = issued_card
    session = ev2_authenticate(card, 0x10, DAM_AUTH, AN12343_RND_A)
    status, answer = create_delegated(card, session)
    assert status == 0x00 and answer == session.response_mac(0x00, b"")
    session.advance()
    application = card.state.applications[h("F58542")]
    assert [(k.value, k.version) for k in application.keys] == [(bytes(16), 0)] * 3
    assert (application.iso_file_id, application.iso_df_name) == (0x1000, h("A00000061404F58542"))
    assert (application.dam_slot_no, application.quota_blocks) == (0, 0x10)
    info = wrapped(card, 0x69, h("0000") + session.command_mac(0x69, h("0000")))
    assert info[0] == 0x00
    assert info[1][:-8] == h("FF 1000 1000 4285F5")
    # The host can now use the application with the default key.
    assert wrapped(card, 0x5A, h("4285F5")) == (0x00, b"")
    ev2_authenticate(card, 0, bytes(16), AN12343_RND_A)


def test_a_wrong_dammac_is_refused_with_an_integrity_error(issued_card: SimulatedCard) -> None:
    card = issued_card
    session = ev2_authenticate(card, 0x10, DAM_AUTH, AN12343_RND_A)
    tampered = DAMMAC[:-1] + bytes((DAMMAC[-1] ^ 1,))
    assert create_delegated(card, session, dammac=tampered) == (0x1E, b"")
    assert card.state.applications == {} and card.session is None


def test_a_dammac_for_another_application_is_refused(issued_card: SimulatedCard) -> None:
    card = issued_card
    session = ev2_authenticate(card, 0x10, DAM_AUTH, AN12343_RND_A)
    bigger_quota = APP_DATA[:6] + h("2000") + APP_DATA[8:]
    assert create_delegated(card, session, app_data=bigger_quota)[0] == 0x1E


def test_a_used_slot_is_refused_with_permission_denied(issued_card: SimulatedCard) -> None:
    card = issued_card
    session = ev2_authenticate(card, 0x10, DAM_AUTH, AN12343_RND_A)
    assert create_delegated(card, session)[0] == 0x00
    application = crypto.DamApplication.from_app_data(APP_DATA)
    other = crypto.DamApplication(
        **{**application.__dict__, "aid": h("F58543"), "iso_file_id": 0x1001, "iso_df_name": None}
    )
    enck = crypto.enc_k(DAM_ENC, bytes(16), 0)
    session = ev2_authenticate(card, 0x10, DAM_AUTH, AN12343_RND_A)
    status, _ = create_delegated(
        card,
        session,
        app_data=other.app_data(),
        enck=enck,
        dammac=crypto.dam_mac(DAM_MAC, other, enck),
    )
    assert status == 0x9D and h("F58543") not in card.state.applications


def test_a_quota_beyond_the_free_memory_is_refused_with_out_of_eeprom(
    issued_card: SimulatedCard
) -> None:
    card = issued_card
    application = crypto.DamApplication.from_app_data(APP_DATA)
    greedy = crypto.DamApplication(**{**application.__dict__, "quota_limit": 249})
    session = ev2_authenticate(card, 0x10, DAM_AUTH, AN12343_RND_A)
    status, _ = create_delegated(
        card, session, app_data=greedy.app_data(), dammac=crypto.dam_mac(DAM_MAC, greedy, ENCK)
    )
    assert status == 0x0E and card.state.applications == {}


def test_files_of_a_delegated_application_stay_within_its_quota(issued_card: SimulatedCard) -> None:
    card = issued_card
    session = ev2_authenticate(card, 0x10, DAM_AUTH, AN12343_RND_A)
    create_delegated(card, session)
    wrapped(card, 0x5A, h("4285F5"))
    session = ev2_authenticate(card, 0, bytes(16), AN12343_RND_A)
    for data, status in ((h("01 0120 00 00E0 000200"), 0x00), (h("02 0220 00 00E0 010000"), 0x0E)):
        assert wrapped(card, 0xCD, data + session.command_mac(0xCD, data))[0] == status
        session = ev2_authenticate(card, 0, bytes(16), AN12343_RND_A)
    wrapped(card, 0x5A, h("000000"))
    info = wrapped(card, 0x69, h("0000"))
    assert info == (0x00, h("FF 1000 0000 4285F5"))


def test_delegated_creation_needs_the_dam_authentication_key(issued_card: SimulatedCard) -> None:
    card = issued_card
    assert wrapped(card, 0xC9, APP_DATA)[0] == 0xAE
    ev2_authenticate(card, 0, bytes(16), AN12343_RND_A)
    assert wrapped(card, 0xC9, APP_DATA)[0] == 0xAE


def test_get_delegated_info_of_an_unknown_slot(issued_card: SimulatedCard) -> None:
    assert wrapped(issued_card, 0x69, h("0700")) == (0xA0, b"")


# --- power, framing, persistence ---------------------------------------------------------------


def test_reset_forgets_selection_and_session(cdz_card: SimulatedCard) -> None:
    card = cdz_card
    ev2_authenticate(card, 0, bytes(16), AN12343_RND_A)
    card.reset()
    assert card.session is None and card.application is None and card.atr == ATR


def test_a_continuation_without_an_exchange_and_unknown_commands_are_refused() -> None:
    card = blank_card()
    assert wrapped(card, 0xAF)[0] == 0x9D
    assert wrapped(card, 0xFA)[0] == 0x1C
    assert card.transmit(h("90600102")) == h("6A86")


def test_state_round_trips_through_json(tmp_path: Path, issued_card: SimulatedCard) -> None:
    card = issued_card
    session = ev2_authenticate(card, 0x10, DAM_AUTH, AN12343_RND_A)
    create_delegated(card, session)
    wrapped(card, 0x5A, h("4285F5"))
    session = ev2_authenticate(card, 0, bytes(16), AN12343_RND_A)
    data = h("01 0120 03 0000 400000")
    wrapped(card, 0xCD, data + session.command_mac(0xCD, data))
    card.state.applications[h("F58542")].files[1].data[:3] = b"abc"
    path = tmp_path / "card.json"
    card.state.save(path)
    loaded = CardState.load(path)
    assert loaded == card.state
    assert loaded.to_json() == card.state.to_json()
    again = SimulatedCard(loaded)
    assert wrapped(again, 0x69, h("0000")) == (0x00, h("FF 1000 0E00 4285F5"))


def test_the_random_source_is_used_for_every_challenge() -> None:
    counter = itertools.count()
    card = blank_card(random=lambda n: bytes([next(counter)]) * n)
    first = wrapped(card, 0x71, h("0000"))[1]
    second = wrapped(card, 0x71, h("0000"))[1]
    assert first != second
