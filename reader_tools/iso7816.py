"""ISO 7816-4 reads any verifier can do without a key: the UID, SELECT, READ BINARY of a file."""

from __future__ import annotations

from reader_tools.desfire.commands import Transport
from reader_tools.desfire.protocol import SW_END_OF_FILE, SW_OK, SW_WRONG_OFFSET

READ_CHUNK = 256
MAX_OFFSET = 0x7FFF


class IsoStatusError(Exception):
    """A command answered with a status word other than success."""

    def __init__(self, what: str, status_word: int) -> None:
        super().__init__(f"{what}: status {status_word:04X}")
        self.status_word = status_word


def _exchange(transport: Transport, apdu: bytes, what: str) -> tuple[bytes, int]:
    response = transport.transmit(apdu)
    if len(response) < 2:
        raise IsoStatusError(what, 0)
    return response[:-2], int.from_bytes(response[-2:], "big")


def get_uid(transport: Transport) -> bytes:
    """The card's UID as the PC/SC reader reports it (``FF CA 00 00 00``)."""
    data, status = _exchange(transport, bytes.fromhex("FFCA000000"), "GET DATA (UID)")
    if status != SW_OK or not data:
        raise IsoStatusError("GET DATA (UID)", status)
    return data


def select_df_name(transport: Transport, name: bytes) -> None:
    """SELECT an application by its DF name (``00 A4 04 00``)."""
    apdu = bytes((0x00, 0xA4, 0x04, 0x00, len(name))) + name + b"\x00"
    _, status = _exchange(transport, apdu, f"SELECT {name.hex().upper()}")
    if status != SW_OK:
        raise IsoStatusError(f"SELECT {name.hex().upper()}", status)


def select_file(transport: Transport, file_id: int) -> None:
    """SELECT an elementary file of the current application by its ISO identifier."""
    apdu = bytes((0x00, 0xA4, 0x00, 0x0C, 0x02)) + file_id.to_bytes(2, "big")
    _, status = _exchange(transport, apdu, f"SELECT EF {file_id:04X}")
    if status != SW_OK:
        raise IsoStatusError(f"SELECT EF {file_id:04X}", status)


def read_binary(transport: Transport, *, max_size: int = MAX_OFFSET) -> bytes:
    """The whole selected file, read in chunks of 256 bytes (offsets 0, 0x100, 0x200...)."""
    content = b""
    while len(content) < max_size:
        offset = len(content)
        apdu = bytes((0x00, 0xB0, offset >> 8, offset & 0xFF, 0x00))
        data, status = _exchange(transport, apdu, f"READ BINARY at {offset:#06x}")
        if status == SW_WRONG_OFFSET and offset:
            break  # the file ended exactly at a chunk boundary
        if status not in (SW_OK, SW_END_OF_FILE):
            raise IsoStatusError(f"READ BINARY at {offset:#06x}", status)
        content += data
        if status == SW_END_OF_FILE or len(data) < READ_CHUNK:
            break
    return content
