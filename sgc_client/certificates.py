"""Chip-data-zone certificates: the public files every verifier fetches, and an institution's chain.

The public files (``/certs/files/{pic}/ca-chain.cert.pem``, ``/certs/files/crl.pem``) need no
credential and answer ``304 Not Modified`` to a matching ``If-None-Match``, so a verifier keeping a
copy for offline use asks cheaply. Publishing a chain (*escrouter only*) needs ``keys:manage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sgc_client.resources import Resource

PEM_ACCEPT = "application/x-pem-file, text/plain;q=0.5"
OWN_CHAIN = "/api/x/organisations/me/certificate-chain"


@dataclass(frozen=True)
class PublicFile:
    """A public certificate file and its entity tag."""

    text: str
    etag: str | None


class Certificates(Resource):
    """Certificate chains and revocation lists."""

    def _public(self, path: str, etag: str | None) -> PublicFile | None:
        headers = {"Accept": PEM_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        response = self._client.request("GET", path, headers=headers)
        if response.status_code == 304:
            return None
        return PublicFile(text=response.text, etag=response.headers.get("ETag"))

    def chain(self, pic: str, *, etag: str | None = None) -> PublicFile | None:
        """An institution's published chain (PEM); None if unchanged since ``etag``."""
        return self._public(f"/certs/files/{quote(pic, safe='')}/ca-chain.cert.pem", etag)

    def revocation_lists(self, *, etag: str | None = None) -> PublicFile | None:
        """The revocation lists the router publishes (PEM); None if unchanged since ``etag``."""
        return self._public("/certs/files/crl.pem", etag)

    def publish_chain(self, pem: str) -> dict[str, Any]:
        """Publish (or replace) your organisation's chain, leaf first (*escrouter only*)."""
        return self._client.request("PUT", OWN_CHAIN, json={"chain": pem}).json()

    def own_chain(self) -> dict[str, Any]:
        """The chain your organisation publishes (*escrouter only*)."""
        return self._client.get_json(OWN_CHAIN)

    def withdraw_chain(self) -> None:
        """Stop publishing your organisation's chain (*escrouter only*)."""
        self._client.request("DELETE", OWN_CHAIN)
