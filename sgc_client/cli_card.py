"""``escr-sgc card``: lifecycle actions, renewal and the QR code of one card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sgc_client.cli_context import Context, api_errors, pass_context


@click.group()
def card() -> None:
    """One card: lifecycle actions and QR code."""


def _print_lifecycle(view: dict[str, Any]) -> None:
    click.echo(f"{view['cardNumber']}: {view['state']} ({view['cardStatusType']})")
    replacement = view.get("replacement")
    if replacement:
        click.echo(f"replaced by {replacement['cardNumber']}")


def _lifecycle_command(name: str, action: str, help_text: str) -> None:
    @card.command(name, help=help_text)
    @click.argument("escn")
    @pass_context
    def command(context: Context, escn: str) -> None:
        with api_errors():
            _print_lifecycle(context.client.cards.change_state(escn, action))


_lifecycle_command("lost", "REPORT_LOST", "Report card ESCN lost (escrouter only).")
_lifecycle_command("stolen", "REPORT_STOLEN", "Report card ESCN stolen (escrouter only).")
_lifecycle_command("suspend", "SUSPEND", "Suspend card ESCN (escrouter only).")
_lifecycle_command("reactivate", "REACTIVATE", "Reactivate card ESCN (escrouter only).")


@card.command("renew")
@click.argument("escn")
@click.option("--card-number", help="Number of the new card (default: generated).")
@click.option("--issued-at", help="Issue date of the new card (YYYY-MM-DD).")
@click.option("--expires-at", help="Expiry date of the new card (YYYY-MM-DD).")
@click.option("--card-type", help="Type of the new card (default: the old card's).")
@click.option("--display-name")
@click.option("--csn", help="Chip serial number of the new card.")
@pass_context
def card_renew(context: Context, escn: str, **renewal: str | None) -> None:
    """Replace card ESCN by a new card (escrouter only)."""
    names = {
        "card_number": "cardNumber",
        "issued_at": "issuedAt",
        "expires_at": "expiresAt",
        "card_type": "cardType",
        "display_name": "displayName",
        "csn": "csn",
    }
    with api_errors():
        view = context.client.cards.renew(
            escn, **{names[k]: v for k, v in renewal.items() if v is not None}
        )
    _print_lifecycle(view)


@card.command("qr")
@click.argument("escn")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output).",
)
@click.option(
    "--format",
    "qr_format",
    type=click.Choice(["svg", "png", "text"]),
    default="svg",
    show_default=True,
)
@click.option("--orientation", type=click.Choice(["horizontal", "vertical"]))
@click.option("--colours", type=click.Choice(["normal", "inverted"]))
@click.option("--size", type=click.Choice(["XS", "S", "M"]))
@pass_context
def card_qr(
    context: Context,
    escn: str,
    output: Path | None,
    qr_format: str,
    orientation: str | None,
    colours: str | None,
    size: str | None,
) -> None:
    """Download the QR code of card ESCN."""
    with api_errors():
        content = context.client.cards.qr(
            escn,
            format=qr_format,  # type: ignore[arg-type]
            orientation=orientation,
            colours=colours,
            size=size,
        )
    if output is None:
        click.get_binary_stream("stdout").write(content)
    else:
        output.write_bytes(content)
        click.echo(f"wrote {output} ({len(content)} bytes)", err=True)
