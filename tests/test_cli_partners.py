"""An administrator registers a partner and issues it a verification-only key from the CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from router import cli
from router.settings import Settings
from tests.conftest import Register


def test_partner_organisation_gets_a_verify_only_key(
    client: FlaskClient, settings: Settings, monkeypatch: pytest.MonkeyPatch, registered: Register
) -> None:
    monkeypatch.setenv("ESCR_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    created = runner.invoke(
        cli.escr_group,
        ["org", "create", "--pic", "777777777", "--name", "City Transport", "--kind", "transport"],
    )
    assert created.exit_code == 0, created.output
    issued = runner.invoke(cli.escr_group, ["key", "create", "--pic", "777777777"])
    assert issued.exit_code == 0, issued.output
    secret = issued.stdout.strip().splitlines()[0]
    assert "scopes verify" in issued.stderr
    headers = {"Authorization": f"Bearer {secret}"}
    card = registered()
    verdict = client.post("/api/x/verify", json={"scanned": card["escn"]}, headers=headers)
    assert verdict.status_code == 200
    assert verdict.json["valid"] is True
    assert client.get("/api/v2/persons", headers=headers).status_code == 403


def test_holder_scope_can_be_granted(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, client: FlaskClient
) -> None:
    monkeypatch.setenv("ESCR_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    runner.invoke(
        cli.escr_group,
        ["org", "create", "--pic", "666666666", "--name", "Library", "--kind", "culture"],
    )
    issued = runner.invoke(
        cli.escr_group,
        ["key", "create", "--pic", "666666666", "--scope", "verify", "--scope", "verify:holder"],
    )
    assert issued.exit_code == 0, issued.output
    assert "scopes verify verify:holder" in issued.stderr
