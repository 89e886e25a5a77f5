"""Batches settled set-based give exactly the per-item results of the item-by-item path.

The same sequence of mixed batches (new, unchanged, updated, duplicate within the batch, invalid,
another organisation's, taken chip serials) runs once item by item (``SET_BASED = False``) and
once set-based on a fresh database; the results, item by item, and what is stored must agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from router.db import Database
from router.domain.escn import EscnGenerator
from router.models import Organisation, Person, PersonOrganisation
from router.services import batch as batch_service
from router.services import batch_sets, bulk_sql
from router.services.batch_sets import Settled
from router.services.caller import Caller
from router.services.persons import PersonInput
from tests.conftest import BACKENDS, MakeTenant, Tenant, _wipe, card_body, esi, person_body

PERSONS = "/api/x/persons:batch"
CARDS = "/api/x/cards:batch"
PIC = "999999999"
OTHER = "888888888"
NUMBERS = EscnGenerator(clock_seq=7).generate_many(PIC, "001", 4)
FOREIGN_NUMBER = EscnGenerator(clock_seq=8).generate(OTHER, "001")


def _persons_batches() -> list[list[Any]]:
    first = [
        person_body(esi("S1"), PIC),
        person_body(esi("S2"), PIC, email="two@example.org"),
        person_body("not-an-esi", PIC),
        {"identifier": esi("S3")},  # no links
        person_body(esi("S4"), PIC, academicLevel="KINDERGARTEN"),
        person_body(esi("S1"), PIC, email="again@example.org"),  # duplicate within the batch
        person_body(esi("SHARED"), PIC),  # known through the other organisation only
        person_body(esi("S5"), OTHER),  # another organisation's link
        "not an object",
        person_body(esi("S6"), PIC, fullName="Six"),
        person_body(esi("S7"), PIC, identifierCode="NOPE"),
    ]
    second = [
        person_body(esi("S6"), PIC, fullName="Six"),  # unchanged
        person_body(esi("S2"), PIC, email="changed@example.org"),  # updated
        person_body(esi("S8"), PIC),  # new
        person_body(esi("S6"), PIC, fullName="Six", identifierCode="NOPE"),  # unchanged, invalid
        person_body(esi("S9"), PIC),
        person_body(esi("S9"), PIC),
    ]
    return [first, second, second, first]


def _cards_batches() -> list[list[Any]]:
    first = [
        card_body(esi("S6"), PIC, cardNumber=NUMBERS[0]),
        card_body(esi("S6"), PIC),  # generated number
        card_body(esi("S8"), PIC, csn="04:A1:B2:C3:D4:E5:F6"),
        card_body(esi("NOBODY"), PIC),  # unknown holder
        card_body(esi("SHARED"), PIC),  # linked here by the persons batch
        card_body(esi("OTHERS"), PIC),  # another organisation's person
        card_body(esi("S6"), PIC, cardType="PAPER"),
        card_body(esi("S6"), OTHER),
        card_body(esi("S6"), PIC, issuedAt="2031-01-01"),
        card_body(esi("S8"), PIC, cardNumber=NUMBERS[1]),
        card_body(esi("S8"), PIC, cardNumber=NUMBERS[1], displayName="twice"),
        card_body(esi("S6"), PIC, cardNumber=FOREIGN_NUMBER),
        card_body(esi("S9"), PIC, csn="0A0B0C0D"),  # the other organisation's chip
        card_body(esi("S9"), PIC, cardNumber="not-a-number"),
        {"cardType": "SMART_CDZ"},
    ]
    second = [
        card_body(esi("S6"), PIC, cardNumber=NUMBERS[0]),  # unchanged
        card_body(esi("S8"), PIC, csn="04A1B2C3D4E5F6"),  # unchanged, matched by chip
        card_body(esi("S8"), PIC, cardNumber=NUMBERS[1], cardStatusType="INACTIVE"),  # updated
        card_body(esi("S9"), PIC, cardNumber=NUMBERS[2], csn="11223344"),
        card_body(esi("S2"), PIC, cardNumber=NUMBERS[3], csn="11223344"),  # same chip
        card_body(esi("S9"), PIC, cardNumber=NUMBERS[0]),  # another holder: refused
    ]
    return [first, second, second, first]


def _scenario(client: FlaskClient, make_tenant: MakeTenant) -> tuple[list[Any], list[Any]]:
    uni = make_tenant(PIC, "Demo University")
    other = make_tenant(OTHER, "Other University")
    for code in ("SHARED", "OTHERS"):
        client.post("/api/v2/persons", json=person_body(esi(code), OTHER), headers=other.headers)
    client.post(
        "/api/v2/cards",
        json=card_body(esi("OTHERS"), OTHER, csn="0A0B0C0D"),
        headers=other.headers,
    )
    given = set(NUMBERS) | {FOREIGN_NUMBER}
    results = []
    for path, batches in ((PERSONS, _persons_batches()), (CARDS, _cards_batches())):
        for items in batches:
            reply = client.post(path, json={"items": items}, headers=uni.headers)
            assert reply.status_code == 200, reply.json
            for item in reply.json["results"]:
                number = item["identifier"] or ""
                if "-" in number and number not in given:
                    item["identifier"] = "generated"
                results.append(item)
            results.append(reply.json["summary"])
    cards = client.get("/api/v2/cards?size=100&sort=cardNumber", headers=uni.headers).json
    persons = client.get("/api/v2/persons?size=100&sort=identifier", headers=uni.headers).json
    stored = [
        sorted(
            (c["person"]["identifier"], c["displayName"] or "", c["issuedAt"])
            for c in cards["content"]
        ),
        [(p["identifier"], p["organisations"]) for p in persons["content"]],
    ]
    return results, stored


def test_set_based_batches_equal_the_item_path(
    client: FlaskClient, db: Database, make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_service, "SET_BASED", False)
    item_results, item_stored = _scenario(client, make_tenant)
    _wipe(db)
    monkeypatch.setattr(batch_service, "SET_BASED", True)
    settled: list[str] = []
    originals = {name: getattr(batch_sets, name) for name in ("settle_persons", "settle_cards")}

    def spying(name: str) -> Callable[[Session, Caller, Sequence[Any]], Settled]:
        def spy(session: Session, caller: Caller, items: Sequence[Any]) -> Settled:
            answer = originals[name](session, caller, items)
            settled.extend(outcome for outcome, _status, _identifier in answer.values())
            return answer

        return spy

    for name in originals:
        monkeypatch.setattr(batch_sets, name, spying(name))
    set_results, set_stored = _scenario(client, make_tenant)
    # The set-based path did settle items (created and unchanged ones) in this run.
    assert {"created", "unchanged"} <= set(settled)
    assert set_results == item_results
    assert set_stored == item_stored
    outcomes = {r.get("outcome") for r in set_results}
    assert outcomes >= {"created", "updated", "unchanged", "failed"}


def test_a_conflict_met_by_the_set_insert_goes_item_by_item(
    client: FlaskClient, db: Database, uni: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person registered by another request between the read and the insert: unchanged."""
    from router.services import credentials
    from router.services import persons as person_service

    original = batch_sets.insert_rows
    bodies = [person_body(esi("RACE1"), uni.pic), person_body(esi("RACE2"), uni.pic)]

    def insert_after_a_concurrent_request(
        session: Session, table: Table, rows: Sequence[Mapping[str, Any]], **options: Any
    ) -> list[Any]:
        if table is batch_sets.Person.__table__:
            with db.session() as other:
                caller = credentials.authenticate(other, uni.key)
                person_service.create_person(other, caller, person_service_input(bodies[0]))
        return original(session, table, rows, **options)

    def person_service_input(body: dict[str, Any]) -> PersonInput:
        from router.api.schemas import PersonUpdateView
        from router.api.v2_persons import person_input

        return person_input(PersonUpdateView().load(body))

    monkeypatch.setattr(batch_sets, "insert_rows", insert_after_a_concurrent_request)
    reply = client.post(PERSONS, json={"items": bodies}, headers=uni.headers)
    assert reply.status_code == 200, reply.json
    assert [(r["outcome"], r["status"]) for r in reply.json["results"]] == [
        ("unchanged", 200),
        ("created", 201),
    ]


