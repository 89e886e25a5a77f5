"""``escr-admin router ...`` and ``escr-admin federation ...``: keys, catalogue, publication.

A router's operator runs ``router init`` (its key) and ``router identity`` (what to give the
authority). The federation's authority runs ``federation init-authority`` once, then
``add-router``/``remove-router`` on its draft and ``sign`` to produce the catalogue; any router
serves it after ``federation publish``. ``federation show``, ``refresh`` and ``ping`` check a
catalogue, fetch it now, and prove that a peer answers signed requests.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import click
import httpx

from router.db import Database
from router.domain.errors import RouterError
from router.federation import authority
from router.federation.catalogue import Catalogue, format_time, verify_catalogue
from router.federation.directory import CACHE_FILE, federation_folder
from router.federation.identity import RouterIdentity
from router.federation.keys import (
    KeyFileError,
    generate_private_key,
    public_key_of,
    read_private_key,
    read_public_keys,
    write_private_key,
)
from router.federation.membership import FederationPlaces, Membership
from router.federation.wire import PEER_ECHO_PATH
from router.services import organisations
from router.settings import Settings


def _fail(error: RouterError | KeyFileError) -> click.ClickException:
    if isinstance(error, RouterError):
        return click.ClickException(f"{error.code}: {error.message}")
    return click.ClickException(str(error))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@click.group("router")
def router_group() -> None:
    """The identity of a router in a federation of routers."""


@router_group.command("init")
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the key (default: ESCR_ROUTER_KEY_FILE, else <instance>/router-key.pem).",
)
@click.option("--force", is_flag=True, help="Replace an existing key (peers must be told).")
def router_init(key_file: Path | None, force: bool) -> None:
    """Create this router's Ed25519 signing key (mode 0600) and print its public key."""
    settings = Settings.from_env()
    path = key_file or settings.federation.key_path(settings.instance_path)
    key = generate_private_key()
    try:
        write_private_key(key, path, overwrite=force)
    except KeyFileError as error:
        raise _fail(error) from error
    public = public_key_of(key.public_key())
    click.echo(f"wrote {path} (mode 0600)", err=True)
    click.echo(f"key id (RFC 7638 thumbprint): {public.kid}", err=True)
    click.echo(json.dumps({"kid": public.kid, "jwk": dict(public.jwk)}))


@router_group.command("identity")
def router_identity() -> None:
    """Print this router's identity document, for the federation authority's add-router."""
    settings = Settings.from_env()
    try:
        identity = RouterIdentity.load(
            settings.federation,
            instance_path=settings.instance_path,
            public_url=settings.public_url,
        )
    except KeyFileError as error:
        raise _fail(error) from error
    if identity is None:
        raise click.ClickException("No router key yet: run `escr-admin router init` first.")
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            pics = [
                o.identifier
                for o in organisations.list_organisations(session)
                if o.identifier_type == "PIC"
            ]
    finally:
        database.engine.dispose()
    click.echo(json.dumps(identity.document(pics), indent=2))


@click.group("federation")
def federation_group() -> None:
    """The federation catalogue: the authority's key and draft, signing, publication, checks."""


@federation_group.command("init-authority")
@click.option("--key-file", required=True, type=click.Path(dir_okay=False, path_type=Path))
def init_authority(key_file: Path) -> None:
    """Create the federation authority's key; print the public JWK every router configures."""
    key = generate_private_key()
    try:
        write_private_key(key, key_file)
    except KeyFileError as error:
        raise _fail(error) from error
    public = public_key_of(key.public_key())
    public_file = key_file.with_name(key_file.name + ".pub.jwk")
    public_file.write_text(json.dumps(dict(public.jwk)) + "\n")
    click.echo(f"wrote {key_file} (mode 0600) and {public_file}", err=True)
    click.echo(
        f"routers set ESCR_FEDERATION_AUTHORITY_KEY to {public_file} (or its content)", err=True
    )
    click.echo(json.dumps(dict(public.jwk)))


_DRAFT = click.option(
    "--draft",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The authority's draft list of routers (created when missing).",
)
_INSECURE = click.option(
    "--allow-insecure",
    is_flag=True,
    help="Admit http:// base URLs (loopback tests only; routers need it too).",
)


