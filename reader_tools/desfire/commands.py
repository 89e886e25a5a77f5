"""The reader's DESFire EV2 command layer: APDUs, status handling, the EV2 secure-messaging session.

:class:`Desfire` sends native commands in the ISO 7816-4 wrapping through any :class:`Transport`
(pyscard's connection, or the simulated card directly), chains long commands and answers over AF
frames, and once :meth:`Desfire.authenticate_ev2_first` succeeded MACs, encrypts and checks every
command as AN12343 describes. A refusal raises :class:`DesfireError` with the card's status; an
answer whose MAC does not match raises :class:`IntegrityError`. Either ends the session, as the
card ends it on its side.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Protocol

from reader_tools.desfire import crypto
from reader_tools.desfire.application import ApplicationSpec, StdFileSpec
from reader_tools.desfire.protocol import (
    COMMAND_FRAME_DATA,
    Command,
    CommMode,
    Status,
    aid_from_wire,
    aid_to_wire,
    status_meaning,
    unwrap_response,
    wrap,
)
from reader_tools.desfire.session import Ev2Session

EV2_GENERATIONS = {0x01: "EV1", 0x12: "EV2", 0x33: "EV3", 0x30: "EV3"}


class Transport(Protocol):
    """Anything that carries a command APDU to a card and brings back its response APDU."""

    def transmit(self, apdu: bytes) -> bytes:
        """Send ``apdu``; the response, status word included."""
        ...


class DesfireError(Exception):
    """The card refused a command with a DESFire status."""

    def __init__(self, command: int, status: int) -> None:
        self.command, self.status = command, status
        try:
            name = Status(status).name
        except ValueError:
            name = f"0x{status:02X}"
        super().__init__(f"command 0x{command:02X} refused: {name} ({status_meaning(status)})")


class IntegrityError(Exception):
    """The card's answer did not carry the expected MAC or cryptogram: the session is over."""


class NotAuthenticated(Exception):
    """A command that needs an EV2 session was called without one."""


@dataclass(frozen=True)
class CardVersion:
    """What GetVersion tells: vendor, hardware and software versions, UID and production batch."""

    hardware: bytes
    software: bytes
    uid: bytes
    batch: bytes
    production_week: int
    production_year: int

    @property
    def generation(self) -> str:
        """DESFire generation from the hardware major version: EV1, EV2, EV3, or unknown."""
        return EV2_GENERATIONS.get(self.hardware[3], f"unknown (0x{self.hardware[3]:02X})")

    @property
    def storage_bytes(self) -> int:
        """Approximate storage: 2 ** (storage byte / 2)."""
        return 1 << (self.hardware[5] >> 1)


@dataclass(frozen=True)
class DelegatedInfo:
    """GetDelegatedInfo: the DAM slot's version, quota and free blocks, and the AID it holds."""

    slot_version: int
    quota_limit: int
    free_blocks: int
    aid: bytes | None


