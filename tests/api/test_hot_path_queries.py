"""The QR-scan path's database work: the statements each lookup sends, counted (never timed).

A public status or page is one statement, with an API key too (the key read with the card); a
partner's verification reads its credential, the card and adds its record, committed before the
answer. No lookup opens a transaction on
PostgreSQL, and no anonymous lookup reads a column of the holder.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, update
from sqlalchemy.engine import Connection, ExecutionContext

from router import db as router_db
from router.db import Database, utcnow
from router.models import ApiKey, VerificationRecord
from router.services import credentials
from tests.conftest import BACKENDS, MakeTenant, Register, Tenant, access_token

PARTNER_PIC = "777777777"
PERSONAL = ("persons", "person_organisations", "display_name", "email", "full_name", "esi")


@pytest.fixture
def statements(db: Database) -> Iterator[list[tuple[str, bool]]]:
    """The statements the application sends from now on, with whether a transaction was open."""
    sent: list[tuple[str, bool]] = []

    def record(
        conn: Connection,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        _context: ExecutionContext | None,
        _many: bool,
    ) -> None:
        dbapi = conn.connection.dbapi_connection
        # psycopg opens a transaction before the first statement unless in autocommit mode.
        transactional = not getattr(dbapi, "autocommit", False)
        sent.append((statement, transactional))

    event.listen(db.engine, "before_cursor_execute", record)
    yield sent
    event.remove(db.engine, "before_cursor_execute", record)


def _no_transaction_on_postgresql(db: Database, sent: list[tuple[str, bool]]) -> None:
    if db.engine.dialect.name == "postgresql":
        assert [transactional for _, transactional in sent] == [False] * len(sent)


def test_an_anonymous_status_is_one_statement_reading_nothing_personal(
    client: FlaskClient, db: Database, registered: Register, statements: list[tuple[str, bool]]
) -> None:
    card = registered()
    statements.clear()
    response = client.get(f"/api/v2/cards/{card['escn']}/status")
    assert response.status_code == 200
    assert response.json["displayName"] is None
    assert len(statements) == 1, statements
    sql = statements[0][0].lower()
    assert "from cards join organisations" in sql
    assert not [word for word in PERSONAL if word in sql]
    _no_transaction_on_postgresql(db, statements)


def test_the_public_page_is_one_statement_reading_nothing_personal(
    client: FlaskClient, db: Database, registered: Register, statements: list[tuple[str, bool]]
) -> None:
    card = registered()
    statements.clear()
    response = client.get(f"/cards/{card['escn']}", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert len(statements) == 1, statements
    assert not [word for word in PERSONAL if word in statements[0][0].lower()]
    _no_transaction_on_postgresql(db, statements)


def test_an_unknown_card_is_one_statement_too(
    client: FlaskClient, db: Database, statements: list[tuple[str, bool]]
) -> None:
    statements.clear()
    response = client.get("/api/v2/cards/f81d4fae-7dec-11d0-a765-001999999999/status")
    assert response.status_code == 404
    assert len(statements) == 1


def test_a_status_with_a_key_is_one_statement_the_key_with_the_card(
    client: FlaskClient,
    db: Database,
    uni: Tenant,
    other_uni: Tenant,
    registered: Register,
    statements: list[tuple[str, bool]],
) -> None:
    card = registered()
    url = f"/api/v2/cards/{card['escn']}/status"
    # The first use of a key records when it was used (once a minute at most).
    assert client.get(url, headers=uni.headers).status_code == 200
    assert client.get(url, headers=other_uni.headers).status_code == 200
    statements.clear()
    own = client.get(url, headers=uni.headers)
    assert own.json["displayName"] == "Card of Ada"
    assert len(statements) == 1, statements
    # The key and its organisation's PIC in one Core statement: no ORM object is built.
    sql = statements[0][0].lower()
    assert "from api_keys join organisations" in sql and "cards.card_number =" in sql
    assert "organisation_prefixes" not in sql
    _no_transaction_on_postgresql(db, statements)
    # Another institution's key: the display name is not shown.
    statements.clear()
    other = client.get(url, headers=other_uni.headers)
    assert other.json["displayName"] is None
    assert len(statements) == 1, statements
    # An unknown card with a key: one statement, and the caller is still the key's.
    statements.clear()
    missing = client.get(
        "/api/v2/cards/f81d4fae-7dec-11d0-a765-001999999999/status", headers=uni.headers
    )
    assert missing.status_code == 404 and missing.json["code"] == "ER-0001"
    assert len(statements) == 1, statements


def test_a_status_with_a_token_or_a_refused_key_reads_the_card_as_its_caller_may(
    client: FlaskClient,
    db: Database,
    uni: Tenant,
    registered: Register,
    statements: list[tuple[str, bool]],
) -> None:
    card = registered()
    url = f"/api/v2/cards/{card['escn']}/status"
    # An access token is no API key: the key-and-card statement finds no row, then the token
    # and the card are read (three statements, as when the key was read alone).
    token = access_token(client, db, uni.pic, ["cards:read"])
    statements.clear()
    by_token = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert by_token.status_code == 200 and by_token.json["displayName"] == "Card of Ada"
    assert len(statements) == 3, statements
    assert "from oauth_tokens" in statements[1][0].lower()
    # An unknown key is no token either: anonymous, the card read again without the holder.
    statements.clear()
    unknown = client.get(url, headers={"Authorization": "Bearer escr_00000000_unknown"})
    assert unknown.status_code == 200 and unknown.json["displayName"] is None
    assert len(statements) == 3, statements
    assert not [word for word in PERSONAL if word in statements[2][0].lower()]
    # The card's own institution's key, expired then revoked: anonymous, no display name,
    # although the key's row was read with the card.
    for change in (
        {"expires_at": utcnow() - dt.timedelta(seconds=1)},
        {"revoked_at": utcnow()},
    ):
        with db.session() as session:
            session.execute(update(ApiKey).values(**change))
            session.commit()
        statements.clear()
        refused = client.get(url, headers=uni.headers)
        assert refused.status_code == 200, refused.json
        assert refused.json["displayName"] is None
        assert len(statements) == 2, statements
        assert not [word for word in PERSONAL if word in statements[1][0].lower()]


def test_a_verification_is_three_statements_and_its_record_is_committed(
    client: FlaskClient,
    db: Database,
    make_tenant: MakeTenant,
    registered: Register,
    statements: list[tuple[str, bool]],
) -> None:
    partner = make_tenant(PARTNER_PIC, "City Transport", kind="transport", country="BE")
    card = registered()
    body = {"scanned": card["escn"]}
    assert client.post("/api/x/verify", json=body, headers=partner.headers).status_code == 200
    statements.clear()
    response = client.post("/api/x/verify", json=body, headers=partner.headers)
    assert response.status_code == 200
    assert response.json["valid"] is True and response.json["displayName"] is None
    kinds = [sql.split()[0].upper() for sql, _ in statements]
    assert kinds == ["SELECT", "SELECT", "INSERT"], statements
    # Nothing reads the new record's id: no RETURNING (and no result to build) after the INSERT.
    assert "RETURNING" not in statements[2][0].upper()
    _no_transaction_on_postgresql(db, statements)
    # Committed: another connection sees both records.
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(VerificationRecord)) == 2


def test_the_lookup_connection_is_autocommit_without_an_engine_listener(db: Database) -> None:
    """Autocommit is the connection's own option: no engine-level listener, whose mere presence
    makes SQLAlchemy dispatch its execute, begin and rollback events on every statement."""
    with db.lookup_connection() as connection:
        if db.engine.dialect.name == "postgresql":
            assert connection.connection.driver_connection.autocommit is True
        assert not db.engine.dispatch.engine_connect
    with db.engine.connect() as connection:  # the pool's connection is back to transactions
        if db.engine.dialect.name == "postgresql":
            assert connection.connection.driver_connection.autocommit is False


def test_a_card_reported_lost_reads_as_lost_on_the_next_lookup(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    card = registered()
    url = f"/api/v2/cards/{card['escn']}/status"
    assert client.get(url).json["status"] == "ACTIVE"
    lost = client.post(
        f"/api/x/cards/{card['escn']}/lifecycle",
        json={"action": "REPORT_LOST"},
        headers=uni.headers,
    )
    assert lost.status_code == 200, lost.json
    assert client.get(url).json["status"] == "INACTIVE"
    page = client.get(f"/cards/{card['escn']}", headers={"Accept": "text/html"})
    assert "lost" in page.get_data(as_text=True).lower()


# The idle-connection check and libpq's wire trace exist on PostgreSQL only (SQLite has no
# server): these two tests run there alone.
ON_POSTGRESQL = pytest.mark.parametrize(
    "database_url", [b for b in BACKENDS if b == "postgresql"], indirect=True
)


@ON_POSTGRESQL
def test_a_connection_the_database_dropped_while_idle_is_replaced(
    client: FlaskClient, db: Database, registered: Register, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = registered("777")
    db.engine.dispose()
    url = f"/api/v2/cards/{card['escn']}/status"
    assert client.get(url).status_code == 200
    with db.engine.connect() as conn:  # the one pooled connection: its server process
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    import psycopg

    url_text = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url_text, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    # Every pooled connection counts as idle now: the dead one is found and replaced.
    monkeypatch.setattr(router_db, "IDLE_BEFORE_PING", 0.0)
    assert client.get(url).status_code == 200


@ON_POSTGRESQL
def test_on_the_wire_a_public_lookup_is_one_round_trip(
    client: FlaskClient,
    db: Database,
    registered: Register,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """libpq's own trace of the connection: one Sync (no BEGIN, no ROLLBACK, no ping)."""
    # However slow this machine, the connection counts as busy: no idle check in the trace.
    monkeypatch.setattr(router_db, "IDLE_BEFORE_PING", 3600.0)
    card = registered("888")
    db.engine.dispose()
    url = f"/api/v2/cards/{card['escn']}/status"
    assert client.get(url).status_code == 200  # this thread now keeps one connection
    pgconn = db.pinned_lookup_connection().connection.dbapi_connection.pgconn
    trace = tmp_path / "libpq.trace"
    with trace.open("w") as sink:
        pgconn.trace(sink.fileno())
        try:
            assert client.get(url).status_code == 200
            assert client.get(f"/cards/{card['escn']}").status_code == 200
        finally:
            pgconn.untrace()
    sent = [
        line.split("\t")[3].split()[0] for line in trace.read_text().splitlines() if "\tF\t" in line
    ]
    assert sent.count("Sync") + sent.count("Query") == 2, sent
    assert "Query" not in sent  # a simple query would be BEGIN, ROLLBACK or a ping


