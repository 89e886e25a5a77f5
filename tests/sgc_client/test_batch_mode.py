"""escr-sgc through the batch transport, against an in-memory router following the contract."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from sgc_client.cli import EXIT_ROWS_FAILED, cli
from tests.sgc_client.factories import esi_of, write_persons_csv
from tests.sgc_client.fake_router import FakeRouter, Interrupted

ROWS = 10_000


def run(fake: FakeRouter, *args: str, input: str | None = None) -> Result:
    runner = CliRunner()
    return runner.invoke(
        cli,
        ["--router", "https://router.test", "--api-key", "good-key", *args],
        obj={"transport": fake.transport},
        catch_exceptions=False,
        input=input,
    )


def summary_of(output: str) -> dict[str, int]:
    line = next(x for x in output.splitlines() if x.startswith("summary: "))
    return {k: int(v) for k, v in (p.split("=") for p in line.removeprefix("summary: ").split())}


def test_ten_thousand_rows_in_batches_with_malformed_rows_then_nothing_changes(
    tmp_path: Path
) -> None:
    fake = FakeRouter()
    persons = write_persons_csv(tmp_path / "persons.csv", ROWS)
    report = tmp_path / "report.json"
    result = run(
        fake, "persons", "import", str(persons.path), "--no-progress", "--report", str(report)
    )
    assert result.exit_code == EXIT_ROWS_FAILED, result.output
    assert summary_of(result.output) == {
        "created": len(persons.valid),
        "updated": 0,
        "unchanged": 0,
        "failed": len(persons.malformed),
    }
    # Malformed rows cost no request; good rows go 500 at a time.
    assert fake.items_received == len(persons.valid)
    assert fake.batch_calls == -(-len(persons.valid) // 500)
    assert set(fake.persons) == set(persons.valid)
    document = json.loads(report.read_text())
    assert document["mode"] == "batch"
    failed = {r["row"]: r["reason"] for r in document["rows"] if r["outcome"] == "failed"}
    assert set(failed) == set(persons.malformed)
    words = {
        "esi": "is not an ESI",
        "email": "e-mail",
        "columns": "columns",
        "academicLevel": "academicLevel",
    }
    for line, kind in persons.malformed.items():
        assert words[kind] in failed[line]
    assert not (tmp_path / "persons.csv.persons.journal").exists()

    again = run(fake, "persons", "import", str(persons.path), "--no-progress")
    assert summary_of(again.output) == {
        "created": 0,
        "updated": 0,
        "unchanged": len(persons.valid),
        "failed": len(persons.malformed),
    }


def test_a_changed_row_is_reported_updated(tmp_path: Path) -> None:
    fake = FakeRouter()
    persons = write_persons_csv(tmp_path / "p.csv", 50)
    run(fake, "persons", "import", str(persons.path), "--no-progress")
    text = persons.path.read_text().replace("Student 10,", "Student Ten,")
    persons.path.write_text(text)
    result = run(fake, "persons", "import", str(persons.path), "--no-progress")
    counts = summary_of(result.output)
    assert counts["updated"] == 1 and counts["created"] == 0
    assert fake.persons[esi_of(10)]["organisations"][0]["fullName"] == "Student Ten"


def test_an_interrupted_run_resumes_from_its_journal(tmp_path: Path) -> None:
    fake = FakeRouter()
    persons = write_persons_csv(tmp_path / "p.csv", 3_000)
    fake.die_after_batches = 3
    with pytest.raises(Interrupted):
        run(fake, "persons", "import", str(persons.path), "--no-progress")
    journal = tmp_path / "p.csv.persons.journal"
    lines = journal.read_text().splitlines()
    assert len(lines) == 1 + 3 * 500  # the header, then three finished batches
    assert fake.items_received == 1_500

    fake.die_after_batches = None
    result = run(fake, "persons", "import", str(persons.path), "--no-progress")
    assert summary_of(result.output) == {
        "created": len(persons.valid),
        "updated": 0,
        "unchanged": 0,
        "failed": len(persons.malformed),
    }
    assert "1500 row(s) were finished by an earlier, interrupted run" in result.output
    # Only what the first run had not finished was sent again.
    assert fake.items_received == len(persons.valid)
    assert not journal.exists()


def test_a_journal_of_another_run_is_refused(tmp_path: Path) -> None:
    fake = FakeRouter()
    persons = write_persons_csv(tmp_path / "p.csv", 5)
    journal = tmp_path / "j.journal"
    journal.write_text(
        json.dumps({"journal": 1, "kind": "cards", "pic": "1", "router": "x"}) + "\n"
    )
    result = run(fake, "persons", "import", str(persons.path), "--journal", str(journal))
    assert result.exit_code == 1
    assert "records another run" in result.output


def test_sync_reports_and_deletes_what_the_file_no_longer_has(tmp_path: Path) -> None:
    fake = FakeRouter()
    persons = write_persons_csv(tmp_path / "p.csv", 40)
    run(fake, "persons", "import", str(persons.path), "--no-progress")
    shorter = write_persons_csv(tmp_path / "p.csv", 30)
    gone = sorted(set(persons.valid) - set(shorter.valid))
    report = tmp_path / "sync.json"
    result = run(fake, "sync", str(shorter.path), "--no-progress", "--report", str(report))
    assert json.loads(report.read_text())["missing"] == gone
    assert set(fake.persons) == set(persons.valid)  # reported only
    result = run(fake, "sync", str(shorter.path), "--no-progress", "--delete-missing")
    assert f"deleted {len(gone)} record(s)" in result.output
    assert set(fake.persons) == set(shorter.valid)


def write_cards_csv(path: Path, persons: list[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "cardNumber",
                "csn",
                "esi",
                "cardType",
                "cardStatusType",
                "issuedAt",
                "expiresAt",
                "displayName",
            ]
        )
        for i, esi in enumerate(persons):
            writer.writerow(
                [
                    "",
                    f"04A1B2{i:08X}",
                    esi,
                    "SMART_CDZ",
                    "ACTIVE",
                    "2026-09-01",
                    "2030-08-31",
                    f"Card {i}",
                ]
            )
        writer.writerow(["", "", persons[0], "SMART_CDZ", "ACTIVE", "2026-09-01", "2030-08-31", ""])
        writer.writerow(
            ["", "04FFFFFFFFFFFF", persons[0], "SMART_CDZ", "LOST", "2026-09-01", "2030-08-31", ""]
        )


def test_cards_by_chip_number_are_created_once_and_then_unchanged(tmp_path: Path) -> None:
    fake = FakeRouter()
    persons = write_persons_csv(tmp_path / "p.csv", 20)
    run(fake, "persons", "import", str(persons.path), "--no-progress")
    cards = tmp_path / "cards.csv"
    write_cards_csv(cards, persons.valid)
    report = tmp_path / "cards.json"
    result = run(fake, "cards", "import", str(cards), "--no-progress", "--report", str(report))
    n = len(persons.valid)
    assert summary_of(result.output) == {"created": n, "updated": 0, "unchanged": 0, "failed": 2}
    rows = json.loads(report.read_text())["rows"]
    assert "cardNumber or csn" in rows[-2]["reason"]
    assert "ACTIVE/INACTIVE" in rows[-1]["reason"]
    assert {r["identifier"] for r in rows if r["outcome"] == "created"} == set(fake.cards)
    result = run(fake, "cards", "import", str(cards), "--no-progress")
    assert summary_of(result.output) == {"created": 0, "updated": 0, "unchanged": n, "failed": 2}
    assert len(fake.cards) == n


def test_the_cli_falls_back_to_one_call_per_row_when_batches_are_not_offered(
    tmp_path: Path
) -> None:
    fake = FakeRouter(batch=False)
    persons = write_persons_csv(tmp_path / "p.csv", 3)
    result = run(fake, "persons", "import", str(persons.path), "--no-progress", "--mode", "auto")
    assert fake.requests[:3] == [
        ("GET", "/api/x/organisations/me"),
        ("POST", "/api/x/persons:batch"),
        ("GET", "/api/v2/persons"),
    ]
    assert [r for r in fake.requests if r[0] == "POST"][1:] == [("POST", "/api/v2/persons")] * 3
    assert summary_of(result.output)["created"] == 3
    assert set(fake.persons) == set(persons.valid)
    again = run(fake, "persons", "import", str(persons.path), "--no-progress")
    assert summary_of(again.output)["unchanged"] == 3


def test_a_refused_key_stops_the_run_with_a_clear_error(tmp_path: Path) -> None:
    fake = FakeRouter()
    persons = write_persons_csv(tmp_path / "p.csv", 3)
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "--router",
            "https://r.test",
            "--api-key",
            "bad",
            "persons",
            "import",
            str(persons.path),
            "--pic",
            "999999999",
        ],
        obj={"transport": fake.transport},
    )
    assert result.exit_code == 1
    assert "SE-0001" in result.output


def test_delete_missing_refuses_to_empty_the_router_from_an_empty_file(tmp_path: Path) -> None:
    fake = FakeRouter()
    persons = write_persons_csv(tmp_path / "p.csv", 10)
    run(fake, "persons", "import", str(persons.path), "--no-progress")
    empty = tmp_path / "empty.csv"
    empty.write_text("esi,fullName\n")
    result = run(fake, "sync", str(empty), "--no-progress", "--delete-missing")
    assert "not deleting: no row of the file was imported" in result.output
    assert set(fake.persons) == set(persons.valid)


def test_without_organisations_me_the_pic_must_be_given(tmp_path: Path) -> None:
    fake = FakeRouter()
    original = fake.handle

    def real_router_like(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/x/organisations/me":
            return httpx.Response(404, json={"code": "ER-0404", "message": "not found"})
        return original(request)

    fake.handle = real_router_like
    persons = write_persons_csv(tmp_path / "p.csv", 3)
    result = run(fake, "persons", "import", str(persons.path), "--no-progress")
    assert result.exit_code == 2 and "pass --pic" in result.output
    result = run(fake, "persons", "import", str(persons.path), "--no-progress", "--pic", fake.pic)
    assert summary_of(result.output)["created"] == len(persons.valid)
