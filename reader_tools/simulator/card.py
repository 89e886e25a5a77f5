"""A simulated MIFARE DESFire EV2 card: framing, chaining, authentication and secure messaging.

It answers the three framings a PC/SC reader carries: native DESFire frames (``<cmd> <data>`` ->
``<status> <data>``), the ISO 7816-4 wrapping (``90 <cmd> 00 00 Lc <data> 00`` -> ``<data> 91
<status>``), and ISO 7816-4 / PC/SC commands (SELECT, READ BINARY, ``FF CA 00 00 00``). Keys are
AES-128 only. After AuthenticateEV2First every command travels under EV2 secure messaging (MAC,
or encryption and MAC) as AN12343 describes; AuthenticateAES (EV1) proves a key but EV1 secure
messaging is not simulated: after it, commands that would need an EV1 MAC or cryptogram are
refused with PERMISSION_DENIED. The commands themselves live in ``applications``, ``files``,
``delegation`` and ``iso``; this module holds what they share.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from reader_tools.desfire import crypto
from reader_tools.desfire.protocol import (
    CLA_DESFIRE,
    CLA_ISO,
    CLA_PCSC,
    PCSC_GET_DATA,
    PICC_AID,
    RESPONSE_FRAME_DATA,
    SW_FUNCTION_NOT_SUPPORTED,
    SW_OK,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
    Command,
    CommMode,
    Status,
)
from reader_tools.desfire.session import Ev2Session, SessionExhausted
from reader_tools.simulator import iso
from reader_tools.simulator.dispatch import HANDLERS, continue_frame, first_frame
from reader_tools.simulator.frames import Answer, CardError, IsoError, Pending
from reader_tools.simulator.state import Application, CardState, Key

# A contactless card behind a PC/SC reader: ISO 14443-4 type A, no historical bytes (PC/SC part 3).
ATR = bytes.fromhex("3B8180018080")


class SimulatedCard:
    """A DESFire EV2 card answering APDUs; its lasting state is :attr:`state`."""

    def __init__(
        self, state: CardState, *, random: Callable[[int], bytes] = secrets.token_bytes
    ) -> None:
        self.state = state
        self.random = random
        self.atr = ATR
        self.reset()

    # -- power and selection -------------------------------------------------------------

    def reset(self) -> None:
        """Power cycle: selection, authentication and any exchange in progress are forgotten."""
        self.selected: bytes = PICC_AID
        self.selected_file: int | None = None
        self.session: Ev2Session | None = None
        self.ev1_key: int | None = None
        self._pending: Pending | None = None

    def end_authentication(self) -> None:
        """Forget the authentication (a selection, an error, or a changed session key)."""
        self.session = None
        self.ev1_key = None

    @property
    def authenticated_key(self) -> int | None:
        """Number of the key the current session authenticated, if any."""
        if self.session is not None:
            return self.session.key_no
        return self.ev1_key

    @property
    def application(self) -> Application | None:
        """The selected application, or None at PICC level."""
        return None if self.selected == PICC_AID else self.state.applications[self.selected]

    def require_application(self) -> Application:
        """The selected application; PERMISSION_DENIED at PICC level."""
        application = self.application
        if application is None:
            raise CardError(Status.PERMISSION_DENIED, "no application selected")
        return application

    def require_picc_level(self) -> None:
        """Refuse a PICC-level command while an application is selected."""
        if self.selected != PICC_AID:
            raise CardError(Status.PERMISSION_DENIED, "the PICC level is not selected")

    def key(self, key_no: int) -> Key:
        """A key of the current level (PICC master and DAM keys, or the application's keys)."""
        application = self.application
        if application is None:
            if key_no == 0:
                return self.state.master_key
            if key_no in self.state.dam_keys:
                return self.state.dam_keys[key_no]
            raise CardError(Status.NO_SUCH_KEY, f"no PICC key {key_no:#04x}")
        if key_no >= len(application.keys):
            raise CardError(Status.NO_SUCH_KEY, f"the application has no key {key_no}")
        return application.keys[key_no]

    # -- secure messaging ----------------------------------------------------------------

    def require_ev2_or_plain(self) -> None:
        """Refuse commands needing EV1 secure messaging, which this card does not simulate."""
        if self.ev1_key is not None:
            raise CardError(Status.PERMISSION_DENIED, "EV1 secure messaging is not simulated")

    def open_command(self, command: int, data: bytes, mode: CommMode, header: int) -> bytes:
        """Check (and decrypt) a command's data under the session; the plain data.

        ``header`` bytes of ``data`` travel in clear even in full mode. Without a session, or in
        plain mode, the data is returned as it is.
        """
        if self.session is None or mode is CommMode.PLAIN:
            return data
        if len(data) < header + crypto.EV2_MAC_SIZE:
            raise CardError(Status.LENGTH_ERROR, "the command MAC is missing")
        body, mac = data[: -crypto.EV2_MAC_SIZE], data[-crypto.EV2_MAC_SIZE :]
        if not self.session.command_mac_matches(command, body, mac):
            raise CardError(Status.INTEGRITY_ERROR, "wrong command MAC")
        if mode is CommMode.MAC:
            return body
        head, cryptogram = body[:header], body[header:]
        if not cryptogram:
            return head
        try:
            return head + self.session.decrypt_command(cryptogram)
        except crypto.CryptogramError as error:
            raise CardError(Status.INTEGRITY_ERROR, str(error)) from error

    def seal(self, answer: Answer, mode: CommMode) -> Answer:
        """Protect a successful answer under the session and count the command."""
        if self.session is None:
            return answer
        frames = list(answer.frames)
        if mode is not CommMode.PLAIN:
            data = b"".join(frames)
            if mode is CommMode.FULL and data:
                encrypted = self.session.encrypt_response(data)
                frames = [encrypted]
                data = encrypted
            frames[-1] = frames[-1] + self.session.response_mac(Status.OPERATION_OK, data)
        self.session.advance()
        return Answer(frames=frames, status=answer.status)

    # -- framing -------------------------------------------------------------------------

    def transmit(self, apdu: bytes) -> bytes:
        """Answer one command APDU (any of the three framings)."""
        if not apdu:
            return SW_WRONG_LENGTH.to_bytes(2, "big")
        if apdu[0] == CLA_PCSC:
            return self._pcsc(apdu)
        if apdu[0] == CLA_ISO:
            self._pending = None
            try:
                data = iso.handle(self, apdu)
            except IsoError as error:
                return error.status_word.to_bytes(2, "big")
            return data
        if apdu[0] == CLA_DESFIRE:
            return self._wrapped(apdu)
        status, data = self.native(apdu[0], apdu[1:])
        return bytes((status,)) + data

    def _pcsc(self, apdu: bytes) -> bytes:
        # The reader's own pseudo-APDU: FF CA 00 00 00 reads the UID. A PC/SC reader answers it
        # itself; behind vpcd it reaches the card, which answers as the reader would.
        if len(apdu) < 4 or apdu[1] != PCSC_GET_DATA:
            return SW_FUNCTION_NOT_SUPPORTED.to_bytes(2, "big")
        if apdu[2:4] != b"\x00\x00":
            return SW_WRONG_P1P2.to_bytes(2, "big")
        return self.state.uid + SW_OK.to_bytes(2, "big")

    def _wrapped(self, apdu: bytes) -> bytes:
        if len(apdu) < 4 or apdu[2:4] != b"\x00\x00":
            return SW_WRONG_P1P2.to_bytes(2, "big")
        if len(apdu) <= 5:
            data = b""
        else:
            length = apdu[4]
            data = apdu[5 : 5 + length]
            if len(data) != length or len(apdu) - 5 - length not in (0, 1):
                return SW_WRONG_LENGTH.to_bytes(2, "big")
        status, answer = self.native(apdu[1], data)
        return answer + bytes((0x91, status))

    # -- native commands -----------------------------------------------------------------

    def native(self, command: int, data: bytes) -> tuple[int, bytes]:
        """Answer a native DESFire frame: (status, data)."""
        pending, self._pending = self._pending, None
        try:
            if command == Command.ADDITIONAL_FRAME:
                if pending is None:
                    raise CardError(Status.PERMISSION_DENIED, "no exchange to continue")
                return self._continue(pending, data)
            if command not in HANDLERS:
                raise CardError(Status.ILLEGAL_COMMAND_CODE, f"command {command:#04x}")
            started = first_frame(self, command, data)
            if started is not None:
                self._pending = started
                return Status.ADDITIONAL_FRAME, started.frames.pop(0) if started.frames else b""
            return self._send(HANDLERS[command](self, data))
        except CardError as error:
            self._pending = None
            self.end_authentication()
            return error.status, b""
        except SessionExhausted:
            self._pending = None
            self.end_authentication()
            return Status.COMMAND_ABORTED, b""

    def _continue(self, pending: Pending, data: bytes) -> tuple[int, bytes]:
        if pending.kind == "response":
            return self._next_response_frame(pending)
        if pending.kind == "chain":
            collected = pending.data + data
            if len(collected) < pending.expected:
                pending.data = collected
                self._pending = pending
                return Status.ADDITIONAL_FRAME, b""
            return self._send(HANDLERS[pending.command](self, collected))
        return self._send(continue_frame(self, pending, data))

    def _send(self, answer: Answer) -> tuple[int, bytes]:
        frames = [f for frame in answer.frames for f in _split(frame)] or [b""]
        if answer.status is not Status.OPERATION_OK or len(frames) == 1:
            return answer.status, b"".join(frames)
        self._pending = Pending(kind="response", command=0, frames=frames[1:])
        return Status.ADDITIONAL_FRAME, frames[0]

    def _next_response_frame(self, pending: Pending) -> tuple[int, bytes]:
        frame = pending.frames.pop(0)
        if pending.frames:
            self._pending = pending
            return Status.ADDITIONAL_FRAME, frame
        return Status.OPERATION_OK, frame


def _split(frame: bytes) -> list[bytes]:
    """A long answer in frames of at most RESPONSE_FRAME_DATA bytes."""
    if len(frame) <= RESPONSE_FRAME_DATA:
        return [frame]
    return [frame[i : i + RESPONSE_FRAME_DATA] for i in range(0, len(frame), RESPONSE_FRAME_DATA)]
