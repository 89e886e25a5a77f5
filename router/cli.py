"""``escr-admin`` (also ``flask escr``): the administrator's command line.

Creates organisations, API keys and OAuth2 clients, migrates the database and sets up the demo
institution of ``scripts/serve``. It works on the database of ``ESCR_DATABASE_URL``.
"""

from __future__ import annotations

import datetime as dt
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from router import migrate
from router.ca_commands import ca_group
from router.cli_federation import delegations_group, public_key_group
from router.db import Database
from router.domain.errors import RouterError
from router.federation.cli import federation_group, router_group
from router.schema_state import schema_problem
from router.services import (
    credentials,
    organisations,
    verification,
    webhook_delivery,
)
from router.services.caller import Scope
from router.settings import Settings

DEMO_PIC = "999999999"


def _require_current_schema(settings: Settings) -> None:
    """Stop with one line when the database is missing or not migrated to the code's revision."""
    problem = schema_problem(settings.database_url)
    if problem:
        raise click.ClickException(problem)


def _confirm(question: str, yes: bool) -> None:
    """Ask before a destructive action when a person is at the terminal (``--yes`` skips it)."""
    if not yes and sys.stdin.isatty():
        click.confirm(question, default=False, abort=True, err=True)


yes_option = click.option(
    "--yes", "-y", is_flag=True, help="Do not ask for confirmation (for scripts)."
)


@contextmanager
def _session() -> Iterator[Session]:
    settings = Settings.from_env()
    _require_current_schema(settings)
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            yield session
    except RouterError as error:
        raise click.ClickException(f"{error.code}: {error.message}") from error
    finally:
        database.engine.dispose()


def _scopes(values: tuple[str, ...]) -> list[str] | None:
    return [s for value in values for s in value.replace(",", " ").split()] or None


@click.group(name="escr")
@click.version_option(package_name="escrouter", prog_name="escr-admin")
def escr_group() -> None:
    """Administer an escrouter: database, organisations, credentials."""


@escr_group.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: the newest)."""
    url = Settings.from_env().database_url
    migrate.upgrade(url, revision)
    reached = ", ".join(sorted(migrate.head_revisions())) if revision == "head" else revision
    click.echo(f"{make_url(url).render_as_string()} is at revision {reached}", err=True)


@db.command("downgrade")
@click.argument("revision")
@yes_option
def db_downgrade(revision: str, yes: bool) -> None:
    """Migrate the database down to REVISION (what later revisions stored is lost)."""
    url = Settings.from_env().database_url
    _confirm(f"Downgrade {make_url(url).render_as_string()} to {revision}, losing data?", yes)
    migrate.downgrade(url, revision)


@escr_group.group()
def secret() -> None:
    """The server secret (keys the digests of erased ESIs, and Flask's sessions)."""


@secret.command("create")
def secret_create() -> None:
    """Create the server secret in the instance folder, unless it exists or ESCR_SECRET_KEY is set.

    Keep the file (and its backups) as private as the database: it keys the erasure digests.
    Several hosts sharing one database must share one secret: set ESCR_SECRET_KEY on each.
    """
    settings = Settings.from_env()
    if settings.secret_key:
        click.echo("ESCR_SECRET_KEY is set: it is the server secret; no file is needed.")
        return
    existed = settings.secret_file.exists()
    settings.server_secret  # noqa: B018  (creates the file when it is missing)
    verb = "kept the existing" if existed else "created the"
    click.echo(f"{verb} server secret {settings.secret_file}")


@escr_group.group()
def org() -> None:
    """Organisations."""


@org.command("create")
@click.option("--pic", "identifier", required=True, help="PIC (nine digits), or VAT number.")
@click.option("--name", required=True)
@click.option("--country", help="ISO 3166-1 alpha-2 code, e.g. FR.")
@click.option("--schac", "schac_home_organization", help="schacHomeOrganization domain.")
@click.option("--website")
@click.option("--prefix", "prefixes", multiple=True, help="ESCN server prefix (repeatable).")
@click.option(
    "--kind",
    type=click.Choice(organisations.KINDS),
    default="institution",
    show_default=True,
)
@click.option("--vat", is_flag=True, help="The identifier is a VAT number, not a PIC.")
def org_create(
    identifier: str,
    name: str,
    country: str | None,
    schac_home_organization: str | None,
    website: str | None,
    prefixes: tuple[str, ...],
    kind: str,
    vat: bool,
) -> None:
    """Register an organisation."""
    with _session() as session:
        created = organisations.create_organisation(
            session,
            organisations.OrganisationInput(
                identifier=identifier,
                identifier_type="VAT" if vat else "PIC",
                name=name,
                kind=kind,
                country=country,
                schac_home_organization=schac_home_organization,
                website=website,
                prefixes=list(prefixes) or ["001"],
            ),
        )
        click.echo(f"created {created.kind} {created.identifier} {created.name}")


@org.command("list")
def org_list() -> None:
    """List organisations."""
    with _session() as session:
        for o in organisations.list_organisations(session):
            prefixes = ",".join(o.prefix_codes)
            click.echo(f"{o.identifier}\t{o.kind}\t{o.country or '-'}\t{prefixes}\t{o.name}")


@org.command("update")
@click.option("--pic", "identifier", required=True, help="The organisation's PIC or VAT.")
@click.option("--name")
@click.option("--country", help="ISO 3166-1 alpha-2 code, e.g. FR.")
@click.option("--schac", "schac_home_organization", help="schacHomeOrganization domain.")
@click.option("--website")
@click.option(
    "--prefix",
    "prefixes",
    multiple=True,
    help="ESCN server prefix (repeatable); replaces the list when given.",
)
def org_update(
    identifier: str,
    name: str | None,
    country: str | None,
    schac_home_organization: str | None,
    website: str | None,
    prefixes: tuple[str, ...],
) -> None:
    """Change an organisation's name, country, domain, website or prefixes."""
    with _session() as session:
        organisation = organisations.get_organisation(session, identifier)
        updated = organisations.update_organisation(
            session,
            organisation,
            name=name,
            country=country,
            schac_home_organization=schac_home_organization,
            website=website,
            prefixes=list(prefixes) or None,
        )
        click.echo(
            f"updated {updated.identifier} {updated.name} "
            f"({updated.country or '-'}, prefixes {','.join(updated.prefix_codes)})"
        )


@escr_group.group()
def key() -> None:
    """API keys."""


@key.command("create")
@click.option("--pic", "identifier", required=True, help="The organisation's PIC or VAT.")
@click.option("--name", default="", help="A label to recognise the key by.")
@click.option("--scope", "scopes", multiple=True, help=f"Scopes among: {' '.join(Scope.ALL)}.")
@click.option("--expires-in-days", type=click.IntRange(min=1), help="Expire after N days.")
def key_create(
    identifier: str, name: str, scopes: tuple[str, ...], expires_in_days: int | None
) -> None:
    """Issue an API key; the secret is printed once, keep it safe."""
    expires = (
        dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_in_days) if expires_in_days else None
    )
    with _session() as session:
        organisation = organisations.get_organisation(session, identifier)
        try:
            issued = credentials.create_api_key(
                session, organisation, name=name, scopes=_scopes(scopes), expires_at=expires
            )
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--scope") from error
        click.echo(issued.secret)
        click.echo(f"prefix {issued.record.prefix}, scopes {issued.record.scopes}", err=True)


