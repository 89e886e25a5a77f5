"""The router's settings, read once from ``ESCR_*`` environment variables."""

from __future__ import annotations

import functools
import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import limits
import platformdirs
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from router.federation.settings import FederationSettings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SECRET_FILE_NAME = "secret_key"
ERASURE_KEY_INFO = b"escrouter erased-person digest v1"


def default_instance_path() -> Path:
    """The platform's data folder for escrouter, e.g. ``~/.local/share/escrouter`` on Linux.

    Never the current directory: an administrator's command run elsewhere must find the same
    database, or say that it found none.
    """
    return platformdirs.user_data_path("escrouter")


def parse_networks(text: str) -> tuple[Network, ...]:
    """Addresses and ranges separated by commas or spaces, e.g. ``127.0.0.1, 10.0.0.0/8``."""
    try:
        return tuple(
            ipaddress.ip_network(part, strict=False)
            for part in text.replace(",", " ").split()
        )
    except ValueError as error:
        raise ValueError(f"ESCR_METRICS_ALLOW: {error}") from error


def ensure_secret_file(path: Path) -> str:
    """Read the secret kept in ``path``, creating it (random, owner-only) when it is missing.

    The file appears whole or not at all (written aside, then linked in place), so that workers
    starting together all read the one secret the first of them wrote.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process created it first: theirs is the secret
        finally:
            draft.unlink()
    secret = path.read_text(encoding="ascii").strip()
    if not secret:
        raise ValueError(f"{path} is empty; remove it to have a new server secret made.")
    return secret


def derive_key(secret: str, info: bytes) -> bytes:
    """A 32-byte key for one purpose (``info``), derived from the server secret with HKDF."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        secret.encode("utf-8")
    )


