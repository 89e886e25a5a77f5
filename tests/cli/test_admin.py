"""escr-admin: organisations, keys, OAuth2 clients and the demo institution."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask.testing import FlaskClient

from router.cli import escr_group
from router.db import Database


@pytest.fixture
def admin(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Result]:
    """Run escr-admin against the (clean) test database."""
    monkeypatch.setenv("ESCR_DATABASE_URL", database_url)
    monkeypatch.setenv("ESCR_INSTANCE_PATH", str(tmp_path))
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(escr_group, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def test_org_and_key_lifecycle_through_the_cli(
    admin: Callable[..., Result], client: FlaskClient
) -> None:
    created = admin("org", "create", "--pic", "123456789", "--name", "Université Test",
                    "--country", "FR", "--prefix", "002")
    assert "123456789" in created.output
    assert "123456789" in admin("org", "list").output

    key = admin("key", "create", "--pic", "123456789", "--name", "sgc").stdout.strip()
    assert key.startswith("escr_")
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v2/persons", headers=headers).status_code == 200
    me = client.get("/api/x/organisations/me", headers=headers).json
    assert me["identifier"] == "123456789"

    prefix = key.split("_")[1]
    listing = admin("key", "list", "--pic", "123456789").output
    assert prefix in listing and key not in listing  # the secret is never shown again

    rotated = admin("key", "rotate", f"escr_{prefix}").stdout.strip()
    assert rotated != key
    assert client.get("/api/v2/persons", headers=headers).status_code == 401
    new_headers = {"Authorization": f"Bearer {rotated}"}
    assert client.get("/api/v2/persons", headers=new_headers).status_code == 200

    admin("key", "revoke", "escr_" + rotated.split("_")[1])
    assert client.get("/api/v2/persons", headers=new_headers).status_code == 401


def test_cli_refuses_bad_input_with_a_message(admin: Callable[..., Result]) -> None:
    bad_pic = admin("org", "create", "--pic", "12", "--name", "X", ok=False)
    assert bad_pic.exit_code != 0
    assert "Error" in bad_pic.output
    admin("org", "create", "--pic", "123456789", "--name", "A")
    twice = admin("org", "create", "--pic", "123456789", "--name", "A", ok=False)
    assert twice.exit_code != 0 and "ER-0031" in twice.output
    unknown = admin("key", "create", "--pic", "555555555", ok=False)
    assert unknown.exit_code != 0 and "ER-0030" in unknown.output
    bad_scope = admin("key", "create", "--pic", "123456789", "--scope", "root", ok=False)
    assert bad_scope.exit_code != 0


def test_oauth_client_gets_expiring_tokens_then_is_revoked(
    admin: Callable[..., Result], client: FlaskClient
) -> None:
    admin("org", "create", "--pic", "123456789", "--name", "A")
    out = admin("oauth-client", "create", "--pic", "123456789", "--scope", "cards:read").output
    values = dict(line.split("=", 1) for line in out.strip().splitlines() if "=" in line)
    basic = base64.b64encode(
        f"{values['client_id']}:{values['client_secret']}".encode()
    ).decode()
    token = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert token.status_code == 200, token.json
    assert token.json["expires_in"] > 0
    bearer = {"Authorization": f"Bearer {token.json['access_token']}"}
    assert client.get("/api/v2/cards", headers=bearer).status_code == 200
    assert client.get("/api/v2/persons", headers=bearer).status_code == 403  # not in scope

    admin("oauth-client", "revoke", values["client_id"])
    assert client.get("/api/v2/cards", headers=bearer).status_code == 401


def test_demo_is_created_once_and_its_key_works(
    admin: Callable[..., Result], client: FlaskClient
) -> None:
    first = admin("demo").output
    key = first.split("keep it): ")[1].split()[0]
    second = admin("demo").output
    assert "exists already" in second and key not in second
    assert client.get(
        "/api/v2/persons", headers={"Authorization": f"Bearer {key}"}
    ).status_code == 200
