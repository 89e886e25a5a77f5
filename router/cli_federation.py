"""``escr-admin public-key`` and ``escr-admin delegations``: the federation's administration.

An operator registers an institution's public keys from files its own tools wrote (the private
halves never come here), revokes or rotates them, and expires overdue delegation requests.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import click
from sqlalchemy.orm import Session

from router.db import Database
from router.domain.errors import RouterError
from router.federation import delegations, key_directory
from router.services import organisations
from router.settings import Settings


@contextmanager
def _session() -> Iterator[Session]:
    database = Database(Settings.from_env().database_url)
    try:
        with database.session() as session:
            yield session
    except RouterError as error:
        raise click.ClickException(f"{error.code}: {error.message}") from error
    finally:
        database.engine.dispose()


def _jwk(source: TextIO) -> Any:
    try:
        document = json.load(source)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--jwk") from error
    # A whole JWKS with one key is accepted too.
    if isinstance(document, dict) and isinstance(document.get("keys"), list):
        if len(document["keys"]) != 1:
            raise click.BadParameter("give one key, not a set", param_hint="--jwk")
        return document["keys"][0]
    return document


def _describe(record: Any) -> str:
    if record.revoked_at is None:
        state = "active"
    elif record.revoked_at > dt.datetime.now(dt.UTC):
        state = f"valid-until {record.revoked_at.isoformat()}"
    else:
        state = f"revoked {record.revoked_at.isoformat()}"
    return f"{record.kid}\t{record.use}\t{record.alg}\t{state}"


@click.group("public-key")
def public_key_group() -> None:
    """Institutions' public signing and encryption keys (JWK)."""


@public_key_group.command("register")
@click.option("--pic", "identifier", required=True)
@click.option("--jwk", "source", type=click.File("r"), required=True, help="JWK file, or -.")
def public_key_register(identifier: str, source: TextIO) -> None:
    """Register a public key (a file with private members is refused)."""
    jwk = _jwk(source)
    with _session() as session:
        organisation = organisations.get_organisation(session, identifier)
        click.echo(_describe(key_directory.register_key(session, organisation, jwk)))


@public_key_group.command("list")
@click.option("--pic", "identifier", required=True)
def public_key_list(identifier: str) -> None:
    """List an institution's keys, revoked ones included."""
    with _session() as session:
        organisation = organisations.get_organisation(session, identifier)
        for record in key_directory.list_keys(session, organisation):
            click.echo(_describe(record))


@public_key_group.command("revoke")
@click.option("--pic", "identifier", required=True)
@click.option("--kid", required=True)
@click.option("--reason", default=None)
def public_key_revoke(identifier: str, kid: str, reason: str | None) -> None:
    """Revoke a key now."""
    with _session() as session:
        organisation = organisations.get_organisation(session, identifier)
        click.echo(_describe(key_directory.revoke_key(session, organisation, kid, reason)))


@public_key_group.command("rotate")
@click.option("--pic", "identifier", required=True)
@click.option("--kid", required=True, help="The key to replace.")
@click.option("--jwk", "source", type=click.File("r"), required=True, help="The new key, or -.")
@click.option("--grace-seconds", type=click.IntRange(0, 7 * 86400), default=0, show_default=True)
def public_key_rotate(identifier: str, kid: str, source: TextIO, grace_seconds: int) -> None:
    """Register a new key in place of KID, which stays valid --grace-seconds more."""
    jwk = _jwk(source)
    with _session() as session:
        organisation = organisations.get_organisation(session, identifier)
        record = key_directory.rotate_key(
            session, organisation, kid, jwk, dt.timedelta(seconds=grace_seconds)
        )
        click.echo(_describe(record))


@click.group("delegations")
def delegations_group() -> None:
    """Delegation requests between institutions."""


@delegations_group.command("expire")
def delegations_expire() -> None:
    """Expire the pending requests past their expiry (reads do it too; cron may run this)."""
    with _session() as session:
        click.echo(f"expired {delegations.expire_overdue(session)} delegation request(s)")
