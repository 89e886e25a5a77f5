"""The journal of a bulk run: what each row came to, so a killed run resumes where it stopped.

A JSON-lines file: a header line naming the run (kind, router, organisation), then one line per
finished row. Lines are flushed and fsync'd every ``sync_every`` rows (and after each batch), so an
interruption loses at most that many rows' records; those rows are simply sent again, which the
import's idempotence makes harmless. The journal is removed when a run completes.

On resume the journal is read line by line into a :class:`~sgc_client.spill_map.SpillMap`, so a
journal of a million rows costs a bounded amount of memory (the rest in a temporary file next to
the journal, freed by :meth:`Journal.close`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sgc_client.spill_map import SpillMap

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

    def __init__(
        self,
        path: Path,
        run: dict[str, Any],
        *,
        sync_every: int = 100,
        memory_limit: int | None = None,
    ) -> None:
        self.path = path
        self.run = {"journal": FORMAT_VERSION, **run}
        self.sync_every = sync_every
        # Row -> the line that finished it, or "" when its last record is a failure (retried).
        self.done: SpillMap[int, str] = SpillMap(memory_limit=memory_limit, directory=path.parent)
        self._pending = 0
        self._handle: IO[str] | None = None

    def open(self) -> None:
        """Read what an earlier, interrupted run finished, then open the file for appending."""
        try:
            if self.path.exists() and self._read_earlier_run():
                return
        except BaseException:
            self.done.close()
            raise
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.path.open("w", encoding="utf-8")
        self._handle.write(json.dumps(self.run, sort_keys=True) + "\n")
        self.sync()

    def _read_earlier_run(self) -> bool:
        """Load the journal's records and open it for appending; False if it is empty."""
        last = ""
        with self.path.open(encoding="utf-8") as handle:
            header_line = handle.readline()
            if not header_line:
                return False
            header = self._parse(header_line)
            if header is None or header != self.run:
                raise JournalMismatch(
                    f"{self.path} records another run ({header_line.rstrip()[:200]}); "
                    "delete it or name another journal"
                )
            last = header_line
            for line in handle:
                last = line
                data = self._parse(line)
                if data is None:
                    continue  # a line cut short by the interruption
                try:
                    entry = JournalEntry(**data)
                except TypeError:
                    continue
                # The last record of a row wins: a failure hides an earlier success.
                self.done[entry.row] = line if entry.outcome in DONE_OUTCOMES else ""
        self._handle = self.path.open("a", encoding="utf-8")
        if not last.endswith("\n"):
            self._handle.write("\n")  # end the torn line so the next one parses
        return True

    @staticmethod
    def _parse(line: str) -> dict[str, Any] | None:
        try:
            data = json.loads(line)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def finished(self, row: int, digest: str) -> JournalEntry | None:
        """The earlier record of this row, if it finished and its content is unchanged."""
        return self.finished_many([(row, digest)])[row]

    def finished_many(self, rows: list[tuple[int, str]]) -> dict[int, JournalEntry | None]:
        """:meth:`finished` of each (row, digest), looked up together."""
        lines = self.done.get_many([row for row, _digest in rows])
        answers: dict[int, JournalEntry | None] = {}
        for row, digest in rows:
            line = lines.get(row)
            data = self._parse(line) if line else None
            entry = JournalEntry(**data) if data is not None else None
            answers[row] = entry if entry is not None and entry.digest == digest else None
        return answers

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
        self.done.close()
        if complete:
            self.path.unlink(missing_ok=True)