def _read_identity(source: str) -> dict:
    if source.startswith(("https://", "http://")):
        try:
            answer = httpx.get(source, timeout=10)
            answer.raise_for_status()
            return answer.json()
        except (httpx.HTTPError, ValueError) as error:
            raise click.ClickException(f"cannot read the identity at {source}: {error}") from error
    try:
        return json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise click.ClickException(f"cannot read the identity file {source}: {error}") from error


@federation_group.command("add-router")
@_DRAFT
@click.option("--identity", "identity_source", help="Identity document: a file or its URL.")
@click.option("--id", "router_id", help="Router id (without --identity).")
@click.option("--base-url", help="Router base URL (without --identity).")
@click.option("--public-key", help="Router public key: PEM or JWK file (without --identity).")
@click.option("--pic", "pics", multiple=True, help="A PIC the router hosts (repeatable).")
@click.option("--expect-kid", help="Refuse unless the router's key has this id (fingerprint).")
@click.option("--replace", "replace_existing", is_flag=True, help="Update a listed router.")
@click.option("--keep-keys", is_flag=True, help="With --replace: keep its old keys (rotation).")
@_INSECURE
def add_router(
    draft: Path,
    identity_source: str | None,
    router_id: str | None,
    base_url: str | None,
    public_key: str | None,
    pics: tuple[str, ...],
    expect_kid: str | None,
    replace_existing: bool,
    keep_keys: bool,
    allow_insecure: bool,
) -> None:
    """Admit a router to the draft (one router per PIC); --pic overrides the identity's PICs."""
    allow_insecure = allow_insecure or Settings.from_env().federation.allow_insecure
    if identity_source:
        identity = _read_identity(identity_source)
        if pics:
            identity["pics"] = list(pics)
    elif router_id and base_url and public_key:
        try:
            keys = read_public_keys(public_key)
        except KeyFileError as error:
            raise _fail(error) from error
        identity = {
            "id": router_id,
            "baseUrl": base_url,
            "keys": [{"kid": k.kid, "jwk": dict(k.jwk)} for k in keys],
            "pics": list(pics),
        }
    else:
        raise click.UsageError("give --identity, or --id, --base-url and --public-key")
    try:
        entry = authority.entry_of_identity(identity, allow_insecure=allow_insecure)
        if expect_kid and expect_kid not in entry.kids:
            raise click.ClickException(
                f"the identity's keys are {', '.join(sorted(entry.kids))}, not {expect_kid}"
            )
        current = authority.load_draft(draft, allow_insecure=allow_insecure)
        updated = authority.add_router(
            current, entry, replace_existing=replace_existing, keep_keys=keep_keys
        )
        authority.save_draft(draft, updated)
    except RouterError as error:
        raise _fail(error) from error
    click.echo(
        f"router {entry.id} at {entry.base_url}: keys {', '.join(sorted(entry.kids))}; "
        f"PICs {', '.join(sorted(entry.pics)) or 'none'}"
    )


@federation_group.command("remove-router")
@_DRAFT
@click.argument("router_id")
@_INSECURE
def remove_router(draft: Path, router_id: str, allow_insecure: bool) -> None:
    """Remove a router from the draft (sign and publish for routers to stop answering it)."""
    allow_insecure = allow_insecure or Settings.from_env().federation.allow_insecure
    try:
        current = authority.load_draft(draft, allow_insecure=allow_insecure)
        authority.save_draft(draft, authority.remove_router(current, router_id))
    except RouterError as error:
        raise _fail(error) from error
    click.echo(f"removed router {router_id}")


