"""Through GraphQL too, an organisation never reads or writes another's persons or cards."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import Register, Tenant, card_body, esi, person_body
from tests.graphql.conftest import GraphQL, only_error


@pytest.fixture
def theirs(registered: Register, other_uni: Tenant) -> dict[str, Any]:
    """A person and card of the other university."""
    return registered("OTHER1", tenant=other_uni)


def _operations(record: dict[str, Any]) -> list[str]:
    escn, person = record["escn"], record["esi"]
    card_input = (
        f'{{personIdentifier: "{person}", cardType: SMART_CDZ, issuedAt: "2026-09-01", '
        'expiresAt: "2030-08-31"}'
    )
    return [
        f'{{ person(esi: "{person}") {{ identifier }} }}',
        f'{{ person(esi: "{person}") {{ cards {{ cardNumber }} }} }}',
        f'{{ card(escn: "{escn}") {{ cardNumber }} }}',
        f'{{ card(escn: "{escn}") {{ history {{ event }} }} }}',
        f'{{ card(escn: "{escn}") {{ person {{ identifier }} }} }}',
        f'mutation {{ deletePerson(esi: "{person}") {{ identifier }} }}',
        f"mutation {{ issueCard(input: {card_input}) {{ cardNumber }} }}",
    ] + [
        f'mutation {{ changeCardStatus(escn: "{escn}", action: {action}) {{ card {{ state }} }} }}'
        for action in ("REPORT_LOST", "REPORT_STOLEN", "SUSPEND", "DEACTIVATE", "RENEW", "DESTROY")
    ]


def test_every_cross_organisation_operation_is_refused_and_changes_nothing(
    client: FlaskClient, gql: GraphQL, uni: Tenant, other_uni: Tenant, theirs: dict[str, Any]
) -> None:
    before_card = client.get(f"/api/v2/cards/{theirs['escn']}", headers=other_uni.headers).json
    before_person = client.get(f"/api/v2/persons/{theirs['esi']}", headers=other_uni.headers).json
    for document in _operations(theirs):
        body = gql(document, tenant=uni)
        error = only_error(body)
        assert error["extensions"]["code"] == "SE-0000", (document, error)
        # A refused query answers no data; a refused mutation answers null for its field.
        assert not any((body["data"] or {}).values())
    after_card = client.get(f"/api/v2/cards/{theirs['escn']}", headers=other_uni.headers).json
    after_person = client.get(f"/api/v2/persons/{theirs['esi']}", headers=other_uni.headers).json
    assert after_card == before_card
    assert after_person == before_person
    history = client.get(f"/api/x/cards/{theirs['escn']}/history", headers=other_uni.headers)
    assert [h["event"] for h in history.json] == ["ISSUED"]
    assert client.get("/api/v2/cards", headers=uni.headers).json["content"] == []


def test_lists_show_only_your_own_records(
    gql: GraphQL, uni: Tenant, registered: Register, theirs: dict[str, Any]
) -> None:
    mine = registered("MINE1")
    body = gql(
        """{ persons { totalCount edges { node { identifier cards { cardNumber } } } }
             cards { totalCount edges { node { cardNumber } } } }""",
        tenant=uni,
    )
    persons, cards = body["data"]["persons"], body["data"]["cards"]
    assert persons["totalCount"] == 1
    assert [e["node"]["identifier"] for e in persons["edges"]] == [mine["esi"]]
    assert persons["edges"][0]["node"]["cards"] == [{"cardNumber": mine["escn"]}]
    assert cards["totalCount"] == 1
    assert [e["node"]["cardNumber"] for e in cards["edges"]] == [mine["escn"]]
    searched = gql(
        f'{{ cards(filter: {{search: "{theirs["escn"]}"}}) {{ totalCount }} }}', tenant=uni
    )
    assert searched["data"]["cards"]["totalCount"] == 0


def test_a_shared_person_shows_each_organisation_only_its_own_link_and_cards(
    client: FlaskClient, gql: GraphQL, uni: Tenant, other_uni: Tenant
) -> None:
    shared = esi("SHARED")
    client.post(
        "/api/v2/persons",
        json=person_body(shared, uni.pic, email="home@uni.example"),
        headers=uni.headers,
    )
    client.put(
        f"/api/v2/persons/{shared}",
        json=person_body(shared, other_uni.pic, email="host@other.example"),
        headers=other_uni.headers,
    )
    numbers = {}
    for tenant in (uni, other_uni):
        response = client.post(
            "/api/v2/cards", json=card_body(shared, tenant.pic), headers=tenant.headers
        )
        numbers[tenant.pic] = response.json["cardNumber"]
    query = """query($e: String!) {
        person(esi: $e) { organisations { email organisation { identifier } } cards { cardNumber } }
        persons { edges { node { organisations { email } cards { cardNumber } } } } }"""
    for tenant, email in ((uni, "home@uni.example"), (other_uni, "host@other.example")):
        data = gql(query, {"e": shared}, tenant=tenant)["data"]
        assert data["person"]["organisations"] == [
            {"email": email, "organisation": {"identifier": tenant.pic}}
        ]
        assert data["person"]["cards"] == [{"cardNumber": numbers[tenant.pic]}]
        [edge] = data["persons"]["edges"]
        assert edge["node"] == {
            "organisations": [{"email": email}],
            "cards": [{"cardNumber": numbers[tenant.pic]}],
        }
        card = gql(
            f'{{ card(escn: "{numbers[tenant.pic]}") {{ person {{ organisations {{ email }} }} '
            "history { actorOrganisation } } }",
            tenant=tenant,
        )["data"]["card"]
        assert card["person"]["organisations"] == [{"email": email}]
        assert card["history"] == [{"actorOrganisation": tenant.pic}]


def test_linking_another_organisations_person_reveals_nothing_of_their_link(
    client: FlaskClient, gql: GraphQL, uni: Tenant, other_uni: Tenant, theirs: dict[str, Any]
) -> None:
    body = gql(
        "mutation($e: String!, $p: PersonInput!) { updatePerson(esi: $e, input: $p) "
        "{ fullName organisations { fullName email organisation { identifier } } "
        "cards { cardNumber } } }",
        {"e": theirs["esi"], "p": {"identifier": theirs["esi"], "fullName": "Our name"}},
        tenant=uni,
    )
    person = body["data"]["updatePerson"]
    assert person == {
        "fullName": "Our name",
        "organisations": [
            {"fullName": "Our name", "email": None, "organisation": {"identifier": uni.pic}}
        ],
        "cards": [],
    }
    theirs_now = client.get(f"/api/v2/persons/{theirs['esi']}", headers=other_uni.headers).json
    assert theirs_now["fullName"] == "Ada Lovelace"


def test_another_organisations_public_facts_are_readable_as_in_rest(
    client: FlaskClient, gql: GraphQL, uni: Tenant, other_uni: Tenant
) -> None:
    body = gql(
        f'{{ organisation(identifier: "{other_uni.pic}") {{ identifier name country kind '
        "escnPrefixes } }",
        tenant=uni,
    )
    rest = {
        o["identifier"]: o for o in client.get("/api/x/organisations", headers=uni.headers).json
    }
    other = rest[other_uni.pic]
    assert body["data"]["organisation"] == {
        "identifier": other["identifier"],
        "name": other["name"],
        "country": other["country"],
        "kind": other["kind"],
        "escnPrefixes": other["escnPrefixes"],
    }
    error = only_error(gql('{ organisation(identifier: "123456789") { name } }', tenant=uni))
    assert error["extensions"]["code"] == "ER-0030"
