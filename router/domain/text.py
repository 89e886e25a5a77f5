"""What a text or number sent by a client may be: the rules both API adapters apply.

Databases refuse some strings outright (PostgreSQL cannot store a NUL character) and every column
has a length, so such values are refused as malformed requests (400) before any service runs,
with the same message in REST and GraphQL. The limits live here, in one place, beside the
column sizes of :mod:`router.models` they protect.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from router.domain.errors import MalformedRequest

NUL = "\x00"
# The blanks identifiers may be surrounded with: ASCII ones only, so that the patterns of the
# OpenAPI document (ECMA-262, whose \s differs from Python's) say exactly what is accepted.
BLANKS = " \t\r\n"
BLANKS_PATTERN = "[ \\t\\r\\n]*"
# ECMA-262 and Python regular expression: any text without a NUL character.
NO_NUL_PATTERN = "^[^\\u0000]*$"

# Column and protocol limits, by field name as the APIs spell it.
NAME_LENGTH = 255
EMAIL_LENGTH = 255
PHONE_LENGTH = 32
DISPLAY_NAME_LENGTH = 255
PROCESSOR_LENGTH = 64
IDENTIFIER_LENGTH = 255
SEARCH_LENGTH = 255
CARD_NUMBER_LENGTH = 255
CSN_LENGTH = 64
URL_LENGTH = 2048
ORGANISATION_IDENTIFIER_LENGTH = 64

# Integers stored or computed with by the databases (OFFSET, counts) are 64-bit at most; the v2
# document declares its paging parameters as int32.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


# A date as the APIs write it: yyyy-MM-dd in ASCII digits, ISO 8601's extended calendar form.
# Python's own parser also reads the basic (20260901) and week (2026-W36-2) forms, which the
# documents do not allow and a client writing them most likely means something else.
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# A timestamp as the APIs write it: RFC 3339's date-time, with its offset.
RFC3339_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def parse_date(value: str) -> dt.date:
    """The date ``value`` writes as yyyy-MM-dd; a ValueError for any other text."""
    if not ISO_DATE.fullmatch(value):
        raise ValueError(f"{value!r} is not a date written yyyy-MM-dd")
    return dt.date.fromisoformat(value)


def parse_timestamp(value: str) -> dt.datetime:
    """The moment an ISO 8601 date-time with its zone names, in UTC; a ValueError saying why."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("is not a timestamp") from None
    if moment.tzinfo is None:
        raise ValueError("has no time zone")
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # 9999-12-31T23:00:00-14:00 is in year 10000 in UTC
        raise ValueError("is past year 9999 in UTC") from None


def check_text(name: str, value: str | None, max_length: int) -> str | None:
    """Return ``value`` unless it holds a NUL character or is longer than ``max_length``."""
    if value is None:
        return None
    if NUL in value:
        raise MalformedRequest(f"{name}: a NUL character is not allowed.")
    if len(value) > max_length:
        raise MalformedRequest(f"{name}: longer than maximum length {max_length}.")
    return value


def check_integer(name: str, value: int, minimum: int, maximum: int) -> int:
    """Return ``value`` if it lies in ``[minimum, maximum]``, else refuse it as malformed."""
    if not minimum <= value <= maximum:
        raise MalformedRequest(f"{name}: must be between {minimum} and {maximum}.")
    return value


# A JSON escape of a UTF-16 surrogate (\uD800 to \uDFFF): the only way a JSON text can carry one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def holds_unpaired_surrogate(value: object) -> bool:
    r"""Whether a decoded JSON value holds a string, or key, with an unpaired UTF-16 surrogate.

    JSON lets a text escape half of a surrogate pair alone (``"\ud800"``); Python decodes it to a
    string that no database, and no UTF-8 encoder, accepts.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def unpaired_surrogate_in_json(raw: bytes | str) -> bool:
    """Whether a JSON text's strings hold an unpaired surrogate; a text that is not JSON does not.

    A text that is not JSON is left to the parser that reads it, which answers for it.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if not _SURROGATE_ESCAPE.search(data):
        return False
    try:
        value = read_json(data)
    except ValueError:
        return False
    return holds_unpaired_surrogate(value)


def read_json(data: bytes | str) -> Any:
    """The value of a UTF-8 JSON text; json.JSONDecodeError for anything else.

    Two valid JSON texts make Python's parser fail otherwise: nesting deeper than its recursion
    limit (a RecursionError) and an integer of more than 4300 digits (a bare ValueError). Every
    reader of a client's JSON uses this, so that such a text is a malformed request, not a 500.
    """
    try:
        return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as error:  # UnicodeDecodeError is a ValueError too
        raise json.JSONDecodeError(f"Not JSON the router reads: {error}", "-", 0) from None


UNPAIRED_SURROGATE = (
    "a string holds an unpaired UTF-16 surrogate (an escape from \\ud800 to \\udfff without "
    "its other half), which is not text."
)