@pytest.fixture
def checkouts(db: Database) -> Iterator[list[int]]:
    """How many connections the application takes from the pool from now on."""
    taken: list[int] = []

    def count(*_args: object) -> None:
        taken.append(1)

    event.listen(db.engine.pool, "checkout", count)
    yield taken
    event.remove(db.engine.pool, "checkout", count)


def test_lookups_take_one_connection_kept_by_their_thread(
    client: FlaskClient,
    uni: Tenant,
    make_tenant: MakeTenant,
    registered: Register,
    checkouts: list[int],
) -> None:
    partner = make_tenant(PARTNER_PIC, "City Transport", kind="transport", country="BE")
    card = registered()
    requests = [
        lambda: client.get(f"/api/v2/cards/{card['escn']}/status"),
        lambda: client.get(f"/api/v2/cards/{card['escn']}/status", headers=uni.headers),
        lambda: client.get(f"/cards/{card['escn']}", headers={"Accept": "text/html"}),
        lambda: client.post(
            "/api/x/verify", json={"scanned": card["escn"]}, headers=partner.headers
        ),
    ]
    for n, send in enumerate(requests):
        checkouts.clear()
        assert send().status_code == 200
        # The first lookup checks one out, and the thread keeps it for the next ones.
        assert len(checkouts) == (1 if n == 0 else 0), n


