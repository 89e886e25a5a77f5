"""escr-sgc for operators: the v2 card CSV, rate and time left, confirmations, --version."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
from rich.console import Console

from sgc_client import cli as sgc_cli
from sgc_client.csv_formats import read_cards, sniff_kind
from sgc_client.progress import import_progress
from tests.sgc_client.factories import PersonsFile, esi_of, write_persons_csv
from tests.sgc_client.fake_router import FakeRouter
from tests.sgc_client.test_batch_mode import run, summary_of

PIC = "999999999"
ESCN = "f81d4fae-7dec-11d0-a765-001999999999"
ESCN2 = "f81d4fae-7dec-11d0-a766-001999999999"


def test_v2_named_columns_are_read_as_cards(tmp_path: Path) -> None:
    path = tmp_path / "v2.csv"
    path.write_text(
        "cardNumber;personIdentifier;issuerIdentifier;cardType;cardStatusType;issuedAt;"
        "expiresAt;displayName;processorIdentifier;csn\n"
        f"{ESCN};{esi_of(1)};{PIC};SMART_CDZ;ACTIVE;2026-09-01;2030-08-31;Ada;;04A1B2C3\n"
        f"{ESCN2};{esi_of(2)};;PASSIVE;INACTIVE;2026-09-01;2030-08-31;;123456789;\n"
    )
    assert sniff_kind(path) == "cards"
    first, second = read_cards(path, PIC)
    assert first.error is None and second.error is None
    assert first.body == {
        "cardType": "SMART_CDZ", "cardStatusType": "ACTIVE", "issuedAt": "2026-09-01",
        "expiresAt": "2030-08-31", "issuerIdentifier": PIC, "personIdentifier": esi_of(1),
        "displayName": "Ada", "cardNumber": ESCN, "csn": "04A1B2C3",
    }
    assert second.body["processorIdentifier"] == "123456789"
    assert second.body["issuerIdentifier"] == PIC  # blank: your own PIC


def test_v2_files_without_a_header_are_read_in_the_v2_order(tmp_path: Path) -> None:
    path = tmp_path / "v2.csv"
    path.write_text(
        f"{ESCN}\t{esi_of(1)}\t{PIC}\tSMART_CDZ\tACTIVE\t2026-09-01\t2030-08-31\tAda\t\t\n"
        f"{ESCN2}\t{esi_of(2)}\t888888888\tSMART_CDZ\tACTIVE\t2026-09-01\t2030-08-31\t\t\t\n"
    )
    assert sniff_kind(path) == "cards"
    ours, theirs = read_cards(path, PIC)
    assert ours.row == 1 and ours.body["cardNumber"] == ESCN
    assert theirs.body is None
    assert "issuerIdentifier: '888888888' is not your organisation (999999999)" in theirs.error


def test_a_v2_file_imports_through_the_cli(tmp_path: Path) -> None:
    fake = FakeRouter()
    persons = write_persons_csv(tmp_path / "p.csv", 2)
    run(fake, "persons", "import", str(persons.path), "--no-progress")
    cards = tmp_path / "cards.csv"
    cards.write_text(
        f"{ESCN},{esi_of(0)},{PIC},SMART_CDZ,ACTIVE,2026-09-01,2030-08-31,Ada,,\n"
        f"{ESCN2},{esi_of(1)},{PIC},SMART_CDZ,ACTIVE,2026-09-01,2030-08-31,Bob,,\n"
    )
    result = run(fake, "cards", "import", str(cards), "--no-progress")
    assert summary_of(result.output) == {"created": 2, "updated": 0, "unchanged": 0, "failed": 0}
    assert set(fake.cards) == {ESCN, ESCN2}


def test_the_progress_bar_shows_the_rate_and_the_time_left() -> None:
    now = {"t": 0.0}
    console = Console(width=140, record=True, force_terminal=False)
    bar = import_progress(console, "cards", disable=False, get_time=lambda: now["t"])
    task = bar.add_task("cards", total=1000)
    for _ in range(10):
        now["t"] += 1
        bar.advance(task, 25)
    console.print(bar.make_tasks_table(bar.tasks))
    line = console.export_text()
    assert "250/1000" in line
    assert "25 rows/s" in line
    assert "0:00:30" in line  # 750 rows left at 25 rows/s


@pytest.fixture
def persons_in_router(tmp_path: Path) -> tuple[FakeRouter, PersonsFile, int]:
    fake = FakeRouter()
    persons = write_persons_csv(tmp_path / "p.csv", 10)
    run(fake, "persons", "import", str(persons.path), "--no-progress")
    shorter = write_persons_csv(tmp_path / "p.csv", 7)
    gone = sorted(set(persons.valid) - set(shorter.valid))
    assert gone
    return fake, shorter, len(gone)


def test_sync_delete_missing_asks_on_a_terminal(
    persons_in_router: tuple[FakeRouter, PersonsFile, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, shorter, gone = persons_in_router
    before = set(fake.persons)
    monkeypatch.setattr(sgc_cli, "on_terminal", lambda: True)
    sync = ("sync", str(shorter.path), "--delete-missing", "--no-progress")
    declined = run(fake, *sync, input="n\n")
    assert f"Delete {gone} persons from the router that p.csv does not name" in declined.output
    assert f"not deleting: {gone} deletion(s) were not confirmed" in declined.output
    assert set(fake.persons) == before
    accepted = run(fake, *sync, input="y\n")
    assert f"deleted {gone} record(s)" in accepted.output
    assert set(fake.persons) == set(shorter.valid)


def test_sync_delete_missing_with_yes_does_not_ask(
    persons_in_router: tuple[FakeRouter, PersonsFile, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, shorter, gone = persons_in_router
    monkeypatch.setattr(sgc_cli, "on_terminal", lambda: True)
    result = run(fake, "sync", str(shorter.path), "--delete-missing", "--no-progress", "--yes")
    assert "Delete" not in result.output and f"deleted {gone} record(s)" in result.output


def test_consent_withdrawal_asks_on_a_terminal(
    persons_in_router: tuple[FakeRouter, PersonsFile, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, shorter, _ = persons_in_router
    esi = shorter.valid[0]
    monkeypatch.setattr(sgc_cli, "on_terminal", lambda: True)
    declined = run(fake, "consent", "withdraw", esi, input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert esi in fake.persons
    assert run(fake, "consent", "withdraw", esi, "--yes").exit_code == 0
    assert esi not in fake.persons


def test_version() -> None:
    result = run(FakeRouter(), "--version")
    assert result.output.strip() == f"escr-sgc, version {version('escrouter')}"
