"""The card and person lists, served from keys (deferred join, indexed search), equal a naive query.

The reference is the plain query the lists were before: every row of the organisation matched by
``ILIKE`` on the same columns, sorted by the key then the id (in the sort's direction), sliced.
"""

from __future__ import annotations

import pytest

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
