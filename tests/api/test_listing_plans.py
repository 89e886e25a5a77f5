"""The card and person lists, served from keys (deferred join, indexed search), equal a naive query.

The reference is the plain query the lists were before: every row of the organisation matched by
``ILIKE`` on the same columns, sorted by the key then the id (in the sort's direction), sliced.
The totals of unfiltered lists (kept counts) and the links' copies of their persons' ESI and
creation time (kept by triggers) stay exact through every writer, concurrent ones included.
"""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from router import migrate
from router.models import Card, Organisation, Person, PersonOrganisation
from tests.api.test_concurrency import _at_once
from tests.conftest import card_body, esi, person_body

NAMES = ["Ada", "ada", "Bob", None, "Ada", "Chloé", "b_b", "50%", "Bob", "Zoë", None, "Ada"]


@pytest.fixture
def population(client, uni, other_uni):
    """Twelve persons with a card each at ``uni`` (duplicate and missing names), two elsewhere."""
    for tenant, count in ((uni, len(NAMES)), (other_uni, 2)):
        persons = [
            person_body(
                esi(f"{tenant.pic[:2]}{n:03d}"),
                tenant.pic,
                fullName=NAMES[n] or "",
                email=f"p{n}@example.org",
            )
            for n in range(count)
        ]
        # A blank name is stored as none.
        for body, name in zip(persons, NAMES, strict=False):
            if name is None:
                del body["personOrganisationUpdateViews"][0]["fullName"]
        reply = client.post("/api/x/persons:batch", json={"items": persons}, headers=tenant.headers)
        assert reply.json["summary"]["created"] == count, reply.json
        cards = [
            card_body(
                esi(f"{tenant.pic[:2]}{n:03d}"),
                tenant.pic,
                displayName=NAMES[(n * 5) % len(NAMES)],
                issuedAt=f"2026-0{1 + n % 3}-01",
                expiresAt=f"2030-0{1 + n % 2}-01",
            )
            for n in range(count)
        ]
        reply = client.post("/api/x/cards:batch", json={"items": cards}, headers=tenant.headers)
        assert reply.json["summary"]["created"] == count, reply.json


def _all(client, tenant, path: str) -> list[dict]:
    return client.get(f"{path}?size=1000&sort=id", headers=tenant.headers).json["content"]


def _key(value):
    # Nulls first ascending (SQLite) / last (PostgreSQL): compared apart from the values.
    return (value is not None, value)


def _expected(rows, field, descending, search, fields, backend):
    if search:
        rows = [r for r in rows if any(search.lower() in (r.get(f) or "").lower() for f in fields)]
    nulls_low = backend == "sqlite"

    def key(row):
        value = row.get(field) if field != "id" else row["_id"]
        present = value is not None
        return (present if nulls_low else not present, value if present else "", row["_id"])

    return sorted(rows, key=key, reverse=descending)


