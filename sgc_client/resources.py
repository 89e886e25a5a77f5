"""The router's resources as seen by the client: persons, cards, pictures, verification, webhooks.

Marked *escrouter only* are the ``/api/x`` additions the real router does not have: lifecycle
actions, history, verification, batch writes, webhooks and ``organisations/me``. Against the real
router they raise :class:`~sgc_client.errors.NotFound` (or ``MethodNotAllowed``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

if TYPE_CHECKING:
    from sgc_client.client import RouterClient

QrFormat = Literal["svg", "png", "text"]
QR_MEDIA_TYPES: dict[str, str] = {
    "svg": "image/svg+xml",
    "png": "image/png",
    "text": "text/plain",
}
LIFECYCLE_ACTIONS = (
    "REPORT_LOST",
    "REPORT_STOLEN",
    "SUSPEND",
    "DEACTIVATE",
    "REACTIVATE",
    "RENEW",
    "DESTROY",
)
BATCH_LIMIT = 500


def _segment(value: str) -> str:
    """A path segment: ESIs carry colons, which may stay; anything else odd is escaped."""
    return quote(value, safe=":@")


class Resource:
    """Base of the resources: holds the client."""

    def __init__(self, client: RouterClient) -> None:
        self._client = client


@dataclass(frozen=True)
class BatchItemResult:
    """The outcome of one item of a batch call (``/api/x/*:batch``)."""

    index: int
    outcome: str
    status: int
    identifier: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchItemResult:
        """Read one element of the batch answer's ``results``."""
        error = data.get("error") or {}
        return cls(
            index=int(data["index"]),
            outcome=str(data["outcome"]),
            status=int(data.get("status") or 0),
            identifier=data.get("identifier"),
            error_code=error.get("code"),
            error_message=error.get("message"),
        )


@dataclass(frozen=True)
class BatchResult:
    """A batch answer: one result per item, and the counts."""

    results: list[BatchItemResult]
    summary: dict[str, int] = field(default_factory=dict)


def _batch(client: RouterClient, path: str, items: Sequence[dict[str, Any]]) -> BatchResult:
    if not 1 <= len(items) <= BATCH_LIMIT:
        raise ValueError(f"A batch holds 1 to {BATCH_LIMIT} items, not {len(items)}.")
    # Not retried: a batch of cards without numbers registers new cards each time it is sent.
    document = client.request("POST", path, json={"items": list(items)}).json()
    return BatchResult(
        results=[BatchItemResult.from_json(r) for r in document.get("results", [])],
        summary=dict(document.get("summary") or {}),
    )


class Persons(Resource):
    """``/api/v2/persons``: the persons linked to your organisation."""

    def list(
        self,
        *,
        size: int = 100,
        sort: str | None = None,
        direction: str | None = None,
        search: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every person (PersonLiteView) of your organisation, walking the pages."""
        return self._client.iter_pages(
            "/api/v2/persons", size=size, sort=sort, direction=direction, search=search
        )

    def get(self, esi: str) -> dict[str, Any]:
        """One person (PersonView)."""
        return self._client.get_json(f"/api/v2/persons/{_segment(esi)}")

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register a person (a PersonUpdateView body); :class:`Conflict` if the ESI exists."""
        return self._client.request("POST", "/api/v2/persons", json=body).json()

    def replace(self, esi: str, body: dict[str, Any]) -> dict[str, Any]:
        """Replace what your organisation holds of a person, linking them if needed."""
        return self._client.request("PUT", f"/api/v2/persons/{_segment(esi)}", json=body).json()

    def delete(self, esi: str) -> None:
        """Erase what your organisation holds of a person (consent withdrawn), with its cards."""
        self._client.request("DELETE", f"/api/v2/persons/{_segment(esi)}")

    def batch(self, items: Sequence[dict[str, Any]]) -> BatchResult:
        """Create or replace up to 500 persons in one call (*escrouter only*)."""
        return _batch(self._client, "/api/x/persons:batch", items)


class Cards(Resource):
    """``/api/v2/cards``: the cards your organisation issued."""

    def list(
        self,
        *,
        size: int = 100,
        sort: str | None = None,
        direction: str | None = None,
        search: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every card (CardLiteView) of your organisation, walking the pages."""
        return self._client.iter_pages(
            "/api/v2/cards", size=size, sort=sort, direction=direction, search=search
        )

    def get(self, escn: str) -> dict[str, Any]:
        """One card (CardView)."""
        return self._client.get_json(f"/api/v2/cards/{_segment(escn)}")

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register a card (a CardUpdateView body; leave cardNumber out to have one generated)."""
        return self._client.request("POST", "/api/v2/cards", json=body).json()

    def update(self, escn: str, body: dict[str, Any]) -> dict[str, Any]:
        """Update a card."""
        return self._client.request("PUT", f"/api/v2/cards/{_segment(escn)}", json=body).json()

    def delete(self, escn: str) -> None:
        """Delete a card."""
        self._client.request("DELETE", f"/api/v2/cards/{_segment(escn)}")

    def status(self, escn: str) -> dict[str, Any]:
        """The public status behind the card's QR code (CardStatusView)."""
        return self._client.get_json(f"/api/v2/cards/{_segment(escn)}/status")

    def generate_numbers(self, pic: str, prefix: str, count: int) -> list[str]:
        """Reserve up to 100 card numbers for ``pic`` and a server ``prefix``."""
        return self._client.get_json(
            "/api/v2/cards/generate-escn",
            {"pic": pic, "prefix": prefix, "numberOfESCN": count},
        )

    def qr(
        self,
        escn: str,
        *,
        format: QrFormat = "svg",
        orientation: str | None = None,
        colours: str | None = None,
        size: str | None = None,
    ) -> bytes:
        """The card's QR code: SVG, PNG, or the SVG as base64 text."""
        params = {
            k: v
            for k, v in (("orientation", orientation), ("colours", colours), ("size", size))
            if v is not None
        }
        response = self._client.request(
            "GET",
            f"/api/v2/cards/{_segment(escn)}/qr",
            params=params,
            headers={"Accept": QR_MEDIA_TYPES[format]},
        )
        return response.content

    def lifecycle(self, escn: str) -> dict[str, Any]:
        """The card's state and allowed actions (*escrouter only*)."""
        return self._client.get_json(f"/api/x/cards/{_segment(escn)}/lifecycle")

    def change_state(self, escn: str, action: str, **renewal: Any) -> dict[str, Any]:
        """Apply a lifecycle action (REPORT_LOST, SUSPEND, RENEW...) (*escrouter only*).

        For RENEW, ``renewal`` may hold cardNumber, issuedAt, expiresAt, cardType, displayName, csn.
        """
        if action not in LIFECYCLE_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(LIFECYCLE_ACTIONS)}")
        body = {"action": action, **{k: v for k, v in renewal.items() if v is not None}}
        return self._client.request(
            "POST", f"/api/x/cards/{_segment(escn)}/lifecycle", json=body
        ).json()

    def report_lost(self, escn: str) -> dict[str, Any]:
        """Report a card lost (*escrouter only*)."""
        return self.change_state(escn, "REPORT_LOST")

    def report_stolen(self, escn: str) -> dict[str, Any]:
        """Report a card stolen (*escrouter only*)."""
        return self.change_state(escn, "REPORT_STOLEN")

    def suspend(self, escn: str) -> dict[str, Any]:
        """Suspend a card (*escrouter only*)."""
        return self.change_state(escn, "SUSPEND")

    def reactivate(self, escn: str) -> dict[str, Any]:
        """Reactivate a suspended or deactivated card (*escrouter only*)."""
        return self.change_state(escn, "REACTIVATE")

    def renew(self, escn: str, **renewal: Any) -> dict[str, Any]:
        """Replace a card by a new one (*escrouter only*); the answer holds the replacement."""
        return self.change_state(escn, "RENEW", **renewal)

    def history(self, escn: str) -> list[dict[str, Any]]:
        """Every change of a card, oldest first (*escrouter only*)."""
        return self._client.get_json(f"/api/x/cards/{_segment(escn)}/history")

    def batch(self, items: Sequence[dict[str, Any]]) -> BatchResult:
        """Create or update up to 500 cards in one call (*escrouter only*)."""
        return _batch(self._client, "/api/x/cards:batch", items)


class Pictures(Resource):
    """``/api/v2/organisations/{id}/person/{esi}/picture``: your pictures of your persons."""

    def _path(self, organisation: str, esi: str) -> str:
        return f"/api/v2/organisations/{_segment(organisation)}/person/{_segment(esi)}/picture"

    def get(self, organisation: str, esi: str) -> bytes:
        """Download the picture (JPEG or PNG bytes)."""
        return self._client.request(
            "GET", self._path(organisation, esi), headers={"Accept": "*/*"}
        ).content

    def upload(
        self,
        organisation: str,
        esi: str,
        content: bytes,
        *,
        resize: bool = False,
        filename: str = "picture.jpg",
        content_type: str = "image/jpeg",
    ) -> None:
        """Store a 200x300 picture (``resize=True`` lets the router fit any image)."""
        # Storing the same picture twice leaves the same picture: safe to retry.
        self._client.request(
            "POST",
            self._path(organisation, esi),
            params={"resize": "true" if resize else "false"},
            files={"file": (filename, content, content_type)},
            idempotent=True,
        )

    def delete(self, organisation: str, esi: str) -> None:
        """Remove the picture."""
        self._client.request("DELETE", self._path(organisation, esi))


