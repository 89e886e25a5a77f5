"""The CSV files ``escr-sgc`` reads: persons and cards, one row per record, a header row first.

Persons: ``esi, fullName, email, phone, academicLevel`` (``esi`` required).
Cards: ``cardNumber, csn, esi, cardType, cardStatusType, issuedAt, expiresAt, displayName``
(``cardNumber`` or ``csn`` required so that a second run finds the card again).
Cards in the router's v2 import format are read too: its columns (``personIdentifier`` for
``esi``, ``issuerIdentifier``, ``processorIdentifier``), named in a header row or, without one,
in the v2 order; comma, semicolon or tab separated, as the router's ``import-csv`` reads them.

Columns may come in any order; names are matched case-blind; empty cells mean "not set". Each row
is checked here before anything is sent, so that a malformed row fails with a clear reason and
never costs a request; the router remains the judge of everything else.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PERSON_COLUMNS = ("esi", "fullName", "email", "phone", "academicLevel")
CARD_COLUMNS = (
    "cardNumber",
    "csn",
    "esi",
    "cardType",
    "cardStatusType",
    "issuedAt",
    "expiresAt",
    "displayName",
)
ACADEMIC_LEVELS = ("BACHELOR", "MASTER", "DOCTORATE")
CARD_TYPES = (
    "UNKNOWN",
    "PASSIVE",
    "SMART_NO_CDZ",
    "SMART_CDZ",
    "SMART_MAY_SP",
    "SMART_PASSIVE",
    "SMART_PASSIVE_EMULATION",
)
CARD_STATUS_TYPES = ("ACTIVE", "INACTIVE")
# The router's v2 card CSV layout (GET /api/v2/cards/csv-config), in its column order.
V2_CARD_COLUMNS = (
    "cardNumber",
    "personIdentifier",
    "issuerIdentifier",
    "cardType",
    "cardStatusType",
    "issuedAt",
    "expiresAt",
    "displayName",
    "processorIdentifier",
    "csn",
)
# v2 names of escr-sgc's columns.
_CARD_ALIASES = {"personidentifier": "esi"}

ESI_PREFIX = "urn:schac:personalUniqueCode:int:esi:"
_ESI_SCOPE = re.compile(
    r"^(?:[A-Za-z]{2}|(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63})$"
)
_ESI_CODE = re.compile(r"^[!-~]+$")
_LEGACY_ESI = re.compile(r"^[A-Za-z]{2}-[0-9]{9}-[!-~]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{1,30}$")
_ESCN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[0-9a-f]{4}-[0-9]{12}$")
_CSN = re.compile(r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$")
# The router takes dates as yyyy-MM-dd only; Python's parser would also turn 20260901 and the
# week date 2026-W36-2 into one, which a card file writing them most likely does not mean.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class CsvFormatError(ValueError):
    """The file cannot be read as the expected CSV (no header, a required column missing)."""


@dataclass
class ParsedRow:
    """One data row: its line number, its key (ESI or card key), and its body or its error."""

    row: int
    key: str | None
    digest: str
    body: dict[str, Any] | None = None
    error: str | None = None
    fields: dict[str, str | None] = field(default_factory=dict)


def canonical_esi(esi: str) -> str:
    """The ESI as the router stores it, so that two spellings of one ESI compare equal.

    The prefix is written in its standard case, a country scope in upper case and a domain scope
    in lower case (the router's rule); the student code is kept as it is.
    """
    esi = esi.strip()
    if esi[: len(ESI_PREFIX)].lower() == ESI_PREFIX.lower():
        scope, sep, code = esi[len(ESI_PREFIX) :].partition(":")
        scope = scope.upper() if len(scope) == 2 and scope.isalpha() else scope.lower()
        return f"{ESI_PREFIX}{scope}{sep}{code}"
    if _LEGACY_ESI.match(esi):
        return esi[:2].upper() + esi[2:]
    return esi


def check_esi(value: str) -> str | None:
    """Why ``value`` is not an ESI, or None when it is one."""
    if len(value) > 255:
        return "esi: longer than 255 characters"
    if value[: len(ESI_PREFIX)].lower() == ESI_PREFIX.lower():
        scope, sep, code = value[len(ESI_PREFIX) :].partition(":")
        if not sep or not _ESI_SCOPE.match(scope) or not _ESI_CODE.match(code):
            return f"esi: {value!r} is not {ESI_PREFIX}<country or domain>:<code>"
        return None
    if _LEGACY_ESI.match(value):
        return None
    return f"esi: {value!r} is not an ESI ({ESI_PREFIX}<scope>:<code>)"


def normalise_csn(value: str) -> str:
    """A chip serial number in upper-case hex without separators."""
    return re.sub(r"[\s:-]", "", value).upper()


def _digest(cells: list[str]) -> str:
    # The journal recognises a row by its content, so an edited row is sent again on resume.
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()[:16]


def _header_map(
    header: list[str],
    expected: tuple[str, ...],
    required: tuple[str, ...],
    aliases: dict[str, str] | None = None,
) -> dict:
    by_name = {name.lower(): name for name in expected} | (aliases or {})
    mapping: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = by_name.get(raw.strip().lower().lstrip("\ufeff"))
        if name is not None and name not in mapping:
            mapping[name] = index
    absent = [name for name in required if name not in mapping]
    if absent:
        raise CsvFormatError(
            f"the header row lacks the column(s) {', '.join(absent)}; "
            f"expected columns: {', '.join(expected)}"
        )
    return mapping


def _delimiter(path: Path) -> str:
    """Comma, semicolon or tab: whichever the first line holds most of (comma when none)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        first = handle.readline()
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read(path: Path) -> Iterator[tuple[int, list[str]]]:
    # utf-8-sig: spreadsheets often save a byte-order mark before the header.
    delimiter = _delimiter(path)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        for cells in reader:
            yield reader.line_num, cells


def count_rows(path: Path) -> int:
    """How many data rows a file holds (for a progress bar), without parsing them into bodies."""
    count = 0
    header_seen = False
    for _line, cells in _read(path):
        if not any(cell.strip() for cell in cells):
            continue
        if not header_seen:
            header_seen = True
            if not _is_v2_data_row(cells):
                continue
        count += 1
    return count


def _is_v2_data_row(cells: list[str]) -> bool:
    """A first row that is a v2 card rather than a header: a card number or an ESI in place."""
    if not 8 <= len(cells) <= len(V2_CARD_COLUMNS):
        return False
    number, person = cells[0].strip().lower(), cells[1].strip()
    return bool(_ESCN.match(number)) or check_esi(person) is None


def _cells(
    line: int, cells: list[str], header_len: int, mapping: dict[str, int]
) -> tuple[dict[str, str | None], str | None]:
    values: dict[str, str | None] = {}
    for name, index in mapping.items():
        text = cells[index].strip() if index < len(cells) else ""
        values[name] = text or None
    if len(cells) != header_len:
        return values, f"row has {len(cells)} columns, the header has {header_len}"
    return values, None


def read_persons(path: Path, pic: str) -> Iterator[ParsedRow]:
    """Parse a persons CSV into PersonUpdateView bodies linking each person to ``pic``."""
    rows = _read(path)
    try:
        _, header = next(rows)
    except StopIteration:
        raise CsvFormatError("the file is empty: a header row is expected") from None
    mapping = _header_map(header, PERSON_COLUMNS, ("esi",))
    for line, cells in rows:
        if not any(c.strip() for c in cells):
            continue  # blank lines are not rows
        values, problem = _cells(line, cells, len(header), mapping)
        esi = values.get("esi")
        key = canonical_esi(esi) if esi else None
        parsed = ParsedRow(row=line, key=key, digest=_digest(cells), fields=values)
        problems = [problem] if problem else []
        if esi is None:
            problems.append("esi: missing")
        elif (why := check_esi(esi)) is not None:
            problems.append(why)
        email = values.get("email")
        if email is not None and (len(email) > 255 or not _EMAIL.match(email)):
            problems.append(f"email: {email!r} is not an e-mail address")
        phone = values.get("phone")
        if phone is not None and not _PHONE.match(phone):
            problems.append(f"phone: {phone!r} is not a phone number")
        level = values.get("academicLevel")
        if level is not None and level.upper() not in ACADEMIC_LEVELS:
            problems.append(f"academicLevel: {level!r} is not one of {', '.join(ACADEMIC_LEVELS)}")
        full_name = values.get("fullName")
        if full_name is not None and len(full_name) > 255:
            problems.append("fullName: longer than 255 characters")
        if problems:
            parsed.error = "; ".join(problems)
        else:
            assert key is not None
            parsed.body = person_body(
                key, pic, full_name, email, phone, level.upper() if level else None
            )
        yield parsed


def person_body(
    esi: str,
    pic: str,
    full_name: str | None,
    email: str | None,
    phone: str | None,
    academic_level: str | None,
) -> dict[str, Any]:
    """The PersonUpdateView of one row."""
    return {
        "identifier": esi,
        "personOrganisationUpdateViews": [
            {
                "organisationIdentifier": pic,
                "fullName": full_name,
                "email": email,
                "phone": phone,
                "academicLevel": academic_level,
            }
        ],
    }


def _date(values: dict[str, str | None], name: str, problems: list[str]) -> str | None:
    text = values.get(name)
    if text is None:
        problems.append(f"{name}: missing")
        return None
    if _DATE.fullmatch(text):
        with contextlib.suppress(ValueError):  # a day the calendar has: not 2026-02-30
            dt.date.fromisoformat(text)
            return text
    problems.append(f"{name}: {text!r} is not a date (YYYY-MM-DD)")
    return None


def read_cards(path: Path, pic: str) -> Iterator[ParsedRow]:
    """Parse a cards CSV into CardUpdateView bodies (plus ``csn``) issued by ``pic``."""
    rows = _read(path)
    try:
        first_line, header = next(rows)
    except StopIteration:
        raise CsvFormatError("the file is empty: a header row is expected") from None
    if _is_v2_data_row(header):
        # The v2 format allows no header: the columns are in its order, the first row is a card.
        rows = itertools.chain([(first_line, header)], rows)
        header = list(V2_CARD_COLUMNS[: len(header)])
    mapping = _header_map(
        header,
        (*CARD_COLUMNS, "issuerIdentifier", "processorIdentifier"),
        ("esi", "cardType", "cardStatusType", "issuedAt", "expiresAt"),
        _CARD_ALIASES,
    )
    if "cardNumber" not in mapping and "csn" not in mapping:
        raise CsvFormatError("the header row needs a cardNumber or a csn column")
    for line, cells in rows:
        if not any(c.strip() for c in cells):
            continue
        values, problem = _cells(line, cells, len(header), mapping)
        problems = [problem] if problem else []
        number = values.get("cardNumber")
        csn = values.get("csn")
        if number is not None:
            number = number.lower()
            if not _ESCN.match(number):
                problems.append(f"cardNumber: {number!r} is not an ESCN (a version 1 UUID)")
        if csn is not None:
            csn = normalise_csn(csn)
            if not _CSN.match(csn):
                problems.append(f"csn: {csn!r} is not a 4, 7 or 10 byte hex serial number")
        if number is None and csn is None:
            problems.append("cardNumber or csn: one is needed to find the card again")
        key = number or (f"csn:{csn}" if csn else None)
        parsed = ParsedRow(row=line, key=key, digest=_digest(cells), fields=values)
        esi = values.get("esi")
        if esi is None:
            problems.append("esi: missing")
        elif (why := check_esi(esi)) is not None:
            problems.append(why)
        card_type = (values.get("cardType") or "").upper()
        if card_type not in CARD_TYPES:
            problems.append(f"cardType: {values.get('cardType')!r} is not one of the card types")
        status = (values.get("cardStatusType") or "").upper()
        if status not in CARD_STATUS_TYPES:
            problems.append(
                f"cardStatusType: {values.get('cardStatusType')!r} is not ACTIVE/INACTIVE"
            )
        issued = _date(values, "issuedAt", problems)
        expires = _date(values, "expiresAt", problems)
        if issued and expires and expires <= issued:
            problems.append("expiresAt: must come after issuedAt")
        display_name = values.get("displayName")
        if display_name is not None and len(display_name) > 255:
            problems.append("displayName: longer than 255 characters")
        issuer = values.get("issuerIdentifier")
        if issuer is not None and issuer != pic:
            problems.append(f"issuerIdentifier: {issuer!r} is not your organisation ({pic})")
        processor = values.get("processorIdentifier")
        if problems:
            parsed.error = "; ".join(problems)
        else:
            assert esi is not None
            body: dict[str, Any] = {
                "cardType": card_type,
                "cardStatusType": status,
                "issuedAt": issued,
                "expiresAt": expires,
                "issuerIdentifier": pic,
                "personIdentifier": canonical_esi(esi),
                "displayName": display_name,
            }
            if number is not None:
                body["cardNumber"] = number
            if csn is not None:
                body["csn"] = csn
            if processor is not None:
                body["processorIdentifier"] = processor
            parsed.body = body
        yield parsed


def sniff_kind(path: Path) -> str:
    """``cards`` when the header names card columns (or the file is headerless v2), else persons."""
    with contextlib.closing(_read(path)) as rows:
        header = next((cells for _, cells in rows), [])
    names = {h.strip().lower().lstrip("\ufeff") for h in header}
    if names & {"cardnumber", "csn", "cardtype", "personidentifier"} or _is_v2_data_row(header):
        return "cards"
    return "persons"