@key.command("list")
@click.option("--pic", "identifier", required=True)
def key_list(identifier: str) -> None:
    """List an organisation's API keys (prefix only)."""
    with _session() as session:
        organisation = organisations.get_organisation(session, identifier)
        for k in credentials.list_api_keys(session, organisation):
            state = "revoked" if k.revoked_at else "active"
            click.echo(f"{k.prefix}\t{state}\t{k.scopes}\t{k.name}")


@key.command("revoke")
@click.argument("prefix")
@yes_option
def key_revoke(prefix: str, yes: bool) -> None:
    """Revoke the API key with PREFIX."""
    _confirm(f"Revoke the API key {prefix}? Its holder's calls will be refused", yes)
    with _session() as session:
        credentials.revoke_api_key(session, None, prefix)
        click.echo(f"revoked {prefix}")


@key.command("rotate")
@click.argument("prefix")
def key_rotate(prefix: str) -> None:
    """Replace the API key with PREFIX by a new one; prints the new secret once."""
    with _session() as session:
        issued = credentials.rotate_api_key(session, None, prefix)
        click.echo(issued.secret)
        click.echo(f"revoked {prefix}; new prefix {issued.record.prefix}", err=True)


@escr_group.group("oauth-client")
def oauth_client() -> None:
    """OAuth2 clients (client credentials grant at /oauth/token)."""


@oauth_client.command("create")
@click.option("--pic", "identifier", required=True)
@click.option("--name", default="")
@click.option("--scope", "scopes", multiple=True, help=f"Scopes among: {' '.join(Scope.ALL)}.")
def oauth_client_create(identifier: str, name: str, scopes: tuple[str, ...]) -> None:
    """Register an OAuth2 client; prints its id and secret (the secret only this once)."""
    with _session() as session:
        organisation = organisations.get_organisation(session, identifier)
        try:
            issued = credentials.create_oauth_client(
                session, organisation, name=name, scopes=_scopes(scopes)
            )
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--scope") from error
        click.echo(f"client_id={issued.record.client_id}")
        click.echo(f"client_secret={issued.secret}")


