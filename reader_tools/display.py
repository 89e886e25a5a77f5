"""How escr-reader shows readers, cards, chip data and verdicts: rich tables, or JSON."""

from __future__ import annotations

import json
from typing import Any

from cryptography import x509
from rich.console import Console
from rich.table import Table

from reader_tools.cdz import ChipData, pic_of_escn
from reader_tools.dam_keys import DamKeysResult
from reader_tools.identify import CardIdentity
from reader_tools.offline import OfflineVerdict, pic_of_certificate
from reader_tools.pcsc import ReaderInfo
from sgc_client import Verdict


class Display:
    """Writes results to the terminal as tables, or as one JSON document with ``--json``."""

    def __init__(self, as_json: bool, console: Console | None = None) -> None:
        self.as_json = as_json
        self.console = console or Console(highlight=False, soft_wrap=True)

    def json(self, document: Any) -> None:
        """Print a JSON document."""
        self.console.out(json.dumps(document, indent=2, default=str), highlight=False)

    def _pairs(self, title: str, rows: list[tuple[str, str]], style: str = "") -> None:
        table = Table(title=title, show_header=False, title_style=style or "bold")
        table.add_column(style="bold")
        table.add_column()
        for name, value in rows:
            table.add_row(name, value)
        self.console.print(table)

    def readers(self, readers: list[ReaderInfo]) -> None:
        """The PC/SC readers."""
        if self.as_json:
            self.json(
                [
                    {
                        "name": r.name,
                        "cardPresent": r.card_present,
                        "atr": r.atr.hex().upper() if r.atr else None,
                    }
                    for r in readers
                ]
            )
            return
        table = Table(title="PC/SC readers")
        for column in ("Reader", "Card", "ATR"):
            table.add_column(column)
        for reader in readers:
            table.add_row(
                reader.name,
                "present" if reader.card_present else "-",
                reader.atr.hex(" ").upper() if reader.atr else "",
            )
        self.console.print(table)

    def card(self, reader: str, identity: CardIdentity) -> None:
        """A presented card."""
        if self.as_json:
            self.json({"reader": reader, **identity.to_json()})
            return
        self._pairs(
            "Card presented",
            [
                ("Reader", reader),
                ("UID / CSN", identity.uid.hex().upper()),
                ("Chip", identity.chip),
                ("Card type", identity.card_type),
                ("ATR", identity.atr.hex(" ").upper()),
            ],
        )

    @staticmethod
    def chip_json(chip: ChipData) -> dict[str, Any]:
        """The chip data zone as JSON."""
        document: dict[str, Any] = {
            "cardNumber": chip.escn,
            "uid": chip.uid.hex().upper(),
            "pic": pic_of_escn(chip.escn),
            "signature": chip.signature.hex().upper(),
            "certificate": None,
        }
        try:
            certificate = x509.load_der_x509_certificate(chip.certificate)
        except ValueError:
            return document
        document["certificate"] = {
            "subject": certificate.subject.rfc4514_string(),
            "issuer": certificate.issuer.rfc4514_string(),
            "serialNumber": f"{certificate.serial_number:X}",
            "pic": pic_of_certificate(certificate),
            "notBefore": certificate.not_valid_before_utc.isoformat(),
            "notAfter": certificate.not_valid_after_utc.isoformat(),
        }
        return document

    def chip(self, chip: ChipData) -> None:
        """The chip data zone of a card."""
        document = self.chip_json(chip)
        if self.as_json:
            self.json(document)
            return
        certificate = document["certificate"] or {}
        self._pairs(
            "Chip data zone (F58840)",
            [
                ("Card number (ESCN)", chip.escn),
                ("Issuer PIC", document["pic"] or "not an ESCN"),
                ("UID", document["uid"]),
                ("Certificate", certificate.get("subject", "unreadable")),
                ("Issued by", certificate.get("issuer", "")),
                ("Serial", certificate.get("serialNumber", "")),
                ("Valid until", certificate.get("notAfter", "")),
                ("Signature", f"{len(chip.signature)} bytes (ECDSA P-256, DER)"),
            ],
        )

    def verdict(self, verdict: Verdict, scanned: str) -> None:
        """The router's verdict on a card."""
        if self.as_json:
            self.json({"scanned": scanned, **verdict.raw})
            return
        issuer = verdict.issuer or {}
        rows = [
            ("Verdict", "VALID" if verdict.valid else f"NOT VALID ({verdict.reason})"),
            ("Card number", verdict.card_number or scanned),
            ("Issuer", f"{issuer.get('name', '')} (PIC {issuer.get('identifier', '?')})"),
            ("Expires", verdict.expires_at or ""),
            ("Checked at", verdict.checked_at),
        ]
        if verdict.display_name:
            rows.insert(3, ("Holder", verdict.display_name))
        self._pairs("Router verification", rows, "bold green" if verdict.valid else "bold red")

    def offline(self, verdict: OfflineVerdict, chain_source: str, keys_proved: bool | None) -> None:
        """An offline verdict."""
        if self.as_json:
            self.json({**verdict.to_json(), "chainSource": chain_source, "keysProved": keys_proved})
            return
        rows = [
            ("Verdict", "GENUINE" if verdict.valid else f"REFUSED ({verdict.reason})"),
            ("Why", verdict.message),
            ("Card number", verdict.escn),
            ("UID", verdict.uid.hex().upper()),
            ("Certificate", verdict.certificate_subject or ""),
            ("Revocation", "checked" if verdict.revocation_checked else "no current list"),
            ("Chain from", chain_source),
        ]
        if keys_proved is not None:
            rows.append(("Keys 1 and 2", "proved" if keys_proved else "NOT proved"))
        self._pairs("Offline verification", rows, "bold green" if verdict.valid else "bold red")

    def dam_keys(self, result: DamKeysResult) -> None:
        """What write-dam-keys did to each DAM key (numbers, versions, outcomes; never a key)."""
        keys = [
            {
                "keyNo": f"0x{k.key_no:02X}",
                "name": k.name,
                "version": k.version,
                "outcome": k.outcome,
                "was": k.was,
            }
            for k in result.keys
        ]
        if self.as_json:
            self.json({"uid": result.uid.hex().upper(), "changed": result.changed, "keys": keys})
            return
        rows = [("UID", result.uid.hex().upper())]
        rows += [
            (
                f"{k['keyNo']} DAM {k['name']}",
                f"{k['outcome']} (version {k['version']}, was {k['was']})",
            )
            for k in keys
        ]
        self._pairs("DAM keys", rows, "bold green")
