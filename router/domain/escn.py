"""European Student Card Numbers (ESCN): parsing, validation and generation.

An ESCN is an RFC 4122 version 1 UUID whose 12-character node is a 3-digit prefix followed by the
issuer's 9-digit PIC, the 12 decimal digits read as hex digits so that they print back unchanged:
``...-001999978433`` was issued by PIC 999978433 with prefix 001 (see the shared reference).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from router.domain.errors import InvalidIdentifier
from router.domain.text import BLANKS, BLANKS_PATTERN

PIC_PATTERN = re.compile(r"^[0-9]{9}$")
PIC_TEXT_PATTERN = PIC_PATTERN.pattern
# What parse_escn accepts (either case, surrounding spaces), for the OpenAPI document.
ESCN_PATTERN = (
    f"^{BLANKS_PATTERN}"
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-1[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9]{12}"
    f"{BLANKS_PATTERN}$"
)
PREFIX_PATTERN = re.compile(r"^[0-9]{3}$")
_CANONICAL = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# RFC 4122 timestamps count 100 ns intervals since 1582-10-15 (the Gregorian reform).
_GREGORIAN_OFFSET = 0x01B21DD213814000
_CLOCK_SEQ_MASK = 0x3FFF
# A clock that steps back by more than this (in 100 ns units, here one second) bumps the clock
# sequence, as RFC 4122 section 4.2.1 asks; smaller jitter is absorbed by counting on from the last
# timestamp so that numbers stay unique and ordered.
_BACKWARD_TOLERANCE = 10_000_000


@dataclass(frozen=True, slots=True)
class Escn:
    """A validated ESCN and what it says about its issuer."""

    value: str
    prefix: str
    pic: str

    def __str__(self) -> str:
        return self.value


def validate_pic(pic: str) -> str:
    """Return ``pic`` if it is nine decimal digits, else raise :class:`InvalidIdentifier`."""
    if not isinstance(pic, str) or not PIC_PATTERN.match(pic):
        raise InvalidIdentifier(f"A PIC is nine decimal digits, not {pic!r}.")
    return pic


def validate_prefix(prefix: str | int) -> str:
    """Normalise a server prefix to its three-digit form (``1`` becomes ``"001"``)."""
    if isinstance(prefix, int) and not isinstance(prefix, bool) and 0 <= prefix <= 999:
        return f"{prefix:03d}"
    if isinstance(prefix, str) and PREFIX_PATTERN.match(prefix):
        return prefix
    raise InvalidIdentifier(f"An ESCN prefix is three decimal digits, not {prefix!r}.")


def parse_escn(text: str) -> Escn:
    """Parse and validate an ESCN; upper-case input is accepted and returned in lower case."""
    if not isinstance(text, str):
        raise InvalidIdentifier("An ESCN is a string.")
    candidate = text.strip(BLANKS).lower()
    if not _CANONICAL.match(candidate):
        raise InvalidIdentifier(
            f"{text!r} is not a card number: expected a UUID written 8-4-4-4-12 in hex digits."
        )
    parsed = uuid.UUID(candidate)
    if parsed.variant != uuid.RFC_4122:
        raise InvalidIdentifier(f"{text!r} is not an RFC 4122 UUID (wrong variant).")
    if parsed.version != 1:
        raise InvalidIdentifier(
            f"{text!r} is a version {parsed.version} UUID; an ESCN is a version 1 UUID."
        )
    node = candidate[-12:]
    if not node.isdigit():
        raise InvalidIdentifier(
            f"{text!r} is not an ESCN: its last 12 characters must be a 3-digit prefix and a PIC."
        )
    return Escn(value=candidate, prefix=node[:3], pic=node[3:])


def is_escn(text: str) -> bool:
    """Tell whether ``text`` is a well-formed ESCN."""
    try:
        parse_escn(text)
    except InvalidIdentifier:
        return False
    return True


class EscnGenerator:
    """Generates ESCNs, unique and ordered within the process, safe to share between threads.

    Timestamps never repeat within a process: when the clock has not advanced, the generator counts
    on from the last timestamp. Each process starts from a random clock sequence, so two processes
    (gunicorn workers, several servers with the same prefix) that generate in the same 100 ns tick
    still differ; the database's unique index is the last guard, and callers retry on a conflict.
    """

    def __init__(
        self, clock_seq: int | None = None, clock: Callable[[], int] = time.time_ns
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._clock_seq = secrets.randbits(14) if clock_seq is None else clock_seq & _CLOCK_SEQ_MASK
        self._last = 0

    def _next_timestamp(self) -> int:
        now = self._clock() // 100 + _GREGORIAN_OFFSET
        if now + _BACKWARD_TOLERANCE < self._last:
            self._clock_seq = (self._clock_seq + 1) & _CLOCK_SEQ_MASK
        elif now <= self._last:
            now = self._last + 1
        self._last = now
        return now

    def generate(self, pic: str, prefix: str | int = "001") -> str:
        """Return a new ESCN for the issuer ``pic`` and server ``prefix``."""
        node = int(validate_prefix(prefix) + validate_pic(pic), 16)
        with self._lock:
            timestamp = self._next_timestamp()
            clock_seq = self._clock_seq
        fields = (
            timestamp & 0xFFFFFFFF,
            (timestamp >> 32) & 0xFFFF,
            ((timestamp >> 48) & 0x0FFF) | 0x1000,
            ((clock_seq >> 8) & 0x3F) | 0x80,
            clock_seq & 0xFF,
            node,
        )
        return str(uuid.UUID(fields=fields))

    def generate_many(self, pic: str, prefix: str | int, count: int) -> list[str]:
        """Return ``count`` new ESCNs, in generation order."""
        return [self.generate(pic, prefix) for _ in range(count)]


def escn_timestamp_ns(escn: str) -> int:
    """Return the generation time of an ESCN in nanoseconds since the Unix epoch."""
    return (uuid.UUID(parse_escn(escn).value).time - _GREGORIAN_OFFSET) * 100


default_generator = EscnGenerator()
