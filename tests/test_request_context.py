"""The request's database handles: one connection per request, whichever is asked for first.

A serving thread keeps its QR-scan connection from one request to the next.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, event, exc, select, text

from router import db as router_db
from router.db import Database
from router.models import Organisation
from router.request_context import db_session, lookup_connection
from tests.conftest import BACKENDS, Register, Tenant


def test_a_session_asked_for_after_the_lookup_connection_runs_on_it(
    app: Flask, db: Database, uni: Tenant
) -> None:
    taken: list[int] = []

    def count(*_args: object) -> None:
        taken.append(1)

    event.listen(db.engine.pool, "checkout", count)
    try:
        with app.test_request_context("/"):
            connection = lookup_connection()
            assert isinstance(connection, Connection)
            session = db_session()
            assert session.connection() is connection
            assert session.scalar(select(Organisation.identifier)) == uni.pic
    finally:
        event.remove(db.engine.pool, "checkout", count)
    assert len(taken) == 1


def test_a_session_opened_first_stays_the_requests_executor(app: Flask, db: Database) -> None:
    with app.test_request_context("/"):
        session = db_session()
        assert lookup_connection() is session


def test_a_thread_keeps_its_lookup_connection_and_rolls_back_what_a_request_left_open(
    db: Database,
) -> None:
    connection = db.pinned_lookup_connection()
    connection.execute(text("SELECT 1"))
    assert connection.in_transaction()
    db.release_pinned(connection)
    assert not connection.in_transaction()
    assert db.pinned_lookup_connection() is connection
    # Another thread keeps its own.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(db.pinned_lookup_connection).result() is not connection
    # Disposing of the engine closes every thread's kept connection; the next is a new one.
    db.engine.dispose()
    assert connection.closed
    again = db.pinned_lookup_connection()
    assert again is not connection and again.scalar(text("SELECT 1")) == 1


def test_threads_keeping_their_connections_see_a_lost_card_at_once(
    app: Flask, client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    card = registered()
    url = f"/api/v2/cards/{card['escn']}/status"
    looked_up, reported = threading.Barrier(3), threading.Barrier(3)
    seen: list[tuple[str, str]] = []

    def scan() -> None:
        scanner = app.test_client()  # its requests run on this thread
        before = scanner.get(url).json["status"]
        looked_up.wait(timeout=30)
        reported.wait(timeout=30)
        seen.append((before, scanner.get(url).json["status"]))

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for thread in threads:
        thread.start()
    looked_up.wait(timeout=30)  # both threads now keep a connection
    lost = client.post(
        f"/api/x/cards/{card['escn']}/lifecycle",
        json={"action": "REPORT_LOST"},
        headers=uni.headers,
    )
    assert lost.status_code == 200, lost.json
    reported.wait(timeout=30)
    for thread in threads:
        thread.join(timeout=30)
    assert seen == [("ACTIVE", "INACTIVE")] * 2


def test_a_thread_gives_its_kept_connection_back_before_taking_a_session(
    db: Database, client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    card = registered()
    assert client.get(f"/api/v2/cards/{card['escn']}/status").status_code == 200
    assert db.engine.pool.checkedout() == 1  # kept by this thread
    taken: list[int] = []

    def count(*_args: object) -> None:
        taken.append(db.engine.pool.checkedout())

    event.listen(db.engine.pool, "checkout", count)
    try:
        assert client.get("/api/v2/cards", headers=uni.headers).status_code == 200
    finally:
        event.remove(db.engine.pool, "checkout", count)
    # The session's connection was the only one out when it was taken; none is kept after.
    assert taken == [1] and db.engine.pool.checkedout() == 0


@pytest.mark.parametrize("database_url", [b for b in BACKENDS if b == "postgresql"], indirect=True)
def test_a_kept_connection_found_dead_when_idle_is_replaced_without_a_failed_request(
    client: FlaskClient, db: Database, registered: Register, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = registered()
    url = f"/api/v2/cards/{card['escn']}/status"
    assert client.get(url).status_code == 200
    kept = db.pinned_lookup_connection()
    monkeypatch.setattr(router_db, "IDLE_BEFORE_PING", 0.0)  # it has been idle long enough
    server = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as admin:
        pid = kept.connection.dbapi_connection.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert client.get(url).status_code == 200
    assert kept.closed and db.pinned_lookup_connection() is not kept


def test_a_kept_connection_whose_rollback_fails_is_discarded_not_raised(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    connection = db.pinned_lookup_connection()
    connection.execute(text("SELECT 1"))

    def fails() -> None:
        raise exc.OperationalError("ROLLBACK", {}, Exception("server closed the connection"))

    monkeypatch.setattr(connection, "rollback", fails)
    with caplog.at_level(logging.WARNING, logger="router.db"):
        db.release_pinned(connection)  # the request has been answered: nothing raised
    assert "rollback failed (OperationalError)" in caplog.text
    assert connection.closed and db.pinned_lookup_connection() is not connection
