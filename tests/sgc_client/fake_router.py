"""An in-memory router implementing the batch contract (``/api/x/*:batch``), as an httpx transport.

The router half of the batch endpoints is built elsewhere; this fake follows the shared contract
so the client's batch transport is tested at 10,000 rows without a server. It also answers the v2
lists and deletes that ``sync`` uses, and can be told to die after some batches (an interruption).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import httpx

from router.domain.errors import InvalidIdentifier
from router.domain.escn import EscnGenerator
from router.domain.esi import parse_esi

LEVELS = {"BACHELOR", "MASTER", "DOCTORATE"}


class Interrupted(BaseException):
    """Stands for the process being killed: nothing catches it on the way up."""


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


class FakeRouter:
    def __init__(self, pic: str = "999999999", *, batch: bool = True) -> None:
        self.pic = pic
        self.batch = batch
        self.persons: dict[str, dict[str, Any]] = {}
        self.cards: dict[str, dict[str, Any]] = {}
        self.batch_calls = 0
        self.items_received = 0
        self.requests: list[tuple[str, str]] = []
        self.die_after_batches: int | None = None
        self.generator = EscnGenerator(clock_seq=1)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- dispatch -------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = unquote(request.url.path)
        self.requests.append((request.method, path))
        if request.headers.get("Authorization") != "Bearer good-key":
            return httpx.Response(401, json=_error("SE-0001", "no key"))
        if path == "/api/x/organisations/me":
            return httpx.Response(200, json={"identifier": self.pic, "name": "Demo"})
        if path in ("/api/x/persons:batch", "/api/x/cards:batch") and request.method == "POST":
            if not self.batch:
                return httpx.Response(404, json=_error("ER-0404", "not found"))
            return self._batch(path, json.loads(request.content))
        if path == "/api/v2/persons" and request.method == "GET":
            return self._page(request, list(self.persons.values()))
        if path == "/api/v2/cards" and request.method == "GET":
            return self._page(request, [self._card_lite(c) for c in self.cards.values()])
        if path == "/api/v2/persons" and request.method == "POST":
            body = json.loads(request.content)
            if body.get("identifier") in self.persons:
                return httpx.Response(409, json=_error("ER-0019", "exists"))
            _outcome, status, _esi, error = self._person_item(body)
            return httpx.Response(status, json=error or self.persons[_esi])
        if path.startswith("/api/v2/persons/") and request.method == "PUT":
            _outcome, status, _esi, error = self._person_item(json.loads(request.content))
            return httpx.Response(200 if status == 201 else status, json=error or {})
        if path.startswith("/api/v2/persons/") and request.method == "DELETE":
            esi = path.removeprefix("/api/v2/persons/")
            self.persons.pop(esi)
            return httpx.Response(204)
        if path.startswith("/api/v2/cards/") and request.method == "DELETE":
            self.cards.pop(path.removeprefix("/api/v2/cards/"))
            return httpx.Response(204)
        return httpx.Response(404, json=_error("ER-0404", f"no route {path}"))

    def _page(self, request: httpx.Request, items: list[dict[str, Any]]) -> httpx.Response:
        page = int(request.url.params.get("page", 0))
        size = int(request.url.params.get("size", 10))
        chunk = items[page * size : (page + 1) * size]
        total_pages = (len(items) + size - 1) // size
        return httpx.Response(
            200,
            json={
                "content": chunk,
                "empty": not chunk,
                "links": [],
                "page": {
                    "number": page,
                    "size": size,
                    "totalElements": len(items),
                    "totalPages": total_pages,
                },
            },
        )

    # -- the batch contract -----------------------------------------------------------------

    def _batch(self, path: str, body: dict[str, Any]) -> httpx.Response:
        items = body.get("items")
        if not isinstance(items, list) or not 1 <= len(items) <= 500:
            return httpx.Response(400, json=_error("ER-0400", "items: 1 to 500 entries"))
        if self.die_after_batches is not None and self.batch_calls >= self.die_after_batches:
            raise Interrupted()
        self.batch_calls += 1
        self.items_received += len(items)
        apply = self._person_item if path.endswith("persons:batch") else self._card_item
        results = []
        for index, item in enumerate(items):
            outcome, status, identifier, error = apply(item)
            results.append(
                {
                    "index": index,
                    "outcome": outcome,
                    "status": status,
                    "identifier": identifier,
                    "error": error,
                }
            )
        summary = {
            k: sum(r["outcome"] == k for r in results)
            for k in ("created", "updated", "unchanged", "failed")
        }
        return httpx.Response(200, json={"results": results, "summary": summary})

    def _person_item(
        self, item: dict[str, Any]
    ) -> tuple[str, int, str | None, dict[str, str] | None]:
        try:
            esi = parse_esi(item.get("identifier", "")).value
        except InvalidIdentifier as error:
            return "failed", 400, None, _error("ER-0401", error.message)
        views = item.get("personOrganisationUpdateViews") or []
        if len(views) != 1 or views[0].get("organisationIdentifier") != self.pic:
            return "failed", 403, esi, _error("SE-0000", "only your own organisation")
        view = views[0]
        if view.get("academicLevel") not in LEVELS | {None}:
            return "failed", 400, esi, _error("ER-0400", "academicLevel")
        link = {
            "academicLevel": {"key": view.get("academicLevel")}
            if view.get("academicLevel")
            else None,
            "contactPoint": {"email": view.get("email"), "phone": view.get("phone")},
            "fullName": view.get("fullName"),
            "organisation": {"identifier": self.pic},
        }
        stored = {"identifier": esi, "organisations": [link]}
        previous = self.persons.get(esi)
        self.persons[esi] = stored
        if previous is None:
            return "created", 201, esi, None
        return ("unchanged" if previous == stored else "updated"), 200, esi, None

    def _card_item(
        self, item: dict[str, Any]
    ) -> tuple[str, int, str | None, dict[str, str] | None]:
        try:
            person = parse_esi(item.get("personIdentifier", "")).value
        except InvalidIdentifier as error:
            return "failed", 400, None, _error("ER-0401", error.message)
        if person not in self.persons:
            return "failed", 404, None, _error("ER-0018", f"No person {person}")
        number = item.get("cardNumber")
        csn = item.get("csn")
        existing = None
        if number:
            existing = self.cards.get(number)
        elif csn:
            existing = next((c for c in self.cards.values() if c.get("csn") == csn), None)
        if existing is None:
            number = number or self.generator.generate(self.pic)
        else:
            number = existing["cardNumber"]
        stored = {
            "cardNumber": number,
            "csn": csn,
            "person": person,
            "cardType": item["cardType"],
            "cardStatusType": item["cardStatusType"],
            "issuedAt": item["issuedAt"],
            "expiresAt": item["expiresAt"],
            "displayName": item.get("displayName"),
        }
        self.cards[number] = stored
        if existing is None:
            return "created", 201, number, None
        return ("unchanged" if existing == stored else "updated"), 200, number, None

    @staticmethod
    def _card_lite(card: dict[str, Any]) -> dict[str, Any]:
        return {
            "cardNumber": card["cardNumber"],
            "issuedAt": card["issuedAt"],
            "expiresAt": card["expiresAt"],
            "displayName": card["displayName"],
            "person": {"identifier": card["person"]},
        }
