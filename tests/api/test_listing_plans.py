"""The card and person lists, served from keys (deferred join, indexed search), equal a naive query.

The reference is the plain query the lists were before: every row of the organisation matched by
``ILIKE`` on the same columns, sorted by the key then the id (in the sort's direction), sliced.
The totals of unfiltered lists (kept counts), the links' copies of their persons' ESI and
creation time and the cards' copies of their holders' ESI (kept by triggers) stay exact through
every writer, concurrent ones included.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, inspect, select, text, update
from sqlalchemy.engine import Connection, ExecutionContext

from router import migrate
from router.db import Database
from router.models import Card, Organisation, Person, PersonOrganisation
from router.services import pagination
from router.services.pagination import SEARCH_PLANNING
from tests.api.test_concurrency import _at_once
from tests.conftest import BACKENDS, Tenant, card_body, esi, person_body

NAMES = ["Ada", "ada", "Bob", None, "Ada", "Chloé", "b_b", "50%", "Bob", "Zoë", None, "Ada"]


@pytest.fixture
def population(client: FlaskClient, uni: Tenant, other_uni: Tenant) -> None:
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


def _all(client: FlaskClient, tenant: Tenant, path: str) -> list[dict]:
    return client.get(f"{path}?size=1000&sort=id", headers=tenant.headers).json["content"]


def _key(value: Any) -> tuple[bool, Any]:
    # Nulls first ascending (SQLite) / last (PostgreSQL): compared apart from the values.
    return (value is not None, value)


def _expected(
    rows: list[dict[str, Any]],
    field: str,
    descending: bool,
    search: str | None,
    fields: Sequence[str],
    backend: str,
) -> list[dict[str, Any]]:
    if search:
        rows = [r for r in rows if any(search.lower() in (r.get(f) or "").lower() for f in fields)]
    nulls_low = backend == "sqlite"

    def key(row: dict[str, Any]) -> tuple[bool, Any, Any]:
        value = row.get(field) if field != "id" else row["_id"]
        present = value is not None
        return (present if nulls_low else not present, value if present else "", row["_id"])

    return sorted(rows, key=key, reverse=descending)


def _walk(
    client: FlaskClient,
    tenant: Tenant,
    path: str,
    expected: list[dict[str, Any]],
    ident: Callable[[dict[str, Any]], str],
    **query: Any,
) -> None:
    """Every page of a list at several sizes (and one past the end) equals ``expected``."""
    # The others match something; another country's ESI matches nothing either.
    assert expected or query.get("search") in MATCHING_NOTHING or ":ZZ:" in query["search"]
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
# Searches that match nothing on purpose.
MATCHING_NOTHING = ("zz", "p1", "x:ada")


def _colon_searches(an_esi: str) -> list[str]:
    """Texts with colons, found on PostgreSQL by their last segment, then held to the whole.

    A whole ESI; the same code in another country's ESI (its last segment matches, it does
    not); a name after a colon (``ada`` matches, ``x:ada`` nothing); a last segment too short to
    find first; and one every ESI holds.
    """
    return [
        an_esi,
        an_esi.upper(),
        an_esi.replace(":FR:", ":ZZ:"),
        "x:ada",
        "esi:fr:",
        "personalUniqueCode:int",
    ]


def _card_pages_equal_the_naive_query(
    client: FlaskClient, uni: Tenant, database_url: str, searches: Sequence[str | None] | None
) -> None:
    """Every page of the card list, each sort and direction, each search, equals the naive query."""
    rows = _all(client, uni, "/api/v2/cards")
    assert len(rows) == len(NAMES)
    for position, row in enumerate(rows):
        row["_id"] = position  # listed by id: the position is the id's order
        row["_esi"] = row["person"]["identifier"]
    if searches is None:
        searches = [*SEARCHES, *_colon_searches(rows[3]["_esi"])]
    for sort in ("cardNumber", "issuedAt", "expiresAt", "displayName", "id"):
        for direction in ("ASC", "DESC"):
            for search in searches:
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


def _person_pages_equal_the_naive_query(
    client: FlaskClient, uni: Tenant, database_url: str, searches: Sequence[str | None] | None
) -> None:
    """Every page of the person list, each sort and direction, each search, equals the naive one."""
    rows = _all(client, uni, "/api/v2/persons")
    assert len(rows) == len(NAMES)
    for position, row in enumerate(rows):
        row["_id"] = position
        link = row["organisations"][0]
        row["fullName"] = link.get("fullName")
        assert row["fullName"] in NAMES
        row["_email"] = (link.get("contactPoint") or {}).get("email")
    if searches is None:
        searches = [*SEARCHES, *_colon_searches(rows[3]["identifier"])]
    for sort in ("identifier", "fullName", "id"):
        for direction in ("ASC", "DESC"):
            for search in searches:
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


def test_card_pages_equal_the_naive_query(
    client: FlaskClient, uni: Tenant, population: None, database_url: str
) -> None:
    _card_pages_equal_the_naive_query(client, uni, database_url, None)


def test_person_pages_equal_the_naive_query(
    client: FlaskClient, uni: Tenant, population: None, database_url: str
) -> None:
    _person_pages_equal_the_naive_query(client, uni, database_url, None)


# Short searches matching every row ("FR", in every ESI), some ("b", "bo", "_", "p1" in the
# persons' e-mail addresses) and none ("zz"; "p1" on cards).
SHORT_SEARCHES = ["FR", "b", "bo", "_", "p1", "zz"]


@pytest.mark.parametrize("bounds", [(1, 5, 9), (2, 2, 40)])
def test_short_search_pages_equal_the_naive_query_however_found(
    client: FlaskClient,
    uni: Tenant,
    population: None,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    bounds: tuple[int, int, int],
) -> None:
    """A short search's page found by the walk, not found there, or too deep to walk: the same.

    Bounds small enough for twelve rows and pages of five: (1, 5, 9) walks five rows for the
    first page and none for the next (too deep); (2, 2, 40) walks ten, twenty, thirty.
    """
    factor, least, most = bounds
    monkeypatch.setattr(pagination, "WALK_FACTOR", factor)
    monkeypatch.setattr(pagination, "WALK_MIN_ROWS", least)
    monkeypatch.setattr(pagination, "WALK_MAX_ROWS", most)
    outcomes: Counter[str] = Counter()
    walked_page, bound_of = pagination._walked_page, pagination.walk_bound

    def counted_walk(*args: Any) -> list[Any] | None:
        keys = walked_page(*args)
        outcomes["found" if keys is not None else "not found"] += 1
        return keys

    def counted_bound(first_row: int, size: int) -> int | None:
        bound = bound_of(first_row, size)
        outcomes["too deep" if bound is None else "walked"] += 1
        return bound

    monkeypatch.setattr(pagination, "_walked_page", counted_walk)
    monkeypatch.setattr(pagination, "walk_bound", counted_bound)
    _card_pages_equal_the_naive_query(client, uni, database_url, SHORT_SEARCHES)
    _person_pages_equal_the_naive_query(client, uni, database_url, SHORT_SEARCHES)
    # Each way of finding a page was taken, the comparisons above held for all three.
    assert outcomes["found"] and outcomes["not found"], outcomes
    assert outcomes["too deep"] > 0 or most == 40, outcomes


def _assert_exact(client: FlaskClient, db: Database, *tenants: Tenant) -> None:
    """Each tenant's list totals equal a count of its rows; the copies equal their person's."""
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
        stale_cards = session.execute(
            select(Card.id)
            .join(Person, Person.id == Card.person_id)
            .where((Card.holder_esi != Person.esi) | Card.holder_esi.is_(None))
        ).all()
        assert stale_cards == []


def test_counts_and_copies_stay_exact_through_every_writer(
    client: FlaskClient, uni: Tenant, other_uni: Tenant, population: None, db: Database
) -> None:
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


def test_counts_stay_exact_under_concurrent_writers(
    app: Flask, client: FlaskClient, uni: Tenant, other_uni: Tenant, db: Database
) -> None:
    writers = 16

    def write(c: FlaskClient, i: int) -> tuple[int, int]:
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
    client: FlaskClient,
    uni: Tenant,
    other_uni: Tenant,
    population: None,
    db: Database,
    database_url: str,
) -> None:
    db.engine.dispose()  # no pooled connection holds the tables the migration alters
    migrate.downgrade(database_url, "0011")
    migrate.upgrade(database_url)
    db.engine.dispose()
    _assert_exact(client, db, uni, other_uni)


def test_migration_0013_copies_the_holders_esi_onto_cards_and_back(
    client: FlaskClient,
    uni: Tenant,
    other_uni: Tenant,
    population: None,
    db: Database,
    database_url: str,
) -> None:
    found_before = _search(client, uni, "/api/v2/cards", "fr")
    db.engine.dispose()
    migrate.downgrade(database_url, "0012")
    columns = {c["name"] for c in inspect(db.engine).get_columns("cards")}
    person_indexes = {i["name"] for i in inspect(db.engine).get_indexes("persons")}
    assert "holder_esi" not in columns and "ix_persons_esi_trgm" in person_indexes
    # A card written while downgraded (a copy of the first one's fields, another number) has no
    # copy of its holder's ESI until the upgrade's backfill gives it one.
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cards (card_number, person_id, issuer_id, card_type, state,"
                " issued_at, expires_at, display_name, created_at, updated_at, version)"
                " SELECT 'downgraded-0013', person_id, issuer_id, card_type, state, issued_at,"
                " expires_at, 'Downgraded', created_at, updated_at, 1 FROM cards"
                " WHERE id = (SELECT min(id) FROM cards)"
            )
        )
    migrate.upgrade(database_url)
    db.engine.dispose()
    card_indexes = {i["name"] for i in inspect(db.engine).get_indexes("cards")}
    person_indexes = {i["name"] for i in inspect(db.engine).get_indexes("persons")}
    assert "ix_cards_issuer_holder_esi_trgm" in card_indexes
    assert "ix_persons_esi_trgm" not in person_indexes
    _assert_exact(client, db, uni, other_uni)
    found, total = _search(client, uni, "/api/v2/cards", "fr")  # every holder's ESI is French
    assert sorted(found) == sorted([*found_before[0], "downgraded-0013"])
    assert total == found_before[1] + 1 == len(NAMES) + 1


def _search(client: FlaskClient, tenant: Tenant, path: str, text: str) -> tuple[list[str], int]:
    """Every item a search finds (by identifier or card number), and its totalElements."""
    reply = client.get(path, query_string={"search": text, "size": 1000}, headers=tenant.headers)
    assert reply.status_code == 200, reply.json
    key = "cardNumber" if path.endswith("cards") else "identifier"
    return [item[key] for item in reply.json["content"]], reply.json["page"]["totalElements"]


def test_a_person_search_matches_each_column_and_lists_each_person_once(
    client: FlaskClient, uni: Tenant, other_uni: Tenant
) -> None:
    bodies = {
        "name": person_body(esi("N001"), uni.pic, fullName="Ann Qx7", email="qax@example.org"),
        "email": person_body(esi("E001"), uni.pic, fullName="Bo", email="qX7@example.org"),
        "esi": person_body(esi("QX7001"), uni.pic, fullName="Cy", email="c@example.org"),
        "all": person_body(esi("Q001qx7"), uni.pic, fullName="qx7", email="qx7@example.org"),
        "none": person_body(esi("Z001"), uni.pic, fullName="Q_x7", email="q%x7@example.org"),
    }
    for body in bodies.values():
        assert client.post("/api/v2/persons", json=body, headers=uni.headers).status_code == 201
    # Another organisation's person matching every column is not the caller's.
    elsewhere = person_body(esi("QX7999"), other_uni.pic, fullName="Qx7", email="qx7@x.org")
    assert (
        client.post("/api/v2/persons", json=elsewhere, headers=other_uni.headers).status_code == 201
    )
    found, total = _search(client, uni, "/api/v2/persons", "Qx7")
    expected = [bodies[k]["identifier"] for k in ("name", "email", "esi", "all")]
    assert sorted(found) == sorted(expected) and len(found) == len(set(found)) == total == 4
    # LIKE's wildcards are plain characters in a search.
    assert _search(client, uni, "/api/v2/persons", "q_x") == ([bodies["none"]["identifier"]], 1)
    assert _search(client, uni, "/api/v2/persons", "q%x") == ([bodies["none"]["identifier"]], 1)
    assert _search(client, uni, "/api/v2/persons", "q\\x") == ([], 0)


def test_a_card_search_matches_each_column_and_lists_each_card_once(
    client: FlaskClient, uni: Tenant, other_uni: Tenant, db: Database
) -> None:
    holders = {"plain": esi("P001"), "esi": esi("HOLDERQX7"), "both": esi("BOTH9")}
    for holder in holders.values():
        body = person_body(holder, uni.pic)
        assert client.post("/api/v2/persons", json=body, headers=uni.headers).status_code == 201

    def issue(holder: str, name: str) -> str:
        body = card_body(holder, uni.pic, displayName=name)
        reply = client.post("/api/v2/cards", json=body, headers=uni.headers)
        assert reply.status_code == 201, reply.json
        return reply.json["cardNumber"]

    by_number = issue(holders["plain"], "Plain")
    fragment = by_number[:8]  # the number's own digits (its time field), in no other card's
    by_name = issue(holders["plain"], f"Named {fragment.upper()}")
    by_esi = issue(holders["esi"], "Other")
    # A holder's card number and name both matching: one card, counted once.
    both = issue(holders["both"], "both9")
    assert _search(client, uni, "/api/v2/cards", "both9") == ([both], 1)
    found, total = _search(client, uni, "/api/v2/cards", fragment)
    assert sorted(found) == sorted([by_number, by_name]) and total == 2
    found, total = _search(client, uni, "/api/v2/cards", "holderqx7")
    assert (found, total) == ([by_esi], 1)
    # Another organisation's card of the same holder is not the caller's.
    assert (
        client.put(
            f"/api/v2/persons/{holders['esi']}",
            json=person_body(holders["esi"], other_uni.pic),
            headers=other_uni.headers,
        ).status_code
        == 200
    )
    reply = client.post(
        "/api/v2/cards", json=card_body(holders["esi"], other_uni.pic), headers=other_uni.headers
    )
    assert reply.status_code == 201, reply.json
    assert _search(client, uni, "/api/v2/cards", "HolderQX7") == ([by_esi], 1)
    assert _search(client, other_uni, "/api/v2/cards", "HolderQX7")[1] == 1
    assert _search(client, uni, "/api/v2/cards", "holder_x7") == ([], 0)
    # The card's copy of its holder's ESI follows a change of the ESI (by any writer).
    with db.session() as session:
        session.execute(
            update(Person).where(Person.esi == holders["esi"]).values(esi=esi("RENAMED7"))
        )
        session.commit()
    assert _search(client, uni, "/api/v2/cards", "holderqx7") == ([], 0)
    assert _search(client, uni, "/api/v2/cards", "renamed7") == ([by_esi], 1)
    _assert_exact(client, db, uni, other_uni)


def _load_thousands(db: Database, uni: Tenant, other_uni: Tenant) -> None:
    """8,000 persons with a card each, one in ten at ``uni``, vacuumed and analysed."""
    with db.session() as session:
        ids = dict(session.execute(select(Organisation.identifier, Organisation.id)).all())
        scope = {"uni": ids[uni.pic], "other": ids[other_uni.pic]}
        for statement in (
            "INSERT INTO persons (esi, created_at, updated_at, version)"
            " SELECT 'urn:schac:personalUniqueCode:int:esi:FR:' || lpad(g::text, 9, '0'),"
            " now(), now(), 1 FROM generate_series(1, 8000) g",
            "INSERT INTO person_organisations (person_id, organisation_id, academic_level,"
            " full_name, email, created_at, updated_at)"
            " SELECT id, CASE WHEN id % 10 = 0 THEN :uni ELSE :other END, 'MASTER',"
            " md5(id::text), 's' || id || '@u.example', now(), now() FROM persons",
            "INSERT INTO cards (card_number, person_id, issuer_id, card_type, state, issued_at,"
            " expires_at, display_name, created_at, updated_at, version)"
            " SELECT md5(id::text || 'n'), id, CASE WHEN id % 10 = 0 THEN :uni ELSE :other END,"
            " 'SMART_CDZ', 'ACTIVE', '2026-09-01', '2030-08-31', md5(id::text), now(), now(), 1"
            " FROM persons",
        ):
            session.execute(text(statement), scope)
        session.commit()
    # As after a load: the GIN indexes' pending entries merged, statistics taken.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE persons, person_organisations, cards")


@contextlib.contextmanager
def _statements(db: Database, keep: Callable[[str], bool]) -> Iterator[list[tuple[str, Any]]]:
    """The statements run on ``db`` meanwhile that ``keep`` keeps, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def capture(
        _conn: Connection,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: ExecutionContext | None,
        _many: bool,
    ) -> None:
        if keep(statement):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)


