"""A map that keeps a bounded number of entries in memory and the rest in a temporary SQLite file.

A bulk run must remember things about every row it has read (the keys already seen, the rows an
earlier run finished); kept in a dict, that memory grows with the file. This map holds at most
``memory_limit`` entries in a dict; when the dict is full they move, in one batched insert, to a
SQLite file of its own, and later lookups of keys not in the dict read that file. The file is
unlinked as soon as it is open, so nothing is left behind however the run ends; its space is
freed by :meth:`SpillMap.close` (used as a context manager) or when the process exits.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Generic, TypeVar

K = TypeVar("K", int, str)
V = TypeVar("V", int, str)

# About 10 to 25 MiB of keys and values in memory, and a 100,000-row file never touches the disk.
DEFAULT_MEMORY_LIMIT = 100_000
# Keys per read of the file (SQLite allows 999 parameters per statement in older builds).
LOOKUP_BATCH = 500


class SpillMap(Generic[K, V]):
    """Key to value, the newest ``memory_limit`` entries in memory, older ones on disk."""

    def __init__(self, *, memory_limit: int | None = None, directory: Path | None = None) -> None:
        # Read when a map is made (not when this module is), so a test can lower the default.
        if memory_limit is None:
            memory_limit = DEFAULT_MEMORY_LIMIT
        if memory_limit < 1:
            raise ValueError("memory_limit is at least 1")
        self.memory_limit = memory_limit
        self.directory = directory
        self._memory: dict[K, V] = {}
        self._db: sqlite3.Connection | None = None
        # Where the file was made (it is unlinked at once).
        self.path: Path | None = None

    def __enter__(self) -> SpillMap[K, V]:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def on_disk(self) -> bool:
        """Whether entries were moved to the file."""
        return self._db is not None

    @property
    def in_memory(self) -> int:
        """How many entries the dict holds now (never more than ``memory_limit``)."""
        return len(self._memory)

    def get(self, key: K) -> V | None:
        """The value of ``key``, or None."""
        return self.get_many([key]).get(key)

    def get_many(self, keys: Sequence[K]) -> dict[K, V]:
        """The values of those of ``keys`` that have one; one read of the file per 500 keys."""
        found: dict[K, V] = {}
        missing: list[K] = []
        for key in keys:
            value = self._memory.get(key)
            if value is None:
                missing.append(key)
            else:
                found[key] = value
        if self._db is not None and missing:
            for start in range(0, len(missing), LOOKUP_BATCH):
                part = missing[start : start + LOOKUP_BATCH]
                marks = ",".join("?" * len(part))
                query = f"SELECT key, value FROM map WHERE key IN ({marks})"
                found.update(self._db.execute(query, part).fetchall())
        return found

    def setdefault_many(self, items: Sequence[tuple[K, V]]) -> list[V]:
        """For each (key, value) in order, as :meth:`dict.setdefault`: the value each key has.

        A key repeated within ``items`` gets the value of its first occurrence.
        """
        answers: list[V] = []
        step = min(LOOKUP_BATCH, self.memory_limit)
        for start in range(0, len(items), step):
            part = items[start : start + step]
            # Spill first, so the dict never holds more than memory_limit entries.
            if len(self._memory) + len(part) > self.memory_limit:
                self._spill()
            earlier = self.get_many([key for key, _value in part])
            for key, value in part:
                known = self._memory.get(key)
                if known is None:
                    known = earlier.get(key)
                if known is None:
                    self._memory[key] = known = value
                answers.append(known)
        return answers

    def setdefault(self, key: K, value: V) -> V:
        """The value of ``key`` if it has one; else set it to ``value`` and return that."""
        return self.setdefault_many([(key, value)])[0]

    def __setitem__(self, key: K, value: V) -> None:
        # The dict shadows the file: an entry set again lands here, and replaces the file's
        # older value when it spills.
        if key not in self._memory and len(self._memory) >= self.memory_limit:
            self._spill()
        self._memory[key] = value

    def _spill(self) -> None:
        if not self._memory:
            return
        if self._db is None:
            self._db = self._open()
        # In key order: the file's B-tree then fills page after page, not at random places.
        # The keys alone are sorted (a list of pairs would be a second copy of the dict's size).
        memory = self._memory
        ordered = ((key, memory[key]) for key in sorted(memory))
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO map (key, value) VALUES (?, ?)", ordered)
        self._memory = {}

    def _open(self) -> sqlite3.Connection:
        handle, name = tempfile.mkstemp(
            prefix="escr-sgc-", suffix=".spill.sqlite3", dir=self.directory
        )
        os.close(handle)
        self.path = Path(name)
        try:
            db = sqlite3.connect(name, check_same_thread=False)
            try:
                # Scratch data, thrown away at the end: no rollback journal, no fsync.
                db.execute("PRAGMA journal_mode = OFF")
                db.execute("PRAGMA synchronous = OFF")
                db.execute("CREATE TABLE map (key PRIMARY KEY, value NOT NULL) WITHOUT ROWID")
            except BaseException:
                db.close()
                raise
        finally:
            # Out of the folder at once (the open connection keeps the file, as SQLite keeps its
            # own temporary files), so not even a killed run leaves it behind.
            self.path.unlink(missing_ok=True)
        return db

    def close(self) -> None:
        """Forget everything and free the file, if one was made."""
        self._memory = {}
        if self._db is not None:
            self._db.close()
            self._db = None
