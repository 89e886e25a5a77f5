"""The router's federation endpoints as the client sees them: public keys and delegations.

*escrouter only*: the real router has neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from sgc_client.client import RouterClient


def _segment(value: str) -> str:
    return quote(value, safe="")


class PublicKeys:
    """``/api/x/public-keys`` (scope ``keys:manage``) and the public JWKS of any institution."""

    def __init__(self, client: RouterClient) -> None:
        self._client = client

    def list(self) -> list[dict[str, Any]]:
        """Your institution's keys, revoked ones included."""
        return self._client.get_json("/api/x/public-keys")

    def register(self, jwk: dict[str, Any]) -> dict[str, Any]:
        """Register a public JWK (never a private one: the router refuses it)."""
        return self._client.request("POST", "/api/x/public-keys", json={"jwk": jwk}).json()

    def revoke(self, kid: str, reason: str | None = None) -> dict[str, Any]:
        """Revoke a key now (repeating it is harmless, so it is retried like a PUT)."""
        return self._client.request(
            "POST",
            f"/api/x/public-keys/{_segment(kid)}/revoke",
            json={"reason": reason},
            idempotent=True,
        ).json()

    def rotate(self, kid: str, jwk: dict[str, Any], grace_seconds: int = 0) -> dict[str, Any]:
        """Register ``jwk`` in place of ``kid``, which stays valid ``grace_seconds`` more."""
        return self._client.request(
            "POST",
            f"/api/x/public-keys/{_segment(kid)}/rotate",
            json={"jwk": jwk, "graceSeconds": grace_seconds},
        ).json()

    def jwks(self, pic: str) -> dict[str, Any]:
        """Institution ``pic``'s published keys: ``keys`` (active) and ``revoked``."""
        return self._client.get_json(f"/api/x/directory/{_segment(pic)}/jwks.json")


class Delegations:
    """``/api/x/delegations`` (scope ``delegations``)."""

    def __init__(self, client: RouterClient) -> None:
        self._client = client

    def submit(self, request_jws: str) -> dict[str, Any]:
        """Send a signed delegation request (host); the router's view of it.

        Sending the same request twice is refused as a replay, never recorded twice, so the
        call is retried like a PUT.
        """
        return self._client.request(
            "POST", "/api/x/delegations", json={"request": request_jws}, idempotent=True
        ).json()

    def list(
        self,
        *,
        role: str | None = None,
        states: Iterable[str] = (),
        size: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """Walk the delegations of your institution (newest first)."""
        page = 0
        while True:
            params: dict[str, Any] = {"page": page, "size": size}
            if role:
                params["role"] = role
            if states:
                params["state"] = list(states)
            document = self._client.get_json("/api/x/delegations", params)
            yield from document.get("content") or []
            meta = document.get("page") or {}
            if page + 1 >= int(meta.get("totalPages") or 0):
                return
            page += 1

    def get(self, delegation_id: str) -> dict[str, Any]:
        """One delegation, with its history."""
        return self._client.get_json(f"/api/x/delegations/{_segment(delegation_id)}")

    def acknowledge(self, delegation_id: str) -> dict[str, Any]:
        """The home received the request (requested → delivered; idempotent)."""
        return self._client.request(
            "POST", f"/api/x/delegations/{_segment(delegation_id)}/receipt", idempotent=True
        ).json()

    def decide(self, delegation_id: str, decision_jws: str) -> dict[str, Any]:
        """Send the home's signed decision (a second copy is refused as a replay)."""
        return self._client.request(
            "POST",
            f"/api/x/delegations/{_segment(delegation_id)}/decision",
            json={"decision": decision_jws},
            idempotent=True,
        ).json()

    def cancel(self, delegation_id: str, reason: str | None = None) -> dict[str, Any]:
        """Withdraw a request not yet decided (host)."""
        return self._client.request(
            "POST", f"/api/x/delegations/{_segment(delegation_id)}/cancel", json={"reason": reason}
        ).json()

    def report_outcome(
        self, delegation_id: str, completed: bool, reason: str | None = None
    ) -> dict[str, Any]:
        """Report whether the application was written on the card (host)."""
        return self._client.request(
            "POST",
            f"/api/x/delegations/{_segment(delegation_id)}/outcome",
            json={"outcome": "completed" if completed else "failed", "reason": reason},
        ).json()
