"""The same scenarios through REST and GraphQL give the same data and the same error codes."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from router.domain.escn import EscnGenerator
from router.services.caller import Scope
from tests.conftest import MakeTenant, Register, Tenant, card_body, esi, person_body
from tests.graphql.conftest import GraphQL, only_error

PERSON = """identifier fullName organisations {
    academicLevel email phone fullName hasPicture organisation { identifier name } }"""
CARD = """cardNumber displayName issuedAt expiresAt cardType cardStatusType state csn replacedBy
    allowedActions processorIdentifier issuer { identifier name } person { identifier }"""


def rest_person(view: dict[str, Any]) -> dict[str, Any]:
    """The fields GraphQL's Person has, read from a REST PersonView."""
    return {
        "identifier": view["identifier"],
        "fullName": view["fullName"],
        "organisations": [
            {
                "academicLevel": o["academicLevel"]["key"] if o["academicLevel"] else None,
                "email": o["contactPoint"]["email"],
                "phone": o["contactPoint"]["phone"],
                "fullName": o["fullName"],
                "hasPicture": o["hasPicture"],
                "organisation": {
                    "identifier": o["organisation"]["identifier"],
                    "name": o["organisation"]["name"],
                },
            }
            for o in view["organisations"]
        ],
    }


def rest_card(view: dict[str, Any], lifecycle: dict[str, Any]) -> dict[str, Any]:
    """The fields GraphQL's Card has, read from a REST CardView and CardLifecycleView."""
    return {
        "cardNumber": view["cardNumber"],
        "displayName": view["displayName"],
        "issuedAt": view["issuedAt"],
        "expiresAt": view["expiresAt"],
        "cardType": view["cardType"]["key"],
        "cardStatusType": view["cardStatusType"]["key"],
        "state": view["state"],
        "csn": view["csn"],
        "replacedBy": lifecycle["replacedBy"],
        "allowedActions": lifecycle["allowedActions"],
        "processorIdentifier": (view["processor"] or {}).get("identifier"),
        "issuer": {"identifier": view["issuer"]["identifier"], "name": view["issuer"]["name"]},
        "person": {"identifier": view["person"]["identifier"]},
    }


def gql_person_input(identifier: str, **link: Any) -> dict[str, Any]:
    fields = {"academicLevel": "MASTER", "email": "s@example.org", "fullName": "Ada Lovelace"}
    fields.update(link)
    return {"identifier": identifier, **fields}


def gql_card_input(person: str, **fields: Any) -> dict[str, Any]:
    body = {
        "personIdentifier": person,
        "cardType": "SMART_CDZ",
        "cardStatusType": "ACTIVE",
        "issuedAt": "2026-09-01",
        "expiresAt": "2030-08-31",
        "displayName": "Card of Ada",
    }
    body.update(fields)
    return body


def test_person_written_and_read_the_same_through_both(
    client: FlaskClient, gql: GraphQL, uni: Tenant
) -> None:
    rest_esi, gql_esi = esi("P1"), esi("P2")
    created = client.post(
        "/api/v2/persons",
        json=person_body(rest_esi, uni.pic, phone="+33 1 23", academicLevel="BACHELOR"),
        headers=uni.headers,
    )
    assert created.status_code == 201
    body = gql(
        f"mutation($p: PersonInput!) {{ createPerson(input: $p) {{ {PERSON} }} }}",
        {"p": gql_person_input(gql_esi, phone="+33 1 23", academicLevel="BACHELOR")},
        tenant=uni,
    )
    made = body["data"]["createPerson"]
    assert made == {**rest_person(created.json), "identifier": gql_esi}
    # Each channel reads what the other wrote, identically.
    for identifier in (rest_esi, gql_esi):
        rest = client.get(f"/api/v2/persons/{identifier}", headers=uni.headers).json
        read = gql(f'{{ person(esi: "{identifier}") {{ {PERSON} }} }}', tenant=uni)
        assert read["data"]["person"] == rest_person(rest)


