"""The bulk card import by CSV: column layout, row-by-row validation (a dry run), the import.

One card per row. Columns sit at the positions :func:`csv_config` gives; a first row naming the
columns is optional and, when present, its names decide the columns instead. Validation reports
every problem of every row without writing anything; the import applies each valid row through the
card services on its own, so a bad row fails alone and never stops the rows after it.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.domain.errors import (
    CsvTooLarge,
    InvalidCsvRow,
    RouterError,
    UnauthorisedPic,
    UnreadableCsv,
)
from router.domain.escn import parse_escn
from router.domain.esi import parse_esi
from router.domain.text import parse_date
from router.models import Card, Person
from router.services import batch, cards
from router.services.batch import ItemResult, Outcome
from router.services.caller import Caller, Scope
from router.services.persons import visible_links

COLUMNS = (
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
_FIELD_LIMITS = {"displayName": 255, "processorIdentifier": 64}


class CsvOperation(enum.StrEnum):
    """What an import does with each row."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


@dataclass(frozen=True)
class CsvProblem:
    """One problem of one row: the v2 CsvValidationError."""

    row_number: int
    field_name: str
    message: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CsvRow:
    """A data row: its 1-based row number in the file and its values by column name."""

    row_number: int
    values: dict[str, str]

    def get(self, name: str) -> str | None:
        """The stripped value of a column, None when blank."""
        value = self.values.get(name, "").strip()
        return value or None


@dataclass
class CheckedRow:
    """A row after validation: the card input it stands for, or its problems."""

    row: CsvRow
    data: cards.CardInput | None = None
    card_number: str | None = None
    problems: list[CsvProblem] = field(default_factory=list)


@dataclass
class ImportRowResult:
    """The outcome of one imported row."""

    row_number: int
    result: ItemResult
    problems: list[CsvProblem] = field(default_factory=list)


@dataclass
class ImportReport:
    """Every row's outcome, in file order."""

    rows: list[ImportRowResult] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        """How many rows ended in each outcome."""
        counts = {outcome.value: 0 for outcome in Outcome}
        for row in self.rows:
            counts[row.result.outcome.value] += 1
        return counts


def csv_config() -> dict[str, int]:
    """The position of each column in an import file (0-based)."""
    return {name: position for position, name in enumerate(COLUMNS)}


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_rows(content: bytes, max_rows: int | None = None) -> list[CsvRow]:
    """Parse an import file (UTF-8, optional BOM; comma, semicolon or tab separated).

    A file of more than ``max_rows`` data rows is refused whole, before any row is checked.
    """
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableCsv(f"The file is not UTF-8 text (byte {exc.start}).") from exc
    if "\x00" in text:
        raise UnreadableCsv("The file is binary, not CSV text.")
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise UnreadableCsv("The file has no rows.")
    first = next(line for line in lines if line.strip())
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first)))
    except csv.Error as exc:
        raise UnreadableCsv(f"The file is not valid CSV: {exc}.") from exc
    numbered = [(n, r) for n, r in enumerate(records, start=1) if any(c.strip() for c in r)]
    if not numbered:  # lines that are not blank can still hold blank cells only ("" or " ")
        raise UnreadableCsv("The file has no rows.")
    names = list(COLUMNS)
    head = [cell.strip().lstrip("\ufeff") for cell in numbered[0][1]]
    if any(cell in COLUMNS for cell in head):
        unknown = [cell for cell in head if cell and cell not in COLUMNS]
        if unknown:
            raise UnreadableCsv(
                f"Unknown column(s) in the header: {', '.join(unknown)}; "
                f"known: {', '.join(COLUMNS)}."
            )
        names = head
        numbered = numbered[1:]
    if not numbered:
        raise UnreadableCsv("The file has a header but no data rows.")
    if max_rows is not None and len(numbered) > max_rows:
        raise CsvTooLarge(
            f"The file has {len(numbered)} rows; one request takes at most {max_rows}: "
            "split the file and send the parts one after the other."
        )
    return [
        CsvRow(number, {name: value for name, value in zip(names, record, strict=False) if name})
        for number, record in numbered
    ]


def _problem(row: CsvRow, name: str, message: str, code: str = "ER-0084") -> CsvProblem:
    params = {"code": code}
    if row.get(name) is not None:
        params["value"] = row.get(name) or ""
    return CsvProblem(row.row_number, name, message, params)


