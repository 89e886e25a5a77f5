"""schema.graphql in the repository is the schema the router serves."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from flask.testing import FlaskClient

from router.cli import escr_group
from router.graphql.schema import schema_sdl
from tests.conftest import Tenant

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"
REGENERATE = "escr-admin graphql export-schema"


def test_schema_file_matches_the_code() -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
    assert committed == schema_sdl(), (
        f"schema.graphql is out of date with the code: regenerate it with `{REGENERATE}` "
        "at the repository root and commit it."
    )


def test_export_command_writes_the_schema(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"
    result = CliRunner().invoke(escr_group, ["graphql", "export-schema", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == schema_sdl()
    printed = CliRunner().invoke(escr_group, ["graphql", "export-schema", "-o", "-"])
    assert printed.output == schema_sdl()


def test_the_served_schema_is_the_exported_one(client: FlaskClient, uni: Tenant) -> None:
    response = client.post(
        "/graphql",
        json={"query": "{ __schema { mutationType { fields { name } } } }"},
        headers=uni.headers,
    )
    names = {f["name"] for f in response.json["data"]["__schema"]["mutationType"]["fields"]}
    assert names == {
        "createPerson",
        "updatePerson",
        "deletePerson",
        "issueCard",
        "changeCardStatus",
        "requestDelegation",
        "acknowledgeDelegation",
        "decideDelegation",
        "cancelDelegation",
        "reportDelegationOutcome",
        "registerPublicKey",
        "revokePublicKey",
        "rotatePublicKey",
    }
    for name in names:
        assert f"  {name}(" in SCHEMA_FILE.read_text(encoding="utf-8")