def test_person_update_and_delete_the_same_through_both(
    client: FlaskClient, gql: GraphQL, uni: Tenant
) -> None:
    for code in ("U1", "U2"):
        client.post("/api/v2/persons", json=person_body(esi(code), uni.pic), headers=uni.headers)
    rest = client.put(
        f"/api/v2/persons/{esi('U1')}",
        json=person_body(esi("U1"), uni.pic, email="new@example.org", academicLevel=None),
        headers=uni.headers,
    )
    body = gql(
        f"mutation($e: String!, $p: PersonInput!) {{ updatePerson(esi: $e, input: $p) "
        f"{{ {PERSON} }} }}",
        {
            "e": esi("U2"),
            "p": gql_person_input(esi("U2"), email="new@example.org", academicLevel=None),
        },
        tenant=uni,
    )
    assert body["data"]["updatePerson"] == {**rest_person(rest.json), "identifier": esi("U2")}
    assert client.delete(f"/api/v2/persons/{esi('U1')}", headers=uni.headers).status_code == 204
    body = gql(f'mutation {{ deletePerson(esi: "{esi("U2")}") {{ identifier }} }}', tenant=uni)
    assert body["data"]["deletePerson"] == {"identifier": esi("U2")}
    # Both are now erased: 410 ER-0020 on both channels.
    for code in ("U1", "U2"):
        rest = client.get(f"/api/v2/persons/{esi(code)}", headers=uni.headers)
        error = only_error(gql(f'{{ person(esi: "{esi(code)}") {{ identifier }} }}', tenant=uni))
        assert (rest.status_code, rest.json["code"]) == (410, "ER-0020")
        assert error["extensions"]["code"] == "ER-0020"
        assert error["extensions"]["status"] == 410
        assert error["message"] == rest.json["message"].replace(esi("U1"), esi(code))


def test_card_issued_and_read_the_same_through_both(
    client: FlaskClient, gql: GraphQL, uni: Tenant
) -> None:
    holder = esi("C1")
    client.post("/api/v2/persons", json=person_body(holder, uni.pic), headers=uni.headers)
    rest = client.post(
        "/api/v2/cards", json=card_body(holder, uni.pic, csn="04782E21"), headers=uni.headers
    )
    assert rest.status_code == 201
    body = gql(
        f"mutation($c: CardInput!) {{ issueCard(input: $c) {{ {CARD} }} }}",
        {"c": gql_card_input(holder, csn="04:78:2e:22")},
        tenant=uni,
    )
    issued = body["data"]["issueCard"]
    lifecycle = client.get(
        f"/api/x/cards/{rest.json['cardNumber']}/lifecycle", headers=uni.headers
    ).json
    assert issued == {
        **rest_card(rest.json, lifecycle),
        "cardNumber": issued["cardNumber"],
        "csn": "04782E22",
    }
    for number in (rest.json["cardNumber"], issued["cardNumber"]):
        view = client.get(f"/api/v2/cards/{number}", headers=uni.headers).json
        lifecycle = client.get(f"/api/x/cards/{number}/lifecycle", headers=uni.headers).json
        read = gql(f'{{ card(escn: "{number}") {{ {CARD} }} }}', tenant=uni)
        assert read["data"]["card"] == rest_card(view, lifecycle)