class Organisations(Resource):
    """``/api/x/organisations`` (*escrouter only*)."""

    def me(self) -> dict[str, Any]:
        """Your own organisation: identifier (PIC), name, country, ESCN prefixes."""
        return self._client.get_json("/api/x/organisations/me")

    def get(self, identifier: str) -> dict[str, Any]:
        """An organisation by PIC or VAT number."""
        return self._client.get_json(f"/api/x/organisations/{_segment(identifier)}")


@dataclass(frozen=True)
class Verdict:
    """The answer of ``POST /api/x/verify``: is the scanned card valid, and if not, why."""

    valid: bool
    reason: str | None
    card_number: str | None
    issuer: dict[str, Any] | None
    expires_at: str | None
    display_name: str | None
    checked_at: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        """Read the verification answer."""
        return cls(
            valid=bool(data["valid"]),
            reason=data.get("reason"),
            card_number=data.get("cardNumber"),
            issuer=data.get("issuer"),
            expires_at=data.get("expiresAt"),
            display_name=data.get("displayName"),
            checked_at=str(data.get("checkedAt", "")),
            raw=data,
        )


class Verification(Resource):
    """``POST /api/x/verify`` (*escrouter only*)."""

    def verify(self, scanned: str) -> Verdict:
        """Verify what a reader scanned: a verification URL or a bare card number."""
        # Verification changes no card (it only records the lookup), so it is retried like a GET.
        response = self._client.request(
            "POST", "/api/x/verify", json={"scanned": scanned}, idempotent=True
        )
        return Verdict.from_json(response.json())


