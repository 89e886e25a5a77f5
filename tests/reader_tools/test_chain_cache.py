"""The verifier's copy of the router's certificate files: fetched by ETag, kept for offline use."""

from __future__ import annotations

from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization

from reader_tools.chains import ChainCache, certificates_of, revocation_lists_of
from tests.pki import make_institution, make_root, revocation_list

PIC = "999999999"
ROUTER = "https://router.test"


class FakeRouter:
    """The router's public files, as httpx sees them; ``down`` cuts the network."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files, self.down, self.requests = files, False, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("network unreachable", request=request)
        text = self.files.get(request.url.path)
        if text is None:
            return httpx.Response(404, json={"code": "ER-0302", "message": "no chain"})
        etag = f'"{hash(text) & 0xFFFFFFFF:x}"'
        if request.headers.get("If-None-Match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        return httpx.Response(200, text=text, headers={"ETag": etag})


def test_chains_are_fetched_revalidated_kept_and_forgotten(tmp_path: Path) -> None:
    root = make_root()
    chain = make_institution(root, PIC).pem + root.pem
    crl = revocation_list(root, 5).public_bytes(serialization.Encoding.PEM).decode()
    router = FakeRouter(
        {f"/certs/files/{PIC}/ca-chain.cert.pem": chain, "/certs/files/crl.pem": crl}
    )
    cache = ChainCache(tmp_path, ROUTER, transport=httpx.MockTransport(router))

    first = cache.chain(PIC)
    assert (first.text, first.source) == (chain, "router")
    assert len(certificates_of(first)) == 2
    again = cache.chain(PIC)
    assert again.source == "router" and again.text == chain
    assert router.requests[-1].headers["If-None-Match"]  # revalidated, not downloaded again
    lists = cache.revocation_lists()
    assert [
        c.get_revoked_certificate_by_serial_number(5) is not None
        for c in revocation_lists_of(lists)
    ] == [True]

    router.down = True
    offline = cache.chain(PIC)
    assert (offline.text, offline.source) == (chain, "cache")
    assert cache.revocation_lists().source == "cache"

    router.down = False
    del router.files[f"/certs/files/{PIC}/ca-chain.cert.pem"]
    gone = cache.chain(PIC)
    assert (gone.text, gone.source) == ("", "none")
    router.down = True
    assert cache.chain(PIC).source == "none"  # the withdrawn chain is not kept


def test_without_a_router_only_the_copy_is_used(tmp_path: Path) -> None:
    cache = ChainCache(tmp_path, None)
    assert cache.chain(PIC).source == "none"
    assert (
        certificates_of(cache.chain(PIC)) == []
        and revocation_lists_of(cache.revocation_lists()) == []
    )