def _date(row: CsvRow, name: str, problems: list[CsvProblem]) -> dt.date | None:
    value = row.get(name)
    if value is None:
        problems.append(_problem(row, name, f"{name} is required."))
        return None
    try:
        return parse_date(value)
    except ValueError:
        problems.append(_problem(row, name, f"{name} must be a date as yyyy-MM-dd."))
        return None


def _choice(
    row: CsvRow, name: str, allowed: tuple[str, ...], problems: list[CsvProblem]
) -> str | None:
    value = row.get(name)
    if value is None:
        problems.append(_problem(row, name, f"{name} is required."))
    elif value not in allowed:
        problems.append(_problem(row, name, f"{name} must be one of {', '.join(allowed)}."))
    else:
        return value
    return None


class RowChecker:
    """Validates the rows of one file against the rules and the database, writing nothing."""

    def __init__(self, session: Session, caller: Caller, operation: CsvOperation) -> None:
        self.session = session
        self.caller = caller
        self.operation = operation
        self.numbers_seen: dict[str, int] = {}
        self.csns_seen: dict[str, int] = {}

    def _card_number(
        self, row: CsvRow, problems: list[CsvProblem]
    ) -> tuple[str | None, Card | None]:
        value = row.get("cardNumber")
        if value is None:
            if self.operation is not CsvOperation.CREATE:
                problems.append(_problem(row, "cardNumber", "cardNumber is required."))
            return None, None
        try:
            number = parse_escn(value).value
        except RouterError as error:
            problems.append(_problem(row, "cardNumber", error.message, error.code))
            return None, None
        if number in self.numbers_seen:
            problems.append(
                _problem(
                    row,
                    "cardNumber",
                    f"The card number also appears in row {self.numbers_seen[number]}.",
                )
            )
            return number, None
        self.numbers_seen[number] = row.row_number
        card = cards.find_card(self.session, number)
        if self.operation is CsvOperation.CREATE:
            if card is not None:
                problems.append(
                    _problem(row, "cardNumber", f"A card {number} already exists.", "ER-0002")
                )
            elif parse_escn(number).pic != self.caller.organisation.identifier:
                problems.append(
                    _problem(row, "cardNumber", "The card number is not under your PIC.", "ER-0422")
                )
            return number, None
        if card is None:
            problems.append(_problem(row, "cardNumber", f"No card {number} exists.", "ER-0001"))
        elif card.issuer_id != self.caller.organisation_id:
            problems.append(
                _problem(
                    row, "cardNumber", "The card was not issued by your organisation.", "SE-0000"
                )
            )
            card = None
        return number, card

    def _person(self, row: CsvRow, problems: list[CsvProblem], card: Card | None) -> str | None:
        value = row.get("personIdentifier")
        if value is None:
            problems.append(_problem(row, "personIdentifier", "personIdentifier is required."))
            return None
        try:
            esi = parse_esi(value).value
        except RouterError as error:
            problems.append(_problem(row, "personIdentifier", error.message, error.code))
            return None
        person = self.session.scalar(select(Person).where(Person.esi == esi))
        if person is None:
            problems.append(
                _problem(row, "personIdentifier", f"No person {esi} is registered.", "ER-0018")
            )
        elif not visible_links(person, self.caller):
            problems.append(
                _problem(row, "personIdentifier", "The person is not linked to you.", "SE-0000")
            )
        elif card is not None and card.person_id != person.id:
            problems.append(
                _problem(row, "personIdentifier", "A card cannot change holder.", "ER-0422")
            )
        return esi

    def _csn(self, row: CsvRow, problems: list[CsvProblem], card: Card | None) -> str | None:
        try:
            csn = cards.normalise_csn(row.get("csn"))
        except RouterError as error:
            problems.append(_problem(row, "csn", error.message, error.code))
            return None
        if csn is None:
            return None
        if csn in self.csns_seen:
            problems.append(
                _problem(row, "csn", f"The chip also appears in row {self.csns_seen[csn]}.")
            )
            return csn
        self.csns_seen[csn] = row.row_number
        holder = self.session.scalar(select(Card.id).where(Card.csn == csn))
        if holder is not None and (card is None or holder != card.id):
            problems.append(_problem(row, "csn", "Another card has this chip.", "ER-0002"))
        return csn

    def check(self, row: CsvRow) -> CheckedRow:
        """Every problem of ``row``, and the card input it stands for when it has none."""
        problems: list[CsvProblem] = []
        number, card = self._card_number(row, problems)
        checked = CheckedRow(row, card_number=number, problems=problems)
        if self.operation is CsvOperation.DELETE:
            return checked
        issuer = row.get("issuerIdentifier") or self.caller.organisation.identifier
        if issuer != self.caller.organisation.identifier:
            problems.append(
                _problem(
                    row,
                    "issuerIdentifier",
                    "You can only import your own cards.",
                    UnauthorisedPic.code,
                )
            )
        esi = self._person(row, problems, card)
        card_type = _choice(row, "cardType", cards.CARD_TYPES, problems)
        status = _choice(row, "cardStatusType", cards.WRITE_STATUSES, problems)
        issued, expires = _date(row, "issuedAt", problems), _date(row, "expiresAt", problems)
        if issued and expires and expires < issued:
            problems.append(_problem(row, "expiresAt", "expiresAt is before issuedAt.", "ER-0422"))
        for name, limit in _FIELD_LIMITS.items():
            if len(row.get(name) or "") > limit:
                problems.append(_problem(row, name, f"{name} is longer than {limit} characters."))
        csn = self._csn(row, problems, card)
        if problems:
            return checked
        assert esi and card_type and status and issued and expires  # guaranteed by no problems
        checked.data = cards.CardInput(
            card_number=number,
            card_type=card_type,
            card_status_type=status,
            issued_at=issued,
            expires_at=expires,
            issuer_identifier=issuer,
            person_identifier=esi,
            display_name=row.get("displayName"),
            processor_identifier=row.get("processorIdentifier"),
            csn=csn,
        )
        return checked

    def check_all(self, rows: list[CsvRow]) -> Iterator[CheckedRow]:
        """Check each row in file order (duplicates are reported on their later row)."""
        for row in rows:
            yield self.check(row)


