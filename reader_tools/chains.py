"""A verifier's copy of the router's public certificate files, for when there is no network.

Each institution's chain and the revocation lists are fetched from the router (conditionally,
with the ETag of the copy kept) and written to a cache directory, one folder per router; when the
router cannot be reached the copy is used. Nothing here is trusted: the chain only offers the
certificates between a card's certificate and the root the verifier pinned.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509

from sgc_client import RouterClient
from sgc_client.certificates import PublicFile
from sgc_client.errors import NotFound, RouterClientError

Fetch = Callable[[str | None], PublicFile | None]


@dataclass(frozen=True)
class CachedFile:
    """Certificate material and where it came from: "router", "cache" or "none"."""

    text: str
    source: str


def default_cache_directory() -> Path:
    """``$XDG_CACHE_HOME/escr-reader`` (``~/.cache/escr-reader``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "escr-reader"


class ChainCache:
    """Chains and revocation lists of one router, kept under ``directory``."""

    def __init__(
        self,
        directory: Path,
        router_url: str | None,
        *,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.router_url = router_url.rstrip("/") if router_url else None
        folder = hashlib.sha256((self.router_url or "offline").encode()).hexdigest()[:16]
        self.directory = directory / folder
        self.timeout = timeout
        self.transport = transport

    def _fetch(self, name: str, fetch: Fetch | None) -> CachedFile:
        text_path = self.directory / f"{name}.pem"
        etag_path = self.directory / f"{name}.etag"
        cached = text_path.read_text() if text_path.exists() else None
        if fetch is not None:
            etag = etag_path.read_text() if cached is not None and etag_path.exists() else None
            try:
                fresh = fetch(etag)
            except NotFound:
                # The router no longer publishes it: forget the copy rather than keep trusting it.
                text_path.unlink(missing_ok=True)
                etag_path.unlink(missing_ok=True)
                return CachedFile("", "none")
            except RouterClientError:
                pass  # no network, or the router is down: the copy will do
            else:
                if fresh is None:  # 304 Not Modified: the copy is current
                    return CachedFile(cached or "", "router")
                self.directory.mkdir(parents=True, exist_ok=True)
                text_path.write_text(fresh.text)
                if fresh.etag:
                    etag_path.write_text(fresh.etag)
                return CachedFile(fresh.text, "router")
        return CachedFile(cached, "cache") if cached is not None else CachedFile("", "none")

    def _client(self) -> RouterClient:
        assert self.router_url is not None
        return RouterClient(
            self.router_url, timeout=self.timeout, retries=0, transport=self.transport
        )

    def chain(self, pic: str) -> CachedFile:
        """The chain published for ``pic`` (fetched if the router answers, else the copy)."""
        if not pic.isdigit():
            raise ValueError("a PIC is nine digits")
        if self.router_url is None:
            return self._fetch(f"chain-{pic}", None)
        with self._client() as client:
            return self._fetch(
                f"chain-{pic}", lambda etag: client.certificates.chain(pic, etag=etag)
            )

    def revocation_lists(self) -> CachedFile:
        """The revocation lists the router publishes (fetched if it answers, else the copy)."""
        if self.router_url is None:
            return self._fetch("crl", None)
        with self._client() as client:
            return self._fetch("crl", lambda etag: client.certificates.revocation_lists(etag=etag))


def certificates_of(material: CachedFile) -> list[x509.Certificate]:
    """The certificates of a cached chain (none if empty or unreadable)."""
    if not material.text:
        return []
    try:
        return x509.load_pem_x509_certificates(material.text.encode("ascii"))
    except ValueError:
        return []


def revocation_lists_of(material: CachedFile) -> list[x509.CertificateRevocationList]:
    """The revocation lists of a cached file (each PEM block parsed on its own)."""
    marker = "-----BEGIN X509 CRL-----"
    lists = []
    for block in material.text.split(marker)[1:]:
        try:
            lists.append(x509.load_pem_x509_crl((marker + block).encode("ascii")))
        except ValueError:
            continue
    return lists
