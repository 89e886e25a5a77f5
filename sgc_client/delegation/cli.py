"""``escr-sgc keys``, ``dam-keys`` and ``delegations``: the home institution's side on the CLI.

The keys live in a directory only the card system can read (``--keys`` or ``ESCR_SGC_KEYS``);
only their public halves ever go to the router.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click

from sgc_client import errors
from sgc_client.delegation.home import HomeDesk, PassReport
from sgc_client.delegation.keystore import KeyStore, KeyStoreError
from sgc_client.delegation.ledger import Ledger
from sgc_client.delegation.policy import PolicyError, load_policy
from sgc_client.protocol import jose
from sgc_client.protocol.errors import ProtocolError
from sgc_client.webhooks import InvalidSignature, verify_signature

EXIT_SOME_FAILED = 3
LEDGER_NAME = "ledger.sqlite3"

keys_option = click.option(
    "--keys",
    "keys_dir",
    envvar="ESCR_SGC_KEYS",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of your private keys (env ESCR_SGC_KEYS); created with mode 0700.",
)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except errors.ApiError as error:
        raise click.ClickException(f"{error.status} {error.code or ''} {error.message}") from error
    except (errors.RouterClientError, KeyStoreError, PolicyError) as error:
        raise click.ClickException(str(error)) from error
    except ProtocolError as error:
        raise click.ClickException(error.message) from error


def _context(ctx: click.Context) -> Any:
    return ctx.find_root().obj


def _own_pic(context: Any, pic: str | None) -> str:
    return pic or context.client.organisations.me()["identifier"]


# -- keys -----------------------------------------------------------------------------------------


@click.group("keys")
def keys_group() -> None:
    """Your institution's signing and encryption keys (private halves stay here)."""


@keys_group.command("create")
@keys_option
@click.option(
    "--use",
    type=click.Choice(["sig", "enc", "both"]),
    default="both",
    show_default=True,
    help="Create a signing key, an encryption key, or one of each.",
)
@click.option("--alg", type=click.Choice(["ES256", "Ed25519"]), default="ES256", show_default=True)
@click.option("--register", is_flag=True, help="Register the public keys at the router.")
@click.option(
    "--grace",
    "grace_seconds",
    type=click.IntRange(0, 7 * 86400),
    default=3600,
    show_default=True,
    help="With --register, how long a replaced key stays valid (seconds).",
)
@click.pass_context
def keys_create(
    ctx: click.Context, keys_dir: Path, use: str, alg: str, register: bool, grace_seconds: int
) -> None:
    """Generate keys (files of mode 0600), optionally registering their public halves."""
    store = KeyStore(keys_dir)
    uses: list[jose.KeyUse] = ["sig", "enc"] if use == "both" else [use]  # type: ignore[list-item]
    with _errors():
        for key_use in uses:
            previous = store.current_kid(key_use)
            key = store.create(key_use, alg if key_use == "sig" else None)
            click.echo(f"created {key_use} key {key.kid} ({key.alg}) in {keys_dir}")
            if not register:
                continue
            keys = _context(ctx).client.public_keys
            if previous:
                keys.rotate(previous, key.public().jwk, grace_seconds)
                click.echo(f"registered {key.kid}, replacing {previous} ({grace_seconds} s grace)")
            else:
                keys.register(key.public().jwk)
                click.echo(f"registered {key.kid}")


@keys_group.command("export")
@keys_option
@click.option("--use", type=click.Choice(["sig", "enc"]), required=True)
def keys_export(keys_dir: Path, use: jose.KeyUse) -> None:
    """Print the current public key of USE as a JWK (to register or to give to partners)."""
    with _errors():
        click.echo(json.dumps(KeyStore(keys_dir).key(use).public().jwk, indent=2))


