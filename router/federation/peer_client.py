"""Signed requests to peer routers: bounded in time and size, answers verified, breakers kept.

One :class:`PeerClient` per process holds a pooled ``httpx`` client (created after fork, so that
gunicorn workers never share sockets) and one circuit breaker per peer. Every request is signed
with this router's key; every answer must be signed with a key the catalogue gives the router
that was asked, and echo the request's id. Whatever goes wrong becomes a
:class:`~router.federation.peer_errors.PeerError` with its own code; nothing hangs longer than the
connect timeout plus twice the read timeout.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from router.domain.text import read_json
from router.federation.breaker import CircuitBreaker
from router.federation.catalogue import RouterEntry
from router.federation.http_signatures import SignatureRefused, sign_request, verify_response
from router.federation.identity import RouterIdentity
from router.federation.peer_errors import (
    FederationNotConfigured,
    PeerBadAnswer,
    PeerCircuitOpen,
    PeerError,
    PeerFailed,
    PeerTimeout,
    PeerUnreachable,
)
from router.federation.settings import FederationSettings

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 1024 * 1024
JSON_TYPES = ("application/json", "application/problem+json")


@dataclass(frozen=True)
class PeerAnswer:
    """A verified answer of a peer: its status, JSON body and how long it may be reused."""

    router: RouterEntry
    status: int
    body: Any
    max_age: int | None
    request_id: str


def _max_age(cache_control: str | None) -> int | None:
    """The ``max-age`` of a Cache-Control value; 0 for no-store/no-cache; None when absent."""
    if not cache_control:
        return None
    directives = [d.strip().lower() for d in cache_control.split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name == "max-age" and value.strip().isdigit():
            return int(value)
    return None


class PeerClient:
    """Sends this router's signed requests to the routers of the catalogue."""

    def __init__(
        self,
        identity: RouterIdentity | None,
        settings: FederationSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.identity = identity
        self.settings = settings
        self._transport = transport
        self._clock = clock
        self._wall_clock = wall_clock
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None
        self._http_pid: int | None = None

    def breaker(self, router_id: str) -> CircuitBreaker:
        """The circuit breaker of one peer (created closed on first use)."""
        with self._lock:
            breaker = self._breakers.get(router_id)
            if breaker is None:
                breaker = CircuitBreaker(
                    self.settings.breaker_failures,
                    self.settings.breaker_open_seconds,
                    clock=self._clock,
                )
                self._breakers[router_id] = breaker
            return breaker

    def _client(self) -> httpx.Client:
        pid = os.getpid()
        with self._lock:
            if self._http is None or self._http_pid != pid:
                timeout = httpx.Timeout(
                    connect=self.settings.connect_timeout,
                    read=self.settings.read_timeout,
                    write=self.settings.read_timeout,
                    pool=self.settings.connect_timeout,
                )
                self._http = httpx.Client(
                    timeout=timeout,
                    transport=self._transport,
                    follow_redirects=False,
                    limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
                )
                self._http_pid = pid
            return self._http

    def close(self) -> None:
        """Close the pooled connections of this process."""
        with self._lock:
            if self._http is not None and self._http_pid == os.getpid():
                self._http.close()
            self._http = None

    def request(
        self, peer: RouterEntry, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> PeerAnswer:
        """Send a signed request to ``peer`` and return its verified JSON answer.

        Client errors of the peer (4xx) are answers, returned for the caller to interpret; they
        count as successes for the breaker, since the peer works. Anything else raises.
        """
        if self.identity is None:
            raise FederationNotConfigured(
                "This router has no router key: run `escr-admin router init` first."
            )
        breaker = self.breaker(peer.id)
        if not breaker.acquire():
            raise PeerCircuitOpen(
                f"Router {peer.id} failed repeatedly; it is not asked again for a while.",
                router_id=peer.id,
                retry_after=breaker.retry_after(),
            )
        try:
            answer = self._exchange(peer, method, path, body)
        except PeerError as error:
            breaker.record_failure()
            log.warning("federation: %s %s at %s: %s", method, path, peer.id, error.message)
            raise
        except BaseException:
            breaker.record_failure()
            raise
        breaker.record_success()
        return answer

    def _read(self, response: httpx.Response, peer: RouterEntry, deadline: float) -> bytes:
        body = bytearray()
        for chunk in response.iter_bytes():
            body.extend(chunk)
            if len(body) > MAX_ANSWER_BYTES:
                raise PeerBadAnswer(
                    f"Router {peer.id} sent an oversized answer.", router_id=peer.id
                )
            if self._clock() > deadline:
                raise PeerTimeout(f"Router {peer.id} answered too slowly.", router_id=peer.id)
        return bytes(body)

    def _exchange(
        self, peer: RouterEntry, method: str, path: str, payload: Mapping[str, Any] | None
    ) -> PeerAnswer:
        assert self.identity is not None
        content = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        http = self._client()
        request = http.build_request(method, peer.url(path), content=content, headers=headers)
        request_id = str(uuid.uuid4())
        sign_request(
            request,
            content,
            key=self.identity.private_key,
            kid=self.identity.public.kid,
            request_id=request_id,
            now=self._wall_clock(),
        )
        deadline = self._clock() + self.settings.connect_timeout + self.settings.read_timeout
        try:
            response = http.send(request, stream=True)
            try:
                body = self._read(response, peer, deadline)
            finally:
                response.close()
        except httpx.TimeoutException as error:
            raise PeerTimeout(
                f"Router {peer.id} did not answer in time ({type(error).__name__}).",
                router_id=peer.id,
            ) from error
        except httpx.TransportError as error:
            raise PeerUnreachable(
                f"Router {peer.id} could not be reached ({type(error).__name__}).",
                router_id=peer.id,
            ) from error
        if response.status_code >= 500:
            # Possibly a proxy in front of the peer: nothing of it is trusted or passed on.
            raise PeerFailed(
                f"Router {peer.id} failed with HTTP {response.status_code}.", router_id=peer.id
            )
        try:
            verify_response(
                response,
                body,
                keys={k.kid: k.key for k in peer.keys},
                request_id=request_id,
                now=self._wall_clock(),
                skew=dt.timedelta(seconds=self.settings.clock_skew_seconds),
            )
        except SignatureRefused as error:
            raise PeerBadAnswer(
                f"The answer of router {peer.id} was refused: {error}.", router_id=peer.id
            ) from error
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type not in JSON_TYPES or not (200 <= response.status_code < 500):
            raise PeerBadAnswer(
                f"Router {peer.id} answered HTTP {response.status_code} {media_type or '-'}, "
                "not JSON.",
                router_id=peer.id,
            )
        try:
            document = read_json(body)
        except ValueError as error:  # not UTF-8 or not JSON, too deep, or too long a number
            raise PeerBadAnswer(
                f"Router {peer.id} sent malformed JSON.", router_id=peer.id
            ) from error
        return PeerAnswer(
            router=peer,
            status=response.status_code,
            body=document,
            max_age=_max_age(response.headers.get("Cache-Control")),
            request_id=request_id,
        )
