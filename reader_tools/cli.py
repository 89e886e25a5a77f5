"""``escr-reader``: read, check and write European Student Cards through a PC/SC reader.

Exit status: 0 on success (a valid card for ``verify``), 1 when ``verify`` judges the card not
valid or ``write-dam-keys`` refuses to overwrite a card's DAM keys, 2 on a usage error, 3 when the
reader, the card or the router failed.
"""

from __future__ import annotations

from pathlib import Path

import click
from cryptography import x509

from reader_tools import cdz, chains, issuing, pcsc
from reader_tools.command_context import (
    EXIT_NOT_VALID,
    Context,
    Failed,
    failures,
    pass_context,
)
from reader_tools.desfire.commands import Desfire, DesfireError, IntegrityError
from reader_tools.identify import identify
from reader_tools.kiosk.command import kiosk
from reader_tools.offline import verify_offline
from reader_tools.qr import decode_qr, escn_of_scan
from reader_tools.simulator.command import simulate
from sgc_client import RouterClient


@click.group()
@click.option(
    "--reader",
    "reader_name",
    envvar="ESCR_READER_NAME",
    help="Use the reader whose name contains this (default: the first holding a card).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
def cli(context: click.Context, reader_name: str | None, as_json: bool) -> None:
    """Read, check and write European Student Cards through a PC/SC reader."""
    context.obj = Context(reader_name, as_json)


@cli.command()
@pass_context
def readers(context: Context) -> None:
    """List the PC/SC readers and the cards in them."""
    with failures():
        context.display.readers(pcsc.list_readers())


@cli.command()
@click.option("--timeout", type=click.FloatRange(min=0), default=30.0, show_default=True)
@pass_context
def wait(context: Context, timeout: float) -> None:
    """Wait until a card is presented; show its UID (CSN), chip and card type."""
    with failures():
        with pcsc.CardWatcher(context.reader_name) as watcher:
            reader = watcher.wait_for_card(timeout)
        if reader is None:
            raise Failed(f"no card was presented within {timeout:g} s")
        with pcsc.connect(reader) as transport:
            context.display.card(reader, identify(transport, transport.atr))


@cli.command()
@pass_context
def read(context: Context) -> None:
    """Read the chip data zone: card number, UID, the issuer's certificate and signature."""
    with failures(), pcsc.connect(context.reader_name) as transport:
        context.display.chip(cdz.read_chip_data(transport))


def _scanned(
    context: Context, escn: str | None, qr_image: Path | None
) -> tuple[str, cdz.ChipData | None]:
    if escn is not None:
        return escn, None
    if qr_image is not None:
        return decode_qr(qr_image), None
    with pcsc.connect(context.reader_name) as transport:
        chip = cdz.read_chip_data(transport)
    return chip.escn, chip


@cli.command()
@click.option("--router", envvar="ESCR_READER_ROUTER", help="The router's base URL.")
@click.option("--api-key", envvar="ESCR_READER_API_KEY", help="Your partner API key (verify).")
@click.option("--escn", help="Verify this card number instead of the card in the reader.")
@click.option(
    "--qr",
    "qr_image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An image of the card's QR code: online, verify it; offline, compare it with the chip.",
)
@click.option("--offline", is_flag=True, help="Check the chip's signature and chain, no router.")
@click.option(
    "--root",
    "root_file",
    envvar="ESCR_READER_ROOT",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The pinned root certificate(s), PEM (offline).",
)
@click.option(
    "--cache-dir",
    envvar="ESCR_READER_CACHE",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the chains fetched from the router are kept (default ~/.cache/escr-reader).",
)
@click.option(
    "--cdz-keys",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The issuer's chip data zone base keys: also prove the chip holds keys 1 and 2.",
)
@pass_context
def verify(
    context: Context,
    router: str | None,
    api_key: str | None,
    escn: str | None,
    qr_image: Path | None,
    offline: bool,
    root_file: Path | None,
    cache_dir: Path | None,
    cdz_keys: Path | None,
) -> None:
    """Verify a card: with the router (as a partner), or offline from its chip data zone."""
    if offline:
        _verify_offline(context, router, qr_image, root_file, cache_dir, cdz_keys, escn)
        return
    if not router or not api_key:
        raise click.UsageError("Online verification needs --router and --api-key.")
    with failures():
        scanned, _ = _scanned(context, escn, qr_image)
        # A partner at a gate wants an answer now: one quick retry, not a long backoff.
        with RouterClient(router, api_key=api_key, timeout=10, retries=1) as client:
            verdict = client.verification.verify(scanned)
    context.display.verdict(verdict, scanned)
    if not verdict.valid:
        raise SystemExit(EXIT_NOT_VALID)


def _verify_offline(
    context: Context,
    router: str | None,
    qr_image: Path | None,
    root_file: Path | None,
    cache_dir: Path | None,
    cdz_keys: Path | None,
    escn: str | None,
) -> None:
    if root_file is None:
        raise click.UsageError("Offline verification needs the pinned root: --root FILE.")
    if escn is not None:
        raise click.UsageError("Offline verification reads the card itself; --escn is online only.")
    try:
        roots = x509.load_pem_x509_certificates(root_file.read_bytes())
    except ValueError as error:
        raise click.BadParameter(f"not PEM certificates: {error}", param_hint="--root") from error
    with failures():
        scanned = escn_of_scan(decode_qr(qr_image)) if qr_image is not None else None
        if qr_image is not None and scanned is None:
            raise Failed("the QR code names no card number")
        with pcsc.connect(context.reader_name) as transport:
            chip = cdz.read_chip_data(transport)
            keys_proved = None
            if cdz_keys is not None:
                keys_proved = _prove(Desfire(transport), cdz.CdzBaseKeys.load(cdz_keys), chip)
        cache = chains.ChainCache(cache_dir or chains.default_cache_directory(), router)
        pic = cdz.pic_of_escn(chip.escn)
        chain = cache.chain(pic) if pic else chains.CachedFile("", "none")
        crls = cache.revocation_lists()
    verdict = verify_offline(
        chip,
        roots=roots,
        chain=chains.certificates_of(chain),
        crls=chains.revocation_lists_of(crls),
        scanned_escn=scanned,
    )
    context.display.offline(verdict, chain.source, keys_proved)
    if not verdict.valid or keys_proved is False:
        raise SystemExit(EXIT_NOT_VALID)


def _prove(card: Desfire, base_keys: cdz.CdzBaseKeys, chip: cdz.ChipData) -> bool:
    try:
        cdz.prove_keys(card, base_keys, chip)
    except (DesfireError, IntegrityError):
        return False
    return True


@cli.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def qr(context: Context, image: Path) -> None:
    """Read a card's QR code from an image file."""
    with failures():
        text = decode_qr(image)
    escn = escn_of_scan(text)
    if context.display.as_json:
        context.display.json({"text": text, "cardNumber": escn})
    else:
        context.display.console.print(f"QR code: {text}\nCard number: {escn or 'none'}")


cli.add_command(issuing.write_cdz)
cli.add_command(issuing.write_dam_keys)
cli.add_command(issuing.new_signing_key)
cli.add_command(issuing.new_cdz_keys)
cli.add_command(simulate)
cli.add_command(kiosk)


def main() -> None:
    """Console entry point of ``escr-reader``."""
    cli(prog_name="escr-reader")