# SQLite has no LATERAL, arrays or statistics-driven plans to pin: this test runs on PostgreSQL.
@pytest.mark.parametrize(
    "database_url", [b for b in BACKENDS if b == "postgresql"], indirect=True
)
def test_stored_rows_are_read_by_index_probes_before_any_statistics(
    client: FlaskClient, db: Database, uni: Tenant
) -> None:
    """On PostgreSQL each key is one index probe, even in tables never analysed (an import's)."""
    bodies = [person_body(esi(f"P{n:04d}"), uni.pic) for n in range(300)]
    for start in range(0, len(bodies), 100):
        reply = client.post(
            PERSONS, json={"items": bodies[start : start + 100]}, headers=uni.headers
        )
        assert reply.json["summary"]["created"] == 100, reply.json
    with db.session() as session:
        organisation = session.scalar(
            select(Organisation.id).where(Organisation.identifier == uni.pic)
        )
        lookup = select(PersonOrganisation.person_id).where(
            PersonOrganisation.organisation_id == organisation
        )
        ids = session.scalars(select(Person.id)).all()[:50]
        statement = bulk_sql.keyed_lookup(lookup, PersonOrganisation.person_id, ids)
        compiled = statement.compile(session.get_bind())
        explained = session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
        plan = "\n".join(row[0] for row in explained)
    # Not the organisation's links walked whole and filtered (what the planner chose for a
    # join of the two tables while they had no statistics).
    assert "Seq Scan on person_organisations" not in plan, plan
    assert "Index Cond" in plan and "person_id = k.key" in plan, plan
