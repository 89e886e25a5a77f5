"""The federation's settings, read from ``ESCR_ROUTER_*`` and ``ESCR_FEDERATION_*`` variables.

Nothing is set by default: a router without a catalogue URL is a standalone router, exactly as
before federation existed. Durations are in seconds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

# The file `escr-admin router init` writes in the instance folder unless told another path.
DEFAULT_KEY_FILE = "router-key.pem"


@dataclass(frozen=True)
class FederationSettings:
    """How this router takes part in a federation of routers."""

    # This router's id in the catalogue; empty means the public URL's host[:port].
    router_id: str = ""
    # The router's private signing key (PEM); empty means <instance>/router-key.pem.
    key_file: str = ""
    # Where the signed catalogue is fetched from; empty turns federation off.
    catalogue_url: str = ""
    # The authority's public key: a file (PEM, JWK or JWKS) or an inline JWK/JWKS.
    authority_key: str = ""
    # How often the catalogue is fetched again (EWP advises about 15 minutes).
    refresh_seconds: float = 900.0
    # After a failed fetch with no catalogue held, how soon to try again.
    retry_seconds: float = 30.0
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    # Signatures and Date headers are accepted this far from the local clock, both ways.
    clock_skew_seconds: int = 300
    # A peer's successful public status answer is reused for at most this long (0: never).
    status_cache_seconds: int = 30
    status_cache_entries: int = 10_000
    # Consecutive failures that open a peer's circuit, and how long it then stays open.
    breaker_failures: int = 5
    breaker_open_seconds: float = 30.0
    # Peers' base URLs must be https:// unless this is set (loopback tests only).
    allow_insecure: bool = False

    def __post_init__(self) -> None:
        if self.status_cache_seconds < 0 or self.status_cache_seconds >= 3600:
            raise ValueError("ESCR_FEDERATION_STATUS_CACHE must be between 0 and 3599 seconds.")
        if self.clock_skew_seconds < 1:
            raise ValueError("ESCR_FEDERATION_CLOCK_SKEW must be at least 1 second.")
        if min(self.connect_timeout, self.read_timeout) <= 0:
            raise ValueError("The federation timeouts must be positive.")
        if self.breaker_failures < 1 or self.breaker_open_seconds <= 0:
            raise ValueError("The circuit breaker needs at least 1 failure and a positive pause.")

    @property
    def enabled(self) -> bool:
        """True when a catalogue source is configured."""
        return bool(self.catalogue_url)

    def key_path(self, instance_path: Path) -> Path:
        """The router key's file: the configured one, else the instance folder's."""
        return Path(self.key_file) if self.key_file else instance_path / DEFAULT_KEY_FILE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FederationSettings:
        """Read the settings from ``env`` (the process environment by default)."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        casts = {f.name: f.type for f in fields(cls)}
        for name, key in _VARIABLES.items():
            raw = env.get(key, "").strip()
            if not raw:
                continue
            kind = casts[name]
            if kind == "bool":
                values[name] = raw.lower() in {"1", "true", "yes"}
            elif kind == "int":
                values[name] = int(raw)
            elif kind == "float":
                values[name] = float(raw)
            else:
                values[name] = raw
        return cls(**values)  # type: ignore[arg-type]


_VARIABLES = {
    "router_id": "ESCR_ROUTER_ID",
    "key_file": "ESCR_ROUTER_KEY_FILE",
    "catalogue_url": "ESCR_FEDERATION_CATALOGUE_URL",
    "authority_key": "ESCR_FEDERATION_AUTHORITY_KEY",
    "refresh_seconds": "ESCR_FEDERATION_REFRESH",
    "retry_seconds": "ESCR_FEDERATION_RETRY",
    "connect_timeout": "ESCR_FEDERATION_CONNECT_TIMEOUT",
    "read_timeout": "ESCR_FEDERATION_READ_TIMEOUT",
    "clock_skew_seconds": "ESCR_FEDERATION_CLOCK_SKEW",
    "status_cache_seconds": "ESCR_FEDERATION_STATUS_CACHE",
    "status_cache_entries": "ESCR_FEDERATION_STATUS_CACHE_ENTRIES",
    "breaker_failures": "ESCR_FEDERATION_BREAKER_FAILURES",
    "breaker_open_seconds": "ESCR_FEDERATION_BREAKER_OPEN",
    "allow_insecure": "ESCR_FEDERATION_ALLOW_INSECURE",
}
