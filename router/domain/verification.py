"""What a partner scanned, and what the card's state means for them: pure rules, no I/O.

A scan is whatever a reader produced: the URL of the card's QR code (ours, under the configured
public URL, or the real router's short forms), or a bare card number. This module turns it into an
ESCN or a precise error, and maps a card's lifecycle state to the verdict a partner is told.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Sequence
from urllib.parse import SplitResult, urlsplit

from router.domain.errors import (
    ForeignRouterCard,
    InvalidIdentifier,
    MalformedVerificationUrl,
    NotAnEscn,
    UnreadableScan,
)
from router.domain.escn import Escn, parse_escn
from router.domain.lifecycle import CardState

MAX_SCAN_LENGTH = 2048
# The real router's QR codes (see the shared reference): its hosts put the ESCN right after "/".
REAL_ROUTER_HOSTS = frozenset({"esc.gg", "pp.esc.gg", "s.esc-r.eu"})
_UUID_LIKE = re.compile(r"^[0-9a-f]{8}(?:-?[0-9a-f]{4}){3}-?[0-9a-f]{12}$", re.IGNORECASE)
# "host.tld/path" without a scheme, as some readers strip it.
_SCHEMELESS_URL = re.compile(r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?::\d+)?/")


class VerdictReason(enum.StrEnum):
    """Why a card does not verify as valid."""

    UNKNOWN = "UNKNOWN"
    INACTIVE = "INACTIVE"
    LOST = "LOST"
    STOLEN = "STOLEN"
    SUSPENDED = "SUSPENDED"
    EXPIRED = "EXPIRED"
    RENEWED = "RENEWED"
    DESTROYED = "DESTROYED"


_STATE_REASONS = {
    CardState.INACTIVE: VerdictReason.INACTIVE,
    CardState.SUSPENDED: VerdictReason.SUSPENDED,
    CardState.LOST: VerdictReason.LOST,
    CardState.STOLEN: VerdictReason.STOLEN,
    CardState.RENEWED: VerdictReason.RENEWED,
    CardState.DESTROYED: VerdictReason.DESTROYED,
}


def verdict_reason(state: CardState, expires_at: dt.date, today: dt.date) -> VerdictReason | None:
    """None for a valid card, else why not.

    A state reason (lost, stolen...) wins over expiry: a stolen card that has also expired is
    reported stolen, which is what a partner holding it needs to know.
    """
    if state is not CardState.ACTIVE:
        return _STATE_REASONS[state]
    if expires_at < today:
        return VerdictReason.EXPIRED
    return None


def _escn_in(text: str, where: str) -> Escn:
    try:
        return parse_escn(text)
    except InvalidIdentifier as error:
        if _UUID_LIKE.match(text):
            raise NotAnEscn(f"{where}: {error.message}") from error
        raise MalformedVerificationUrl(
            f"{where}: {text!r} is not a card number; a verification URL ends with the card's ESCN."
        ) from error


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as error:
        raise MalformedVerificationUrl(f"{url!r} is not a valid URL: {error}.") from error
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise MalformedVerificationUrl(
            f"{url!r} is not a verification URL: expected http(s)://host/cards/<card number>."
        )
    return parts


def _host(parts: SplitResult) -> str:
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def _under(parts: SplitResult, base: str) -> str | None:
    """The path of ``parts`` below the router base URL ``base``, or None if not under it."""
    own = _split(base)
    base_path = own.path.rstrip("/")
    path = parts.path
    if _host(parts) != _host(own) or not (path == base_path or path.startswith(base_path + "/")):
        return None
    return path[len(base_path) :]


def _escn_of_url(url: str, public_url: str | None, peer_urls: Sequence[str] = ()) -> Escn:
    parts = _split(url)
    host, path = _host(parts), parts.path
    if (parts.hostname or "").lower() in REAL_ROUTER_HOSTS:
        return _escn_in(path.strip("/"), "the real router's URL")
    if public_url is not None:
        relative = next(
            (p for p in (_under(parts, b) for b in (public_url, *peer_urls)) if p is not None),
            None,
        )
        if relative is None:
            raise ForeignRouterCard(
                f"{url!r} points at {host}, not at this router ({_host(_split(public_url))}) nor "
                "at a router of its federation; ask that router, or the card's institution, "
                "about this card."
            )
        path = relative
    segments = [s for s in path.split("/") if s]
    if len(segments) != 2 or segments[0] != "cards":
        raise MalformedVerificationUrl(
            f"{url!r} is not a card's verification URL: expected …/cards/<card number>."
        )
    return _escn_in(segments[1], "the verification URL")


def parse_scan(scanned: str, public_url: str | None = None, peer_urls: Sequence[str] = ()) -> Escn:
    """The ESCN a scan designates, or a 4xx error saying what is wrong with it.

    ``public_url`` is this router's public base: a URL under another host is a card of another
    router, unless that host is one of ``peer_urls``, the base URLs of the other routers of its
    federation. Without ``public_url``, any host's ``…/cards/<ESCN>`` URL is read.
    """
    if not isinstance(scanned, str) or not scanned.strip():
        raise UnreadableScan("Nothing was scanned: send the QR code's text or the card number.")
    text = scanned.strip()
    if len(text) > MAX_SCAN_LENGTH:
        raise UnreadableScan(f"A scan is at most {MAX_SCAN_LENGTH} characters.")
    if _SCHEMELESS_URL.match(text):
        text = f"https://{text}"
    if "://" in text:
        return _escn_of_url(text, public_url, peer_urls)
    if text.lower().startswith("urn:uuid:"):
        text = text[len("urn:uuid:") :]
    if _UUID_LIKE.match(text):
        if "-" not in text:
            text = f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
        try:
            return parse_escn(text)
        except InvalidIdentifier as error:
            raise NotAnEscn(error.message) from error
    raise UnreadableScan("The scan is neither a card number (ESCN) nor a card's verification URL.")
