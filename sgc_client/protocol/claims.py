"""Reading claim values strictly: the helpers every message of the protocol shares."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from sgc_client.protocol.errors import ProtocolError, Refusal

PIC_PATTERN = re.compile(r"^[0-9]{9}$")
HEX_PATTERN = re.compile(r"^[0-9A-F]*$")


def malformed(message: str) -> ProtocolError:
    """The error of a message that cannot be read."""
    return ProtocolError(Refusal.MALFORMED, message)


def member(claims: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """A required member of ``kind`` (never a bool for an int), or a malformed-message error."""
    value = claims.get(name)
    # bool is an int in Python, never in these messages.
    if value is None or not isinstance(value, kind) or isinstance(value, bool):
        expected = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise malformed(f"{name!r} is missing or not a {expected}")
    return value


def optional_int(claims: Mapping[str, Any], name: str) -> int | None:
    """An optional integer member."""
    return None if claims.get(name) is None else member(claims, name, int)


def normalise_hex(text: Any, name: str, lengths: tuple[int, ...]) -> str:
    """Upper-case hex of one of the byte ``lengths``, or a malformed-message error."""
    if not isinstance(text, str):
        raise malformed(f"{name!r} is missing or not hex text")
    cleaned = text.strip().upper()
    if not HEX_PATTERN.match(cleaned) or len(cleaned) % 2 or len(cleaned) // 2 not in lengths:
        raise malformed(f"{name!r} must be {' or '.join(map(str, lengths))} bytes in hex")
    return cleaned


def request_id_of(value: Any, name: str = "jti") -> str:
    """A message id: a UUID, in its canonical lower-case form."""
    if not isinstance(value, str):
        raise malformed(f"{name!r} is missing")
    try:
        return str(uuid.UUID(value))
    except ValueError as error:
        raise malformed(f"{name!r} is not a UUID") from error


def pic_of(value: Any, name: str) -> str:
    """An institution's PIC: nine digits."""
    if not isinstance(value, str) or not PIC_PATTERN.match(value):
        raise malformed(f"{name!r} is not a PIC (nine digits)")
    return value