def test_status_change_and_history_the_same_through_both(
    client: FlaskClient, gql: GraphQL, uni: Tenant, registered: Register
) -> None:
    by_rest, by_gql = registered("L1"), registered("L2")
    rest = client.post(
        f"/api/x/cards/{by_rest['escn']}/lifecycle",
        json={"action": "REPORT_LOST"},
        headers=uni.headers,
    )
    body = gql(
        """mutation($n: String!) { changeCardStatus(escn: $n, action: REPORT_LOST) {
            card { cardNumber state cardStatusType allowedActions replacedBy }
            replacement { cardNumber } } }""",
        {"n": by_gql["escn"]},
        tenant=uni,
    )
    change = body["data"]["changeCardStatus"]
    expected = {k: v for k, v in rest.json.items() if k != "replacement"}
    assert change["card"] == {**expected, "cardNumber": by_gql["escn"]}
    assert change["replacement"] is None
    rest_history = client.get(f"/api/x/cards/{by_rest['escn']}/history", headers=uni.headers).json
    body = gql(
        """query($n: String!) { card(escn: $n) { history {
            at event fromState toState actorOrganisation actorCredential relatedCardNumber } } }""",
        {"n": by_gql["escn"]},
        tenant=uni,
    )
    history = body["data"]["card"]["history"]
    drop_time = [{k: v for k, v in h.items() if k != "at"} for h in history]
    assert drop_time == [{k: v for k, v in h.items() if k != "at"} for h in rest_history]
    assert [h["event"] for h in history] == ["ISSUED", "REPORT_LOST"]


def test_renewal_issues_the_same_replacement_through_both(
    client: FlaskClient, gql: GraphQL, uni: Tenant, registered: Register
) -> None:
    by_rest, by_gql = registered("R1"), registered("R2")
    rest = client.post(
        f"/api/x/cards/{by_rest['escn']}/lifecycle",
        json={"action": "RENEW", "expiresAt": "2031-08-31", "displayName": "Renewed"},
        headers=uni.headers,
    ).json
    body = gql(
        """mutation($n: String!) { changeCardStatus(escn: $n, action: RENEW,
              renewal: {expiresAt: "2031-08-31", displayName: "Renewed"}) {
            card { state replacedBy } replacement { cardNumber state expiresAt displayName
              history { event relatedCardNumber } } } }""",
        {"n": by_gql["escn"]},
        tenant=uni,
    )
    change = body["data"]["changeCardStatus"]
    replacement = change["replacement"]
    assert change["card"] == {"state": "RENEWED", "replacedBy": replacement["cardNumber"]}
    assert rest["state"] == "RENEWED"
    for key in ("state", "expiresAt", "displayName"):
        assert replacement[key] == rest["replacement"][key]
    assert replacement["history"] == [{"event": "ISSUED", "relatedCardNumber": by_gql["escn"]}]


def _errors(
    client: FlaskClient,
    gql: GraphQL,
    tenant: Tenant,
    rest_call: tuple[str, str, dict[str, str] | None],
    document: str,
    variables: dict[str, Any] | None = None,
) -> tuple[TestResponse, dict]:
    method, path, json = rest_call
    rest = client.open(path, method=method, json=json, headers=tenant.headers)
    error = only_error(gql(document, variables, tenant=tenant))
    return rest, error


def _assert_same_error(rest: TestResponse, error: dict, code: str, status: int) -> None:
    assert rest.status_code == status, rest.json
    assert rest.json["code"] == code
    assert error["extensions"]["code"] == code
    assert error["extensions"]["status"] == status
    assert error["extensions"]["type"] == rest.json["type"]
    assert error["extensions"]["title"] == rest.json["title"]
    assert error["message"] == rest.json["message"]


UNKNOWN_ESCN = EscnGenerator().generate("999999999")


