"""A router's membership of its federation: its identity, its catalogue, its peers.

One :class:`Membership` per application (``app.extensions["escr.federation"]``). Without
``ESCR_FEDERATION_CATALOGUE_URL`` it is disabled and every lookup costs one attribute test, so a
standalone router does exactly what it did before federation existed. Enabled, the question
"which router hosts this card?" is an in-memory dictionary lookup in the catalogue held.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from router.federation.catalogue import Catalogue, RouterEntry
from router.federation.directory import CatalogueDirectory, federation_folder
from router.federation.identity import RouterIdentity, default_router_id
from router.federation.keys import read_public_keys
from router.federation.peer_client import PeerClient
from router.federation.peer_errors import (
    FederationNotConfigured,
    FederationUnavailable,
    NotHostedHere,
)
from router.federation.settings import FederationSettings
from router.federation.status_cache import StatusCache
from router.federation.wire import PeerCard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FederationPlaces:
    """What membership needs from the router's settings: where it lives and under which URL."""

    instance_path: Path
    public_url: str


class Membership:
    """A router's part in a federation (or its absence)."""

    def __init__(
        self,
        settings: FederationSettings,
        places: FederationPlaces,
        *,
        identity: RouterIdentity | None,
        directory: CatalogueDirectory | None,
        client: PeerClient,
    ) -> None:
        self.settings = settings
        self.places = places
        self.identity = identity
        self.directory = directory
        self.client = client
        self.status_cache: StatusCache[PeerCard] = StatusCache(
            settings.status_cache_seconds, settings.status_cache_entries
        )
        self.router_id = (
            identity.router_id
            if identity is not None
            else settings.router_id or default_router_id(places.public_url)
        )

    @classmethod
    def create(
        cls,
        settings: FederationSettings,
        places: FederationPlaces,
        *,
        transport: httpx.BaseTransport | None = None,
        catalogue_transport: httpx.BaseTransport | None = None,
        wall_clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> Membership:
        """Read the key and the cached catalogue; fail fast on a half-done configuration."""
        identity = RouterIdentity.load(
            settings, instance_path=places.instance_path, public_url=places.public_url
        )
        directory = None
        if settings.enabled:
            if not settings.authority_key:
                raise ValueError(
                    "ESCR_FEDERATION_CATALOGUE_URL is set but ESCR_FEDERATION_AUTHORITY_KEY is "
                    "not: the catalogue cannot be trusted without the authority's public key."
                )
            if identity is None:
                log.warning(
                    "federation: no router key at %s; run `escr-admin router init`. This router "
                    "neither forwards nor answers peers until it has one.",
                    settings.key_path(places.instance_path),
                )
            directory = CatalogueDirectory(
                settings.catalogue_url,
                read_public_keys(settings.authority_key),
                federation_folder(places.instance_path),
                refresh_seconds=settings.refresh_seconds,
                retry_seconds=settings.retry_seconds,
                timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
                clock_skew=dt.timedelta(seconds=settings.clock_skew_seconds),
                allow_insecure=settings.allow_insecure,
                transport=catalogue_transport,
                wall_clock=wall_clock,
            )
            directory.load_cached()
        client = PeerClient(identity, settings, transport=transport, wall_clock=wall_clock)
        return cls(settings, places, identity=identity, directory=directory, client=client)

    def start(self) -> None:
        """Start fetching the catalogue (in the background) as the application starts."""
        if self.directory is not None:
            self.directory.start()

    @property
    def enabled(self) -> bool:
        """True when this router belongs to a federation (a catalogue source is configured)."""
        return self.directory is not None

    def catalogue(self) -> Catalogue | None:
        """The valid catalogue held, if any."""
        return self.directory.current() if self.directory is not None else None

    def host_of_escn(self, escn: str) -> RouterEntry | None:
        """The peer router hosting the card ``escn``, or None when it is this router's.

        Cheap enough for every public lookup: the PIC is the number's last nine characters
        (a malformed number is refused later, before anything is forwarded).
        """
        if self.directory is None:
            return None
        catalogue = self.directory.current()
        if catalogue is None:
            return None
        host = catalogue.host_of(escn.strip()[-9:])
        if host is None or host.id == self.router_id:
            return None
        return host

    def peer_urls(self) -> tuple[str, ...]:
        """The base URLs of the other routers: their cards' QR codes are accepted in scans."""
        catalogue = self.catalogue()
        if catalogue is None:
            return ()
        return tuple(r.base_url for r in catalogue.routers if r.id != self.router_id)

    def blind(self) -> bool:
        """True when this router belongs to a federation but holds no valid catalogue.

        That happens on a first start with the source down, or once the copy held has expired:
        a card unknown here might then be a peer's, and this router cannot tell.
        """
        return self.directory is not None and self.directory.current() is None

    def refuse_if_blind(self) -> None:
        """Raise :class:`FederationUnavailable` rather than call a card unknown while blind."""
        if self.blind():
            raise FederationUnavailable(
                "This card is not registered on this router, and the federation catalogue "
                "that says which router hosts it is not available; try again later."
            )

    def answering_catalogue(self) -> Catalogue:
        """The catalogue to judge a peer's request by; refuses when this router cannot answer."""
        catalogue = self.catalogue()
        if self.identity is None or catalogue is None:
            raise FederationNotConfigured(
                "This router does not answer peers: it has no router key or no valid catalogue."
            )
        return catalogue

    def require_hosted(self, pic: str) -> None:
        """Refuse a peer's question about a card whose issuer the catalogue puts elsewhere."""
        host = self.answering_catalogue().host_of(pic)
        if host is None or host.id != self.router_id:
            raise NotHostedHere(
                f"PIC {pic} is not hosted by router {self.router_id}; a request is never "
                "forwarded twice."
            )
