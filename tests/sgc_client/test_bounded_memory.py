"""What a bulk run remembers per row stays bounded: the rest spills to a temporary file, removed."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sgc_client import spill_map
from sgc_client.journal import Journal, JournalEntry
from sgc_client.spill_map import SpillMap
from tests.sgc_client.factories import esi_of, write_persons_csv
from tests.sgc_client.fake_router import FakeRouter, Interrupted
from tests.sgc_client.test_batch_mode import run, summary_of

RUN = {"kind": "persons", "router": "https://r", "pic": "999999999"}


@pytest.fixture
def spills(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """A tiny default bound; records every spill file made and the dicts' sizes after each step."""
    monkeypatch.setattr(spill_map, "DEFAULT_MEMORY_LIMIT", 40)
    seen: dict[str, list] = {"files": [], "sizes": []}
    open_file = SpillMap._open
    setdefault_many = SpillMap.setdefault_many
    set_item = SpillMap.__setitem__

    def recording_open(self: SpillMap) -> object:
        db = open_file(self)
        seen["files"].append(self.path)
        return db

    def recording_setdefault_many(self: SpillMap, items: list) -> list:
        answers = setdefault_many(self, items)
        seen["sizes"].append(self.in_memory)
        return answers

    def recording_set_item(self: SpillMap, key: object, value: object) -> None:
        set_item(self, key, value)
        seen["sizes"].append(self.in_memory)

    monkeypatch.setattr(SpillMap, "_open", recording_open)
    monkeypatch.setattr(SpillMap, "setdefault_many", recording_setdefault_many)
    monkeypatch.setattr(SpillMap, "__setitem__", recording_set_item)
    return seen


def test_the_map_answers_across_the_spill_and_never_holds_more_than_its_bound(
    tmp_path: Path
) -> None:
    with SpillMap[str, int](memory_limit=3, directory=tmp_path) as keys:
        answers = keys.setdefault_many([(f"k{i}", i) for i in range(10)])
        assert answers == list(range(10))
        assert keys.in_memory <= 3
        # The file was made in the folder asked for, and unlinked at once: a killed run leaves
        # nothing behind.
        assert keys.on_disk and keys.path is not None and keys.path.parent == tmp_path
        assert list(tmp_path.iterdir()) == []
        # Earlier keys, on disk or in memory, keep their first value; a repeat within one call
        # gets the value of its first occurrence.
        again = keys.setdefault_many([("k0", 100), ("k9", 101), ("new", 102), ("new", 103)])
        assert again == [0, 9, 102, 102]
        assert keys.get("k1") == 1 and keys.get("absent") is None
        keys["k1"] = 11  # set again: the newest value wins over the one on disk
        for i in range(20, 30):
            keys[f"k{i}"] = i
            assert keys.in_memory <= 3
        assert keys.get("k1") == 11
        assert keys.get_many(["k2", "k25", "absent"]) == {"k2": 2, "k25": 25}
    assert not keys.on_disk and keys.get("k1") is None
    assert list(tmp_path.iterdir()) == []


def test_a_map_below_its_bound_makes_no_file(tmp_path: Path) -> None:
    keys = SpillMap[int, int](memory_limit=5, directory=tmp_path)
    assert keys.setdefault_many([(i, i) for i in range(5)]) == list(range(5))
    assert keys.path is None and not keys.on_disk
    keys.close()
    assert list(tmp_path.iterdir()) == []


