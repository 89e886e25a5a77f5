"""Concurrent writers of one record: exactly one wins each transition, the others are refused as a
sequential caller would be, and histories stay a chain (each fromState is the previous toState).

Each thread has its own test client, so each request has its own session and transaction; the
database alone settles who wins, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import io
import itertools
import os
import threading
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from router.db import Database
from router.models import Card, PersonOrganisation, PersonPicture
from tests.conftest import MakeTenant, Register, Tenant, esi, person_body

WRITERS = 32
# The measurement is 20 rounds; the suite runs fewer to stay within its time budget.
ROUNDS = int(os.environ.get("ESCR_CONCURRENCY_ROUNDS", "5"))

T = TypeVar("T")


def _at_once(app: Flask, count: int, request: Callable[[FlaskClient, int], T]) -> list[T]:
    """Run ``request(client, i)`` from ``count`` threads released together; their responses."""
    barrier = threading.Barrier(count)
    responses: list = [None] * count

    def work(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        responses[i] = request(client, i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def test_concurrent_renewals_of_one_card_have_exactly_one_winner(
    app: Flask, uni: Tenant, registered: Register, db: Database
) -> None:
    singles = doubles = 0
    for round_ in range(ROUNDS):
        record = registered(f"RENEW{round_}")

        def renew(client: FlaskClient, _i: int, escn: str = record["escn"]) -> TestResponse:
            return client.post(
                f"/api/x/cards/{escn}/lifecycle", json={"action": "RENEW"}, headers=uni.headers
            )

        responses = _at_once(app, WRITERS, renew)
        statuses = Counter(r.status_code for r in responses)
        assert set(statuses) <= {200, 422}, statuses
        assert all(r.json["code"] == "ER-0050" for r in responses if r.status_code == 422)
        with db.session() as session:
            active = session.scalar(
                select(func.count()).select_from(Card).where(
                    Card.person.has(esi=record["esi"]), Card.state == "ACTIVE"
                )
            )
        singles += statuses[200] == 1 and active == 1
        doubles += statuses[200] > 1 or active > 1
    assert (singles, doubles) == (ROUNDS, 0)


def test_concurrent_lost_and_reactivate_keep_the_history_a_chain(
    app: Flask, client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    escn = registered("CHAIN")["escn"]

    def flip(c: FlaskClient, i: int) -> TestResponse:
        action = "REPORT_LOST" if i % 2 else "REACTIVATE"
        return c.post(f"/api/x/cards/{escn}/lifecycle", json={"action": action},
                      headers=uni.headers)

    responses = _at_once(app, WRITERS, flip)
    assert {r.status_code for r in responses} <= {200, 422}
    history = client.get(f"/api/x/cards/{escn}/history", headers=uni.headers).json
    assert len(history) == 1 + sum(r.status_code == 200 for r in responses)
    for previous, entry in itertools.pairwise(history):
        assert entry["fromState"] == previous["toState"], history


def test_concurrent_first_links_and_pictures_of_one_person_never_fail(
    app: Flask, client: FlaskClient, uni: Tenant, other_uni: Tenant, db: Database
) -> None:
    identifier = esi("SHARED")
    assert client.post("/api/v2/persons", json=person_body(identifier, uni.pic),
                       headers=uni.headers).status_code == 201

    def link(c: FlaskClient, i: int) -> TestResponse:
        return c.put(f"/api/v2/persons/{identifier}",
                     json=person_body(identifier, other_uni.pic, fullName=f"Name {i}"),
                     headers=other_uni.headers)

    assert {r.status_code for r in _at_once(app, 8, link)} == {200}
    buffer = io.BytesIO()
    Image.new("RGB", (200, 300)).save(buffer, format="PNG")

    def upload(c: FlaskClient, _i: int) -> TestResponse:
        return c.post(f"/api/v2/organisations/{uni.pic}/person/{identifier}/picture",
                      data={"file": (io.BytesIO(buffer.getvalue()), "p.png")},
                      content_type="multipart/form-data", headers=uni.headers)

    assert {r.status_code for r in _at_once(app, 8, upload)} == {201}
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(PersonOrganisation)) == 2
        assert session.scalar(select(func.count()).select_from(PersonPicture)) == 1


def test_two_organisations_erasing_a_shared_person_at_once_leave_nothing(
    app: Flask, client: FlaskClient, uni: Tenant, other_uni: Tenant, db: Database
) -> None:
    identifier = esi("ERASE2")
    client.post("/api/v2/persons", json=person_body(identifier, uni.pic), headers=uni.headers)
    client.put(f"/api/v2/persons/{identifier}", json=person_body(identifier, other_uni.pic),
               headers=other_uni.headers)
    tenants = [uni, other_uni]

    def erase(c: FlaskClient, i: int) -> TestResponse:
        return c.delete(f"/api/v2/persons/{identifier}", headers=tenants[i].headers)

    assert [r.status_code for r in _at_once(app, 2, erase)] == [204, 204]
    gone = client.get(f"/api/v2/persons/{identifier}", headers=uni.headers)
    assert gone.status_code == 410


def test_concurrent_rotations_of_one_key_yield_one_new_key(
    app: Flask, client: FlaskClient, uni: Tenant, make_tenant: MakeTenant
) -> None:
    issued = client.post("/api/x/api-keys", json={"scopes": ["cards:read"]}, headers=uni.headers)
    prefix = issued.json["prefix"]

    def rotate(c: FlaskClient, _i: int) -> TestResponse:
        return c.post(f"/api/x/api-keys/{prefix}/rotate", headers=uni.headers)

    responses = _at_once(app, 16, rotate)
    assert Counter(r.status_code for r in responses) == {201: 1, 404: 15}
    listed = client.get("/api/x/api-keys", headers=uni.headers).json
    assert sum(k["revokedAt"] is None and k["scopes"] == ["cards:read"] for k in listed) == 1


def test_concurrent_administrative_changes_of_one_organisation_are_serialised(
    app: Flask, client: FlaskClient, uni: Tenant, make_tenant: MakeTenant
) -> None:
    admin = make_tenant("100000000", "Router operator", scopes=["admin"])
    wanted = [[f"{i % 4 + 1:03d}", f"{i % 4 + 5:03d}"] for i in range(16)]
    for _round in range(ROUNDS):

        def change(c: FlaskClient, i: int) -> TestResponse:
            body = {"escnPrefixes": wanted[i], "name": f"University {i}"}
            return c.patch(f"/api/x/organisations/{uni.pic}", json=body, headers=admin.headers)

        responses = _at_once(app, 16, change)
        statuses = Counter(r.status_code for r in responses)
        # Each change re-runs on the one committed before it; one that keeps losing is told to
        # retry (409 ER-0101) rather than re-run without end. Never a 500.
        assert set(statuses) <= {200, 409} and statuses[200] >= 1, statuses
        assert all(r.json["code"] == "ER-0101" for r in responses if r.status_code == 409)
        final = client.get(f"/api/x/organisations/{uni.pic}", headers=admin.headers).json
        # The last writer's whole change, not a mixture of several.
        writer = int(final["name"].split()[-1])
        assert sorted(final["escnPrefixes"]) == wanted[writer]
