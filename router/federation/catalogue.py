"""The federation catalogue: which routers exist, where, with which keys, hosting which PICs.

Pure rules, no I/O. The catalogue is one JSON document signed by the federation authority as a
flattened JWS (RFC 7515 JSON serialisation, ``alg`` Ed25519); its payload::

    {"format": "escr-federation-catalogue/1", "serial": 7,
     "issuedAt": "2026-11-25T10:00:00Z", "validUntil": "2026-12-25T10:00:00Z",
     "routers": [{"id": "router-a", "baseUrl": "https://a.example",
                  "keys": [{"kid": "<RFC 7638 thumbprint>", "jwk": {"kty": "OKP", ...}}],
                  "pics": ["999999999"]}]}

A catalogue is trusted only when the authority's key signed it, it is within its validity, and it
obeys the rules: router ids, base URLs, key ids and PICs each appear once (one router per PIC),
every ``kid`` is its key's thumbprint, no private key material. A newer catalogue must carry a
higher serial: an attacker replaying an older signed one (still listing a removed router) is
refused.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from router.domain.errors import InvalidIdentifier
from router.domain.escn import validate_pic
from router.domain.text import parse_timestamp, read_json
from router.federation.keys import KeyFileError, PublicKey, public_key_from_jwk, public_key_of
from router.federation.peer_errors import CatalogueExpired, CatalogueRollback, InvalidCatalogue

FORMAT = "escr-federation-catalogue/1"
JWS_TYPE = "escr-catalogue+jws"
ALGORITHMS = ["Ed25519"]
ROUTER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class RouterEntry:
    """One router of the federation, as the catalogue lists it."""

    id: str
    base_url: str
    keys: tuple[PublicKey, ...]
    pics: frozenset[str]

    @property
    def kids(self) -> frozenset[str]:
        """The ids of the router's keys."""
        return frozenset(k.kid for k in self.keys)

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (which starts with ``/``) on this router."""
        return self.base_url.rstrip("/") + path

    def as_json(self) -> dict[str, Any]:
        """The entry as the catalogue's payload writes it."""
        return {
            "id": self.id,
            "baseUrl": self.base_url,
            "keys": [{"kid": k.kid, "jwk": dict(k.jwk)} for k in self.keys],
            "pics": sorted(self.pics),
        }