def test_a_spilled_journal_resumes_with_the_last_record_of_each_row(tmp_path: Path) -> None:
    path = tmp_path / "j"
    journal = Journal(path, RUN)
    journal.open()
    journal.record(JournalEntry(row=2, digest="d2", outcome="created", identifier="e2"))
    journal.record(JournalEntry(row=3, digest="d3", outcome="failed", reason="boom"))
    for row in range(4, 20):
        journal.record(JournalEntry(row=row, digest=f"d{row}", outcome="unchanged"))
    journal.record(JournalEntry(row=3, digest="d3", outcome="updated"))  # retried, then done
    journal.record(JournalEntry(row=4, digest="d4", outcome="failed", reason="later"))
    journal.close(complete=False)

    again = Journal(path, RUN, memory_limit=3)
    again.open()
    assert again.done.in_memory <= 3 and again.done.on_disk
    assert again.done.path is not None and again.done.path.parent == tmp_path
    assert again.finished(2, "d2").identifier == "e2"  # on disk since the spill
    assert again.finished(2, "other") is None
    assert again.finished(3, "d3").outcome == "updated"
    assert again.finished(4, "d4") is None  # its last record is a failure
    assert [
        row
        for row, entry in again.finished_many([(r, f"d{r}") for r in range(5, 20)]).items()
        if entry is not None
    ] == list(range(5, 20))
    again.close(complete=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j"]


def test_a_duplicate_far_behind_the_spill_fails_alone_with_the_same_reason(
    tmp_path: Path, spills: dict[str, list]
) -> None:
    persons = write_persons_csv(tmp_path / "p.csv", 300)
    with persons.path.open("a", newline="") as handle:  # duplicates of the first valid rows
        writer = csv.writer(handle)
        for valid in persons.valid[:2]:
            writer.writerow([valid, "Again", "again@uni.example", "", "MASTER"])
    last_line = 1 + 300 + 2
    fake = FakeRouter()
    result = run(fake, "persons", "import", str(persons.path), "--no-progress", "--workers", "2")

    assert summary_of(result.output) == {
        "created": len(persons.valid),
        "updated": 0,
        "unchanged": 0,
        "failed": len(persons.malformed) + 2,
    }
    assert f"row {last_line - 1}: failed: duplicate of row 2 ({esi_of(0)})" in result.output
    assert f"row {last_line}: failed: duplicate of row 3 ({esi_of(1)})" in result.output
    assert fake.items_received == len(persons.valid)
    # The keys spilled, the dict never went past its bound, and the file is gone.
    assert spills["files"] and max(spills["sizes"]) <= 40
    assert not any(path.exists() for path in spills["files"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv"]


def test_an_interrupted_spilled_run_leaves_no_file_and_resumes(
    tmp_path: Path, spills: dict[str, list]
) -> None:
    fake = FakeRouter()
    persons = write_persons_csv(tmp_path / "p.csv", 3_000)
    fake.die_after_batches = 3
    with pytest.raises(Interrupted):
        run(fake, "persons", "import", str(persons.path), "--no-progress")
    journal = tmp_path / "p.csv.persons.journal"
    # The spill file of the keys is removed on the way out too; the journal stays.
    assert spills["files"] and not any(path.exists() for path in spills["files"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv", journal.name]

    fake.die_after_batches = None
    spills["files"].clear()
    result = run(fake, "persons", "import", str(persons.path), "--no-progress")
    assert summary_of(result.output) == {
        "created": len(persons.valid),
        "updated": 0,
        "unchanged": 0,
        "failed": len(persons.malformed),
    }
    assert "1500 row(s) were finished by an earlier, interrupted run" in result.output
    assert fake.items_received == len(persons.valid)
    # Both the keys and the journal read back (1,500 rows) spilled; all is removed at the end.
    journal_spills = [p for p in spills["files"] if Path(p).parent == tmp_path]
    assert len(journal_spills) == 2
    assert max(spills["sizes"]) <= 40
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv"]

    again = run(fake, "persons", "import", str(persons.path), "--no-progress")
    assert summary_of(again.output)["unchanged"] == len(persons.valid)


def test_a_killed_process_leaves_no_spill_file(tmp_path: Path) -> None:
    # SIGKILL runs no clean-up: only a file unlinked as soon as it was opened is gone after it.
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from sgc_client.spill_map import SpillMap\n"
        "keys = SpillMap(memory_limit=2, directory=Path(sys.argv[1]))\n"
        "keys.setdefault_many([(f'k{i}', i) for i in range(10)])\n"
        "assert keys.on_disk and keys.get('k0') == 0\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert list(tmp_path.iterdir()) == []
