"""The router's settings, read once from ``ESCR_*`` environment variables."""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from router.domain.rate_limit import RateLimit, parse_rate_limit
from router.federation.settings import FederationSettings


def _default_instance_path() -> Path:
    return Path.cwd() / "instance"


@dataclass(frozen=True)
class Settings:
    """Typed configuration; safe defaults run the embedded SQLite mode with nothing set."""

    instance_path: Path = field(default_factory=_default_instance_path)
    database_url: str = ""
    public_url: str = "http://127.0.0.1:8080"
    secret_key: str = ""
    token_lifetime_seconds: int = 3600
    default_page_size: int = 10
    max_page_size: int = 1000
    max_escn_per_request: int = 100
    sql_echo: bool = False
    # Anonymous lookups (the public card page, the v2 status) per client address: "N/unit".
    public_rate_limit: str = "60/minute"
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
    # Peer routers: identity, catalogue, timeouts (ESCR_ROUTER_*, ESCR_FEDERATION_*).
    federation: FederationSettings = field(default_factory=FederationSettings)

    def __post_init__(self) -> None:
        if not self.database_url:
            sqlite_file = self.instance_path / "escrouter.sqlite3"
            object.__setattr__(self, "database_url", f"sqlite:///{sqlite_file}")
        if not self.secret_key:
            object.__setattr__(self, "secret_key", secrets.token_urlsafe(32))
        # Fail at start-up, not on the first anonymous request.
        _ = self.public_rate
        if self.verification_retention_days < 1:
            raise ValueError("ESCR_VERIFICATION_RETENTION_DAYS must be at least 1.")

    @functools.cached_property
    def public_rate(self) -> RateLimit:
        """The parsed limit of anonymous lookups per client address (parsed once)."""
        return parse_rate_limit(self.public_rate_limit)

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
            ("verification_retention_days", "ESCR_VERIFICATION_RETENTION_DAYS", int),
            ("graphql_max_depth", "ESCR_GRAPHQL_MAX_DEPTH", int),
            ("graphql_max_aliases", "ESCR_GRAPHQL_MAX_ALIASES", int),
            ("graphql_max_tokens", "ESCR_GRAPHQL_MAX_TOKENS", int),
            ("graphql_max_cost", "ESCR_GRAPHQL_MAX_COST", int),
            ("webhook_max_attempts", "ESCR_WEBHOOK_MAX_ATTEMPTS", int),
            ("webhook_backoff_seconds", "ESCR_WEBHOOK_BACKOFF", int),
            ("webhook_max_backoff_seconds", "ESCR_WEBHOOK_MAX_BACKOFF", int),
            ("webhook_timeout_seconds", "ESCR_WEBHOOK_TIMEOUT", float),
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