@keys_group.command("list")
@click.pass_context
def keys_list(ctx: click.Context) -> None:
    """List your keys as the router holds them."""
    with _errors():
        for key in _context(ctx).client.public_keys.list():
            state = f"revoked {key['revokedAt']}" if key.get("revokedAt") else "active"
            click.echo(f"{key['kid']}\t{key['use']}\t{key['alg']}\t{state}")


@keys_group.command("revoke")
@click.argument("kid")
@click.option("--reason")
@click.pass_context
def keys_revoke(ctx: click.Context, kid: str, reason: str | None) -> None:
    """Revoke key KID at the router (now)."""
    with _errors():
        _context(ctx).client.public_keys.revoke(kid, reason)
    click.echo(f"revoked {kid}")


@click.group("dam-keys")
def dam_keys_group() -> None:
    """Your DAM base keys, from which each card's DAM keys are diversified."""


@dam_keys_group.command("create")
@keys_option
def dam_keys_create(keys_dir: Path) -> None:
    """Draw the three DAM base keys from the OS random source (once; never overwritten)."""
    with _errors():
        KeyStore(keys_dir).create_dam_base_keys()
    click.echo(f"created the DAM base keys in {keys_dir} (mode 0600): back them up like keys")


# -- delegations ----------------------------------------------------------------------------------


@click.group("delegations")
def delegations_group() -> None:
    """Decide on the delegation requests for your cards."""


