"""Erasure leaves nothing to read back: no ESI in SQLite's files, a keyed digest in the trace."""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import make_url

from router.cli import escr_group
from router.db import Database
from router.models import ErasedPerson
from router.settings import ERASURE_KEY_INFO, Settings, derive_key
from tests.conftest import BACKENDS, Tenant, card_body, esi, person_body

SECRETS = {
    "esi": "ZQXJ83746251",
    "name": "Wilhelmina Qwertyuiop",
    "email": "wilhelmina.qwertyuiop@uni.example",
    "csn": "04A1B2C3D4E5F6",
}


def _register(client: FlaskClient, tenant: Tenant, code: str) -> str:
    identifier = esi(code)
    body = person_body(identifier, tenant.pic, fullName=SECRETS["name"], email=SECRETS["email"])
    assert client.post("/api/v2/persons", json=body, headers=tenant.headers).status_code == 201
    card = card_body(identifier, tenant.pic, csn=SECRETS["csn"], displayName=SECRETS["name"])
    assert client.post("/api/v2/cards", json=card, headers=tenant.headers).status_code == 201
    return identifier


@pytest.mark.parametrize("database_url", [b for b in BACKENDS if b == "sqlite"], indirect=True)
def test_after_an_erasure_no_sqlite_file_holds_the_persons_data(
    client: FlaskClient, uni: Tenant, database_url: str
) -> None:
    identifier = _register(client, uni, SECRETS["esi"])
    for _ in range(3):  # several versions of the pages in the WAL, as after a few updates
        client.put(f"/api/v2/persons/{identifier}",
                   json=person_body(identifier, uni.pic, fullName=SECRETS["name"],
                                    email=SECRETS["email"]),
                   headers=uni.headers)
    assert client.delete(f"/api/v2/persons/{identifier}", headers=uni.headers).status_code == 204
    path = Path(make_url(database_url).database)
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    content = b"".join(p.read_bytes() for p in files)
    for value in SECRETS.values():
        assert value.encode() not in content, value
    assert client.get(f"/api/v2/persons/{identifier}", headers=uni.headers).status_code == 410


def test_the_erasure_trace_is_a_keyed_digest_of_the_esi(
    client: FlaskClient, uni: Tenant, db: Database
) -> None:
    identifier = esi("SHORT1")
    assert client.post("/api/v2/persons", json=person_body(identifier, uni.pic),
                       headers=uni.headers).status_code == 201
    assert client.delete(f"/api/v2/persons/{identifier}", headers=uni.headers).status_code == 204
    key = derive_key("test-secret", ERASURE_KEY_INFO)
    with db.session() as session:
        [stored] = session.scalars(select(ErasedPerson.esi_digest)).all()
    assert stored == hmac.new(key, identifier.encode(), hashlib.sha256).hexdigest()
    assert stored != hashlib.sha256(identifier.encode()).hexdigest()


def test_an_unkeyed_trace_of_an_older_router_still_answers_410_and_is_rekeyed(
    client: FlaskClient, uni: Tenant, db: Database
) -> None:
    identifier = esi("OLD1")
    with db.session() as session:
        session.add(ErasedPerson(esi_digest=hashlib.sha256(identifier.encode()).hexdigest()))
        session.commit()
    assert client.get(f"/api/v2/persons/{identifier}", headers=uni.headers).status_code == 410
    key = derive_key("test-secret", ERASURE_KEY_INFO)
    with db.session() as session:
        stored = session.scalars(select(ErasedPerson.esi_digest)).all()
    assert stored == [hmac.new(key, identifier.encode(), hashlib.sha256).hexdigest()]


def test_escr_admin_creates_the_server_secret_once_in_the_instance_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESCR_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("ESCR_SECRET_KEY", raising=False)
    first = CliRunner().invoke(escr_group, ["secret", "create"])
    assert first.exit_code == 0 and "created" in first.output
    secret_file = tmp_path / "secret_key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    content = secret_file.read_text()
    again = CliRunner().invoke(escr_group, ["secret", "create"])
    assert again.exit_code == 0 and "kept" in again.output
    assert secret_file.read_text() == content
    assert Settings.from_env().server_secret == content.strip()
    monkeypatch.setenv("ESCR_SECRET_KEY", "from-the-environment")
    assert Settings.from_env().server_secret == "from-the-environment"
    assert Settings.from_env().erasure_key != Settings.from_env({
        "ESCR_INSTANCE_PATH": str(tmp_path)}).erasure_key