@dataclass(frozen=True)
class Webhook:
    """A webhook subscription; ``secret`` is only known right after creating it."""

    id: str
    url: str
    events: list[str]
    created_at: str | None = None
    secret: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Webhook:
        """Read a subscription."""
        return cls(
            id=str(data["id"]),
            url=data["url"],
            events=list(data.get("events") or []),
            created_at=data.get("createdAt"),
            secret=data.get("secret"),
        )


class Webhooks(Resource):
    """``/api/x/webhooks``: callbacks on card status changes (*escrouter only*)."""

    def list(self) -> list[Webhook]:
        """Your organisation's subscriptions."""
        document = self._client.get_json("/api/x/webhooks")
        items = document.get("content", document) if isinstance(document, dict) else document
        return [Webhook.from_json(item) for item in items]

    def create(self, url: str, events: Sequence[str] = ("card.status_changed",)) -> Webhook:
        """Subscribe ``url`` (HTTPS) to ``events``; keep the returned ``secret``, shown once."""
        document = self._client.request(
            "POST", "/api/x/webhooks", json={"url": url, "events": list(events)}
        ).json()
        return Webhook.from_json(document)

    def delete(self, webhook_id: str) -> None:
        """Remove a subscription."""
        self._client.request("DELETE", f"/api/x/webhooks/{_segment(str(webhook_id))}")
