"""``escr-reader simulate``: a simulated DESFire EV2 card in vpcd's virtual reader."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reader_tools.command_context import Failed
from reader_tools.simulator.card import SimulatedCard
from reader_tools.simulator.state import CardState
from reader_tools.simulator.vpcd import VirtualCard, VpcdUnavailable


@click.command()
@click.option(
    "--state",
    "state_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The card's state (JSON); created blank if missing, saved after every command.",
)
@click.option("--uid", help="UID of a new blank card (hex, 7 bytes; default random).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=35963, show_default=True, help="vpcd's port.")
def simulate(state_file: Path, uid: str | None, host: str, port: int) -> None:
    """Put a simulated DESFire EV2 card in vpcd's virtual reader until interrupted."""
    if state_file.exists():
        state = CardState.load(state_file)
    else:
        state = CardState.blank(bytes.fromhex(uid) if uid else None)
        state.save(state_file)
    card = SimulatedCard(state)
    virtual = VirtualCard(
        card, host=host, port=port, on_exchange=lambda c: c.state.save(state_file)
    )
    stop = threading.Event()
    handler: Callable[[int, Any], None] = lambda _signum, _frame: stop.set()  # noqa: E731
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    try:
        virtual.insert()
    except VpcdUnavailable as error:
        raise Failed(str(error)) from error
    click.echo(f"card {state.uid.hex().upper()} in the virtual reader ({host}:{port})", err=True)
    while not stop.is_set() and virtual.inserted:
        stop.wait(0.2)
    virtual.remove()
    state.save(state_file)
