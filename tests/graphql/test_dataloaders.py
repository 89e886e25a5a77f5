"""A page of persons with their cards, histories, pictures and processors costs a fixed number
of SQL queries, whatever the page size: the loaders batch every level."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection, ExecutionContext

from router.db import Database
from router.domain.lifecycle import CardAction
from router.models import PersonPicture
from router.services import cards, credentials, persons
from tests.conftest import Tenant, esi
from tests.graphql.conftest import GraphQL

QUERY = """query($n: Int!) { persons(first: $n) { totalCount edges { cursor node {
    identifier fullName
    organisations { academicLevel hasPicture organisation { identifier } }
    cards { cardNumber state issuer { name } processor { identifier name }
            person { identifier }
            history { event fromState toState actorOrganisation } } } } } }"""


@pytest.fixture
def hundred_persons(db: Database, uni: Tenant, other_uni: Tenant) -> None:
    """100 persons of ``uni``, each with a card (half processed by the other university, every
    third reported lost) and every fourth with a picture."""
    with db.session() as session:
        caller = credentials.authenticate(session, uni.key)
        for i in range(100):
            person = persons.create_person(
                session,
                caller,
                persons.PersonInput(
                    identifier=esi(f"N{i:03d}"),
                    links=[persons.LinkInput(organisation_identifier=uni.pic, full_name=f"P {i}")],
                ),
            )
            card = cards.register_card(
                session,
                caller,
                cards.CardInput(
                    card_type="SMART_CDZ",
                    card_status_type="ACTIVE",
                    issued_at=dt.date(2026, 9, 1),
                    expires_at=dt.date(2030, 8, 31),
                    issuer_identifier=uni.pic,
                    person_identifier=person.esi,
                    processor_identifier=other_uni.pic if i % 2 else None,
                ),
            )
            if i % 3 == 0:
                cards.change_state(session, caller, card.card_number, CardAction.REPORT_LOST)
            if i % 4 == 0:
                session.add(
                    PersonPicture(
                        person_id=person.id,
                        organisation_id=caller.organisation_id,
                        content_type="image/png",
                        content=b"x",
                    )
                )
                session.commit()


def _count_queries(
    db: Database, run: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], list[str]]:
    statements = []

    def count(
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        result = run()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return result, statements


def test_a_page_of_persons_with_cards_costs_constant_queries(
    db: Database, gql: GraphQL, uni: Tenant, hundred_persons: None
) -> None:
    counts = {}
    for size in (10, 100):
        body, statements = _count_queries(db, lambda n=size: gql(QUERY, {"n": n}, tenant=uni))
        assert "errors" not in body, body
        edges = body["data"]["persons"]["edges"]
        assert len(edges) == size
        counts[size] = len(statements)
    assert counts[10] == counts[100], counts
    # One query per level, however many rows: the API key, the count, the persons, their links,
    # the pictures, the cards (with their holders' links), the histories, the history actors
    # and the processors; plus the organisations' prefixes, which the models load eagerly
    # beside each query that returns organisations (at most once per such query).
    assert counts[100] <= 15, counts

    edges = body["data"]["persons"]["edges"]
    by_name = {e["node"]["fullName"]: e["node"] for e in edges}
    lost = by_name["P 3"]["cards"][0]
    assert lost["state"] == "LOST"
    assert [h["event"] for h in lost["history"]] == ["ISSUED", "REPORT_LOST"]
    assert lost["processor"]["identifier"] == "888888888"
    assert by_name["P 4"]["cards"][0]["processor"] is None
    assert by_name["P 4"]["organisations"][0]["hasPicture"] is True
    assert by_name["P 5"]["organisations"][0]["hasPicture"] is False
    assert all(
        e["node"]["cards"][0]["person"]["identifier"] == e["node"]["identifier"] for e in edges
    )


def test_a_page_of_cards_with_histories_costs_constant_queries(
    db: Database, gql: GraphQL, uni: Tenant, hundred_persons: None
) -> None:
    query = """query($n: Int!) { cards(first: $n) { edges { node {
        cardNumber history { event actorOrganisation } processor { name }
        person { identifier cards { cardNumber } } } } } }"""
    counts = {}
    for size in (10, 100):
        body, statements = _count_queries(db, lambda n=size: gql(query, {"n": n}, tenant=uni))
        assert "errors" not in body, body
        assert len(body["data"]["cards"]["edges"]) == size
        counts[size] = len(statements)
    assert counts[10] == counts[100], counts
    assert counts[100] <= 15, counts
