"""Searches of one or two letters match a row's search text: the same rows as column by column."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from sqlalchemy import ColumnElement, or_, select

from router.db import Database
from router.models import Card, Organisation, PersonOrganisation
from router.services.pagination import is_short_search, like_pattern
from tests.conftest import Register, Tenant, esi, person_body

# One and two letters in several cases and scripts, LIKE's wildcards, a digit, a blank, and
# letters found in no row: each answered from the search text (is_short_search).
SHORT = ["e", "E", "é", "É", "zo", "ÅN", "%", "_", "3", " ", "q", "@x", "ë"]


def _column_by_column(
    db: Database,
    key: ColumnElement[object],
    scope: ColumnElement[bool],
    columns: tuple[ColumnElement[object], ...],
    search: str,
) -> set[object]:
    """The keys matched by ILIKE on each column, as every longer search is matched."""
    pattern = like_pattern(search)
    condition = or_(*(column.ilike(pattern, escape="\\") for column in columns))
    with db.session() as session:
        return set(session.scalars(select(key).where(scope, condition)))


def test_short_searches_find_the_cards_their_columns_hold(
    client: FlaskClient, uni: Tenant, registered: Register, db: Database
) -> None:
    names = ["Émile Zola", "zoë ÅNGSTRÖM", "O'Brien 3", "Ada", "50% off_road"]
    for n, name in enumerate(names):
        registered(f"S{n:03d}", displayName=name)
    with db.session() as session:
        issuer = session.scalar(select(Organisation.id).where(Organisation.identifier == uni.pic))
    columns = (Card.card_number, Card.display_name, Card.holder_esi)
    for search in SHORT:
        assert is_short_search(search)
        expected = _column_by_column(
            db, Card.card_number, Card.issuer_id == issuer, columns, search
        )
        page = client.get(
            f"/api/v2/cards?size=100&search={quote(search)}", headers=uni.headers
        ).json
        assert {card["cardNumber"] for card in page["content"]} == expected, search
        assert page["page"]["totalElements"] == len(expected), search
    # Something is found, and not everything: the comparison above is not of empty sets only.
    names_only = (Card.display_name,)
    some = _column_by_column(db, Card.card_number, Card.issuer_id == issuer, names_only, "zo")
    assert 0 < len(some) < len(names)


def test_a_short_search_is_paged_and_sorted_with_its_total(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    for n in range(7):
        registered(f"P{n:03d}", displayName=f"Card {n}")
    first = client.get(
        "/api/v2/cards?size=3&sort=displayName,desc&search=c", headers=uni.headers
    ).json
    assert first["page"] == {"number": 0, "size": 3, "totalElements": 7, "totalPages": 3}
    assert [card["displayName"] for card in first["content"]] == ["Card 6", "Card 5", "Card 4"]
    last = client.get(
        "/api/v2/cards?size=3&page=2&sort=displayName,desc&search=c", headers=uni.headers
    ).json
    assert [card["displayName"] for card in last["content"]] == ["Card 0"]
    beyond = client.get("/api/v2/cards?size=3&page=5&search=c", headers=uni.headers).json
    assert beyond["content"] == [] and beyond["page"]["totalElements"] == 7


def test_short_searches_find_the_persons_their_links_hold(
    client: FlaskClient, uni: Tenant, db: Database
) -> None:
    people = [("Ab", "cd@x.example"), ("Éva Ëlen", "eva@school.example"), ("Zoé", "z@x.example")]
    for n, (full_name, email) in enumerate(people):
        body = person_body(esi(f"T{n:03d}"), uni.pic, fullName=full_name, email=email)
        assert client.post("/api/v2/persons", json=body, headers=uni.headers).status_code == 201
    with db.session() as session:
        organisation = session.scalar(
            select(Organisation.id).where(Organisation.identifier == uni.pic)
        )
    scope = PersonOrganisation.organisation_id == organisation
    columns = (
        PersonOrganisation.full_name,
        PersonOrganisation.email,
        PersonOrganisation.person_esi,
    )
    with db.session() as session:
        links = select(PersonOrganisation.person_id, PersonOrganisation.person_esi)
        identifiers = {key: identifier for key, identifier in session.execute(links)}
    for search in [*SHORT, "bc", "ab"]:
        expected = {
            identifiers[key]
            for key in _column_by_column(db, PersonOrganisation.person_id, scope, columns, search)
        }
        page = client.get(
            f"/api/v2/persons?size=100&search={quote(search)}", headers=uni.headers
        ).json
        assert {person["identifier"] for person in page["content"]} == expected, search
        assert page["page"]["totalElements"] == len(expected), search


@pytest.mark.parametrize("search", ["bc", "b\x1fc"])
def test_a_search_does_not_match_across_two_columns(
    client: FlaskClient, uni: Tenant, search: str
) -> None:
    # "Ab" then "cd@...": a row's search text joins its columns with a separator, so "bc" is not
    # found across them; a search holding the separator itself is matched column by column.
    body = person_body(esi("X001"), uni.pic, fullName="Ab", email="cd@x.example")
    assert client.post("/api/v2/persons", json=body, headers=uni.headers).status_code == 201
    page = client.get(f"/api/v2/persons?search={quote(search)}", headers=uni.headers).json
    assert page["page"]["totalElements"] == 0 and page["content"] == []
    found = client.get(f"/api/v2/persons?search={quote('cd')}", headers=uni.headers).json
    assert found["page"]["totalElements"] == 1