@oauth_client.command("list")
@click.option("--pic", "identifier", required=True)
def oauth_client_list(identifier: str) -> None:
    """List an organisation's OAuth2 clients (never their secrets)."""
    with _session() as session:
        organisation = organisations.get_organisation(session, identifier)
        for client in credentials.list_oauth_clients(session, organisation):
            state = "revoked" if client.revoked_at else "active"
            click.echo(f"{client.client_id}\t{state}\t{client.scopes}\t{client.name}")


@oauth_client.command("revoke")
@click.argument("client_id")
@yes_option
def oauth_client_revoke(client_id: str, yes: bool) -> None:
    """Revoke an OAuth2 client and its tokens."""
    _confirm(f"Revoke the OAuth2 client {client_id} and its tokens?", yes)
    with _session() as session:
        credentials.revoke_oauth_client(session, client_id)
        click.echo(f"revoked {client_id}")


@escr_group.group()
def verifications() -> None:
    """Partner verification records."""


@verifications.command("purge")
@click.option(
    "--older-than-days",
    type=click.IntRange(min=1),
    help="Retention in days (default: ESCR_VERIFICATION_RETENTION_DAYS, 90 unless set).",
)
def verifications_purge(older_than_days: int | None) -> None:
    """Delete verification records older than the retention."""
    settings = Settings.from_env()
    days = older_than_days or settings.verification_retention_days
    with _session() as session:
        removed = verification.purge_verifications(session, retention_days=days)
        click.echo(f"purged {removed} verification record(s) older than {days} day(s)")


@escr_group.command("demo")
def demo() -> None:
    """Create the demo institution (PIC 999999999) and print an API key for it, once."""
    with _session() as session:
        if organisations.find_organisation(session, DEMO_PIC) is not None:
            click.echo(
                f"Demo organisation {DEMO_PIC} exists already; its key was printed when it was "
                f"created. For another: escr-admin key create --pic {DEMO_PIC}"
            )
            return
        organisation = organisations.create_organisation(
            session,
            organisations.OrganisationInput(
                identifier=DEMO_PIC,
                name="Demo University",
                country="FR",
                schac_home_organization="demo-university.example",
                website="https://demo-university.example",
                prefixes=["001"],
            ),
        )
        issued = credentials.create_api_key(session, organisation, name="demo")
        click.echo(f"Created demo organisation {DEMO_PIC} (Demo University).")
        click.echo(f"Its API key (shown once, keep it): {issued.secret}")


@escr_group.group("graphql")
def graphql_group() -> None:
    """The GraphQL schema."""


@graphql_group.command("export-schema")
@click.option(
    "--output",
    "-o",
    default="schema.graphql",
    show_default=True,
    help="File to write, or - for standard output.",
)
def graphql_export_schema(output: str) -> None:
    """Write the GraphQL schema in SDL (the repository keeps it in schema.graphql)."""
    from router.graphql.schema import schema_sdl

    sdl = schema_sdl()
    if output == "-":
        click.echo(sdl, nl=False)
        return
    with open(output, "w", encoding="utf-8") as handle:
        handle.write(sdl)
    click.echo(f"wrote {output}", err=True)


@escr_group.group()
def webhooks() -> None:
    """Webhook deliveries."""


@webhooks.command("deliver")
@click.option("--once", is_flag=True, help="Deliver what is due, then exit.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds to wait when nothing is due.",
)
@click.option("--batch", type=click.IntRange(min=1), default=50, show_default=True)
def webhooks_deliver(once: bool, interval: float, batch: int) -> None:
    """POST due webhook events, signed, retrying with backoff; safe to run in several copies."""
    settings = Settings.from_env()
    _require_current_schema(settings)
    database = Database(settings.database_url)
    policy = webhook_delivery.DeliveryPolicy.from_settings(settings)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: object) -> None:
        stop.set()

    try:
        if once:
            run = webhook_delivery.drain(database, policy, limit=batch)
            click.echo(f"delivered={run.delivered} retried={run.retried} dead={run.dead}")
            return
        # SIGTERM or Ctrl-C end the loop between passes, so no delivery is left half-recorded.
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        while not stop.is_set():
            try:
                run = webhook_delivery.deliver_due(database, policy, limit=batch)
            except Exception as error:  # the database away for a while: wait, then try again
                click.echo(f"delivery pass failed ({type(error).__name__}); retrying", err=True)
                stop.wait(interval)
                continue
            if run.attempted:
                click.echo(f"delivered={run.delivered} retried={run.retried} dead={run.dead}")
            else:
                stop.wait(interval)
        click.echo("stopped")
    finally:
        database.engine.dispose()


escr_group.add_command(public_key_group)
escr_group.add_command(delegations_group)
# The federation's commands live with the federation: ``escr-admin router|federation ...``.
escr_group.add_command(router_group)
escr_group.add_command(federation_group)
escr_group.add_command(ca_group)


def main() -> None:
    """Console entry point of ``escr-admin``."""
    escr_group(prog_name="escr-admin")


if __name__ == "__main__":
    sys.exit(main())
