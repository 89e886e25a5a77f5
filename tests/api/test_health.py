"""Probes for load balancers, and the answer while the database is away: 503, then recovery."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url
from werkzeug.test import TestResponse

from router.app import create_app
from router.db import Database
from router.migrate import head_revision
from router.settings import Settings
from tests.conftest import BACKENDS, PG_URL, Tenant, _postgres_schema_url
from tests.live_server import TcpProxy


def test_healthz_and_readyz_answer_without_a_credential(client: FlaskClient) -> None:
    alive = client.get("/healthz")
    assert alive.status_code == 200 and alive.json == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {"status": "ready", "revision": head_revision()}


def test_readyz_is_503_while_migrations_are_behind(client: FlaskClient, db: Database) -> None:
    with db.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    try:
        response = client.get("/readyz")
        assert response.status_code == 503 and response.json["code"] == "ER-0103"
        assert "escr-admin db upgrade" in response.json["detail"]
        assert client.get("/healthz").status_code == 200
    finally:
        with db.engine.begin() as connection:
            connection.exec_driver_sql(
                f"UPDATE alembic_version SET version_num = '{head_revision()}'"
            )


def _assert_unavailable(response: TestResponse) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "ER-0102"
    assert response.json["type"] == "/problems/database-unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_an_unopenable_sqlite_database_answers_503_not_500(
    settings: Settings, tmp_path: Path, uni: Tenant
) -> None:
    missing = tmp_path / "is-a-directory.sqlite3"
    missing.mkdir()
    app = create_app(dataclasses.replace(settings, database_url=f"sqlite:///{missing}"))
    client = app.test_client()
    _assert_unavailable(client.get("/api/v2/cards", headers=uni.headers))
    _assert_unavailable(client.get("/readyz"))
    assert client.get("/healthz").status_code == 200
    app.extensions["escr.database"].engine.dispose()


# The outage is simulated between the router and PostgreSQL: this test runs there only.
@pytest.mark.parametrize(
    "database_url", [b for b in BACKENDS if b == "postgresql"], indirect=True
)
def test_postgresql_going_away_answers_503_and_the_router_recovers_by_itself(
    settings: Settings, database_url: str, uni: Tenant
) -> None:
    url = make_url(PG_URL)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    schema = make_url(database_url).query["options"].split("=", 1)[1]
    through_proxy = make_url(_postgres_schema_url(schema)).set(port=proxy.port)
    app = create_app(dataclasses.replace(
        settings, database_url=through_proxy.render_as_string(hide_password=False)
    ))
    client = app.test_client()
    graphql = {"query": "{ organisation { identifier } }"}
    try:
        assert client.get("/api/v2/cards", headers=uni.headers).status_code == 200
        proxy.stop()
        _assert_unavailable(client.get("/api/v2/cards", headers=uni.headers))
        _assert_unavailable(client.post("/graphql", json=graphql, headers=uni.headers))
        _assert_unavailable(client.get("/readyz"))
        proxy.start()
        assert client.get("/api/v2/cards", headers=uni.headers).status_code == 200
        assert client.post("/graphql", json=graphql, headers=uni.headers).status_code == 200
        assert client.get("/readyz").status_code == 200
    finally:
        proxy.stop()
        app.extensions["escr.database"].engine.dispose()
