"""The catalogue a router holds: fetched, verified, cached on disk, refreshed in the background.

The catalogue is fetched from ``ESCR_FEDERATION_CATALOGUE_URL`` with ``If-None-Match`` and
``If-Modified-Since``, verified against the authority's public key, and adopted only if it is at
least as new as the copy held (no rollback). It is kept in memory, for lookups that cost a dict
access on every request, and on disk in the instance folder, so that a restart while the source is
down starts from the last valid copy. A failed fetch keeps the copy held until its ``validUntil``.

Refreshes never block a request: when one is due, :meth:`CatalogueDirectory.current` starts it on
a background thread and answers with the copy held. Each gunicorn worker refreshes on its own.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from router.federation.catalogue import (
    MAX_DOCUMENT_BYTES,
    Catalogue,
    check_succession,
    verify_catalogue,
)
from router.federation.keys import PublicKey
from router.federation.peer_errors import InvalidCatalogue

log = logging.getLogger(__name__)

CACHE_FILE = "catalogue-cache.json"
CACHE_META_FILE = "catalogue-cache.meta.json"
PUBLISHED_FILE = "published-catalogue.json"


def federation_folder(instance_path: Path) -> Path:
    """Where a router keeps its catalogue cache and the catalogue it publishes."""
    return instance_path / "federation"


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


@dataclass(frozen=True)
class RefreshOutcome:
    """What one fetch did: ``updated``, ``unchanged`` (304 or same serial) or ``failed``."""

    result: str
    detail: str = ""


class CatalogueDirectory:
    """The catalogue held by this process, with its refresh schedule."""

    def __init__(
        self,
        source_url: str,
        authority_keys: Sequence[PublicKey],
        cache_folder: Path,
        *,
        refresh_seconds: float = 900.0,
        retry_seconds: float = 30.0,
        timeout: httpx.Timeout | None = None,
        clock_skew: dt.timedelta = dt.timedelta(minutes=5),
        allow_insecure: bool = False,
        transport: httpx.BaseTransport | None = None,
        auto_refresh: bool = True,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.source_url = source_url
        self.authority_keys = tuple(authority_keys)
        self.cache_folder = cache_folder
        self.refresh_seconds = refresh_seconds
        self.retry_seconds = retry_seconds
        self.timeout = timeout or httpx.Timeout(5.0)
        self.clock_skew = clock_skew
        self.allow_insecure = allow_insecure
        self._transport = transport
        self.auto_refresh = auto_refresh
        self._clock = clock
        self._wall_clock = wall_clock
        self._catalogue: Catalogue | None = None
        # The monotonic time past which the held copy is expired (checked on every lookup).
        self._valid_until = 0.0
        self._etag: str | None = None
        self._last_modified: str | None = None
        self._next_attempt = 0.0
        self._next_disk_check = 0.0
        self.last_checked: dt.datetime | None = None
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._refreshing_in: int | None = None

    # -- lookups (hot path) -------------------------------------------------------------------

    def current(self) -> Catalogue | None:
        """The valid catalogue held, starting a background refresh when one is due."""
        now = self._clock()
        if now >= self._next_attempt and self.auto_refresh:
            self._start_background_refresh()
        if now < self._valid_until:
            return self._catalogue
        if self._catalogue is None and now >= self._next_disk_check:
            # Holding nothing yet (a worker just started): a sibling worker may have saved one.
            self._next_disk_check = now + 1.0
            self.load_cached()
            if self._clock() < self._valid_until:
                return self._catalogue
        return None

    def start(self) -> None:
        """Fetch the catalogue now, in the background (at start-up, so workers are ready)."""
        if self.auto_refresh:
            self._start_background_refresh()

    # -- adoption ---------------------------------------------------------------------------------

    def _verify(self, document: bytes) -> Catalogue:
        return verify_catalogue(
            document,
            self.authority_keys,
            now=self._wall_clock(),
            clock_skew=self.clock_skew,
            allow_insecure=self.allow_insecure,
        )

    def _adopt(self, catalogue: Catalogue) -> bool:
        """Hold ``catalogue`` if it may follow the held one; True when it changed anything."""
        with self._lock:
            check_succession(self._catalogue, catalogue)
            changed = self._catalogue is None or catalogue.serial != self._catalogue.serial
            left = (catalogue.valid_until - self._wall_clock()).total_seconds()
            self._catalogue = catalogue
            self._valid_until = self._clock() + left
        return changed

    def adopt_document(self, document: bytes) -> Catalogue:
        """Verify a signed document and hold it (an operator's or a test's direct install)."""
        catalogue = self._verify(document)
        self._adopt(catalogue)
        return catalogue

    def load_cached(self) -> bool:
        """Start from the copy saved on disk by an earlier run, if it still verifies."""
        path = self.cache_folder / CACHE_FILE
        try:
            document = path.read_bytes()
        except OSError:
            return False
        try:
            self._adopt(self._verify(document))
        except InvalidCatalogue as error:
            log.warning("federation: the cached catalogue is not usable: %s", error.message)
            return False
        try:
            meta = json.loads((self.cache_folder / CACHE_META_FILE).read_text())
            self._etag, self._last_modified = meta.get("etag"), meta.get("lastModified")
        except (OSError, ValueError, AttributeError):
            self._etag = self._last_modified = None
        return True

    def _save(self, document: bytes) -> None:
        try:
            write_atomically(self.cache_folder / CACHE_FILE, document)
            meta = {"etag": self._etag, "lastModified": self._last_modified}
            write_atomically(self.cache_folder / CACHE_META_FILE, json.dumps(meta).encode())
        except OSError as error:
            log.warning("federation: cannot save the catalogue cache: %s", error)

    # -- fetching ---------------------------------------------------------------------------------

    def _conditional_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/jose+json, application/json"}
        if self._catalogue is not None:
            if self._etag:
                headers["If-None-Match"] = self._etag
            if self._last_modified:
                headers["If-Modified-Since"] = self._last_modified
        return headers

    def _download(self) -> tuple[httpx.Headers, bytes] | None:
        """The source's headers and document (None for 304); raises on errors and oversize."""
        with (
            httpx.Client(timeout=self.timeout, transport=self._transport) as http,
            http.stream("GET", self.source_url, headers=self._conditional_headers()) as answer,
        ):
            if answer.status_code == 304:
                return None
            answer.raise_for_status()
            body = bytearray()
            for chunk in answer.iter_bytes():
                body.extend(chunk)
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise InvalidCatalogue("The catalogue source sent an oversized document.")
            return answer.headers, bytes(body)

    def refresh(self) -> RefreshOutcome:
        """Fetch the catalogue now; keep the copy held whatever goes wrong."""
        try:
            answer = self._download()
            if answer is None:
                outcome = RefreshOutcome("unchanged", "not modified")
            else:
                headers, document = answer
                catalogue = self._verify(document)
                etag, modified = headers.get("ETag"), headers.get("Last-Modified")
                changed = self._adopt(catalogue)
                self._etag, self._last_modified = etag, modified
                self._save(document)
                outcome = RefreshOutcome(
                    "updated" if changed else "unchanged", f"serial {catalogue.serial}"
                )
        except (httpx.HTTPError, InvalidCatalogue) as error:
            # Shown on the public identity page: the kind of failure, not internal details.
            detail = (
                error.message
                if isinstance(error, InvalidCatalogue)
                else f"{type(error).__name__} from the catalogue source"
            )
            log.warning("federation: catalogue refresh from %s failed: %r", self.source_url, error)
            self.last_error = detail
            self._next_attempt = self._clock() + self.retry_seconds
            return RefreshOutcome("failed", detail)
        self.last_error = None
        self.last_checked = self._wall_clock()
        self._next_attempt = self._clock() + self.refresh_seconds
        return outcome

    def _start_background_refresh(self) -> None:
        pid = os.getpid()
        with self._lock:
            # A refresh running in this process is enough; a flag inherited through fork is not.
            if self._refreshing_in == pid:
                return
            self._refreshing_in = pid
            # Until this attempt ends, lookups must not start another one.
            self._next_attempt = self._clock() + self.retry_seconds

        def run() -> None:
            try:
                self.refresh()
            finally:
                with self._lock:
                    self._refreshing_in = None

        threading.Thread(target=run, name="escr-catalogue-refresh", daemon=True).start()
