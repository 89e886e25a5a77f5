"""What the kiosk shows: the student's view (rich), or one JSON object per line for machines.

Every event carries ``event`` (``ready``, ``card``, ``asked``, ``approved``, ``step``,
``result``, ``next``); no event ever carries a key.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from sgc_client.protocol.application import Application

if TYPE_CHECKING:
    from reader_tools.kiosk.flow import Result

STEPS = {
    "create": "Creating the application in the slot your institution granted",
    "keys": "Setting the application's keys",
    "files": "Creating its files",
    "check": "Checking the card",
}
OUTCOMES = {
    "completed": ("Done", "bold green"),
    "refused": ("Refused by your home institution", "bold red"),
    "expired": ("The request expired", "bold yellow"),
    "cancelled": ("The request was withdrawn", "bold yellow"),
    "failed": ("Something went wrong", "bold red"),
}
# DESFire counts memory, and so the DAM quota, in blocks of 32 bytes.
BLOCK = 32


class KioskDisplay:
    """Shows each step of the flow to the student, or prints it as a JSON line."""

    def __init__(self, as_json: bool, console: Console | None = None) -> None:
        self.as_json = as_json
        self.console = console or Console(highlight=False, soft_wrap=True)

    def event(self, name: str, **fields: Any) -> None:
        """One JSON line (``--json``)."""
        sys.stdout.write(json.dumps({"event": name, **fields}) + "\n")
        sys.stdout.flush()

    def ready(self, reader: str | None) -> None:
        """Waiting for a card."""
        if self.as_json:
            self.event("ready", reader=reader)
        else:
            self.console.print(
                Panel(
                    "Please place your European Student Card on the reader",
                    title="Welcome",
                    style="bold",
                )
            )

    def card(self, escn: str, uid: str) -> None:
        """A card was read."""
        if self.as_json:
            self.event("card", cardNumber=escn, uid=uid)
        else:
            self.console.print(f"Card [bold]{escn}[/bold] (chip {uid})")

    def asked(
        self, delegation_id: str, host_name: str, application: Application, home: str
    ) -> None:
        """What the host asks, sent to the home; the kiosk now waits for the answer."""
        quota = application.quota_limit
        if self.as_json:
            self.event(
                "asked",
                delegation=delegation_id,
                host=host_name,
                application=application.name,
                description=application.description,
                aid=application.aid,
                quota=quota,
                quotaBytes=quota * BLOCK,
                home=home,
            )
            self.event("waiting", delegation=delegation_id, home=home)
            return
        table = Table(show_header=False, box=None)
        table.add_column(style="bold")
        table.add_column()
        table.add_row("Asked by", host_name)
        table.add_row("Application", f"{application.name} ({application.aid})")
        if application.description:
            table.add_row("", application.description)
        table.add_row("Space on your card", f"{quota} blocks ({quota * BLOCK} bytes)")
        self.console.print(Panel(table, title="Adding an application to your card"))
        self.console.print(
            f"Waiting for your home institution (PIC {home}) to answer... "
            "keep your card on the reader."
        )

    def approved(self, slot_no: int) -> None:
        """The home approved; writing starts."""
        if self.as_json:
            self.event("approved", slotNo=slot_no)
        else:
            self.console.print("[green]Your home institution agreed.[/green] Writing your card...")

    def step(self, name: str) -> None:
        """A step of writing the card."""
        if self.as_json:
            self.event("step", step=name)
        else:
            self.console.print(f"  {STEPS.get(name, name)}")

    def result(self, result: Result) -> None:
        """How the card's visit ended, and why."""
        info = result.info
        if self.as_json:
            document: dict[str, Any] = {
                "outcome": result.outcome,
                "reason": result.reason,
                "delegation": result.delegation_id,
                "cardNumber": result.escn,
            }
            if info is not None:
                document["delegatedInfo"] = {
                    "slotVersion": info.slot_version,
                    "quotaLimit": info.quota_limit,
                    "freeBlocks": info.free_blocks,
                    "aid": info.aid.hex().upper() if info.aid else None,
                }
            self.event("result", **document)
            return
        title, style = OUTCOMES[result.outcome]
        rows = [("Why", result.reason)]
        if info is not None:
            rows += [
                ("Application", info.aid.hex().upper() if info.aid else "none"),
                ("Slot version", str(info.slot_version)),
                ("Quota", f"{info.quota_limit} blocks, {info.free_blocks} free"),
            ]
        if result.delegation_id:
            rows.append(("Reference", result.delegation_id))
        table = Table(show_header=False, box=None)
        table.add_column(style="bold")
        table.add_column()
        for name, value in rows:
            table.add_row(name, value)
        self.console.print(Panel(table, title=title, style=style))

    def next_card(self) -> None:
        """The kiosk waits for the card to be taken away before the next one."""
        if self.as_json:
            self.event("next")
        else:
            self.console.print("You may take your card.")

    def stopped(self) -> None:
        """The kiosk was stopped (Ctrl-C or SIGTERM)."""
        if self.as_json:
            self.event("stopped")
        else:
            self.console.print("Kiosk stopped.")