def test_a_lost_card_fails_the_next_verification(
    client: FlaskClient, uni: Tenant, make_tenant: MakeTenant, registered: Register
) -> None:
    partner = make_tenant(PARTNER_PIC, "City Transport", kind="transport", country="BE")
    card = registered()
    body = {"scanned": card["escn"]}
    assert client.post("/api/x/verify", json=body, headers=partner.headers).json["valid"]
    lost = client.post(
        f"/api/x/cards/{card['escn']}/lifecycle",
        json={"action": "REPORT_LOST"},
        headers=uni.headers,
    )
    assert lost.status_code == 200, lost.json
    verdict = client.post("/api/x/verify", json=body, headers=partner.headers).json
    assert (verdict["valid"], verdict["reason"]) == (False, "LOST")


def test_a_revoked_key_is_refused_on_its_next_lookup(
    client: FlaskClient, db: Database, uni: Tenant, registered: Register
) -> None:
    card = registered()
    url = f"/api/v2/cards/{card['escn']}/status"
    assert client.get(url, headers=uni.headers).json["displayName"] == "Card of Ada"
    with db.session() as session:
        credentials.revoke_api_key(session, None, re.match(r"(escr_[0-9a-f]{8})_", uni.key)[1])
    # A public lookup answers anyone: the revoked key is ignored, the holder's name not shown.
    assert client.get(url, headers=uni.headers).json["displayName"] is None
    refused = client.post("/api/x/verify", json={"scanned": card["escn"]}, headers=uni.headers)
    assert refused.status_code == 401 and "revoked" in refused.json["message"]