def _desk_options(function: Any) -> Any:
    options = [
        keys_option,
        click.option(
            "--policy",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            envvar="ESCR_SGC_POLICY",
            help="Delegation policy (TOML; env ESCR_SGC_POLICY). Without one, all is refused.",
        ),
        click.option(
            "--ledger",
            type=click.Path(dir_okay=False, path_type=Path),
            envvar="ESCR_SGC_LEDGER",
            help=f"Ledger of decisions and DAM slots (default: KEYS/{LEDGER_NAME}).",
        ),
        click.option("--pic", help="Your PIC (default: asked from the router)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@contextmanager
def _desk(
    ctx: click.Context, keys_dir: Path, policy: Path | None, ledger: Path | None, pic: str | None
) -> Iterator[HomeDesk]:
    with _errors():
        context = _context(ctx)
        store = KeyStore(keys_dir)
        book = Ledger(ledger or keys_dir / LEDGER_NAME)
        try:
            yield HomeDesk(context.client, store, _own_pic(context, pic), load_policy(policy), book)
        finally:
            book.close()


def _summary(report: PassReport) -> str:
    return (
        f"approved={report.approved} refused={report.refused} queued={report.queued} "
        f"resent={report.resent} failed={len(report.failures)}"
    )


class _Wake(BaseHTTPRequestHandler):
    """Webhook receiver: a signed ``delegation.*`` event wakes the loop (which then pulls)."""

    secret = ""
    wake: threading.Event

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            verify_signature(self.secret, dict(self.headers), body)
        except InvalidSignature:
            self.send_response(401)
            self.end_headers()
            return
        try:
            event = json.loads(body)
        except ValueError:
            event = {}
        if str(event.get("type", "")).startswith("delegation."):
            self.wake.set()
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the loop reports what it does."""


def _listener(address: str, secret: str, wake: threading.Event) -> ThreadingHTTPServer:
    host, _, port = address.rpartition(":")
    handler = type("Wake", (_Wake,), {"secret": secret, "wake": wake})
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@delegations_group.command("run")
@_desk_options
@click.option("--once", is_flag=True, help="One pass: decide what is pending, then exit.")
@click.option("--interval", type=click.FloatRange(min=0.01), default=2.0, show_default=True)
@click.option(
    "--listen",
    help="Also receive the router's webhooks on HOST:PORT (a delegation event wakes the loop).",
)
@click.option("--webhook-secret", envvar="ESCR_SGC_WEBHOOK_SECRET", help="The webhook's secret.")
@click.pass_context
def delegations_run(
    ctx: click.Context,
    keys_dir: Path,
    policy: Path | None,
    ledger: Path | None,
    pic: str | None,
    once: bool,
    interval: float,
    listen: str | None,
    webhook_secret: str | None,
) -> None:
    """Pull the requests for your cards and answer each by the policy (a loop, or --once)."""
    if listen and not webhook_secret:
        raise click.UsageError("--listen needs --webhook-secret to check what it receives")
    with _desk(ctx, keys_dir, policy, ledger, pic) as desk:
        if once:
            report = desk.run_once()
            for failure in report.failures:
                click.echo(f"failed: {failure}", err=True)
            click.echo(_summary(report))
            if report.failures:
                sys.exit(EXIT_SOME_FAILED)
            return
        stop, wake = threading.Event(), threading.Event()
        server = _listener(listen, webhook_secret or "", wake) if listen else None

        def request_stop(_signum: int, _frame: object) -> None:
            stop.set()
            wake.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        try:
            while not stop.is_set():
                try:
                    report = desk.run_once()
                except errors.RouterClientError as error:
                    click.echo(f"pass failed: {error}", err=True)
                    report = PassReport()
                if report.handled or report.failures or report.resent:
                    click.echo(_summary(report))
                if not report.handled:
                    wake.wait(interval)
                wake.clear()
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()
        click.echo("stopped")


def _ledger_option(function: Any) -> Any:
    function = click.option(
        "--ledger",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="ESCR_SGC_LEDGER",
        help=f"Ledger of decisions and DAM slots (default: KEYS/{LEDGER_NAME}).",
    )(function)
    return keys_option(function)


@delegations_group.command("list")
@_ledger_option
def delegations_list(keys_dir: Path, ledger: Path | None) -> None:
    """List the requests waiting for a person's decision."""
    book = Ledger(ledger or keys_dir / LEDGER_NAME)
    try:
        waiting = book.queued()
    finally:
        book.close()
    for queued in waiting:
        click.echo(f"{queued.request_id}\thost {queued.host}\t{queued.aid}\t{queued.escn}")
    click.echo(f"{len(waiting)} request(s) waiting", err=True)


@delegations_group.command("approve")
@click.argument("request_id")
@_desk_options
@click.pass_context
def delegations_approve(
    ctx: click.Context,
    request_id: str,
    keys_dir: Path,
    policy: Path | None,
    ledger: Path | None,
    pic: str | None,
) -> None:
    """Approve the waiting request REQUEST_ID (computes and signs the card's authorisation)."""
    with _desk(ctx, keys_dir, policy, ledger, pic) as desk:
        if not desk.decide_queued(request_id, approve=True):
            raise click.ClickException(f"{request_id} is not waiting for a decision")
    click.echo(f"approved {request_id}")


@delegations_group.command("refuse")
@click.argument("request_id")
@click.option("--reason", required=True, help="What the host will be told.")
@_desk_options
@click.pass_context
def delegations_refuse(
    ctx: click.Context,
    request_id: str,
    reason: str,
    keys_dir: Path,
    policy: Path | None,
    ledger: Path | None,
    pic: str | None,
) -> None:
    """Refuse the waiting request REQUEST_ID, saying why."""
    with _desk(ctx, keys_dir, policy, ledger, pic) as desk:
        if not desk.decide_queued(request_id, approve=False, reason=reason):
            raise click.ClickException(f"{request_id} is not waiting for a decision")
    click.echo(f"refused {request_id}")


@delegations_group.command("slots")
@click.argument("uid")
@_ledger_option
def delegations_slots(uid: str, keys_dir: Path, ledger: Path | None) -> None:
    """Show the DAM slots card UID has given away (reserved or used)."""
    book = Ledger(ledger or keys_dir / LEDGER_NAME)
    try:
        for slot_no, aid, state in book.slots(uid.strip().upper()):
            click.echo(f"{slot_no}\t{aid}\t{state}")
    finally:
        book.close()
