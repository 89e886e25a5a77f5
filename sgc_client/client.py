"""``RouterClient``: one httpx client speaking the router's v2 API (and escrouter's ``/api/x``).

It authenticates with an API key or with OAuth2 client credentials (a token fetched from
``/oauth/token`` and fetched again shortly before it expires), retries idempotent calls with
exponential backoff and jitter, and turns error answers into the typed errors of
:mod:`sgc_client.errors`.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from sgc_client import errors
from sgc_client.certificates import Certificates
from sgc_client.delegation.api import Delegations, PublicKeys
from sgc_client.resources import (
    Cards,
    Organisations,
    Persons,
    Pictures,
    Verification,
    Webhooks,
)

# Methods whose repetition cannot do twice what was meant once: safe to retry.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Refresh an OAuth2 token this many seconds before the router would refuse it.
TOKEN_REFRESH_MARGIN = 30.0
DEFAULT_USER_AGENT = "escr-sgc/0.1"


class OAuthToken:
    """An OAuth2 client-credentials token source that refreshes before expiry."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget the token, so that the next call fetches a new one (after a 401)."""
        with self._lock:
            self._token = None

    def bearer(self, http: httpx.Client) -> str:
        """A valid access token, fetching a new one when none is held or it expires soon."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - TOKEN_REFRESH_MARGIN:
                self._fetch(http)
            assert self._token is not None
            return self._token

    def _fetch(self, http: httpx.Client) -> None:
        data = {"grant_type": "client_credentials"}
        if self.scope:
            data["scope"] = self.scope
        try:
            response = http.post(
                self.token_url, data=data, auth=(self.client_id, self.client_secret)
            )
        except httpx.HTTPError as error:
            raise errors.TransportError(f"token endpoint unreachable: {error}") from error
        if response.status_code != 200:
            raise errors.error_from_response(response)
        payload = response.json()
        self._token = payload["access_token"]
        self._expires_at = self._clock() + float(payload.get("expires_in", 3600))


class RouterClient:
    """A client of an ESC router: escrouter or the real one (same v2 API).

    ``base_url`` is where ``/api/v2`` lives: ``https://router.europeanstudentcard.eu/esc-rest``
    for the real router, ``http://127.0.0.1:8080`` (or ``…/esc-rest``) for escrouter. An API key
    is sent as ``Authorization: Bearer <key>``, as clients in the field do (proxies such as nginx
    and gunicorn drop the OpenAPI document's ``api_key`` header: underscores are not allowed in
    header names by default); ``api_key_header="api_key"`` sends that header instead.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        scope: str | None = None,
        token_url: str | None = None,
        api_key_header: str = "Authorization",
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        if api_key and (client_id or client_secret):
            raise ValueError("Give either an API key or an OAuth2 client id and secret, not both.")
        if bool(client_id) != bool(client_secret):
            raise ValueError("An OAuth2 client needs both its id and its secret.")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.api_key_header = api_key_header
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
        )
        self.oauth: OAuthToken | None = None
        if client_id and client_secret:
            self.oauth = OAuthToken(
                token_url or f"{self.base_url}/oauth/token", client_id, client_secret, scope=scope
            )
        self.persons = Persons(self)
        self.cards = Cards(self)
        self.pictures = Pictures(self)
        self.organisations = Organisations(self)
        self.webhooks = Webhooks(self)
        self.verification = Verification(self)
        self.public_keys = PublicKeys(self)
        self.delegations = Delegations(self)
        self.certificates = Certificates(self)

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> RouterClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        if self.oauth is not None:
            return {"Authorization": f"Bearer {self.oauth.bearer(self._http)}"}
        if self.api_key:
            if self.api_key_header.lower() == "authorization":
                return {"Authorization": f"Bearer {self.api_key}"}
            return {self.api_key_header: self.api_key}
        return {}

    def backoff_delay(self, attempt: int) -> float:
        """The wait before retry ``attempt`` (1-based): exponential, capped, with full jitter."""
        ceiling = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        # Full jitter spreads out the retries of many clients hit by the same outage.
        return random.uniform(ceiling / 2, ceiling)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        files: Any = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send a request; retry it if it is idempotent; raise a typed error on an error answer.

        ``idempotent`` overrides the method's default (e.g. a read-only POST such as verify).
        """
        method = method.upper()
        retry_unsafe = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        attempt = 0
        refreshed_token = False
        while True:
            attempt += 1
            request_headers = {**self._auth_headers(), **(headers or {})}
            try:
                response = self._http.request(
                    method, path, json=json, params=params, headers=request_headers, files=files
                )
            except httpx.ConnectError as error:
                # Nothing reached the router: repeating is safe whatever the method.
                if attempt > self.retries:
                    raise errors.TransportError(f"{method} {path}: {error}") from error
                self._sleep(self.backoff_delay(attempt))
                continue
            except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as error:
                if not retry_unsafe or attempt > self.retries:
                    raise errors.TransportError(f"{method} {path}: {error}") from error
                self._sleep(self.backoff_delay(attempt))
                continue
            if response.status_code < 400:
                return response
            if response.status_code == 401 and self.oauth is not None and not refreshed_token:
                # The token may have been revoked or expired early: fetch another once.
                refreshed_token = True
                self.oauth.invalidate()
                attempt -= 1
                continue
            error = errors.error_from_response(response)
            if attempt <= self.retries:
                if isinstance(error, errors.RateLimited):
                    # A 429 means the router did not act on the request: retrying is safe.
                    wait = error.retry_after
                    self._sleep(
                        min(self.max_backoff, wait)
                        if wait is not None
                        else self.backoff_delay(attempt)
                    )
                    continue
                if isinstance(error, errors.ServerError) and retry_unsafe:
                    self._sleep(self.backoff_delay(attempt))
                    continue
            raise error

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a JSON document."""
        return self.request("GET", path, params=params).json()

    def iter_pages(
        self,
        path: str,
        *,
        size: int = 100,
        sort: str | None = None,
        direction: str | None = None,
        search: str | None = None,
        start_page: int = 0,
    ) -> Iterator[dict[str, Any]]:
        """Walk a v2 paged list (``{content, empty, links, page}``), yielding each item."""
        page = start_page
        while True:
            params: dict[str, Any] = {"page": page, "size": size}
            if sort:
                params["sort"] = sort
            if direction:
                params["direction"] = direction
            if search:
                params["search"] = search
            document = self.get_json(path, params)
            content = document.get("content") or []
            yield from content
            meta = document.get("page") or {}
            total_pages = meta.get("totalPages")
            if not content or (total_pages is not None and page + 1 >= int(total_pages)):
                return
            page += 1
