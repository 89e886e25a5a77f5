"""The card's standard data files: CreateStdDataFile, GetFileIDs, WriteData, ReadData.

A file's access rights name the key that may read, write, read and write, or change them (0xE:
free, 0xF: never). Free access travels in clear; otherwise the file's communication mode applies.
A delegated application's files count against its quota, any other application's against the
card's free memory; either way running out is OUT_OF_EEPROM_ERROR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reader_tools.desfire.application import StdFileSpec
from reader_tools.desfire.protocol import (
    ACCESS_FREE,
    KS1_FREE_CREATE_DELETE,
    KS1_FREE_DIRECTORY_LIST,
    KS2_ISO_FILE_IDS,
    MAX_FILES,
    Command,
    CommMode,
    Status,
)
from reader_tools.simulator.frames import Answer, CardError, Pending
from reader_tools.simulator.state import Application, DataFile, blocks_for

if TYPE_CHECKING:
    from reader_tools.simulator.card import SimulatedCard

HEADER = 7  # FileNo, Offset (3 bytes), Length (3 bytes)


def _file(application: Application, file_no: int) -> DataFile:
    if file_no not in application.files:
        raise CardError(Status.FILE_NOT_FOUND, f"no file {file_no}")
    return application.files[file_no]


def access_mode(card: SimulatedCard, data_file: DataFile, *, write: bool) -> CommMode:
    """How this access travels, or the refusal if the current authentication does not allow it."""
    allowed = (data_file.write_key if write else data_file.read_key, data_file.read_write_key)
    if ACCESS_FREE in allowed:
        return CommMode.PLAIN
    if card.authenticated_key is None:
        raise CardError(Status.AUTHENTICATION_ERROR, "this file access needs an authentication")
    if card.authenticated_key not in allowed:
        raise CardError(Status.PERMISSION_DENIED, "the authenticated key may not do this")
    if card.ev1_key is not None and data_file.comm_mode is not CommMode.PLAIN:
        raise CardError(Status.PERMISSION_DENIED, "EV1 secure messaging is not simulated")
    return data_file.comm_mode


def create_std_data_file(card: SimulatedCard, data: bytes) -> Answer:
    """CreateStdDataFile: a file of zeros, within the card's memory or the application's quota."""
    card.require_ev2_or_plain()
    application = card.require_application()
    data = card.open_command(Command.CREATE_STD_DATA_FILE, data, CommMode.MAC, 0)
    if not application.key_settings_1 & KS1_FREE_CREATE_DELETE and card.authenticated_key != 0:
        raise CardError(Status.AUTHENTICATION_ERROR, "this needs the application master key")
    try:
        spec = StdFileSpec.decode(
            data, iso_file_ids=bool(application.key_settings_2 & KS2_ISO_FILE_IDS)
        )
    except ValueError as error:
        raise CardError(Status.LENGTH_ERROR, str(error)) from error
    if spec.file_no in application.files:
        raise CardError(Status.DUPLICATE_ERROR, f"file {spec.file_no} exists")
    if spec.iso_file_id is not None and any(
        f.iso_file_id == spec.iso_file_id for f in application.files.values()
    ):
        raise CardError(Status.DUPLICATE_ERROR, "ISO file identifier already used")
    if len(application.files) >= MAX_FILES:
        raise CardError(Status.COUNT_ERROR, "an application holds 32 files at most")
    needed = blocks_for(spec.size)
    if application.quota_blocks is not None:
        if application.used_blocks + needed > application.quota_blocks:
            raise CardError(Status.OUT_OF_EEPROM_ERROR, "the delegated quota is exhausted")
    elif needed > card.state.free_blocks():
        raise CardError(Status.OUT_OF_EEPROM_ERROR, "the card's memory is full")
    application.files[spec.file_no] = DataFile(
        file_no=spec.file_no,
        size=spec.size,
        comm_mode=spec.comm_mode,
        access_rights=spec.access_rights,
        iso_file_id=spec.iso_file_id,
    )
    return card.seal(Answer.of(), CommMode.MAC)


def get_file_ids(card: SimulatedCard, data: bytes) -> Answer:
    """GetFileIDs: the file numbers of the selected application."""
    card.require_ev2_or_plain()
    application = card.require_application()
    card.open_command(Command.GET_FILE_IDS, data, CommMode.MAC, 0)
    if not application.key_settings_1 & KS1_FREE_DIRECTORY_LIST and card.authenticated_key != 0:
        raise CardError(Status.AUTHENTICATION_ERROR, "listing needs the application master key")
    return card.seal(Answer.of(bytes(sorted(application.files))), CommMode.MAC)


def _header(data: bytes) -> tuple[int, int, int]:
    if len(data) < HEADER:
        raise CardError(Status.LENGTH_ERROR, "FileNo, Offset and Length are 7 bytes")
    return data[0], int.from_bytes(data[1:4], "little"), int.from_bytes(data[4:7], "little")


def start_write(
    card: SimulatedCard, data: bytes, command: int = Command.WRITE_DATA
) -> Pending | None:
    """WriteData's first frame: ask for more frames (AF) until the whole command has arrived."""
    file_no, _offset, length = _header(data)
    data_file = _file(card.require_application(), file_no)
    mode = access_mode(card, data_file, write=True)  # refuse at once, not after every frame
    if card.session is None:
        mode = CommMode.PLAIN
    if mode is CommMode.FULL:
        expected = HEADER + (length // 16 + 1) * 16 + 8
    else:
        expected = HEADER + length + (8 if mode is CommMode.MAC else 0)
    if len(data) >= expected:
        return None
    return Pending(kind="chain", command=command, data=data, expected=expected)


def write_data(card: SimulatedCard, data: bytes, command: int = Command.WRITE_DATA) -> Answer:
    """WriteData: bytes into a standard data file, in the file's communication mode."""
    file_no, offset, length = _header(data)
    data_file = _file(card.require_application(), file_no)
    mode = access_mode(card, data_file, write=True)
    data = card.open_command(command, data, mode, HEADER)
    payload = data[HEADER:]
    if len(payload) != length or length == 0:
        raise CardError(Status.LENGTH_ERROR, "the data does not have the announced length")
    if offset + length > data_file.size:
        raise CardError(Status.BOUNDARY_ERROR, "writing beyond the end of the file")
    data_file.data[offset : offset + length] = payload
    return card.seal(Answer.of(), CommMode.PLAIN if mode is CommMode.PLAIN else CommMode.MAC)


def read_data(card: SimulatedCard, data: bytes, command: int = Command.READ_DATA) -> Answer:
    """ReadData: bytes of a standard data file (length 0: up to the end), in the file's mode."""
    if not data:
        raise CardError(Status.LENGTH_ERROR, "ReadData takes FileNo, Offset and Length")
    data_file = _file(card.require_application(), data[0])
    mode = access_mode(card, data_file, write=False)
    command_mode = CommMode.PLAIN if mode is CommMode.PLAIN else CommMode.MAC
    data = card.open_command(command, data, command_mode, HEADER)
    if len(data) != HEADER:
        raise CardError(Status.LENGTH_ERROR, "ReadData takes FileNo, Offset and Length")
    _, offset, length = _header(data)
    if length == 0:
        length = data_file.size - offset
    if offset >= data_file.size or offset + length > data_file.size:
        raise CardError(Status.BOUNDARY_ERROR, "reading beyond the end of the file")
    return card.seal(Answer.of(bytes(data_file.data[offset : offset + length])), mode)