@federation_group.command("sign")
@_DRAFT
@click.option("--authority-key", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--valid-days", type=click.IntRange(min=1, max=366), default=30, show_default=True)
@_INSECURE
def sign(
    draft: Path, authority_key: Path, output: Path, valid_days: int, allow_insecure: bool
) -> None:
    """Sign the draft into a catalogue under the next serial number."""
    allow_insecure = allow_insecure or Settings.from_env().federation.allow_insecure
    try:
        key = read_private_key(authority_key)
        current = authority.load_draft(draft, allow_insecure=allow_insecure)
        document, signed = authority.sign_draft(
            current, key, now=_now(), valid_for=dt.timedelta(days=valid_days)
        )
    except (RouterError, KeyFileError) as error:
        raise _fail(error) from error
    output.write_bytes(document)
    authority.save_draft(draft, signed)
    click.echo(
        f"signed catalogue {signed.last_serial} ({len(signed.routers)} routers, valid "
        f"{valid_days} days) to {output}"
    )


def _authority_keys(settings: Settings) -> list:
    if not settings.federation.authority_key:
        raise click.ClickException("ESCR_FEDERATION_AUTHORITY_KEY is not set.")
    try:
        return read_public_keys(settings.federation.authority_key)
    except KeyFileError as error:
        raise _fail(error) from error


@federation_group.command("publish")
@click.argument("catalogue", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def publish(catalogue: Path) -> None:
    """Serve a signed catalogue from this router (at /api/x/federation/catalogue)."""
    settings = Settings.from_env()
    try:
        published = authority.publish(
            catalogue.read_bytes(),
            settings.instance_path,
            _authority_keys(settings),
            now=_now(),
            allow_insecure=settings.federation.allow_insecure,
        )
    except RouterError as error:
        raise _fail(error) from error
    click.echo(f"publishing catalogue {published.serial} ({len(published.routers)} routers)")


def _describe(catalogue: Catalogue) -> None:
    click.echo(
        f"catalogue {catalogue.serial}, issued {format_time(catalogue.issued_at)}, valid until "
        f"{format_time(catalogue.valid_until)}"
    )
    for router in catalogue.routers:
        click.echo(
            f"{router.id}\t{router.base_url}\t{','.join(sorted(router.pics)) or '-'}\t"
            f"{','.join(sorted(router.kids))}"
        )


@federation_group.command("show")
@click.argument("catalogue", required=False, type=click.Path(dir_okay=False, path_type=Path))
def show(catalogue: Path | None) -> None:
    """Verify and list a catalogue file (default: the copy this router holds)."""
    settings = Settings.from_env()
    path = catalogue or federation_folder(settings.instance_path) / CACHE_FILE
    try:
        document = path.read_bytes()
    except OSError as error:
        raise click.ClickException(f"cannot read {path}: {error.strerror}") from error
    try:
        verified = verify_catalogue(
            document,
            _authority_keys(settings),
            now=_now(),
            allow_insecure=settings.federation.allow_insecure,
        )
    except RouterError as error:
        raise _fail(error) from error
    _describe(verified)


def _membership(settings: Settings) -> Membership:
    try:
        membership = Membership.create(
            settings.federation, FederationPlaces(settings.instance_path, settings.public_url)
        )
    except (ValueError, KeyFileError) as error:
        raise click.ClickException(str(error)) from error
    if membership.directory is None:
        raise click.ClickException("ESCR_FEDERATION_CATALOGUE_URL is not set.")
    membership.directory.auto_refresh = False
    return membership


@federation_group.command("refresh")
def refresh() -> None:
    """Fetch the catalogue now into this router's cache (workers adopt it on their next fetch)."""
    membership = _membership(Settings.from_env())
    assert membership.directory is not None
    outcome = membership.directory.refresh()
    click.echo(f"{outcome.result}: {outcome.detail}")
    if outcome.result == "failed":
        raise SystemExit(1)


@federation_group.command("ping")
@click.argument("router_id")
def ping(router_id: str) -> None:
    """Send a signed echo request to a peer and check its signed answer."""
    membership = _membership(Settings.from_env())
    assert membership.directory is not None
    if membership.catalogue() is None:
        membership.directory.refresh()
    catalogue = membership.catalogue()
    if catalogue is None:
        raise click.ClickException("no valid federation catalogue is available")
    peer = catalogue.router(router_id)
    if peer is None:
        raise click.ClickException(f"router {router_id} is not in catalogue {catalogue.serial}")
    started = time.perf_counter()
    try:
        answer = membership.client.request(peer, "POST", PEER_ECHO_PATH, {"ping": "escr"})
    except RouterError as error:
        raise _fail(error) from error
    finally:
        membership.client.close()
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status != 200 or answer.body.get("echo") != {"ping": "escr"}:
        raise click.ClickException(
            f"router {router_id} answered HTTP {answer.status}: {answer.body}"
        )
    click.echo(
        f"{router_id} answered as {answer.body.get('router')} to {answer.body.get('caller')} in "
        f"{elapsed:.0f} ms; signatures verified both ways (request {answer.request_id})"
    )
