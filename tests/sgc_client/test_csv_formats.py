from __future__ import annotations

from pathlib import Path

import pytest

from sgc_client.csv_formats import (
    CsvFormatError,
    canonical_esi,
    check_esi,
    read_cards,
    read_persons,
    sniff_kind,
)
from sgc_client.journal import Journal, JournalEntry, JournalMismatch

PIC = "999999999"
ESI = "urn:schac:personalUniqueCode:int:esi:FR:123"


def write(tmp_path: Path, text: str, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_person_row_becomes_a_person_update_view_for_the_callers_pic(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "\ufeffESI,fullName,email,phone,academicLevel\n"
        f"{ESI},Ada Lovelace,ada@uni.example,+33 1 02 03 04 05,master\n",
    )
    [row] = read_persons(path, PIC)
    assert row.error is None and row.row == 2 and row.key == ESI
    assert row.body == {
        "identifier": ESI,
        "personOrganisationUpdateViews": [
            {
                "organisationIdentifier": PIC,
                "fullName": "Ada Lovelace",
                "email": "ada@uni.example",
                "phone": "+33 1 02 03 04 05",
                "academicLevel": "MASTER",
            }
        ],
    }


def test_columns_may_come_in_any_order_and_optional_ones_may_be_absent(tmp_path: Path) -> None:
    path = write(tmp_path, f"email,esi\nx@y.example,{ESI}\n{ESI.upper()[:4]}x,\n")
    first, second = read_persons(path, PIC)
    view = first.body["personOrganisationUpdateViews"][0]
    assert view["email"] == "x@y.example" and view["fullName"] is None
    assert second.error is not None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("not-an-esi,A,a@b.example,,", "is not an ESI"),
        (f"{ESI},A,not-an-email,,", "e-mail"),
        (f"{ESI},A", "2 columns, the header has 5"),
        (f"{ESI},A,a@b.example,,POSTDOC", "academicLevel"),
        (f"{ESI},A,a@b.example,call me,", "phone"),
        (",A,a@b.example,,", "esi: missing"),
        ("urn:schac:personalUniqueCode:int:esi:FR:has space,A,,,", "is not urn"),
    ],
)
def test_malformed_person_rows_fail_with_their_reason(
    tmp_path: Path, line: str, reason: str
) -> None:
    path = write(tmp_path, f"esi,fullName,email,phone,academicLevel\n{line}\n")
    [row] = read_persons(path, PIC)
    assert row.body is None and reason in row.error


def test_blank_lines_are_skipped_and_line_numbers_kept(tmp_path: Path) -> None:
    path = write(tmp_path, f"esi\n\n{ESI}\n")
    [row] = read_persons(path, PIC)
    assert row.row == 3


def test_a_persons_file_without_an_esi_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match="esi"):
        list(read_persons(write(tmp_path, "fullName,email\nA,a@b.example\n"), PIC))
    with pytest.raises(CsvFormatError, match="empty"):
        list(read_persons(write(tmp_path, ""), PIC))


def test_esi_forms() -> None:
    assert check_esi(ESI) is None
    assert check_esi("urn:schac:personalUniqueCode:int:esi:lmu.de:12345") is None
    assert check_esi("FR-999999999-12345") is None
    assert check_esi("urn:schac:personalUniqueCode:int:esi:FR") is not None
    assert check_esi(ESI + "x" * 300) is not None
    assert canonical_esi(ESI.upper()) == "urn:schac:personalUniqueCode:int:esi:FR:123"
    assert canonical_esi("URN:SCHAC:personalUniqueCode:int:esi:fr:AbC") == (
        "urn:schac:personalUniqueCode:int:esi:FR:AbC"
    )
    assert canonical_esi("urn:schac:personalUniqueCode:int:esi:LMU.de:Xy") == (
        "urn:schac:personalUniqueCode:int:esi:lmu.de:Xy"
    )
    assert canonical_esi("fr-999999999-Ab") == "FR-999999999-Ab"


CARD_HEADER = "cardNumber,csn,esi,cardType,cardStatusType,issuedAt,expiresAt,displayName\n"
ESCN = "4f1c7e7a-9b2c-11ef-8000-001999999999"


