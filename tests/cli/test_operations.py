"""escr-admin for operators: --version, org update, OAuth2 clients, the instance folder, a clear
line for a database that is not migrated, and confirmations on a terminal only."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask.testing import FlaskClient

from router import migrate
from router.cli import escr_group
from router.db import Database
from router.settings import Settings, default_instance_path

ADMIN = str(Path(sys.executable).with_name("escr-admin"))


@pytest.fixture
def admin(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Result]:
    monkeypatch.setenv("ESCR_DATABASE_URL", database_url)
    monkeypatch.setenv("ESCR_INSTANCE_PATH", str(tmp_path))
    runner = CliRunner()

    def run(*args: str, ok: bool = True, **kwargs: Any) -> Result:
        result = runner.invoke(escr_group, list(args), catch_exceptions=False, **kwargs)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def test_version_is_the_installed_packages(admin: Callable[..., Result]) -> None:
    assert admin("--version").output.strip() == f"escr-admin, version {version('escrouter')}"


def test_org_update_changes_name_country_and_prefixes(
    admin: Callable[..., Result], client: FlaskClient
) -> None:
    admin("org", "create", "--pic", "123456789", "--name", "Old Name", "--country", "FR")
    out = admin("org", "update", "--pic", "123456789", "--name", "Université Nouvelle",
                "--country", "BE", "--prefix", "002", "--prefix", "003").output
    assert "Université Nouvelle (BE, prefixes 002,003)" in out
    listing = admin("org", "list").output
    assert "123456789\tinstitution\tBE\t002,003\tUniversité Nouvelle" in listing
    bad = admin("org", "update", "--pic", "123456789", "--country", "Belgium", ok=False)
    assert bad.exit_code != 0 and "ER-0401" in bad.output
    assert "Université Nouvelle" in admin("org", "list").output


def test_oauth_clients_are_listed_without_secrets_then_revoked(
    admin: Callable[..., Result]
) -> None:
    admin("org", "create", "--pic", "123456789", "--name", "A")
    created = admin("oauth-client", "create", "--pic", "123456789", "--name", "sgc",
                    "--scope", "cards:read").output
    values = dict(line.split("=", 1) for line in created.strip().splitlines())
    listing = admin("oauth-client", "list", "--pic", "123456789").output
    assert f"{values['client_id']}\tactive\tcards:read\tsgc" in listing
    assert values["client_secret"] not in listing
    admin("oauth-client", "revoke", values["client_id"])
    assert f"{values['client_id']}\trevoked" in admin(
        "oauth-client", "list", "--pic", "123456789"
    ).output


def test_the_default_instance_folder_is_the_platforms_data_folder_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.instance_path == tmp_path / "data" / "escrouter"
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'escrouter'}/escrouter.sqlite3"
    assert default_instance_path().name == "escrouter"


def _run_admin(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ESCR_")}
    return subprocess.run(
        [ADMIN, *args], cwd=cwd, env={**clean, **env}, capture_output=True, text=True,
        timeout=60, check=False,
    )


def test_from_another_folder_an_absent_database_is_one_line_and_nothing_is_created(
    tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path)}
    result = _run_admin("key", "create", "--pic", "999999999", cwd=elsewhere, env=env)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: No database at ")
    assert "run `escr-admin db upgrade`" in line
    assert str(tmp_path / "data" / "escrouter" / "escrouter.sqlite3") in line
    assert not (elsewhere / "instance").exists()
    assert not (tmp_path / "data" / "escrouter" / "escrouter.sqlite3").exists()


def test_an_unmigrated_or_outdated_database_is_one_line_saying_what_to_run(tmp_path: Path) -> None:
    env = {"ESCR_INSTANCE_PATH": str(tmp_path)}
    url = f"sqlite:///{tmp_path}/escrouter.sqlite3"
    migrate.upgrade(url, "0001")
    result = _run_admin("org", "list", cwd=tmp_path, env=env)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "is at revision 0001" in line and "run `escr-admin db upgrade`" in line
    assert _run_admin("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    assert _run_admin("org", "list", cwd=tmp_path, env=env).returncode == 0


def _on_a_terminal(args: list[str], answer: str, env: dict[str, str]) -> tuple[int, str]:
    """Run a command with a pseudo-terminal as its standard input, answering its question."""
    leader, follower = pty.openpty()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ESCR_")}
    process = subprocess.Popen(
        args, stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**clean, **env},
    )
    os.close(follower)
    os.write(leader, answer.encode())
    output, _ = process.communicate(timeout=60)
    os.close(leader)
    return process.returncode, output.decode()


def test_revoking_asks_on_a_terminal_and_yes_or_a_script_does_not(
    admin: Callable[..., Result], database_url: str, tmp_path: Path
) -> None:
    admin("org", "create", "--pic", "123456789", "--name", "A")
    key = admin("key", "create", "--pic", "123456789").stdout.strip()
    prefix = "escr_" + key.split("_")[1]
    env = {"ESCR_DATABASE_URL": database_url, "ESCR_INSTANCE_PATH": str(tmp_path)}
    code, output = _on_a_terminal([ADMIN, "key", "revoke", prefix], "n\n", env)
    assert code == 1 and "Revoke the API key" in output and "Aborted" in output
    assert "\tactive\t" in admin("key", "list", "--pic", "123456789").output
    # Not a terminal (a script, cron): no question.
    assert admin("key", "revoke", prefix).output.strip() == f"revoked {prefix}"
    key2 = admin("key", "create", "--pic", "123456789").stdout.strip()
    prefix2 = "escr_" + key2.split("_")[1]
    code, output = _on_a_terminal([ADMIN, "key", "revoke", prefix2, "--yes"], "", env)
    assert code == 0 and "Revoke" not in output
