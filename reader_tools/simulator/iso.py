"""The card's ISO 7816-4 commands: SELECT (by DF name, by file identifier) and READ BINARY.

Enough for the chip data zone: select the application by its DF name or ISO identifier, select an
elementary file by its ISO identifier, and read it in chunks. Only files readable without a key
(read or read&write access 0xE) in plain communication can be read this way; anything else is
``69 82`` (security status not satisfied). ISO file identifiers travel big-endian here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reader_tools.desfire.protocol import (
    ACCESS_FREE,
    ISO_READ_BINARY,
    ISO_SELECT,
    PICC_AID,
    SW_END_OF_FILE,
    SW_FILE_NOT_FOUND,
    SW_INS_NOT_SUPPORTED,
    SW_OK,
    SW_SECURITY_NOT_SATISFIED,
    SW_WRONG_LENGTH,
    SW_WRONG_OFFSET,
    SW_WRONG_P1P2,
    CommMode,
)
from reader_tools.simulator.frames import IsoError

if TYPE_CHECKING:
    from reader_tools.simulator.card import SimulatedCard

MASTER_FILE = 0x3F00
OK = SW_OK.to_bytes(2, "big")


def handle(card: SimulatedCard, apdu: bytes) -> bytes:
    """Answer an ISO 7816-4 command APDU (CLA 00)."""
    if len(apdu) < 4:
        raise IsoError(SW_WRONG_LENGTH)
    instruction, p1, p2 = apdu[1], apdu[2], apdu[3]
    if instruction == ISO_SELECT:
        return _select(card, p1, p2, _command_data(apdu))
    if instruction == ISO_READ_BINARY:
        return _read_binary(card, p1, p2, apdu)
    raise IsoError(SW_INS_NOT_SUPPORTED)


def _command_data(apdu: bytes) -> bytes:
    if len(apdu) <= 5:
        raise IsoError(SW_WRONG_LENGTH)
    length = apdu[4]
    data = apdu[5 : 5 + length]
    if len(data) != length or len(apdu) - 5 - length not in (0, 1):
        raise IsoError(SW_WRONG_LENGTH)
    return data


def _select(card: SimulatedCard, p1: int, p2: int, data: bytes) -> bytes:
    if p2 not in (0x00, 0x0C):
        raise IsoError(SW_WRONG_P1P2)
    if p1 == 0x04:
        for application in card.state.applications.values():
            if application.iso_df_name is not None and application.iso_df_name == data:
                _select_application(card, application.aid)
                return OK
        raise IsoError(SW_FILE_NOT_FOUND)
    if p1 not in (0x00, 0x02) or len(data) != 2:
        raise IsoError(SW_WRONG_P1P2)
    file_id = int.from_bytes(data, "big")
    if p1 == 0x00 and file_id == MASTER_FILE:
        _select_application(card, PICC_AID)
        return OK
    application = card.application
    if application is not None:
        for data_file in application.files.values():
            if data_file.iso_file_id == file_id:
                card.selected_file = data_file.file_no
                return OK
    if p1 == 0x00:
        for candidate in card.state.applications.values():
            if candidate.iso_file_id == file_id:
                _select_application(card, candidate.aid)
                return OK
    raise IsoError(SW_FILE_NOT_FOUND)


def _select_application(card: SimulatedCard, aid: bytes) -> None:
    card.end_authentication()
    card.selected = aid
    card.selected_file = None


def _read_binary(card: SimulatedCard, p1: int, p2: int, apdu: bytes) -> bytes:
    application = card.application
    if p1 & 0x80:
        # Short EF identifier in P1: the DESFire file number; P2 is then the offset.
        file_no, offset = p1 & 0x1F, p2
        if application is None or file_no not in application.files:
            raise IsoError(SW_FILE_NOT_FOUND)
        card.selected_file = file_no
    else:
        offset = (p1 << 8) | p2
    if application is None or card.selected_file is None:
        raise IsoError(SW_FILE_NOT_FOUND)
    if len(apdu) not in (4, 5):
        raise IsoError(SW_WRONG_LENGTH)
    wanted = (apdu[4] or 256) if len(apdu) == 5 else 256
    data_file = application.files[card.selected_file]
    free = ACCESS_FREE in (data_file.read_key, data_file.read_write_key)
    if not free or data_file.comm_mode is not CommMode.PLAIN:
        raise IsoError(SW_SECURITY_NOT_SATISFIED)
    if offset >= data_file.size:
        raise IsoError(SW_WRONG_OFFSET)
    chunk = bytes(data_file.data[offset : offset + wanted])
    status = SW_OK if len(chunk) == wanted else SW_END_OF_FILE
    return chunk + status.to_bytes(2, "big")
