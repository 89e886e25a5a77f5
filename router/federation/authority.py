"""The federation authority's work: a draft list of routers, signed into catalogues, published.

The authority keeps a draft (plain JSON, not secret) of the routers it admits, edits it router by
router, and signs it with its key into the catalogue every router fetches. Each signature takes
the next serial number, so routers can refuse an older catalogue. A router publishes a signed
catalogue by copying it, verified, into its instance folder, from where it serves it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from router.federation.catalogue import (
    Catalogue,
    RouterEntry,
    check_succession,
    check_unique,
    parse_routers,
    payload_json,
    sign_payload,
    verify_catalogue,
)
from router.federation.directory import PUBLISHED_FILE, federation_folder, write_atomically
from router.federation.keys import PublicKey
from router.federation.peer_errors import InvalidCatalogue

DRAFT_FORMAT = "escr-federation-draft/1"


@dataclass(frozen=True)
class Draft:
    """The routers the authority admits, and the serial of its last signed catalogue."""

    routers: tuple[RouterEntry, ...] = ()
    last_serial: int = 0

    def as_json(self) -> bytes:
        """The draft file's content."""
        return json.dumps(
            {
                "format": DRAFT_FORMAT,
                "lastSerial": self.last_serial,
                "routers": [r.as_json() for r in sorted(self.routers, key=lambda r: r.id)],
            },
            indent=2,
        ).encode()


def load_draft(path: Path, *, allow_insecure: bool) -> Draft:
    """The draft at ``path`` (an empty one when the file does not exist yet)."""
    if not path.exists():
        return Draft()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidCatalogue(f"The draft {path} cannot be read: {error}") from error
    if not isinstance(data, dict) or data.get("format") != DRAFT_FORMAT:
        raise InvalidCatalogue(f"{path} is not a federation draft ({DRAFT_FORMAT}).")
    serial = data.get("lastSerial", 0)
    if not isinstance(serial, int) or serial < 0:
        raise InvalidCatalogue(f"{path}: lastSerial must be a non-negative integer.")
    return Draft(
        routers=parse_routers(data.get("routers", []), allow_insecure=allow_insecure),
        last_serial=serial,
    )


def save_draft(path: Path, draft: Draft) -> None:
    """Write the draft (atomically)."""
    write_atomically(path, draft.as_json())


def entry_of_identity(identity: Any, *, allow_insecure: bool) -> RouterEntry:
    """A catalogue entry from a router's identity document (``/api/x/federation/identity``)."""
    if not isinstance(identity, dict):
        raise InvalidCatalogue("A router identity is a JSON object.")
    fields = {k: identity[k] for k in ("id", "baseUrl", "keys", "pics") if k in identity}
    return parse_routers([fields], allow_insecure=allow_insecure)[0]


def add_router(
    draft: Draft, entry: RouterEntry, *, replace_existing: bool, keep_keys: bool
) -> Draft:
    """Admit a router, or (``replace_existing``) update it; ``keep_keys`` adds keys for rotation.

    The rules of the catalogue (one router per PIC, per key, per base URL) are checked at once.
    """
    existing = next((r for r in draft.routers if r.id == entry.id), None)
    if existing is not None and not replace_existing:
        raise InvalidCatalogue(
            f"Router {entry.id} is listed already; use --replace to update its entry."
        )
    if existing is not None and keep_keys:
        kept = tuple(k for k in existing.keys if k.kid not in entry.kids)
        entry = replace(entry, keys=kept + entry.keys)
    routers = (*(r for r in draft.routers if r.id != entry.id), entry)
    return replace(draft, routers=_checked(routers))


def remove_router(draft: Draft, router_id: str) -> Draft:
    """Remove a router from the draft."""
    routers = tuple(r for r in draft.routers if r.id != router_id)
    if len(routers) == len(draft.routers):
        raise InvalidCatalogue(f"Router {router_id} is not in the draft.")
    return replace(draft, routers=routers)


def _checked(routers: tuple[RouterEntry, ...]) -> tuple[RouterEntry, ...]:
    check_unique(routers)
    return routers


def sign_draft(
    draft: Draft, authority_key: Ed25519PrivateKey, *, now: dt.datetime, valid_for: dt.timedelta
) -> tuple[bytes, Draft]:
    """The signed catalogue of the draft, under the next serial; and the draft that records it."""
    if valid_for <= dt.timedelta(0):
        raise InvalidCatalogue("A catalogue must be valid for some time.")
    serial = draft.last_serial + 1
    payload = payload_json(draft.routers, serial=serial, issued_at=now, valid_until=now + valid_for)
    return sign_payload(payload, authority_key), replace(draft, last_serial=serial)


def publish(
    document: bytes,
    instance_path: Path,
    authority_keys: list[PublicKey],
    *,
    now: dt.datetime,
    allow_insecure: bool,
) -> Catalogue:
    """Serve ``document`` from this router, once it verifies and is not older than the last one."""
    catalogue = verify_catalogue(document, authority_keys, now=now, allow_insecure=allow_insecure)
    path = federation_folder(instance_path) / PUBLISHED_FILE
    if path.exists():
        try:
            published = verify_catalogue(
                path.read_bytes(), authority_keys, now=now, allow_insecure=allow_insecure
            )
        except InvalidCatalogue:
            published = None  # expired or unreadable: anything valid may replace it
        check_succession(published, catalogue)
    write_atomically(path, document)
    return catalogue
