"""Which function of the simulated card answers which native command, frame by frame."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from reader_tools.desfire.protocol import Command, Status
from reader_tools.simulator import applications, authentication, delegation, files
from reader_tools.simulator.frames import Answer, CardError, Handler, Pending

if TYPE_CHECKING:
    from reader_tools.simulator.card import SimulatedCard


def _multi_frame_only(card: SimulatedCard, data: bytes) -> Answer:
    raise CardError(Status.COMMAND_ABORTED, "a multi-frame command cannot complete in one frame")


HANDLERS: dict[int, Handler] = {
    Command.GET_VERSION: applications.get_version,
    Command.GET_CARD_UID: applications.get_card_uid,
    Command.SELECT_APPLICATION: applications.select_application,
    Command.GET_APPLICATION_IDS: applications.get_application_ids,
    Command.FREE_MEMORY: applications.free_memory,
    Command.CREATE_APPLICATION: applications.create_application,
    Command.GET_KEY_VERSION: applications.get_key_version,
    Command.CHANGE_KEY: applications.change_key,
    Command.CREATE_STD_DATA_FILE: files.create_std_data_file,
    Command.GET_FILE_IDS: files.get_file_ids,
    Command.WRITE_DATA: files.write_data,
    Command.READ_DATA: files.read_data,
    Command.WRITE_DATA_ALTERNATE: partial(files.write_data, command=Command.WRITE_DATA_ALTERNATE),
    Command.READ_DATA_ALTERNATE: partial(files.read_data, command=Command.READ_DATA_ALTERNATE),
    Command.GET_DELEGATED_INFO: delegation.get_delegated_info,
    Command.AUTHENTICATE_EV2_FIRST: _multi_frame_only,
    Command.AUTHENTICATE_AES: _multi_frame_only,
    Command.CREATE_DELEGATED_APPLICATION: _multi_frame_only,
}


def first_frame(card: SimulatedCard, command: int, data: bytes) -> Pending | None:
    """Start a multi-frame command; None for a command that completes in this frame."""
    if command == Command.AUTHENTICATE_EV2_FIRST:
        return authentication.start_ev2_first(card, data)
    if command == Command.AUTHENTICATE_AES:
        return authentication.start_aes(card, data)
    if command == Command.CREATE_DELEGATED_APPLICATION:
        return delegation.start(card, data)
    if command in (Command.WRITE_DATA, Command.WRITE_DATA_ALTERNATE):
        return files.start_write(card, data, command)
    return None


def continue_frame(card: SimulatedCard, pending: Pending, data: bytes) -> Answer:
    """The next frame of an authentication or of CreateDelegatedApplication."""
    if pending.kind == "authenticate-ev2":
        return authentication.finish_ev2_first(card, pending, data)
    if pending.kind == "authenticate-aes":
        return authentication.finish_aes(card, pending, data)
    if pending.kind == "delegated":
        return delegation.finish(card, pending, data)
    raise CardError(Status.COMMAND_ABORTED, f"unexpected frame for {pending.kind}")