def test_a_card_row_becomes_a_card_update_view(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        CARD_HEADER
        + f"{ESCN.upper()},04:a1:b2:c3:d4:e5:f6,{ESI},smart_cdz,active,2026-09-01,2030-08-31,Ada\n",
    )
    [row] = read_cards(path, PIC)
    assert row.error is None and row.key == ESCN
    assert row.body == {
        "cardNumber": ESCN,
        "csn": "04A1B2C3D4E5F6",
        "cardType": "SMART_CDZ",
        "cardStatusType": "ACTIVE",
        "issuedAt": "2026-09-01",
        "expiresAt": "2030-08-31",
        "issuerIdentifier": PIC,
        "personIdentifier": ESI,
        "displayName": "Ada",
    }


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (f",,{ESI},SMART_CDZ,ACTIVE,2026-09-01,2030-08-31,", "cardNumber or csn"),
        (f"nope,,{ESI},SMART_CDZ,ACTIVE,2026-09-01,2030-08-31,", "is not an ESCN"),
        (f",0102,{ESI},SMART_CDZ,ACTIVE,2026-09-01,2030-08-31,", "hex serial"),
        (f",01020304,{ESI},PLASTIC,ACTIVE,2026-09-01,2030-08-31,", "cardType"),
        (f",01020304,{ESI},SMART_CDZ,LOST,2026-09-01,2030-08-31,", "cardStatusType"),
        (f",01020304,{ESI},SMART_CDZ,ACTIVE,01/09/2026,2030-08-31,", "issuedAt"),
        # Python reads these as dates; the router does not, and the file most likely means
        # something else.
        (f",01020304,{ESI},SMART_CDZ,ACTIVE,20260901,2030-08-31,", "issuedAt"),
        (f",01020304,{ESI},SMART_CDZ,ACTIVE,2026-09-01,2030-W35-1,", "expiresAt"),
        (f",01020304,{ESI},SMART_CDZ,ACTIVE,2026-02-30,2030-08-31,", "issuedAt"),
        (f",01020304,{ESI},SMART_CDZ,ACTIVE,2026-09-01,2025-08-31,", "after issuedAt"),
        (",01020304,,SMART_CDZ,ACTIVE,2026-09-01,2030-08-31,", "esi: missing"),
    ],
)
def test_malformed_card_rows_fail_with_their_reason(tmp_path: Path, line: str, reason: str) -> None:
    [row] = read_cards(write(tmp_path, CARD_HEADER + line + "\n"), PIC)
    assert row.body is None and reason in row.error


def test_a_card_keyed_by_chip_only_has_a_csn_key(tmp_path: Path) -> None:
    line = f",01020304,{ESI},SMART_CDZ,ACTIVE,2026-09-01,2030-08-31,\n"
    [row] = read_cards(write(tmp_path, CARD_HEADER + line), PIC)
    assert row.key == "csn:01020304" and "cardNumber" not in row.body


def test_the_kind_of_file_is_told_by_its_header(tmp_path: Path) -> None:
    assert sniff_kind(write(tmp_path, CARD_HEADER, "c.csv")) == "cards"
    assert sniff_kind(write(tmp_path, "esi,fullName\n", "p.csv")) == "persons"


def test_an_edited_row_has_another_digest(tmp_path: Path) -> None:
    [a] = read_persons(write(tmp_path, f"esi,fullName\n{ESI},A\n"), PIC)
    [b] = read_persons(write(tmp_path, f"esi,fullName\n{ESI},B\n"), PIC)
    assert a.digest != b.digest


RUN = {"kind": "persons", "router": "https://r", "pic": PIC}


def test_the_journal_resumes_finished_rows_and_retries_failed_ones(tmp_path: Path) -> None:
    path = tmp_path / "j"
    journal = Journal(path, RUN, sync_every=2)
    journal.open()
    journal.record(JournalEntry(row=2, digest="d2", outcome="created", identifier="e2"))
    journal.record(JournalEntry(row=3, digest="d3", outcome="failed", reason="boom"))
    journal.record(JournalEntry(row=4, digest="d4", outcome="unchanged"))
    journal.close(complete=False)
    with path.open("a") as handle:
        handle.write('{"row": 5, "dig')  # cut short by a kill

    again = Journal(path, RUN)
    again.open()
    assert again.finished(2, "d2").identifier == "e2"
    assert again.finished(2, "other") is None  # the row was edited since
    assert again.finished(3, "d3") is None
    assert again.finished(4, "d4") is not None
    again.record(JournalEntry(row=5, digest="d5", outcome="created"))
    again.close(complete=False)
    third = Journal(path, RUN)
    third.open()
    assert third.finished(5, "d5") is not None
    third.close(complete=True)
    assert not path.exists()


def test_a_journal_of_another_run_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j"
    journal = Journal(path, RUN)
    journal.open()
    journal.close(complete=False)
    with pytest.raises(JournalMismatch):
        Journal(path, {**RUN, "pic": "888888888"}).open()