class Desfire:
    """A DESFire EV2 card seen through a reader."""

    def __init__(self, transport: Transport, *, frame_size: int = COMMAND_FRAME_DATA) -> None:
        self.transport = transport
        self.frame_size = frame_size
        self.session: Ev2Session | None = None
        self.ev1_key: int | None = None

    # -- frames ----------------------------------------------------------------------------

    def _frame(self, command: int, data: bytes) -> tuple[int, bytes]:
        response = self.transport.transmit(wrap(command, data))
        try:
            return unwrap_response(response)
        except ValueError as error:
            self.end_session()
            raise IntegrityError(str(error)) from error

    def _refused(self, command: int, status: int) -> DesfireError:
        self.end_session()
        return DesfireError(command, status)

    def end_session(self) -> None:
        """Forget the authentication (the card forgets it too after an error or a selection)."""
        self.session = None
        self.ev1_key = None

    def _send(self, command: int, payload: bytes) -> bytes:
        """One command, chained over AF frames if long; the whole answer, chained frames joined."""
        chunks = [payload[i : i + self.frame_size] for i in range(0, len(payload), self.frame_size)]
        status, answer = self._frame(command, chunks[0] if chunks else b"")
        for chunk in chunks[1:]:
            if status != Status.ADDITIONAL_FRAME or answer:
                break
            status, answer = self._frame(Command.ADDITIONAL_FRAME, chunk)
        else:
            chunks = []
        if chunks and status == Status.OPERATION_OK:
            self.end_session()
            raise IntegrityError("the card answered before the whole command was sent")
        collected = answer
        while status == Status.ADDITIONAL_FRAME:
            status, more = self._frame(Command.ADDITIONAL_FRAME, b"")
            collected += more
        if status != Status.OPERATION_OK:
            raise self._refused(command, status)
        return collected

    def exchange(
        self,
        command: int,
        header: bytes = b"",
        data: bytes = b"",
        *,
        mode: CommMode = CommMode.PLAIN,
        answer_mode: CommMode | None = None,
    ) -> bytes:
        """Send a command under the session (if any) and return the answer's plain data.

        ``header`` travels in clear, ``data`` encrypted in full mode; ``mode`` protects the
        command and ``answer_mode`` (default: the same) the answer.
        """
        answer_mode = mode if answer_mode is None else answer_mode
        session = self.session
        if self.ev1_key is not None and (
            mode is not CommMode.PLAIN or answer_mode is not CommMode.PLAIN
        ):
            raise NotAuthenticated(
                "EV1 secure messaging is not supported: authenticate with AuthenticateEV2First"
            )
        if session is None or mode is CommMode.PLAIN:
            payload = header + data
        else:
            cryptogram = session.encrypt_command(data) if mode is CommMode.FULL and data else data
            payload = header + cryptogram
            payload += session.command_mac(command, payload)
        answer = self._send(command, payload)
        if session is None:
            return answer
        if answer_mode is not CommMode.PLAIN:
            answer = self._open_answer(session, answer, answer_mode)
        session.advance()
        return answer

    def _open_answer(self, session: Ev2Session, answer: bytes, mode: CommMode) -> bytes:
        if len(answer) < crypto.EV2_MAC_SIZE:
            self.end_session()
            raise IntegrityError("the answer carries no MAC")
        body, mac = answer[: -crypto.EV2_MAC_SIZE], answer[-crypto.EV2_MAC_SIZE :]
        if not session.response_mac_matches(Status.OPERATION_OK, body, mac):
            self.end_session()
            raise IntegrityError("the answer's MAC does not match: not the card we authenticated")
        if mode is CommMode.FULL and body:
            try:
                return session.decrypt_response(body)
            except crypto.CryptogramError as error:
                self.end_session()
                raise IntegrityError(str(error)) from error
        return body

    def _require_session(self) -> Ev2Session:
        if self.session is None:
            raise NotAuthenticated("this command needs AuthenticateEV2First first")
        return self.session

    # -- authentication --------------------------------------------------------------------

    def authenticate_ev2_first(
        self, key_no: int, key: bytes, *, rnd_a: bytes | None = None
    ) -> None:
        """AuthenticateEV2First with ``key``: both sides prove the key, a session starts."""
        self.end_session()
        status, encrypted_rnd_b = self._frame(Command.AUTHENTICATE_EV2_FIRST, bytes((key_no, 0)))
        if status != Status.ADDITIONAL_FRAME:
            raise self._refused(Command.AUTHENTICATE_EV2_FIRST, status)
        if len(encrypted_rnd_b) != 16:
            raise IntegrityError("the card's challenge is not 16 bytes")
        rnd_b = crypto.aes_cbc_decrypt(key, encrypted_rnd_b)
        rnd_a = rnd_a if rnd_a is not None else secrets.token_bytes(16)
        proof = crypto.aes_cbc_encrypt(key, rnd_a + crypto.rotate_left(rnd_b))
        status, answer = self._frame(Command.ADDITIONAL_FRAME, proof)
        if status != Status.OPERATION_OK:
            raise self._refused(Command.AUTHENTICATE_EV2_FIRST, status)
        if len(answer) != 32:
            raise IntegrityError("the card's answer to the authentication is not 32 bytes")
        plain = crypto.aes_cbc_decrypt(key, answer)
        ti, rnd_a_rotated = plain[:4], plain[4:20]
        if not hmac.compare_digest(rnd_a_rotated, crypto.rotate_left(rnd_a)):
            raise IntegrityError("the card did not prove it holds the key (RndA')")
        self.session = Ev2Session.establish(key_no, key, rnd_a, rnd_b, ti)

    def authenticate_aes(self, key_no: int, key: bytes, *, rnd_a: bytes | None = None) -> bytes:
        """Legacy AuthenticateAES (0xAA): proves the key both ways; the EV1 session key.

        Only plain commands may follow: this layer does not speak EV1 secure messaging.
        """
        self.end_session()
        status, encrypted_rnd_b = self._frame(Command.AUTHENTICATE_AES, bytes((key_no,)))
        if status != Status.ADDITIONAL_FRAME:
            raise self._refused(Command.AUTHENTICATE_AES, status)
        if len(encrypted_rnd_b) != 16:
            raise IntegrityError("the card's challenge is not 16 bytes")
        rnd_b = crypto.aes_cbc_decrypt(key, encrypted_rnd_b)
        rnd_a = rnd_a if rnd_a is not None else secrets.token_bytes(16)
        proof = crypto.aes_cbc_encrypt(key, rnd_a + crypto.rotate_left(rnd_b), encrypted_rnd_b)
        status, answer = self._frame(Command.ADDITIONAL_FRAME, proof)
        if status != Status.OPERATION_OK:
            raise self._refused(Command.AUTHENTICATE_AES, status)
        if len(answer) != 16:
            raise IntegrityError("the card's answer to the authentication is not 16 bytes")
        rnd_a_rotated = crypto.aes_cbc_decrypt(key, answer, proof[-16:])
        if not hmac.compare_digest(rnd_a_rotated, crypto.rotate_left(rnd_a)):
            raise IntegrityError("the card did not prove it holds the key (RndA')")
        self.ev1_key = key_no
        return crypto.ev1_session_key(rnd_a, rnd_b)

    # -- PICC and application level --------------------------------------------------------

    def get_version(self) -> CardVersion:
        """GetVersion."""
        answer = self.exchange(Command.GET_VERSION, mode=CommMode.MAC)
        if len(answer) not in (28, 25, 31):
            raise IntegrityError(f"GetVersion answered {len(answer)} bytes")
        uid_length = len(answer) - 21
        production = answer[14:]
        return CardVersion(
            hardware=answer[0:7],
            software=answer[7:14],
            uid=production[:uid_length],
            batch=production[uid_length : uid_length + 5],
            production_week=production[uid_length + 5],
            production_year=production[uid_length + 6],
        )

    def get_card_uid(self) -> bytes:
        """GetCardUID: the real UID, which only an authenticated reader learns."""
        self._require_session()
        return self.exchange(Command.GET_CARD_UID, mode=CommMode.MAC, answer_mode=CommMode.FULL)

    def select_application(self, aid: bytes) -> None:
        """SelectApplication (000000: the PICC level); ends any authentication."""
        self.end_session()
        status, _ = self._frame(Command.SELECT_APPLICATION, aid_to_wire(aid))
        if status != Status.OPERATION_OK:
            raise self._refused(Command.SELECT_APPLICATION, status)

    def get_application_ids(self) -> list[bytes]:
        """GetApplicationIDs: the AIDs on the card, in written order."""
        answer = self.exchange(Command.GET_APPLICATION_IDS, mode=CommMode.MAC)
        if len(answer) % 3:
            raise IntegrityError("GetApplicationIDs answered a partial AID")
        return [aid_from_wire(answer[i : i + 3]) for i in range(0, len(answer), 3)]

    def free_memory(self) -> int:
        """FreeMemory: free user memory in bytes."""
        return int.from_bytes(self.exchange(Command.FREE_MEMORY, mode=CommMode.MAC), "little")

    def create_application(self, spec: ApplicationSpec) -> None:
        """CreateApplication (at PICC level, usually with the PICC master key)."""
        self.exchange(Command.CREATE_APPLICATION, spec.encode(), mode=CommMode.MAC)

    def get_key_version(self, key_no: int) -> int:
        """GetKeyVersion of a key of the current level."""
        answer = self.exchange(Command.GET_KEY_VERSION, bytes((key_no,)), mode=CommMode.MAC)
        if len(answer) != 1:
            raise IntegrityError("GetKeyVersion answered more than a version")
        return answer[0]

    def change_key(
        self, key_no: int, new_key: bytes, version: int = 0, *, old_key: bytes | None = None
    ) -> None:
        """ChangeKey under EV2 secure messaging.

        Changing the authenticated key sends the new key; any other key needs its current value
        (``old_key``) and travels as new XOR old with a CRC32 of the new key. ``key_no`` is the
        byte the card receives: the PICC master key is 0x80 (AES). Changing the authenticated key
        ends the session.
        """
        session = self._require_session()
        if len(new_key) != crypto.AES_KEY_SIZE or not 0 <= version <= 0xFF:
            raise ValueError("an AES key is 16 bytes and its version one byte")
        own_key = key_no & 0x3F == session.key_no
        if own_key:
            plain = new_key + bytes((version,))
        else:
            if old_key is None or len(old_key) != crypto.AES_KEY_SIZE:
                raise ValueError("changing another key than the authenticated one needs its value")
            xored = bytes(a ^ b for a, b in zip(new_key, old_key, strict=True))
            plain = xored + bytes((version,)) + crypto.desfire_crc32(new_key)
        self.exchange(
            Command.CHANGE_KEY,
            bytes((key_no,)),
            plain,
            mode=CommMode.FULL,
            answer_mode=CommMode.PLAIN if own_key else CommMode.MAC,
        )
        if own_key:
            self.end_session()

    # -- files -----------------------------------------------------------------------------

    def create_std_data_file(self, spec: StdFileSpec) -> None:
        """CreateStdDataFile in the selected application."""
        self.exchange(Command.CREATE_STD_DATA_FILE, spec.encode(), mode=CommMode.MAC)

    def get_file_ids(self) -> list[int]:
        """GetFileIDs of the selected application."""
        return list(self.exchange(Command.GET_FILE_IDS, mode=CommMode.MAC))

    @staticmethod
    def _file_header(file_no: int, offset: int, length: int) -> bytes:
        return bytes((file_no,)) + offset.to_bytes(3, "little") + length.to_bytes(3, "little")

    def write_data(
        self, file_no: int, data: bytes, *, offset: int = 0, mode: CommMode = CommMode.PLAIN
    ) -> None:
        """WriteData, in the file's communication mode (``mode``)."""
        if not data:
            raise ValueError("nothing to write")
        self.exchange(
            Command.WRITE_DATA,
            self._file_header(file_no, offset, len(data)),
            data,
            mode=mode,
            answer_mode=CommMode.PLAIN if mode is CommMode.PLAIN else CommMode.MAC,
        )

    def read_data(
        self,
        file_no: int,
        *,
        offset: int = 0,
        length: int = 0,
        mode: CommMode = CommMode.PLAIN,
    ) -> bytes:
        """ReadData (``length`` 0: up to the end of the file), in the file's mode (``mode``)."""
        return self.exchange(
            Command.READ_DATA,
            self._file_header(file_no, offset, length),
            mode=CommMode.PLAIN if mode is CommMode.PLAIN else CommMode.MAC,
            answer_mode=mode,
        )

    # -- delegated application management ---------------------------------------------------

    def create_delegated_application(
        self, application: crypto.DamApplication, enck: bytes, dammac: bytes
    ) -> None:
        """CreateDelegatedApplication: AppData, then EncK and DAMMAC, MACed as one command.

        The session must be authenticated with the DAM authentication key (PICC key 0x10).
        """
        session = self._require_session()
        if len(enck) != crypto.ENCK_SIZE or len(dammac) != crypto.DAM_MAC_SIZE:
            raise ValueError("EncK is 32 bytes and DAMMAC 8")
        app_data = application.app_data()
        status, _ = self._frame(Command.CREATE_DELEGATED_APPLICATION, app_data)
        if status != Status.ADDITIONAL_FRAME:
            raise self._refused(Command.CREATE_DELEGATED_APPLICATION, status)
        second = enck + dammac
        mac = session.command_mac(Command.CREATE_DELEGATED_APPLICATION, app_data + second)
        status, answer = self._frame(Command.ADDITIONAL_FRAME, second + mac)
        if status != Status.OPERATION_OK:
            raise self._refused(Command.CREATE_DELEGATED_APPLICATION, status)
        self._open_answer(session, answer, CommMode.MAC)
        session.advance()

    def get_delegated_info(self, slot_no: int) -> DelegatedInfo:
        """GetDelegatedInfo of a DAM slot (at PICC level)."""
        answer = self.exchange(
            Command.GET_DELEGATED_INFO, slot_no.to_bytes(2, "little"), mode=CommMode.MAC
        )
        if len(answer) != 8:
            raise IntegrityError("GetDelegatedInfo answers 8 bytes")
        aid = aid_from_wire(answer[5:8])
        return DelegatedInfo(
            slot_version=answer[0],
            quota_limit=int.from_bytes(answer[1:3], "little"),
            free_blocks=int.from_bytes(answer[3:5], "little"),
            aid=None if aid == bytes(3) else aid,
        )
