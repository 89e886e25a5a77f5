"""The home's own record of delegations: decisions made, DAM slots given, requests queued.

An SQLite file beside the card system (not the router's database). It holds no secret: decisions
are kept as signed (their secrets are sealed to the host), so one that could not be sent is sent
again later, never computed twice. A card's DAM slots are *reserved* by an approval, *used* once
the host reports the application written, and freed when the write failed.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    request_id TEXT PRIMARY KEY,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    token TEXT NOT NULL,
    decided_at REAL NOT NULL,
    sent_at REAL
);
CREATE TABLE IF NOT EXISTS slots (
    uid TEXT NOT NULL,
    slot_no INTEGER NOT NULL,
    aid TEXT NOT NULL,
    request_id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (uid, slot_no)
);
CREATE TABLE IF NOT EXISTS queue (
    request_id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    escn TEXT NOT NULL,
    aid TEXT NOT NULL,
    request TEXT NOT NULL,
    received_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
"""


class NoFreeSlot(Exception):
    """The card has given away every DAM slot the policy allows, or holds this application."""


@dataclass(frozen=True)
class QueuedRequest:
    """A request waiting for a person's decision."""

    request_id: str
    host: str
    escn: str
    aid: str
    request: str
    received_at: float


class Ledger:
    """The home's ledger file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are opened explicitly (BEGIN IMMEDIATE) below.
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        # WAL: one fsync per decision instead of a rollback journal's several; still durable.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock first, so the loop and a person's CLI never both
        # hand out the same slot.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- decisions ----------------------------------------------------------------------------

    def decision(self, request_id: str) -> tuple[str, str, float | None] | None:
        """(outcome, token, sent_at) of the decision made on a request, if any."""
        row = self._db.execute(
            "SELECT outcome, token, sent_at FROM decisions WHERE request_id = ?", (request_id,)
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def unsent(self) -> list[tuple[str, str]]:
        """(request id, token) of decisions made but not yet accepted by the router."""
        rows = self._db.execute("SELECT request_id, token FROM decisions WHERE sent_at IS NULL")
        return [(r[0], r[1]) for r in rows]

    def mark_sent(self, request_id: str) -> None:
        """The router has the decision."""
        self._db.execute(
            "UPDATE decisions SET sent_at = ? WHERE request_id = ?", (time.time(), request_id)
        )

    def record_refusal(self, request_id: str, reason: str, token: str) -> bool:
        """Keep a refusal; False if the request was decided already."""
        with self._transaction() as db:
            if self._decided(db, request_id):
                return False
            db.execute("DELETE FROM queue WHERE request_id = ?", (request_id,))
            db.execute(
                "INSERT INTO decisions (request_id, outcome, reason, token, decided_at) "
                "VALUES (?, 'refuse', ?, ?, ?)",
                (request_id, reason, token, time.time()),
            )
        return True

    @staticmethod
    def _decided(db: sqlite3.Connection, request_id: str) -> bool:
        found = db.execute("SELECT 1 FROM decisions WHERE request_id = ?", (request_id,))
        return found.fetchone() is not None

    @contextmanager
    def approval(self, request_id: str, uid: str, aid: str, max_slots: int) -> Iterator[int | None]:
        """Reserve a DAM slot for an approval; the body signs it and calls :meth:`keep_approval`.

        Yields the slot number, or None if the request was decided already. Raises
        :class:`NoFreeSlot` when the card has no slot to give or holds this application.
        """
        with self._transaction() as db:
            if self._decided(db, request_id):
                yield None
                return
            rows = db.execute("SELECT slot_no, aid FROM slots WHERE uid = ?", (uid,)).fetchall()
            if any(row[1] == aid for row in rows):
                raise NoFreeSlot(f"application {aid} is on this card already")
            used = {row[0] for row in rows}
            if len(used) >= max_slots:
                raise NoFreeSlot(f"the card has given away its {max_slots} DAM slot(s)")
            slot = next(n for n in range(max_slots + 1) if n not in used)
            db.execute(
                "INSERT INTO slots (uid, slot_no, aid, request_id, state, updated_at) "
                "VALUES (?, ?, ?, ?, 'reserved', ?)",
                (uid, slot, aid, request_id, time.time()),
            )
            yield slot

    def keep_approval(self, request_id: str, token: str) -> None:
        """Record the signed approval, inside :meth:`approval`'s transaction."""
        self._db.execute("DELETE FROM queue WHERE request_id = ?", (request_id,))
        self._db.execute(
            "INSERT INTO decisions (request_id, outcome, reason, token, decided_at) "
            "VALUES (?, 'approve', '', ?, ?)",
            (request_id, token, time.time()),
        )

    # -- slots ----------------------------------------------------------------------------------

    def reserved(self) -> list[str]:
        """Request ids whose slot waits for the host's report."""
        rows = self._db.execute("SELECT request_id FROM slots WHERE state = 'reserved'")
        return [r[0] for r in rows]

    def settle_slot(self, request_id: str, used: bool) -> None:
        """The host wrote the application (slot used) or failed (slot freed)."""
        if used:
            self._db.execute(
                "UPDATE slots SET state = 'used', updated_at = ? WHERE request_id = ?",
                (time.time(), request_id),
            )
        else:
            self._db.execute("DELETE FROM slots WHERE request_id = ?", (request_id,))

    def slots(self, uid: str) -> list[tuple[int, str, str]]:
        """(slot number, AID, state) of a card's given slots."""
        rows = self._db.execute(
            "SELECT slot_no, aid, state FROM slots WHERE uid = ? ORDER BY slot_no", (uid,)
        )
        return [(r[0], r[1], r[2]) for r in rows]

    # -- the queue for a person -------------------------------------------------------------

    def enqueue(
        self, request_id: str, host: str, escn: str, aid: str, request: str, expires_at: float
    ) -> None:
        """Keep a request for a person to decide (once), until it expires."""
        self._db.execute(
            "INSERT OR IGNORE INTO queue "
            "(request_id, host, escn, aid, request, received_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (request_id, host, escn, aid, request, time.time(), expires_at),
        )

    def drop_expired(self, now: float) -> None:
        """Forget queued requests that expired unanswered (the router expired them too)."""
        self._db.execute("DELETE FROM queue WHERE expires_at <= ?", (now,))

    def queued(self) -> list[QueuedRequest]:
        """Requests waiting for a person, oldest first."""
        rows = self._db.execute(
            "SELECT request_id, host, escn, aid, request, received_at FROM queue "
            "ORDER BY received_at, request_id"
        )
        return [QueuedRequest(*row) for row in rows]

    def queued_request(self, request_id: str) -> QueuedRequest | None:
        """One queued request."""
        return next((q for q in self.queued() if q.request_id == request_id), None)

    def drop_queued(self, request_id: str) -> None:
        """Forget a queued request (it expired or was cancelled)."""
        self._db.execute("DELETE FROM queue WHERE request_id = ?", (request_id,))
