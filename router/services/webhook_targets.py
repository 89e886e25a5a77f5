"""Where a webhook may be sent: public hosts only, checked by address, connected to as checked.

A callback URL is checked when it is subscribed and again before every delivery: its host is
resolved, and every address it resolves to must be public (not loopback, private, link-local,
shared, multicast, reserved or unspecified, IPv4 forms embedded in IPv6 included). Resolution
settles every notation of an address (``2130706433``, ``0x7f000001``, ``127.1``, ``0177.0.0.1``)
the way the connection itself would read it. The delivery then connects to the address that was
checked, sending the host name in ``Host`` and in TLS's SNI (so the certificate is still checked
against the name): no second lookup can slip another address in between.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from router.domain.errors import InvalidWebhookUrl

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"https": 443, "http": 80}
# NAT64 (RFC 6052) maps IPv4 addresses into this prefix: the IPv4 inside must be public too.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses a connection to that host would use.
Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host`` (numeric forms included)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IpAddress) -> bool:
    """Whether ``address`` is a public unicast address (and so is any IPv4 address inside it)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None and not is_public(inner):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


@dataclass(frozen=True)
class WebhookTarget:
    """A checked callback: the URL as subscribed and the address to connect to."""

    parts: SplitResult
    host: str
    port: int
    address: str

    @property
    def connect_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        literal = f"[{self.address}]" if ":" in self.address else self.address
        default = self.port == DEFAULT_PORTS[self.parts.scheme]
        netloc = literal if default else f"{literal}:{self.port}"
        return urlunsplit(self.parts._replace(netloc=netloc))

    @property
    def host_header(self) -> str:
        """The ``Host`` header the receiver expects: the name of the subscribed URL."""
        return self.parts.netloc


def parse_url(url: str, *, allow_insecure: bool = False) -> SplitResult:
    """Check the form of a callback URL: absolute https:// (http:// in insecure mode), a host."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ord(c) < 0x21 or c == "\x7f" for c in url):
        raise InvalidWebhookUrl("A webhook URL cannot contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a malformed port raises here)
    except ValueError as exc:
        raise InvalidWebhookUrl(f"{url!r} is not a valid URL.") from exc
    allowed = ("https", "http") if allow_insecure else ("https",)
    if parts.scheme not in allowed:
        raise InvalidWebhookUrl("A webhook URL must use https://.")
    if not parts.hostname:
        raise InvalidWebhookUrl(f"{url!r} has no host.")
    if parts.port == 0:
        # Nothing listens on port 0 (and 0 is falsy, so it would read as the default port).
        raise InvalidWebhookUrl(f"{url!r}: port 0 is no port a receiver listens on.")
    if parts.username or parts.password:
        raise InvalidWebhookUrl("A webhook URL cannot carry credentials; the signature proves us.")
    return parts


def resolve_target(
    url: str, *, allow_insecure: bool = False, resolver: Resolver = system_resolver
) -> WebhookTarget:
    """Resolve a callback URL's host and check every address; the first one is connected to."""
    parts = parse_url(url, allow_insecure=allow_insecure)
    host = (parts.hostname or "").rstrip(".")
    port = DEFAULT_PORTS[parts.scheme] if parts.port is None else parts.port
    if not allow_insecure and (host == "localhost" or host.endswith(".localhost")):
        raise InvalidWebhookUrl(f"{host} names this machine; webhooks go to public hosts.")
    try:
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver(host, port)]
    except (OSError, UnicodeError, ValueError) as exc:
        raise InvalidWebhookUrl(f"The host {host} cannot be resolved.") from exc
    if not addresses:
        raise InvalidWebhookUrl(f"The host {host} cannot be resolved.")
    if not allow_insecure:
        internal = sorted({str(a) for a in addresses if not is_public(a)})
        if internal:
            raise InvalidWebhookUrl(
                f"{host} resolves to {', '.join(internal)}: a loopback, private, link-local, "
                "shared, multicast or reserved address; webhooks go to public hosts."
            )
    return WebhookTarget(parts=parts, host=host, port=port, address=str(addresses[0]))
