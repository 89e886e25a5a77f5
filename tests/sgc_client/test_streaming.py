"""A streamed import (no --report) gives what the whole-file import gives, batches in flight."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.sgc_client.factories import write_persons_csv
from tests.sgc_client.fake_router import FakeRouter
from tests.sgc_client.test_batch_mode import run, summary_of


@pytest.mark.parametrize("workers", ["1", "3"])
def test_streamed_import_equals_the_whole_file_import(tmp_path: Path, workers: str) -> None:
    persons = write_persons_csv(tmp_path / "p.csv", 2_300)
    with persons.path.open("a", newline="") as handle:  # two duplicates of earlier rows
        writer = csv.writer(handle)
        for valid in persons.valid[:2]:
            writer.writerow([valid, "Again", "again@uni.example", "", "MASTER"])

    whole = FakeRouter()
    report = tmp_path / "report.json"
    expected = run(
        whole, "persons", "import", str(persons.path), "--no-progress", "--report", str(report)
    )
    rows = json.loads(report.read_text())["rows"]
    streamed = FakeRouter()
    result = run(
        streamed, "persons", "import", str(persons.path), "--no-progress", "--workers", workers
    )

    assert summary_of(result.output) == summary_of(expected.output)
    assert summary_of(result.output)["failed"] == len(persons.malformed) + 2
    assert streamed.items_received == whole.items_received == len(persons.valid)
    first_failures = [f"row {r['row']}: failed" for r in rows if r["outcome"] == "failed"][:20]
    shown = [line for line in result.output.splitlines() if ": failed: " in line]
    assert [line.split(": failed: ")[0] + ": failed" for line in shown] == first_failures
    assert "more failed row(s)" in result.output

    again = run(
        streamed, "persons", "import", str(persons.path), "--no-progress", "--workers", workers
    )
    assert summary_of(again.output)["unchanged"] == len(persons.valid)