def validate_csv(
    session: Session,
    caller: Caller,
    operation: CsvOperation,
    content: bytes,
    *,
    max_rows: int | None = None,
) -> list[CsvProblem]:
    """The dry run: every problem of every row; nothing is written."""
    caller.require(Scope.CARDS_WRITE)
    rows = read_rows(content, max_rows)
    checker = RowChecker(session, caller, operation)
    problems = [p for checked in checker.check_all(rows) for p in checked.problems]
    session.rollback()
    return problems


def _apply(
    session: Session, caller: Caller, operation: CsvOperation, checked: CheckedRow
) -> ItemResult:
    index = checked.row.row_number
    if operation is CsvOperation.DELETE:
        number = checked.card_number or ""

        def delete() -> ItemResult:
            cards.delete_card(session, caller, number)
            return ItemResult(index, Outcome.DELETED, 204, number)

        return batch.guarded(session, index, number, delete)
    data = checked.data
    assert data is not None  # rows with problems never reach here
    if operation is CsvOperation.UPDATE:
        return batch.apply_card(session, caller, index, data)

    def create() -> ItemResult:
        card = cards.register_card(session, caller, data)
        return ItemResult(index, Outcome.CREATED, 201, card.card_number)

    return batch.guarded(session, index, data.card_number, create)


def import_csv(
    session: Session,
    caller: Caller,
    operation: CsvOperation,
    content: bytes,
    *,
    max_rows: int | None = None,
) -> ImportReport:
    """Validate each row, then apply it on its own; a row with problems is reported failed.

    Every row gets its result in the report; a file over ``max_rows`` is refused whole first.
    """
    caller.require(Scope.CARDS_WRITE)
    rows = read_rows(content, max_rows)
    checker = RowChecker(session, caller, operation)
    report = ImportReport()
    for row in rows:
        checked = checker.check(row)
        if checked.problems:
            error = InvalidCsvRow(
                "; ".join(f"{p.field_name}: {p.message}" for p in checked.problems)
            )
            result = batch.failed(row.row_number, error, checked.card_number)
            report.rows.append(ImportRowResult(row.row_number, result, checked.problems))
            continue
        result = _apply(session, caller, operation, checked)
        report.rows.append(ImportRowResult(row.row_number, result))
    return report
