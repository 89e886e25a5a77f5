"""The issuing institution's escr-reader commands: its keys, write-cdz and write-dam-keys."""

from __future__ import annotations

from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from reader_tools import cdz, dam_keys, pcsc
from reader_tools.command_context import EXIT_REFUSED, Context, Failed, failures, pass_context
from reader_tools.desfire.commands import Desfire
from reader_tools.desfire.crypto import AES_KEY_SIZE, DamBaseKeys
from reader_tools.offline import PIC_PREFIX
from sgc_client.delegation.keystore import KeyStoreError, check_private, load_dam_base_keys


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


def _base_keys(path: Path, hint: str) -> DamBaseKeys:
    try:
        return load_dam_base_keys(path)
    except KeyStoreError as error:
        raise click.BadParameter(str(error), param_hint=hint) from error


def _picc_master_key(key_file: Path | None, factory_default: bool) -> bytes:
    """The PICC master key: from a file only its owner may read, or the factory's, said aloud."""
    if (key_file is None) == (not factory_default):
        raise click.UsageError(
            "Give the card's PICC master key: --picc-key-file FILE, or --factory-default-picc-key "
            "for a card still at the factory's key."
        )
    if key_file is None:
        return dam_keys.FACTORY_KEY
    try:
        check_private(key_file)
        key = bytes.fromhex(key_file.read_text(encoding="ascii").strip())
    except KeyStoreError as error:
        raise click.BadParameter(str(error), param_hint="--picc-key-file") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise click.BadParameter(
            "not an AES key in hexadecimal", param_hint="--picc-key-file"
        ) from error
    if len(key) != AES_KEY_SIZE:
        raise click.BadParameter("an AES key is 32 hex digits", param_hint="--picc-key-file")
    return key


@click.command("write-dam-keys")
@click.option(
    "--keys",
    "keys_path",
    envvar="ESCR_SGC_KEYS",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Your DAM base keys: the key directory of 'escr-sgc dam-keys create' (env "
    "ESCR_SGC_KEYS), or its dam-base-keys.json.",
)
@click.option(
    "--picc-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The card's PICC master key (AES, 32 hex digits) in a file of mode 0600.",
)
@click.option(
    "--factory-default-picc-key",
    is_flag=True,
    help="The card's PICC master key is still the factory's (zeros).",
)
@click.option(
    "--key-version",
    type=click.IntRange(0, 255),
    default=1,
    show_default=True,
    help="The version the three DAM keys take.",
)
@click.option(
    "--rotate-from",
    type=click.Path(exists=True, path_type=Path),
    help="The old DAM base keys (directory or file) the card's keys were derived from: replace "
    "them. Without it only factory DAM keys are replaced.",
)
@pass_context
def write_dam_keys(
    context: Context,
    keys_path: Path,
    picc_key_file: Path | None,
    factory_default_picc_key: bool,
    key_version: int,
    rotate_from: Path | None,
) -> None:
    """Write the card's DAM keys (PICC keys 0x10, 0x11, 0x12), diversified from your base keys.

    Exit status 1 when the card's DAM keys are neither the factory's (nor, with --rotate-from,
    the old base keys') nor the new ones: nothing is written.
    """
    master = _picc_master_key(picc_key_file, factory_default_picc_key)
    base = _base_keys(keys_path, "--keys")
    old_base = _base_keys(rotate_from, "--rotate-from") if rotate_from is not None else None
    if old_base == base:
        raise click.BadParameter("the old base keys are the new ones", param_hint="--rotate-from")
    with failures(), pcsc.connect(context.reader_name) as transport:
        try:
            result = dam_keys.write_dam_keys(
                Desfire(transport),
                picc_master_key=master,
                base=base,
                version=key_version,
                old_base=old_base,
            )
        except dam_keys.DamKeysRefused as error:
            refused = Failed(str(error))
            refused.exit_code = EXIT_REFUSED
            raise refused from error
        except (dam_keys.WrongPiccKey, dam_keys.RandomUid) as error:
            raise Failed(str(error)) from error
    context.display.dam_keys(result)


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