@pytest.mark.parametrize(
    ("rest_call", "document", "code", "status"),
    [
        (
            ("GET", f"/api/v2/persons/{esi('NOPE')}", None),
            f'{{ person(esi: "{esi("NOPE")}") {{ identifier }} }}',
            "ER-0018",
            404,
        ),
        (
            ("GET", "/api/v2/persons/not-an-esi", None),
            '{ person(esi: "not-an-esi") { identifier } }',
            "ER-0401",
            400,
        ),
        (
            ("GET", f"/api/v2/cards/{UNKNOWN_ESCN}", None),
            f'{{ card(escn: "{UNKNOWN_ESCN}") {{ cardNumber }} }}',
            "ER-0001",
            404,
        ),
        (
            ("GET", "/api/v2/cards/not-a-card", None),
            '{ card(escn: "not-a-card") { cardNumber } }',
            "ER-0401",
            400,
        ),
        (
            ("DELETE", f"/api/v2/persons/{esi('NOPE')}", None),
            f'mutation {{ deletePerson(esi: "{esi("NOPE")}") {{ identifier }} }}',
            "ER-0018",
            404,
        ),
        (
            ("POST", f"/api/x/cards/{UNKNOWN_ESCN}/lifecycle", {"action": "SUSPEND"}),
            f'mutation {{ changeCardStatus(escn: "{UNKNOWN_ESCN}", action: SUSPEND) '
            "{ card { state } } }",
            "ER-0001",
            404,
        ),
    ],
)
def test_lookup_errors_are_the_same(
    client: FlaskClient,
    gql: GraphQL,
    uni: Tenant,
    rest_call: tuple[str, str, dict[str, str] | None],
    document: str,
    code: str,
    status: int,
) -> None:
    rest, error = _errors(client, gql, uni, rest_call, document)
    _assert_same_error(rest, error, code, status)


def test_duplicate_person_is_er_0019_on_both(
    client: FlaskClient, gql: GraphQL, uni: Tenant, registered: Register
) -> None:
    record = registered("D1")
    rest, error = _errors(
        client,
        gql,
        uni,
        ("POST", "/api/v2/persons", person_body(record["esi"], uni.pic)),
        "mutation($p: PersonInput!) { createPerson(input: $p) { identifier } }",
        {"p": gql_person_input(record["esi"])},
    )
    _assert_same_error(rest, error, "ER-0019", 409)


def test_duplicate_card_is_er_0002_on_both(
    client: FlaskClient, gql: GraphQL, uni: Tenant, registered: Register
) -> None:
    record = registered("D2")
    rest, error = _errors(
        client,
        gql,
        uni,
        ("POST", "/api/v2/cards", card_body(record["esi"], uni.pic, cardNumber=record["escn"])),
        "mutation($c: CardInput!) { issueCard(input: $c) { cardNumber } }",
        {"c": gql_card_input(record["esi"], cardNumber=record["escn"])},
    )
    _assert_same_error(rest, error, "ER-0002", 409)


def test_card_for_unknown_person_and_bad_dates_are_the_same(
    client: FlaskClient, gql: GraphQL, uni: Tenant, registered: Register
) -> None:
    rest, error = _errors(
        client,
        gql,
        uni,
        ("POST", "/api/v2/cards", card_body(esi("GHOST"), uni.pic)),
        "mutation($c: CardInput!) { issueCard(input: $c) { cardNumber } }",
        {"c": gql_card_input(esi("GHOST"))},
    )
    _assert_same_error(rest, error, "ER-0018", 404)
    record = registered("D3")
    rest, error = _errors(
        client,
        gql,
        uni,
        ("POST", "/api/v2/cards", card_body(record["esi"], uni.pic, expiresAt="2020-01-01")),
        "mutation($c: CardInput!) { issueCard(input: $c) { cardNumber } }",
        {"c": gql_card_input(record["esi"], expiresAt="2020-01-01")},
    )
    _assert_same_error(rest, error, "ER-0422", 422)


@pytest.mark.parametrize("written", ["20300831", "2030-W35-6", "2030W356"])
def test_a_date_not_written_yyyy_mm_dd_is_er_0400_on_both(
    client: FlaskClient, gql: GraphQL, uni: Tenant, registered: Register, written: str
) -> None:
    # Python reads ISO 8601's basic and week forms too; both APIs took them as dates.
    record = registered("D4")
    rest, error = _errors(
        client,
        gql,
        uni,
        ("POST", "/api/v2/cards", card_body(record["esi"], uni.pic, expiresAt=written)),
        "mutation($c: CardInput!) { issueCard(input: $c) { cardNumber } }",
        {"c": gql_card_input(record["esi"], expiresAt=written)},
    )
    assert rest.status_code == 400 and rest.json["code"] == "ER-0400"
    assert error["extensions"]["code"] == "ER-0400"
    literal = gql(
        f'mutation {{ issueCard(input: {{personIdentifier: "{record["esi"]}", '
        f'issuedAt: "{written}", expiresAt: "2030-08-31", cardType: SMART_CDZ, '
        "cardStatusType: ACTIVE}) { cardNumber } }",
        tenant=uni,
    )
    assert only_error(literal)["extensions"]["code"] == "ER-0400"
    assert client.get("/api/v2/cards", headers=uni.headers).json["page"]["totalElements"] == 1


