"""The issuing institution's escr-reader commands: its signing key, its base keys, write-cdz."""

from __future__ import annotations

from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from reader_tools import cdz, pcsc
from reader_tools.command_context import Context, Failed, failures, pass_context
from reader_tools.desfire.commands import Desfire
from reader_tools.offline import PIC_PREFIX


@click.command("write-cdz")
@click.option("--escn", required=True, help="The card number to write.")
@click.option(
    "--signing-key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The institution's P-256 signing key, PEM.",
)
@click.option(
    "--certificate",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The institution's certificate (PEM; the first of a chain file), put on the card.",
)
@click.option(
    "--cdz-keys",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The institution's chip data zone base keys (escr-reader new-cdz-keys).",
)
@click.option(
    "--picc-key",
    default="00" * 16,
    show_default="a blank card's: zeros",
    help="The card's PICC master key (AES, hex).",
)
@pass_context
def write_cdz(
    context: Context,
    escn: str,
    signing_key: Path,
    certificate: Path,
    cdz_keys: Path,
    picc_key: str,
) -> None:
    """Write the chip data zone: card number, signature over number and UID, certificate."""
    if cdz.pic_of_escn(escn) is None:
        raise click.BadParameter("not a European Student Card Number", param_hint="--escn")
    key = serialization.load_pem_private_key(signing_key.read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise click.BadParameter("not an elliptic-curve key", param_hint="--signing-key")
    certificate_der = x509.load_pem_x509_certificates(certificate.read_bytes())[0].public_bytes(
        serialization.Encoding.DER
    )
    try:
        master = bytes.fromhex(picc_key)
    except ValueError as error:
        raise click.BadParameter("hexadecimal", param_hint="--picc-key") from error
    with failures(), pcsc.connect(context.reader_name) as transport:
        try:
            chip = cdz.write_chip_data(
                Desfire(transport),
                picc_master_key=master,
                escn=escn.lower(),
                signing_key=key,
                certificate=certificate_der,
                base_keys=cdz.CdzBaseKeys.load(cdz_keys),
            )
        except ValueError as error:
            raise Failed(str(error)) from error
    context.display.chip(chip)


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600, exist_ok=False)
    path.write_bytes(data)


@click.command("new-signing-key")
@click.option("--pic", required=True, help="Your institution's PIC.")
@click.option("--name", required=True, help="Your institution's name.")
@click.option("--key-out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--csr-out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def new_signing_key(pic: str, name: str, key_out: Path, csr_out: Path) -> None:
    """Create a P-256 chip-data-zone signing key and the request to certify it (PIC inside)."""
    if not (len(pic) == 9 and pic.isdigit()):
        raise click.BadParameter("a PIC is nine digits", param_hint="--pic")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name[:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"{PIC_PREFIX}{pic}"),
        ]
    )
    request = (
        x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    )
    _write_private(
        key_out,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    csr_out.write_bytes(request.public_bytes(serialization.Encoding.PEM))
    click.echo(f"key in {key_out} (keep it secret), certificate request in {csr_out}")


@click.command("new-cdz-keys")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def new_cdz_keys(out: Path) -> None:
    """Create the chip data zone base keys (keys 0, 1 and 2 are diversified from them per card)."""
    if out.exists():
        raise click.BadParameter(
            f"{out} exists; base keys are never overwritten", param_hint="--out"
        )
    cdz.CdzBaseKeys.generate().save(out)
    click.echo(f"base keys in {out} (keep them secret)")
