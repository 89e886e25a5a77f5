"""The request's database handles: one connection per request, whichever is asked for first."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Connection, event, select

from router.db import Database
from router.models import Organisation
from router.request_context import db_session, lookup_connection
from tests.conftest import Tenant


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
