"""The journal of a bulk run: what each row came to, so a killed run resumes where it stopped.

A JSON-lines file: a header line naming the run (kind, router, organisation), then one line per
finished row. Lines are flushed and fsync'd every ``sync_every`` rows (and after each batch), so an
interruption loses at most that many rows' records; those rows are simply sent again, which the
import's idempotence makes harmless. The journal is removed when a run completes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

FORMAT_VERSION = 1
# Outcomes that need no second attempt; failed rows are tried again on resume.
DONE_OUTCOMES = frozenset({"created", "updated", "unchanged"})


class JournalMismatch(Exception):
    """The journal belongs to another run (another kind of file, router or organisation)."""


@dataclass
class JournalEntry:
    """One finished row."""

    row: int
    digest: str
    outcome: str
    identifier: str | None = None
    status: int | None = None
    reason: str | None = None


def _line(entry: JournalEntry) -> str:
    # The fields by hand: dataclasses.asdict deep-copies each value, a cost per row that showed.
    fields = {
        "digest": entry.digest,
        "identifier": entry.identifier,
        "outcome": entry.outcome,
        "reason": entry.reason,
        "row": entry.row,
        "status": entry.status,
    }
    return json.dumps(fields, sort_keys=True) + "\n"


class Journal:
    """An append-only record of finished rows, read back on resume."""

    def __init__(self, path: Path, run: dict[str, Any], *, sync_every: int = 100) -> None:
        self.path = path
        self.run = {"journal": FORMAT_VERSION, **run}
        self.sync_every = sync_every
        self.done: dict[int, JournalEntry] = {}
        self._pending = 0
        self._handle: IO[str] | None = None

    def open(self) -> None:
        """Read what an earlier, interrupted run finished, then open the file for appending."""
        if self.path.exists():
            with self.path.open(encoding="utf-8") as handle:
                lines = handle.read().splitlines()
            if lines:
                header = self._parse(lines[0])
                if header is None or header != self.run:
                    raise JournalMismatch(
                        f"{self.path} records another run ({lines[0][:200]}); "
                        "delete it or name another journal"
                    )
                for line in lines[1:]:
                    data = self._parse(line)
                    if data is None:
                        continue  # a line cut short by the interruption
                    try:
                        entry = JournalEntry(**data)
                    except TypeError:
                        continue
                    if entry.outcome in DONE_OUTCOMES:
                        self.done[entry.row] = entry
                    else:
                        self.done.pop(entry.row, None)
                self._handle = self.path.open("a", encoding="utf-8")
                if not lines[-1].endswith("}"):
                    self._handle.write("\n")  # end the torn line so the next one parses
                return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.path.open("w", encoding="utf-8")
        self._handle.write(json.dumps(self.run, sort_keys=True) + "\n")
        self.sync()

    @staticmethod
    def _parse(line: str) -> dict[str, Any] | None:
        try:
            data = json.loads(line)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def finished(self, row: int, digest: str) -> JournalEntry | None:
        """The earlier record of this row, if it finished and its content is unchanged."""
        entry = self.done.get(row)
        return entry if entry is not None and entry.digest == digest else None

    def record(self, entry: JournalEntry) -> None:
        """Append a finished row; fsync every ``sync_every`` rows."""
        assert self._handle is not None, "open() the journal first"
        self._handle.write(_line(entry))
        self._pending += 1
        if self._pending >= self.sync_every:
            self.sync()

    def record_batch(self, entries: list[JournalEntry]) -> None:
        """Append the finished rows of one batch answer, then fsync once."""
        assert self._handle is not None, "open() the journal first"
        self._handle.write("".join(_line(entry) for entry in entries))
        self.sync()

    def sync(self) -> None:
        """Push what was written to the disk."""
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
        self._pending = 0

    def close(self, *, complete: bool) -> None:
        """Close; a complete run removes the journal, so that the next run starts afresh."""
        if self._handle is not None:
            self.sync()
            self._handle.close()
            self._handle = None
        if complete:
            self.path.unlink(missing_ok=True)
