"""``escr-reader kiosk --config host.toml``: serve the cards presented to the reader, one by one.

Exit status with ``--once``: 0 when the application is on the card, 1 when it is not because the
home refused, the request expired or was withdrawn, 3 on a failure (card, reader, router, answer),
2 on a configuration error. Without ``--once`` the kiosk serves card after card until stopped
(Ctrl-C or SIGTERM: a request still waiting is withdrawn first).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import click

from reader_tools import pcsc
from reader_tools.command_context import (
    EXIT_FAILED,
    EXIT_NOT_VALID,
    Context,
    failures,
    pass_context,
)
from reader_tools.kiosk.config import ConfigError, FileKeys, KioskConfig, load_config
from reader_tools.kiosk.display import KioskDisplay
from reader_tools.kiosk.flow import Kiosk, Result
from sgc_client import RouterClient


def _stop(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _client(config: KioskConfig) -> RouterClient:
    credentials = config.credentials()
    return RouterClient(
        config.router_url,
        api_key=credentials.api_key,
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        timeout=config.timeouts.router,
    )


@click.command("kiosk")
@click.option(
    "--config",
    "config_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The kiosk's configuration (see deploy/kiosk/host.toml).",
)
@click.option("--once", is_flag=True, help="Serve one card, then exit (for tests and scripts).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, for machines.")
@pass_context
def kiosk(context: Context, config_file: Path, once: bool, as_json: bool) -> None:
    """The host's kiosk: add your application to visiting students' cards (flow A-F)."""
    try:
        config = load_config(config_file)
        keys = FileKeys(config.signing_key_file, config.encryption_key_file)
        # A bad key file stops the kiosk now, not at the first student's card.
        keys.signing_key()
        keys.encryption_key()
        client = _client(config)
    except ConfigError as error:
        raise click.UsageError(str(error)) from error
    display = KioskDisplay(as_json or context.display.as_json)
    reader_name = context.reader_name or config.reader
    signal.signal(signal.SIGTERM, _stop)
    with client:
        try:
            station = Kiosk(config, client, keys, display)
        except ConfigError as error:
            raise click.UsageError(str(error)) from error
        try:
            result = _serve(station, display, reader_name, config, once)
        except KeyboardInterrupt:
            display.stopped()
            return
    if result is not None and not result.completed:
        raise SystemExit(EXIT_FAILED if result.outcome == "failed" else EXIT_NOT_VALID)


def _serve(
    station: Kiosk,
    display: KioskDisplay,
    reader_name: str | None,
    config: KioskConfig,
    once: bool,
) -> Result | None:
    """Card after card (or one with ``once``): the last card's result."""
    with failures(), pcsc.CardWatcher(reader_name) as watcher:
        while True:
            display.ready(reader_name)
            reader = watcher.wait_for_card(config.timeouts.card if once else None)
            if reader is None:
                result = Result(
                    "failed", f"no card was presented within {config.timeouts.card:g} s"
                )
                display.result(result)
                return result
            try:
                with pcsc.connect(reader) as transport:
                    result = station.serve(transport, removed=watcher.wait_for_removal)
            except (pcsc.NoSuchReader, pcsc.CardGone) as error:
                result = Result("failed", f"the card could not be reached: {error}")
                display.result(result)
            if once:
                return result
            display.next_card()
            watcher.wait_for_removal(None)
