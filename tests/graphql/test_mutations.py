"""Mutations validate their input, answer with the REST codes, and a failed one changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import Register, Tenant, esi
from tests.graphql.conftest import GraphQL, only_error

CREATE = "mutation($p: PersonInput!) { createPerson(input: $p) { identifier } }"
ISSUE = "mutation($c: CardInput!) { issueCard(input: $c) { cardNumber csn } }"


def _card(person: str, **fields: Any) -> dict[str, Any]:
    body = {
        "personIdentifier": person,
        "cardType": "SMART_CDZ",
        "issuedAt": "2026-09-01",
        "expiresAt": "2030-08-31",
    }
    body.update(fields)
    return body


@pytest.mark.parametrize(
    "person",
    [
        {"identifier": esi("V1"), "academicLevel": "PHD"},
        {"identifier": esi("V1"), "email": "x" * 256},
        {"identifier": esi("V1"), "phone": "1" * 33},
        {"identifier": esi("V1"), "fullName": 42},
        {"email": "no-identifier@example.org"},
        {"identifier": "x" * 256},
    ],
)
def test_invalid_person_input_is_er_0400_and_creates_nothing(
    client: FlaskClient, gql: GraphQL, uni: Tenant, person: dict[str, Any]
) -> None:
    error = only_error(gql(CREATE, {"p": person}, tenant=uni))
    assert error["extensions"]["code"] == "ER-0400", error
    assert error["extensions"]["status"] == 400
    assert client.get("/api/v2/persons", headers=uni.headers).json["content"] == []


def test_invalid_esi_is_er_0401(gql: GraphQL, uni: Tenant) -> None:
    error = only_error(gql(CREATE, {"p": {"identifier": "student-42"}}, tenant=uni))
    assert error["extensions"]["code"] == "ER-0401"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"cardType": "PLASTIC"}, "ER-0400"),
        ({"issuedAt": "1st of September"}, "ER-0400"),
        ({"cardStatusType": "LOST"}, "ER-0400"),
        ({"displayName": "x" * 256}, "ER-0400"),
        ({"csn": "not hex"}, "ER-0401"),
        ({"cardNumber": "not-a-card-number"}, "ER-0401"),
        ({"expiresAt": "2026-01-01"}, "ER-0422"),
    ],
)
def test_invalid_card_input_is_refused_and_issues_nothing(
    client: FlaskClient,
    gql: GraphQL,
    uni: Tenant,
    registered: Register,
    fields: dict[str, str],
    code: str,
) -> None:
    record = registered("V2")
    error = only_error(gql(ISSUE, {"c": _card(record["esi"], **fields)}, tenant=uni))
    assert error["extensions"]["code"] == code, error
    cards = client.get("/api/v2/cards", headers=uni.headers).json["content"]
    assert [c["cardNumber"] for c in cards] == [record["escn"]]


def test_issue_card_generates_a_number_and_normalises_the_chip(
    gql: GraphQL, uni: Tenant, registered: Register
) -> None:
    record = registered("V3")
    body = gql(ISSUE, {"c": _card(record["esi"], csn="04:78:2e:21")}, tenant=uni)
    card = body["data"]["issueCard"]
    assert card["csn"] == "04782E21"
    assert card["cardNumber"].endswith(uni.pic)


def test_a_failed_renewal_leaves_the_card_as_it_was(
    client: FlaskClient, gql: GraphQL, uni: Tenant, registered: Register
) -> None:
    record = registered("V4")
    error = only_error(
        gql(
            """mutation($n: String!) { changeCardStatus(escn: $n, action: RENEW,
                   renewal: {issuedAt: "2031-01-01", expiresAt: "2030-01-01"}) {
                   card { state } } }""",
            {"n": record["escn"]},
            tenant=uni,
        )
    )
    assert error["extensions"]["code"] == "ER-0422"
    card = gql(
        f'{{ card(escn: "{record["escn"]}") {{ state replacedBy history {{ event }} }} }}',
        tenant=uni,
    )["data"]["card"]
    assert card == {"state": "ACTIVE", "replacedBy": None, "history": [{"event": "ISSUED"}]}


def test_a_failed_mutation_is_not_committed_by_the_next_one(
    client: FlaskClient, gql: GraphQL, uni: Tenant, registered: Register
) -> None:
    """Mutations share the request's session: a later commit must not save a failed change."""
    record = registered("V5")
    body = gql(
        """mutation($n: String!, $p: PersonInput!) {
            bad: changeCardStatus(escn: $n, action: RENEW,
                 renewal: {issuedAt: "2031-01-01", expiresAt: "2030-01-01"}) { card { state } }
            good: createPerson(input: $p) { identifier } }""",
        {"n": record["escn"], "p": {"identifier": esi("V6")}},
        tenant=uni,
    )
    assert only_error(body)["path"] == ["bad"]
    assert client.get(f"/api/v2/persons/{esi('V6')}", headers=uni.headers).status_code == 200
    lifecycle = client.get(f"/api/x/cards/{record['escn']}/lifecycle", headers=uni.headers).json
    assert lifecycle["state"] == "ACTIVE"
    history = client.get(f"/api/x/cards/{record['escn']}/history", headers=uni.headers).json
    assert [h["event"] for h in history] == ["ISSUED"]