# EXPLAIN pins PostgreSQL's plans; SQLite's LIKE reads no index (its searches scan).
@pytest.mark.parametrize("database_url", [b for b in BACKENDS if b == "postgresql"], indirect=True)
def test_searches_are_one_bitmap_scan_of_the_scoped_indexes(
    client: FlaskClient, db: Database, uni: Tenant, other_uni: Tenant
) -> None:
    """Each list's search ORs the three scoped trigram indexes of one table: no join, no scan."""
    _load_thousands(db, uni, other_uni)
    with _statements(db, lambda statement: "OVER ()" in statement) as pages:
        for path, search in (
            ("/api/v2/cards", hashlib.md5(b"1230").hexdigest()[:6]),
            ("/api/v2/cards", "FR:000001230"),
            ("/api/v2/persons", hashlib.md5(b"1230").hexdigest()[:6]),
            ("/api/v2/persons", "s1230@"),
        ):
            reply = client.get(path, query_string={"search": search}, headers=uni.headers)
            assert reply.status_code == 200 and reply.json["page"]["totalElements"] >= 1, search
    assert len(pages) == 4
    for n, (statement, parameters) in enumerate(pages):
        with db.engine.connect() as conn, conn.begin():
            conn.execute(SEARCH_PLANNING)  # as the search sets it
            explained = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            plan = "\n".join(row[0] for row in explained)
        table = "cards" if n < 2 else "person_organisations"
        columns = (
            ["card_number", "display_name", "holder_esi"]
            if table == "cards"
            else ["full_name", "email", "esi"]
        )
        prefix = "ix_cards_issuer" if table == "cards" else "ix_person_organisations_org"
        indexes = [f"{prefix}_{column}_trgm" for column in columns]
        assert "BitmapOr" in plan and f"Bitmap Heap Scan on {table}" in plan, plan
        assert all(f"Bitmap Index Scan on {index}" in plan for index in indexes), plan
        assert "Seq Scan" not in plan and "Join" not in plan and "persons" not in plan, plan
        if n == 1:
            # "FR:000001230" is found through the indexes by its last segment, then held to
            # the whole text by a filter no index serves.
            conditions = [line for line in plan.splitlines() if "Index Cond" in line]
            assert all("%000001230%" in c and "fr:" not in c for c in conditions), plan
            assert "Filter" in plan and "lower(" in plan and "%fr:000001230%" in plan, plan
    # A search is planned for its own text, even once psycopg has prepared its statement (its
    # fifth run on a connection), when PostgreSQL could switch to a generic plan costed for no
    # text in particular: the settings hold in the searching transaction, and only there.
    seen: list[tuple[str, str]] = []

    def settings(
        _conn: Connection,
        cursor: Any,
        statement: str,
        _parameters: Any,
        _context: ExecutionContext | None,
        _many: bool,
    ) -> None:
        # A page of matches sorted and counted, or of a one-letter search: its walk and count.
        if "OVER ()" in statement or "search_text" in statement:
            row = cursor.connection.execute(
                "SELECT current_setting('plan_cache_mode'), current_setting('random_page_cost')"
            ).fetchone()
            seen.append(row)

    event.listen(db.engine, "after_cursor_execute", settings)
    try:
        for search in ("e", "s1230@"):
            reply = client.get(
                "/api/v2/persons", query_string={"search": search}, headers=uni.headers
            )
            assert reply.status_code == 200 and reply.json["page"]["totalElements"] >= 1
    finally:
        event.remove(db.engine, "after_cursor_execute", settings)
    assert seen == [("force_custom_plan", "1.1")] * 3
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar() == "auto"