@dataclass(frozen=True)
class Catalogue:
    """A verified catalogue, indexed for in-memory lookups on every request."""

    serial: int
    issued_at: dt.datetime
    valid_until: dt.datetime
    routers: tuple[RouterEntry, ...]
    # The signed document as fetched: what a router caches and serves on.
    document: bytes = field(repr=False, compare=False)
    _by_pic: dict[str, RouterEntry] = field(init=False, repr=False, compare=False)
    _by_id: dict[str, RouterEntry] = field(init=False, repr=False, compare=False)
    _by_kid: dict[str, tuple[RouterEntry, PublicKey]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_pic", {p: r for r in self.routers for p in r.pics})
        object.__setattr__(self, "_by_id", {r.id: r for r in self.routers})
        object.__setattr__(self, "_by_kid", {k.kid: (r, k) for r in self.routers for k in r.keys})

    def host_of(self, pic: str) -> RouterEntry | None:
        """The router hosting ``pic``, if the catalogue names one."""
        return self._by_pic.get(pic)

    def router(self, router_id: str) -> RouterEntry | None:
        """The router with this id."""
        return self._by_id.get(router_id)

    def key(self, kid: str) -> tuple[RouterEntry, PublicKey] | None:
        """The router holding the key ``kid``, and the key."""
        return self._by_kid.get(kid)

    def expired(self, now: dt.datetime) -> bool:
        """True once the catalogue may no longer be trusted."""
        return now > self.valid_until


def _fail(message: str) -> InvalidCatalogue:
    return InvalidCatalogue(f"Invalid federation catalogue: {message}")


def parse_time(value: Any, name: str) -> dt.datetime:
    """An RFC 3339 timestamp with an explicit zone."""
    if not isinstance(value, str):
        raise _fail(f"{name} must be an RFC 3339 timestamp")
    try:
        return parse_timestamp(value)
    except ValueError as error:
        raise _fail(f"{name} {error}: {value!r}") from error


def format_time(value: dt.datetime) -> str:
    """An aware timestamp as RFC 3339 in UTC, to the second."""
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def check_base_url(url: Any, *, allow_insecure: bool) -> str:
    """A router's base URL: absolute, https (http only when allowed), no query or fragment."""
    if not isinstance(url, str) or len(url) > 2048:
        raise _fail("a baseUrl must be a URL")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as error:
        raise _fail(f"baseUrl {url!r} is not a valid URL") from error
    allowed = {"https", "http"} if allow_insecure else {"https"}
    if parts.scheme not in allowed or not parts.hostname:
        raise _fail(f"baseUrl {url!r} must be an absolute {' or '.join(sorted(allowed))} URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise _fail(f"baseUrl {url!r} must have no credentials, query or fragment")
    return url.rstrip("/")


def _keys(entry_id: str, raw: Any) -> tuple[PublicKey, ...]:
    if not isinstance(raw, list) or not raw:
        raise _fail(f"router {entry_id} needs at least one key")
    keys = []
    for item in raw:
        if not isinstance(item, Mapping) or not isinstance(item.get("kid"), str):
            raise _fail(f"router {entry_id}: a key is {{kid, jwk}}")
        try:
            key = public_key_from_jwk(item.get("jwk"))  # type: ignore[arg-type]
        except KeyFileError as error:
            raise _fail(f"router {entry_id}: {error}") from error
        if key.kid != item["kid"]:
            raise _fail(f"router {entry_id}: kid {item['kid']} is not its key's thumbprint")
        keys.append(key)
    return tuple(keys)


def _pics(entry_id: str, raw: Any) -> frozenset[str]:
    if not isinstance(raw, list):
        raise _fail(f"router {entry_id}: pics is a list")
    try:
        pics = [validate_pic(p) for p in raw]
    except InvalidIdentifier as error:
        raise _fail(f"router {entry_id}: {error.message}") from error
    if len(set(pics)) != len(pics):
        raise _fail(f"router {entry_id} lists a PIC twice")
    return frozenset(pics)


def parse_router(raw: Any, *, allow_insecure: bool) -> RouterEntry:
    """One router entry of a payload, checked."""
    if not isinstance(raw, Mapping):
        raise _fail("a router entry is a JSON object")
    router_id = raw.get("id")
    if not isinstance(router_id, str) or not ROUTER_ID.match(router_id):
        raise _fail(f"router id {router_id!r} must match {ROUTER_ID.pattern}")
    return RouterEntry(
        id=router_id,
        base_url=check_base_url(raw.get("baseUrl"), allow_insecure=allow_insecure),
        keys=_keys(router_id, raw.get("keys")),
        pics=_pics(router_id, raw.get("pics", [])),
    )


def check_unique(routers: Sequence[RouterEntry]) -> None:
    """Ids, base URLs, key ids and PICs each belong to one router only."""
    owners: dict[tuple[str, str], int] = {}
    for index, router in enumerate(routers):
        claims = [
            ("id", router.id),
            ("baseUrl", router.base_url.lower()),
            *(("kid", kid) for kid in sorted(router.kids)),
            *(("PIC", pic) for pic in sorted(router.pics)),
        ]
        for claim in claims:
            owner = owners.setdefault(claim, index)
            if owner != index:
                raise _fail(
                    f"{claim[0]} {claim[1]} is claimed by {routers[owner].id} and by {router.id}"
                )


def parse_routers(raw: Any, *, allow_insecure: bool) -> tuple[RouterEntry, ...]:
    """The router list of a payload (or of the authority's draft), checked."""
    if not isinstance(raw, list):
        raise _fail("routers is a list")
    routers = tuple(parse_router(r, allow_insecure=allow_insecure) for r in raw)
    check_unique(routers)
    return routers


def parse_payload(payload: bytes, document: bytes, *, allow_insecure: bool) -> Catalogue:
    """The catalogue a verified payload describes, or :class:`InvalidCatalogue`."""
    try:
        data = read_json(payload)
    except json.JSONDecodeError as error:
        raise _fail("the payload is not JSON") from error
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _fail(f"the payload's format is not {FORMAT}")
    serial = data.get("serial")
    if not isinstance(serial, int) or isinstance(serial, bool) or serial < 1:
        raise _fail("serial must be a positive integer")
    issued_at = parse_time(data.get("issuedAt"), "issuedAt")
    valid_until = parse_time(data.get("validUntil"), "validUntil")
    if valid_until <= issued_at:
        raise _fail("validUntil must come after issuedAt")
    return Catalogue(
        serial=serial,
        issued_at=issued_at,
        valid_until=valid_until,
        routers=parse_routers(data.get("routers"), allow_insecure=allow_insecure),
        document=document,
    )


def verify_catalogue(
    document: bytes,
    authority_keys: Iterable[PublicKey],
    *,
    now: dt.datetime,
    clock_skew: dt.timedelta = dt.timedelta(minutes=5),
    allow_insecure: bool = False,
) -> Catalogue:
    """Check a fetched document's signature, rules and validity; return the catalogue."""
    if len(document) > MAX_DOCUMENT_BYTES:
        raise _fail("the document is too large")
    try:
        # Read before its signature is checked: whoever serves the URL chooses these bytes.
        envelope = read_json(document)
    except json.JSONDecodeError as error:
        raise _fail("the document is not JSON") from error
    if not isinstance(envelope, dict) or set(envelope) != {"protected", "payload", "signature"}:
        raise _fail("the document is not a flattened JWS (protected, payload, signature)")
    keys = {k.kid: k for k in authority_keys}
    unknown_authority = _fail("it is not signed by the configured authority key")

    def authority_key(member: Any) -> OKPKey:
        header = member.headers()
        if header.get("typ") != JWS_TYPE:
            raise _fail(f"the JWS typ is not {JWS_TYPE}")
        found = keys.get(header.get("kid", ""))
        if found is None:
            raise unknown_authority
        return OKPKey.import_key(dict(found.jwk))

    try:
        verified = jws.deserialize_json(
            envelope,  # type: ignore[arg-type]
            authority_key,
            algorithms=ALGORITHMS,
        )
    except InvalidCatalogue:
        raise
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise _fail("the authority's signature does not verify") from error
    catalogue = parse_payload(verified.payload, document, allow_insecure=allow_insecure)
    if catalogue.issued_at > now + clock_skew:
        raise _fail("it was issued in the future")
    if catalogue.expired(now):
        raise CatalogueExpired(
            f"The federation catalogue {catalogue.serial} expired at "
            f"{format_time(catalogue.valid_until)}."
        )
    return catalogue


def check_succession(held: Catalogue | None, fetched: Catalogue) -> None:
    """A fetched catalogue may replace the held one only if it is newer, or the very same."""
    if held is None:
        return
    if fetched.serial < held.serial:
        raise CatalogueRollback(
            f"Catalogue {fetched.serial} is older than the one held ({held.serial})."
        )
    if fetched.serial == held.serial and fetched.routers != held.routers:
        raise CatalogueRollback(
            f"Catalogue {fetched.serial} differs from the one held under the same serial."
        )


def payload_json(
    routers: Sequence[RouterEntry], *, serial: int, issued_at: dt.datetime, valid_until: dt.datetime
) -> bytes:
    """The payload of a catalogue, as the authority signs it."""
    check_unique(routers)
    return json.dumps(
        {
            "format": FORMAT,
            "serial": serial,
            "issuedAt": format_time(issued_at),
            "validUntil": format_time(valid_until),
            "routers": [r.as_json() for r in sorted(routers, key=lambda r: r.id)],
        },
        indent=2,
        ensure_ascii=True,
    ).encode()


def sign_payload(payload: bytes, authority_key: Ed25519PrivateKey) -> bytes:
    """The signed catalogue document (flattened JWS JSON) of ``payload``."""
    public = public_key_of(authority_key.public_key())
    pem = authority_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signed = jws.serialize_json(
        {"protected": {"alg": "Ed25519", "kid": public.kid, "typ": JWS_TYPE}},
        payload,
        OKPKey.import_key(pem),
        algorithms=ALGORITHMS,
    )
    return json.dumps(signed, indent=2).encode()