def test_illegal_transition_is_er_0050_on_both(
    client: FlaskClient, gql: GraphQL, uni: Tenant, registered: Register
) -> None:
    record = registered("T1")
    client.post(
        f"/api/x/cards/{record['escn']}/lifecycle", json={"action": "DESTROY"}, headers=uni.headers
    )
    rest, error = _errors(
        client,
        gql,
        uni,
        ("POST", f"/api/x/cards/{record['escn']}/lifecycle", {"action": "REACTIVATE"}),
        f'mutation {{ changeCardStatus(escn: "{record["escn"]}", action: REACTIVATE) '
        "{ card { state } } }",
    )
    _assert_same_error(rest, error, "ER-0050", 422)
    assert error["extensions"]["errors"] == rest.json["errors"]


def test_another_organisations_records_are_se_0000_on_both(
    client: FlaskClient, gql: GraphQL, uni: Tenant, other_uni: Tenant, registered: Register
) -> None:
    theirs = registered("F1", tenant=other_uni)
    scenarios = [
        (
            ("GET", f"/api/v2/persons/{theirs['esi']}", None),
            f'{{ person(esi: "{theirs["esi"]}") {{ identifier }} }}',
        ),
        (
            ("GET", f"/api/v2/cards/{theirs['escn']}", None),
            f'{{ card(escn: "{theirs["escn"]}") {{ cardNumber }} }}',
        ),
        (
            ("GET", f"/api/x/cards/{theirs['escn']}/history", None),
            f'{{ card(escn: "{theirs["escn"]}") {{ history {{ event }} }} }}',
        ),
        (
            ("POST", f"/api/x/cards/{theirs['escn']}/lifecycle", {"action": "REPORT_STOLEN"}),
            f'mutation {{ changeCardStatus(escn: "{theirs["escn"]}", action: REPORT_STOLEN) '
            "{ card { state } } }",
        ),
        (
            ("DELETE", f"/api/v2/persons/{theirs['esi']}", None),
            f'mutation {{ deletePerson(esi: "{theirs["esi"]}") {{ identifier }} }}',
        ),
        (
            ("POST", "/api/v2/cards", card_body(theirs["esi"], uni.pic)),
            "mutation($c: CardInput!) { issueCard(input: $c) { cardNumber } }",
        ),
    ]
    for rest_call, document in scenarios:
        variables = {"c": gql_card_input(theirs["esi"])} if "$c" in document else None
        rest, error = _errors(client, gql, uni, rest_call, document, variables)
        _assert_same_error(rest, error, "SE-0000", 403)


def test_missing_scope_is_se_0002_on_both(
    client: FlaskClient, gql: GraphQL, make_tenant: MakeTenant
) -> None:
    reader = make_tenant("777777777", scopes=[Scope.PERSONS_READ])
    rest, error = _errors(
        client,
        gql,
        reader,
        ("POST", "/api/v2/persons", person_body(esi("S1"), reader.pic)),
        "mutation($p: PersonInput!) { createPerson(input: $p) { identifier } }",
        {"p": gql_person_input(esi("S1"))},
    )
    _assert_same_error(rest, error, "SE-0002", 403)
    rest, error = _errors(
        client,
        gql,
        reader,
        ("GET", "/api/v2/cards", None),
        "{ cards { totalCount } }",
    )
    _assert_same_error(rest, error, "SE-0002", 403)