@pytest.mark.parametrize("database_url", [b for b in BACKENDS if b == "postgresql"], indirect=True)
def test_short_searches_walk_a_sort_index_or_read_the_search_text_index_alone(
    client: FlaskClient, db: Database, uni: Tenant, other_uni: Tenant
) -> None:
    """A short search found in most rows: a bounded walk of the sort index, counted from the
    search text's index alone; found in none: its matches from that index alone."""
    _load_thousands(db, uni, other_uni)

    def plans(path: str, search: str, sort: str) -> tuple[int, list[str], list[str]]:
        """The list's total, the statements reading the search text, and their plans."""
        with _statements(db, lambda statement: "search_text" in statement) as statements:
            reply = client.get(
                path, query_string={"search": search, "sort": sort}, headers=uni.headers
            )
        assert reply.status_code == 200, reply.json
        explained = []
        for statement, parameters in statements:
            with db.engine.connect() as conn, conn.begin():
                conn.execute(SEARCH_PLANNING)  # as the search sets it
                rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
                explained.append("\n".join(row[0] for row in rows))
        return reply.json["page"]["totalElements"], [text for text, _ in statements], explained

    for path, sort, sort_index, search_index in (
        (
            "/api/v2/cards",
            "displayName",
            "ix_cards_issuer_display_name",
            "ix_cards_issuer_search_text",
        ),
        (
            "/api/v2/persons",
            "fullName",
            "ix_person_organisations_org_full_name",
            "ix_person_organisations_org_search_text",
        ),
    ):
        # "e": in every ESI. The page from the first rows of the sort index, then a count.
        total, statements, (walk, count) = plans(path, "e", sort)
        assert total == 800
        assert "walked" in statements[0] and "OVER ()" not in "".join(statements), statements
        assert f"Index Scan using {sort_index}" in walk, walk
        assert f"Index Only Scan using {search_index}" in count, count
        # "qx": in no row. The walk finds no page; the matches come from the search text's
        # index alone (each sort value would be read by key), counted beside them.
        total, statements, (walk, matches) = plans(path, "qx", sort)
        assert total == 0
        assert "walked" in statements[0] and "OVER ()" in statements[1], statements
        assert f"Index Scan using {sort_index}" in walk, walk
        assert f"Index Only Scan using {search_index}" in matches, matches
        assert all("Seq Scan" not in plan for plan in (walk, count, matches))
