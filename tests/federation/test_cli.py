"""escr-admin router/federation: keys, the authority's draft, signing, publishing, serving."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient

from router.cli import escr_group
from router.db import Database
from router.federation.catalogue import verify_catalogue
from router.federation.keys import public_key_of, read_private_key, read_public_keys
from tests.conftest import MakeTenant
from tests.federation.factories import now


@pytest.fixture
def admin(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Result]:
    """Run escr-admin against the test database, with an instance folder of its own."""
    monkeypatch.setenv("ESCR_DATABASE_URL", database_url)
    monkeypatch.setenv("ESCR_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("ESCR_PUBLIC_URL", "https://router-a.example")
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(escr_group, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
        return result

    return run


def test_router_init_writes_a_private_key_only_its_owner_can_read(
    admin: Callable[..., Result], tmp_path: Path
) -> None:
    printed = json.loads(admin("router", "init").stdout)
    key_file = tmp_path / "instance" / "router-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert printed["jwk"]["kty"] == "OKP" and "d" not in printed["jwk"]
    refused = admin("router", "init", ok=False)
    assert "refusing to replace" in refused.output
    replaced = json.loads(admin("router", "init", "--force").stdout)
    assert replaced["kid"] != printed["kid"]


def test_router_identity_names_the_router_its_key_and_its_pics(
    admin: Callable[..., Result], make_tenant: MakeTenant
) -> None:
    make_tenant("111111111")
    make_tenant("BE0123456789", kind="transport", vat=True)
    key = json.loads(admin("router", "init").stdout)
    identity = json.loads(admin("router", "identity").stdout)
    assert identity == {
        "id": "router-a.example",
        "baseUrl": "https://router-a.example",
        "keys": [key],
        "pics": ["111111111"],
    }


def test_the_authoritys_workflow_from_keys_to_a_published_catalogue(
    admin: Callable[..., Result],
    make_tenant: MakeTenant,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    client: FlaskClient,
) -> None:
    make_tenant("111111111")
    admin("router", "init")
    (tmp_path / "a.json").write_text(admin("router", "identity").stdout)
    authority_key = tmp_path / "authority.pem"
    admin("federation", "init-authority", "--key-file", str(authority_key))
    public = tmp_path / "authority.pem.pub.jwk"
    assert stat.S_IMODE(authority_key.stat().st_mode) == 0o600
    draft = str(tmp_path / "draft.json")

    identity = str(tmp_path / "a.json")
    added = admin("federation", "add-router", "--draft", draft, "--identity", identity)
    assert "router router-a.example" in added.output
    b_key = tmp_path / "b.pem"
    monkeypatch.setenv("ESCR_ROUTER_KEY_FILE", str(b_key))
    admin("router", "init")
    monkeypatch.delenv("ESCR_ROUTER_KEY_FILE")
    b_public = tmp_path / "b.jwk"
    b_public.write_text(json.dumps(dict(public_key_of(read_private_key(b_key).public_key()).jwk)))
    admin("federation", "add-router", "--draft", draft, "--id", "router-b",
          "--base-url", "https://router-b.example", "--public-key", str(b_public),
          "--pic", "222222222")
    # One router per PIC: B cannot claim A's.
    clash = admin("federation", "add-router", "--draft", draft, "--id", "router-b",
                  "--base-url", "https://router-b.example", "--public-key", str(b_public),
                  "--pic", "111111111", "--replace", ok=False)
    assert "PIC 111111111 is claimed by" in clash.output

    first, second = tmp_path / "catalogue-1.json", tmp_path / "catalogue-2.json"
    assert "signed catalogue 1 (2 routers" in admin(
        "federation", "sign", "--draft", draft, "--authority-key", str(authority_key),
        "-o", str(first)).output
    admin("federation", "remove-router", "--draft", draft, "router-b")
    admin("federation", "sign", "--draft", draft, "--authority-key", str(authority_key),
          "-o", str(second))
    catalogue = verify_catalogue(second.read_bytes(), read_public_keys(str(public)), now=now())
    assert catalogue.serial == 2 and [r.id for r in catalogue.routers] == ["router-a.example"]

    monkeypatch.setenv("ESCR_FEDERATION_AUTHORITY_KEY", str(public))
    assert "publishing catalogue 2" in admin("federation", "publish", str(second)).output
    rollback = admin("federation", "publish", str(first), ok=False)
    assert "ER-0272" in rollback.output
    forged = json.loads(second.read_bytes())
    forged["payload"] = forged["payload"][:-4] + "AAAA"
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    assert "ER-0270" in admin("federation", "publish", str(tmp_path / "forged.json"),
                              ok=False).output
    shown = admin("federation", "show", str(second)).output
    assert "catalogue 2" in shown and "router-a.example\thttps://router-a.example" in shown


def test_a_published_catalogue_is_served_with_an_etag_and_revalidated(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    from router.federation.directory import PUBLISHED_FILE, federation_folder
    from tests.federation.factories import Authority, PeerRouter

    missing = client.get("/api/x/federation/catalogue")
    assert missing.status_code == 404 and missing.json["code"] == "ER-0273"
    document = Authority().sign([PeerRouter("r", "https://r.example", ("111111111",)).entry()])
    folder = federation_folder(tmp_path)
    folder.mkdir(parents=True)
    (folder / PUBLISHED_FILE).write_bytes(document)
    served = client.get("/api/x/federation/catalogue")
    assert served.status_code == 200 and served.data == document
    assert served.mimetype == "application/jose+json"
    etag = served.headers["ETag"]
    again = client.get("/api/x/federation/catalogue", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    since = client.get("/api/x/federation/catalogue",
                       headers={"If-Modified-Since": served.headers["Last-Modified"]})
    assert since.status_code == 304


def test_a_router_without_a_key_has_no_identity_yet(client: FlaskClient) -> None:
    answer = client.get("/api/x/federation/identity")
    assert answer.status_code == 404 and answer.json["code"] == "ER-0265"
