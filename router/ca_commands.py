"""``escr-admin ca``: the deployment's chip-data-zone certificate authority (see the service)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session

from router.db import Database
from router.domain.errors import RouterError
from router.services import certificate_chains, organisations
from router.services.certificate_authority import (
    CertificateAuthority,
    CertificateAuthorityError,
    load_public_key_request,
)
from router.settings import Settings


@contextmanager
def _context() -> Iterator[tuple[Settings, Session]]:
    settings = Settings.from_env()
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            yield settings, session
    except (RouterError, CertificateAuthorityError) as error:
        message = f"{error.code}: {error.message}" if isinstance(error, RouterError) else error
        raise click.ClickException(str(message)) from error
    finally:
        database.engine.dispose()


def _authority(settings: Settings) -> CertificateAuthority:
    return CertificateAuthority.load(CertificateAuthority.directory_of(settings.instance_path))


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


@click.group("ca")
def ca_group() -> None:
    """The chip-data-zone certificate authority of this deployment (key in the instance folder)."""


@ca_group.command("init")
@click.option("--name", default="escrouter chip data zone root", show_default=True)
def ca_init(name: str) -> None:
    """Create the root key and certificate, and publish an empty revocation list."""
    with _context() as (settings, session):
        directory = CertificateAuthority.directory_of(settings.instance_path)
        authority = CertificateAuthority.create(directory, name)
        certificate_chains.store_revocation_list(session, authority.revocation_list([]))
        click.echo(_pem(authority.certificate), nl=False)
        click.echo(f"root certificate and key written to {directory}", err=True)


@ca_group.command("root")
def ca_root() -> None:
    """Print the root certificate (PEM): what verifiers pin."""
    with _context() as (settings, _session):
        click.echo(_pem(_authority(settings).certificate), nl=False)


@ca_group.command("issue")
@click.option("--pic", required=True, help="The institution's PIC (a registered organisation).")
@click.option(
    "--csr",
    "request_file",
    required=True,
    type=click.File("rb"),
    help="The institution's certificate request (or public key), PEM; - for standard input.",
)
@click.option("--days", type=click.IntRange(min=1), default=10 * 365, show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the chain to upload (certificate, then root) here instead of standard output.",
)
def ca_issue(pic: str, request_file: click.utils.LazyFile, days: int, out: Path | None) -> None:
    """Issue an institution's certificate naming its PIC; print its chain (PEM)."""
    with _context() as (settings, session):
        organisation = organisations.get_organisation(session, pic)
        authority = _authority(settings)
        certificate = authority.issue(
            pic=organisation.identifier,
            name=organisation.name,
            country=organisation.country,
            public_key=load_public_key_request(request_file.read()),
            days=days,
        )
        chain = _pem(certificate) + _pem(authority.certificate)
        if out is None:
            click.echo(chain, nl=False)
        else:
            out.write_text(chain)
        click.echo(f"issued serial {certificate.serial_number:X} to PIC {pic}", err=True)


@ca_group.command("revoke")
@click.argument("serial")
def ca_revoke(serial: str) -> None:
    """Revoke the certificate with hexadecimal SERIAL and publish the new revocation list."""
    try:
        number = int(serial, 16)
    except ValueError as error:
        raise click.BadParameter("a serial number in hexadecimal", param_hint="SERIAL") from error
    with _context() as (settings, session):
        authority = _authority(settings)
        current = certificate_chains.revocation_list_of(session, authority.certificate.subject)
        certificate_chains.store_revocation_list(session, authority.revoke(current, number))
        click.echo(f"revoked {number:X}")


@ca_group.command("refresh-crl")
def ca_refresh_crl() -> None:
    """Sign the revocation list again with fresh dates (before its next update is due)."""
    with _context() as (settings, session):
        authority = _authority(settings)
        current = certificate_chains.revocation_list_of(session, authority.certificate.subject)
        entries = list(current) if current is not None else []
        certificate_chains.store_revocation_list(session, authority.revocation_list(entries))
        click.echo(f"revocation list signed again ({len(entries)} revoked)")


@ca_group.command("import-crl")
@click.argument("crl_file", type=click.File("rb"))
def ca_import_crl(crl_file: click.utils.LazyFile) -> None:
    """Publish another authority's revocation list (PEM or DER) as it was signed."""
    data = crl_file.read()
    try:
        crl = (
            x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
        )
    except ValueError as error:
        raise click.BadParameter(f"not a revocation list: {error}") from error
    with _context() as (_settings, session):
        certificate_chains.store_revocation_list(session, crl)
        click.echo(f"published the revocation list of {crl.issuer.rfc4514_string()}")