@dataclass(frozen=True)
class Settings:
    """Typed configuration; safe defaults run the embedded SQLite mode with nothing set."""

    instance_path: Path = field(default_factory=default_instance_path)
    database_url: str = ""
    public_url: str = "http://127.0.0.1:8080"
    secret_key: str = ""
    token_lifetime_seconds: int = 3600
    default_page_size: int = 10
    max_page_size: int = 1000
    max_escn_per_request: int = 100
    sql_echo: bool = False
    # Anonymous lookups (the public card page, the v2 status) per client address: "N/unit",
    # several separated by ";" (e.g. "60/minute;1000/day").
    public_rate_limit: str = "60/minute"
    # Where the limits are counted (a `limits` storage URI): memory:// in the one process of the
    # embedded set-up; redis://host:6379 for several gunicorn workers or hosts.
    rate_limit_storage: str = "memory://"
    # Prefix of the counters' keys in a shared store (one Redis may serve several routers).
    rate_limit_prefix: str = "escrouter"
    # Reverse proxies in front of the router whose X-Forwarded-* headers are trusted (ProxyFix).
    trusted_proxies: int = 0
    # Who may read /metrics: addresses or ranges; empty means everyone.
    metrics_allow: str = ""
    # PostgreSQL connection pool of each process (SQLAlchemy's QueuePool).
    db_pool_size: int = 5
    db_max_overflow: int = 10
    db_pool_timeout: float = 30.0
    log_level: str = "INFO"
    # Partner verification records older than this are purged (GDPR storage limitation).
    verification_retention_days: int = 90
    # GraphQL limits: deeper, larger or costlier queries are refused before they run.
    graphql_max_depth: int = 10
    graphql_max_aliases: int = 20
    graphql_max_tokens: int = 2000
    graphql_max_cost: int = 5000
    # Webhooks: plain http:// callbacks are for local tests only.
    webhook_allow_insecure: bool = False
    webhook_max_attempts: int = 10
    webhook_backoff_seconds: int = 30
    webhook_max_backoff_seconds: int = 6 * 3600
    webhook_timeout_seconds: float = 10.0
    # Rows of one CSV import or validation: more is refused up front (413), so that a request
    # always finishes, and reports every row, well within a worker's timeout.
    csv_max_rows: int = 2000
    # Peer routers: identity, catalogue, timeouts (ESCR_ROUTER_*, ESCR_FEDERATION_*).
    federation: FederationSettings = field(default_factory=FederationSettings)

    def __post_init__(self) -> None:
        if not self.database_url:
            sqlite_file = self.instance_path / "escrouter.sqlite3"
            object.__setattr__(self, "database_url", f"sqlite:///{sqlite_file}")
        # Fail at start-up, not on the first request.
        _ = self.public_rates, self.metrics_networks
        if self.verification_retention_days < 1:
            raise ValueError("ESCR_VERIFICATION_RETENTION_DAYS must be at least 1.")
        if self.trusted_proxies < 0:
            raise ValueError("ESCR_TRUSTED_PROXIES is a number of proxies, 0 or more.")

    @functools.cached_property
    def server_secret(self) -> str:
        """The server's secret: ``ESCR_SECRET_KEY``, else the instance folder's ``secret_key``.

        The file is created on first need (``escr-admin secret create`` does it ahead); several
        hosts sharing one database must share the secret, so set ``ESCR_SECRET_KEY`` there.
        """
        return self.secret_key or ensure_secret_file(self.secret_file)

    @property
    def secret_file(self) -> Path:
        """Where the server secret is kept when ``ESCR_SECRET_KEY`` is not set."""
        return self.instance_path / SECRET_FILE_NAME

    @functools.cached_property
    def erasure_key(self) -> bytes:
        """The key of the digests kept of erased ESIs, derived from the server secret."""
        return derive_key(self.server_secret, ERASURE_KEY_INFO)

    @functools.cached_property
    def public_rates(self) -> tuple[limits.RateLimitItem, ...]:
        """The parsed limits of anonymous lookups per client address (parsed once)."""
        example = "write e.g. '60/minute', '1000 per hour', '10/30 seconds' or '60/minute;1000/day'"
        try:
            rates = tuple(limits.parse_many(self.public_rate_limit))
        except ValueError:
            raise ValueError(
                f"ESCR_PUBLIC_RATE_LIMIT: {self.public_rate_limit!r} is not a rate limit; "
                f"{example}."
            ) from None
        if not rates or any(rate.amount < 1 for rate in rates):
            raise ValueError(
                f"ESCR_PUBLIC_RATE_LIMIT: {self.public_rate_limit!r}: a limit needs at least one "
                "request per period."
            )
        return rates

    @functools.cached_property
    def metrics_networks(self) -> tuple[Network, ...]:
        """The parsed ranges allowed to read /metrics (empty: everyone)."""
        return parse_networks(self.metrics_allow)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from the environment, then apply explicit ``overrides`` (for tests)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if "ESCR_INSTANCE_PATH" in env:
            values["instance_path"] = Path(env["ESCR_INSTANCE_PATH"])
        for name, key, cast in (
            ("database_url", "ESCR_DATABASE_URL", str),
            ("public_url", "ESCR_PUBLIC_URL", str),
            ("secret_key", "ESCR_SECRET_KEY", str),
            ("token_lifetime_seconds", "ESCR_TOKEN_LIFETIME", int),
            ("default_page_size", "ESCR_DEFAULT_PAGE_SIZE", int),
            ("max_page_size", "ESCR_MAX_PAGE_SIZE", int),
            ("public_rate_limit", "ESCR_PUBLIC_RATE_LIMIT", str),
            ("rate_limit_storage", "ESCR_RATE_LIMIT_STORAGE", str),
            ("rate_limit_prefix", "ESCR_RATE_LIMIT_PREFIX", str),
            ("trusted_proxies", "ESCR_TRUSTED_PROXIES", int),
            ("metrics_allow", "ESCR_METRICS_ALLOW", str),
            ("db_pool_size", "ESCR_DB_POOL_SIZE", int),
            ("db_max_overflow", "ESCR_DB_MAX_OVERFLOW", int),
            ("db_pool_timeout", "ESCR_DB_POOL_TIMEOUT", float),
            ("log_level", "ESCR_LOG_LEVEL", str),
            ("verification_retention_days", "ESCR_VERIFICATION_RETENTION_DAYS", int),
            ("graphql_max_depth", "ESCR_GRAPHQL_MAX_DEPTH", int),
            ("graphql_max_aliases", "ESCR_GRAPHQL_MAX_ALIASES", int),
            ("graphql_max_tokens", "ESCR_GRAPHQL_MAX_TOKENS", int),
            ("graphql_max_cost", "ESCR_GRAPHQL_MAX_COST", int),
            ("webhook_max_attempts", "ESCR_WEBHOOK_MAX_ATTEMPTS", int),
            ("webhook_backoff_seconds", "ESCR_WEBHOOK_BACKOFF", int),
            ("webhook_max_backoff_seconds", "ESCR_WEBHOOK_MAX_BACKOFF", int),
            ("webhook_timeout_seconds", "ESCR_WEBHOOK_TIMEOUT", float),
            ("csv_max_rows", "ESCR_CSV_MAX_ROWS", int),
        ):
            if env.get(key):
                values[name] = cast(env[key])
        for name, key in (
            ("sql_echo", "ESCR_SQL_ECHO"),
            ("webhook_allow_insecure", "ESCR_WEBHOOK_ALLOW_INSECURE"),
        ):
            if env.get(key):
                values[name] = env[key].lower() in {"1", "true", "yes"}
        values["federation"] = FederationSettings.from_env(env)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