def test_mutations_cannot_run_over_get(client: FlaskClient, uni: Tenant) -> None:
    response = client.get(
        "/graphql",
        query_string={"query": f'mutation {{ deletePerson(esi: "{esi("G1")}") {{ identifier }} }}'},
        headers=uni.headers,
    )
    assert response.status_code == 400
    assert response.json["errors"][0]["extensions"]["code"] == "ER-0400"
    assert "GET" in response.json["errors"][0]["message"]


@pytest.mark.parametrize(
    "data",
    [
        "{not json",
        # Nesting past Python's recursion limit, an integer past its 4300 digits: were 500s
        '{"query": "{ __typename }", "variables": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"query": "{ __typename }", "variables": {"n": ' + "9" * 5000 + "}}",
    ],
)
def test_a_body_that_is_not_json_is_a_json_error(
    client: FlaskClient, uni: Tenant, data: str
) -> None:
    response = client.post(
        "/graphql", data=data, content_type="application/json", headers=uni.headers
    )
    assert response.status_code == 400
    assert response.json["errors"][0]["extensions"]["code"] == "ER-0400"


@pytest.mark.parametrize("name", ["variables", "extensions"])
@pytest.mark.parametrize(
    "value", ["[" * 100_000 + "]" * 100_000, '{"n": ' + "9" * 5000 + "}", "{not json"]
)
def test_a_query_parameter_that_is_not_json_is_a_json_error(
    client: FlaskClient, uni: Tenant, name: str, value: str
) -> None:
    # Strawberry reads these with json.loads: deep nesting or a long integer answered 500.
    response = client.get(
        "/graphql",
        query_string={"query": "{ __typename }", name: value},
        headers={**uni.headers, "Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.json["errors"][0]["extensions"]["code"] == "ER-0400"


def test_later_mutations_of_a_document_see_the_earlier_changes(
    gql: GraphQL, uni: Tenant, registered: Register
) -> None:
    record = registered("V7")
    body = gql(
        """mutation($n: String!) {
            first: changeCardStatus(escn: $n, action: SUSPEND) { card { history { event } } }
            second: changeCardStatus(escn: $n, action: REPORT_LOST) {
                card { state history { event } person { cards { state } } } } }""",
        {"n": record["escn"]},
        tenant=uni,
    )
    assert "errors" not in body, body
    assert [h["event"] for h in body["data"]["first"]["card"]["history"]] == ["ISSUED", "SUSPEND"]
    second = body["data"]["second"]["card"]
    assert [h["event"] for h in second["history"]] == ["ISSUED", "SUSPEND", "REPORT_LOST"]
    assert second["state"] == "LOST"
    assert second["person"]["cards"] == [{"state": "LOST"}]