def _walk(client, tenant, path, expected, ident, **query):
    """Every page of a list at several sizes (and one past the end) equals ``expected``."""
    assert expected or query.get("search") in ("zz", "p1")  # the others match something
    for size in (1, 5) if "search" not in query else (5,):
        walked = []
        for page in range(len(expected) // size + 2):
            reply = client.get(
                path, query_string={**query, "size": size, "page": page}, headers=tenant.headers
            ).json
            assert reply["page"]["totalElements"] == len(expected), query
            walked += [ident(c) for c in reply["content"]]
        assert walked == [ident(r) for r in expected], (query, size)


def _backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


SEARCHES = [None, "ada", "b_b", "50%", "FR", "zz", "p1"]


def test_card_pages_equal_the_naive_query(client, uni, population, database_url):
    rows = _all(client, uni, "/api/v2/cards")
    assert len(rows) == len(NAMES)
    for position, row in enumerate(rows):
        row["_id"] = position  # listed by id: the position is the id's order
        row["_esi"] = row["person"]["identifier"]
    for sort in ("cardNumber", "issuedAt", "expiresAt", "displayName", "id"):
        for direction in ("ASC", "DESC"):
            for search in SEARCHES:
                expected = _expected(
                    rows,
                    sort,
                    direction == "DESC",
                    search,
                    ["cardNumber", "displayName", "_esi"],
                    _backend(database_url),
                )
                query = {"sort": sort, "direction": direction}
                if search:
                    query["search"] = search
                _walk(client, uni, "/api/v2/cards", expected, lambda c: c["cardNumber"], **query)


def test_person_pages_equal_the_naive_query(client, uni, population, database_url):
    rows = _all(client, uni, "/api/v2/persons")
    assert len(rows) == len(NAMES)
    for position, row in enumerate(rows):
        row["_id"] = position
        link = row["organisations"][0]
        row["fullName"] = link.get("fullName")
        assert row["fullName"] in NAMES
        row["_email"] = (link.get("contactPoint") or {}).get("email")
    for sort in ("identifier", "fullName", "id"):
        for direction in ("ASC", "DESC"):
            for search in SEARCHES:
                expected = _expected(
                    rows,
                    sort,
                    direction == "DESC",
                    search,
                    ["identifier", "fullName", "_email"],
                    _backend(database_url),
                )
                query = {"sort": sort, "direction": direction}
                if search:
                    query["search"] = search
                _walk(client, uni, "/api/v2/persons", expected, lambda p: p["identifier"], **query)


def _assert_exact(client, db, *tenants) -> None:
    """Each tenant's list totals equal a count of its rows; each link's copies equal its person."""
    with db.session() as session:
        for tenant in tenants:
            org = session.scalar(
                select(Organisation.id).where(Organisation.identifier == tenant.pic)
            )
            cards = session.scalar(
                select(func.count()).select_from(Card).where(Card.issuer_id == org)
            )
            links = session.scalar(
                select(func.count())
                .select_from(PersonOrganisation)
                .where(PersonOrganisation.organisation_id == org)
            )
            for path, expected in (("/api/v2/cards", cards), ("/api/v2/persons", links)):
                reply = client.get(path, query_string={"size": 1}, headers=tenant.headers).json
                assert reply["page"]["totalElements"] == expected, (tenant.pic, path)
        stale = session.execute(
            select(PersonOrganisation.id)
            .join(Person, Person.id == PersonOrganisation.person_id)
            .where(
                (PersonOrganisation.person_esi != Person.esi)
                | (PersonOrganisation.person_created_at != Person.created_at)
                | PersonOrganisation.person_esi.is_(None)
                | PersonOrganisation.person_created_at.is_(None)
            )
        ).all()
        assert stale == []


def test_counts_and_copies_stay_exact_through_every_writer(client, uni, other_uni, population, db):
    _assert_exact(client, db, uni, other_uni)
    # One by one: a person, their link to a second organisation, a card each.
    shared = esi("SHARED")
    assert (
        client.post(
            "/api/v2/persons", json=person_body(shared, uni.pic), headers=uni.headers
        ).status_code
        == 201
    )
    assert (
        client.put(
            f"/api/v2/persons/{shared}",
            json=person_body(shared, other_uni.pic),
            headers=other_uni.headers,
        ).status_code
        == 200
    )
    escns = {}
    for tenant in (uni, other_uni):
        reply = client.post(
            "/api/v2/cards", json=card_body(shared, tenant.pic), headers=tenant.headers
        )
        assert reply.status_code == 201, reply.json
        escns[tenant.pic] = reply.json["cardNumber"]
    _assert_exact(client, db, uni, other_uni)
    # A refused write changes no count.
    assert (
        client.post(
            "/api/v2/persons", json=person_body(shared, uni.pic), headers=uni.headers
        ).status_code
        == 409
    )
    _assert_exact(client, db, uni, other_uni)
    # A CSV import, then one card deleted.
    rows = "\n".join(
        f",{shared},{uni.pic},SMART_CDZ,ACTIVE,2026-09-01,2030-08-31,Card {n},," for n in range(3)
    )
    reply = client.post(
        "/api/x/cards/import-csv?operation=CREATE",
        data={"file": (io.BytesIO(rows.encode()), "cards.csv")},
        headers=uni.headers,
        content_type="multipart/form-data",
    )
    assert [r["outcome"] for r in reply.json["results"]] == ["created"] * 3, reply.json
    _assert_exact(client, db, uni, other_uni)
    assert client.delete(f"/api/v2/cards/{escns[uni.pic]}", headers=uni.headers).status_code == 204
    _assert_exact(client, db, uni, other_uni)
    # Erasure at one organisation (the person stays, linked elsewhere), then at the other (the
    # person goes, with the cards of the organisation erasing).
    assert client.delete(f"/api/v2/persons/{shared}", headers=uni.headers).status_code == 204
    _assert_exact(client, db, uni, other_uni)
    assert client.delete(f"/api/v2/persons/{shared}", headers=other_uni.headers).status_code == 204
    _assert_exact(client, db, uni, other_uni)
    # Batches again: new persons and cards, and a re-run that changes nothing.
    persons = [person_body(esi(f"B{n:03d}"), uni.pic) for n in range(5)]
    cards = [card_body(esi(f"B{n:03d}"), uni.pic) for n in range(5)]
    for _ in range(2):
        client.post("/api/x/persons:batch", json={"items": persons}, headers=uni.headers)
        _assert_exact(client, db, uni, other_uni)
    client.post("/api/x/cards:batch", json={"items": cards}, headers=uni.headers)
    _assert_exact(client, db, uni, other_uni)


def test_counts_stay_exact_under_concurrent_writers(app, client, uni, other_uni, db):
    writers = 16

    def write(c, i):
        tenant = uni if i % 2 else other_uni
        person = esi(f"C{i:03d}")
        created = c.post(
            "/api/v2/persons", json=person_body(person, tenant.pic), headers=tenant.headers
        )
        card = c.post("/api/v2/cards", json=card_body(person, tenant.pic), headers=tenant.headers)
        if i % 3 == 0:  # some erase what they wrote while the others still write
            c.delete(f"/api/v2/persons/{person}", headers=tenant.headers)
        return created.status_code, card.status_code

    responses = _at_once(app, writers, write)
    assert all(r == (201, 201) for r in responses), responses
    _assert_exact(client, db, uni, other_uni)
    listed = client.get("/api/v2/persons", headers=uni.headers).json["page"]["totalElements"]
    assert listed == len([i for i in range(writers) if i % 2 and i % 3])


def test_the_migration_backfills_counts_and_copies(
    client, uni, other_uni, population, db, database_url
):
    db.engine.dispose()  # no pooled connection holds the tables the migration alters
    migrate.downgrade(database_url, "0011")
    migrate.upgrade(database_url)
    db.engine.dispose()
    _assert_exact(client, db, uni, other_uni)
