"""DESFire EV2 protocol facts shared by the reader's command layer and the simulated card.

Command codes, status codes, communication modes, key settings bits and the ISO 7816-4 wrapping
(``90 <cmd> 00 00 Lc <data> 00``, answered ``<data> 91 <status>``). No I/O and no cryptography.
"""

from __future__ import annotations

import enum


class Command(enum.IntEnum):
    """Native DESFire EV2 command codes used by escrouter's tools."""

    AUTHENTICATE_EV2_FIRST = 0x71
    AUTHENTICATE_AES = 0xAA
    GET_VERSION = 0x60
    GET_CARD_UID = 0x51
    SELECT_APPLICATION = 0x5A
    GET_APPLICATION_IDS = 0x6A
    FREE_MEMORY = 0x6E
    CREATE_APPLICATION = 0xCA
    CREATE_DELEGATED_APPLICATION = 0xC9
    GET_DELEGATED_INFO = 0x69
    GET_KEY_VERSION = 0x64
    CHANGE_KEY = 0xC4
    CREATE_STD_DATA_FILE = 0xCD
    GET_FILE_IDS = 0x6F
    WRITE_DATA = 0x3D
    READ_DATA = 0xBD
    # The same two commands under the codes DESFire Light and later EV2 firmware use (AN12343).
    WRITE_DATA_ALTERNATE = 0x8D
    READ_DATA_ALTERNATE = 0xAD
    ADDITIONAL_FRAME = 0xAF


class Status(enum.IntEnum):
    """DESFire status codes (the second byte of ``91 xx`` in ISO wrapping)."""

    OPERATION_OK = 0x00
    NO_CHANGES = 0x0C
    OUT_OF_EEPROM_ERROR = 0x0E
    ILLEGAL_COMMAND_CODE = 0x1C
    INTEGRITY_ERROR = 0x1E
    NO_SUCH_KEY = 0x40
    LENGTH_ERROR = 0x7E
    PERMISSION_DENIED = 0x9D
    PARAMETER_ERROR = 0x9E
    APPLICATION_NOT_FOUND = 0xA0
    AUTHENTICATION_ERROR = 0xAE
    ADDITIONAL_FRAME = 0xAF
    BOUNDARY_ERROR = 0xBE
    COMMAND_ABORTED = 0xCA
    COUNT_ERROR = 0xCE
    DUPLICATE_ERROR = 0xDE
    MEMORY_ERROR = 0xEE
    FILE_NOT_FOUND = 0xF0

    @property
    def meaning(self) -> str:
        """What the status means, in words."""
        return _MEANINGS[self]


_MEANINGS = {
    Status.OPERATION_OK: "successful operation",
    Status.NO_CHANGES: "no changes done to backup files",
    Status.OUT_OF_EEPROM_ERROR: "insufficient memory (or delegated quota) to complete the command",
    Status.ILLEGAL_COMMAND_CODE: "command code not supported",
    Status.INTEGRITY_ERROR: "CRC or MAC does not match the data, or invalid padding",
    Status.NO_SUCH_KEY: "invalid key number",
    Status.LENGTH_ERROR: "length of the command string invalid",
    Status.PERMISSION_DENIED: "current configuration or status does not allow the command",
    Status.PARAMETER_ERROR: "value of a parameter invalid",
    Status.APPLICATION_NOT_FOUND: "requested application (or DAM slot) not present",
    Status.AUTHENTICATION_ERROR: "current authentication status does not allow the command",
    Status.ADDITIONAL_FRAME: "additional data frame expected",
    Status.BOUNDARY_ERROR: "attempt to read or write beyond the file's limits",
    Status.COMMAND_ABORTED: "previous command was not fully completed",
    Status.COUNT_ERROR: "number of applications or files limited",
    Status.DUPLICATE_ERROR: "application or file with this identifier already exists",
    Status.MEMORY_ERROR: "could not complete the non-volatile write",
    Status.FILE_NOT_FOUND: "specified file number does not exist",
}


def status_meaning(code: int) -> str:
    """Words for a status code, also for codes this module does not name."""
    try:
        return Status(code).meaning
    except ValueError:
        return f"unknown status 0x{code:02X}"


class CommMode(enum.IntEnum):
    """How a file's or command's data travels once authenticated (file settings' low bits)."""

    PLAIN = 0x00
    MAC = 0x01
    FULL = 0x03


# Application key settings 1 (DESFire EV2): what the application master key protects.
KS1_MASTER_KEY_CHANGEABLE = 0x01
KS1_FREE_DIRECTORY_LIST = 0x02
KS1_FREE_CREATE_DELETE = 0x04
KS1_CONFIGURATION_CHANGEABLE = 0x08
# Bits 7-4 of key settings 1: who may change keys (0 master key, 1..D that key, E same key, F none).
KS1_CHANGE_KEY_SHIFT = 4
CHANGE_KEY_WITH_SAME_KEY = 0x0E
CHANGE_KEY_FROZEN = 0x0F

# Application key settings 2.
KS2_AES = 0x80
KS2_3K3DES = 0x40
KS2_CRYPTO_MASK = 0xC0
KS2_ISO_FILE_IDS = 0x20
KS2_KEY_SETTINGS_3 = 0x10
KS2_KEY_COUNT_MASK = 0x0F

# Access rights nibbles of a file (2 bytes, LSB first): read, write, read&write, change.
ACCESS_FREE = 0x0E
ACCESS_NEVER = 0x0F

PICC_AID = bytes(3)
MAX_APPLICATIONS = 28
MAX_FILES = 32
# Data bytes per frame: DESFire chains longer commands and answers with AF frames.
COMMAND_FRAME_DATA = 54
RESPONSE_FRAME_DATA = 59

# ISO 7816-4 status words.
SW_OK = 0x9000
SW_END_OF_FILE = 0x6282
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_COMMAND_NOT_ALLOWED = 0x6986
SW_WRONG_DATA = 0x6A80
SW_FUNCTION_NOT_SUPPORTED = 0x6A81
SW_FILE_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_WRONG_OFFSET = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00

# CLA bytes: ISO interindustry, proprietary ISO-wrapped DESFire, PC/SC reader pseudo-APDUs.
CLA_ISO = 0x00
CLA_DESFIRE = 0x90
CLA_PCSC = 0xFF
ISO_SELECT = 0xA4
ISO_READ_BINARY = 0xB0
PCSC_GET_DATA = 0xCA


def wrap(command: int, data: bytes = b"") -> bytes:
    """The ISO 7816-4 wrapping of a native command: ``90 cmd 00 00 [Lc data] 00``."""
    if len(data) > 255:
        raise ValueError("a wrapped DESFire frame carries at most 255 data bytes")
    body = bytes((CLA_DESFIRE, command, 0x00, 0x00))
    if data:
        body += bytes((len(data),)) + data
    return body + b"\x00"


def unwrap_response(response: bytes) -> tuple[int, bytes]:
    """(DESFire status, data) of a wrapped answer ``<data> 91 <status>``; ValueError otherwise."""
    if len(response) < 2 or response[-2] != 0x91:
        raise ValueError(f"not a DESFire answer: {response.hex().upper() or 'empty'}")
    return response[-1], response[:-2]


def aid_to_wire(aid: bytes) -> bytes:
    """An AID in written order (``F58840``) as the card receives it (LSB first)."""
    if len(aid) != 3:
        raise ValueError("an AID is 3 bytes")
    return aid[::-1]


def aid_from_wire(data: bytes) -> bytes:
    """An AID as the card sends it (LSB first) in written order."""
    if len(data) != 3:
        raise ValueError("an AID is 3 bytes")
    return data[::-1]
