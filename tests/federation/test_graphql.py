"""GraphQL reads and changes delegations and keys through the same services as REST."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from sgc_client.protocol import jose
from tests.federation.conftest import (
    OTHER_PIC,
    MakeParty,
    Party,
    decision_claims,
    request_claims,
    sign_decision,
    sign_request,
)
from tests.graphql.conftest import GraphQL, only_error

DELEGATION = """id state host home cardNumber uid application issuedAt expiresAt requestedAt
    deliveredAt decidedAt finishedAt decision decisionReason outcomeReason request requestHash
    decisionToken peerRouter history { at state actor reason }"""


@pytest.fixture
def gql(client: FlaskClient) -> GraphQL:
    return GraphQL(client)


def as_graphql(view: dict) -> dict:
    """A REST DelegationView in GraphQL's spelling (enum values are upper case)."""
    return {
        **view,
        "state": view["state"].upper(),
        "history": [{**h, "state": h["state"].upper()} for h in view["history"]],
    }


def test_rest_and_graphql_show_the_same_delegation_at_every_step(
    client: FlaskClient, gql: GraphQL, host: Party, home: Party, card: dict[str, Any]
) -> None:
    request = sign_request(request_claims(host, home, card["escn"]), host.signing)
    created = gql(
        f"mutation($r: String!) {{ requestDelegation(request: $r) {{ {DELEGATION} }} }}",
        {"r": request},
        tenant=host.tenant,
    )["data"]["requestDelegation"]
    delegation_id = created["id"]

    def compare() -> None:
        for party in (host, home):
            rest = client.get(f"/api/x/delegations/{delegation_id}", headers=party.headers).json
            one = gql(f'{{ delegation(id: "{delegation_id}") {{ {DELEGATION} }} }}',
                      tenant=party.tenant)["data"]["delegation"]
            assert one == as_graphql(rest)
            listed = gql(
                f"{{ delegations(first: 5) {{ edges {{ node {{ {DELEGATION} }} }} }} }}",
                tenant=party.tenant,
            )["data"]["delegations"]
            rest_list = client.get("/api/x/delegations", headers=party.headers).json["content"]
            assert [e["node"] for e in listed["edges"]] == [as_graphql(v) for v in rest_list]

    compare()
    gql(f'mutation {{ acknowledgeDelegation(id: "{delegation_id}") {{ state }} }}',
        tenant=home.tenant)
    token = sign_decision(decision_claims(home, host, request, "approve"), home.signing)
    decided = gql(
        "mutation($id: ID!, $d: String!) { decideDelegation(id: $id, decision: $d) { state } }",
        {"id": delegation_id, "d": token}, tenant=home.tenant,
    )["data"]["decideDelegation"]
    assert decided == {"state": "APPROVED"}
    compare()
    gql(f'mutation {{ reportDelegationOutcome(id: "{delegation_id}", completed: false, '
        f'reason: "card removed") {{ state }} }}', tenant=host.tenant)
    compare()
    home_inbox = gql("{ delegations(role: HOME, states: [FAILED]) { totalCount } }",
                     tenant=home.tenant)["data"]["delegations"]
    rest_inbox = client.get("/api/x/delegations?role=home&state=failed", headers=home.headers)
    assert home_inbox["totalCount"] == rest_inbox.json["page"]["totalElements"] == 1


def test_graphql_refusals_carry_the_rest_codes_and_change_nothing(
    client: FlaskClient,
    gql: GraphQL,
    host: Party,
    home: Party,
    card: dict[str, Any],
    make_party: MakeParty,
) -> None:
    request = sign_request(request_claims(host, home, card["escn"]), host.signing)
    forged = request[:-4] + ("AAAA" if not request.endswith("AAAA") else "BBBB")
    body = gql("mutation($r: String!) { requestDelegation(request: $r) { id } }", {"r": forged},
               tenant=host.tenant)
    assert body["data"] == {"requestDelegation": None}
    assert only_error(body)["extensions"]["code"] == "ER-0202"
    created = client.post("/api/x/delegations", json={"request": request}, headers=host.headers)
    delegation_id = created.json["id"]
    stranger = make_party(OTHER_PIC)
    hidden = gql(f'{{ delegation(id: "{delegation_id}") {{ id }} }}', tenant=stranger.tenant)
    assert only_error(hidden)["extensions"]["code"] == "ER-0225"
    self_approved = sign_decision(
        decision_claims(home, host, request, "approve", iss=host.pic), host.signing
    )
    refused = gql(
        "mutation($id: ID!, $d: String!) { decideDelegation(id: $id, decision: $d) { id } }",
        {"id": delegation_id, "d": self_approved}, tenant=host.tenant,
    )
    assert only_error(refused)["extensions"]["code"] == "ER-0221"
    assert client.get(f"/api/x/delegations/{delegation_id}",
                      headers=home.headers).json["state"] == "requested"


def test_keys_through_graphql_match_rest(client: FlaskClient, gql: GraphQL, home: Party) -> None:
    fresh = jose.generate_key("enc")
    registered = gql(
        "mutation($j: JSON!) { registerPublicKey(jwk: $j) { kid use alg thumbprint } }",
        {"j": fresh.public().jwk}, tenant=home.tenant,
    )["data"]["registerPublicKey"]
    assert registered == {"kid": fresh.kid, "use": "enc", "alg": "ECDH-ES",
                          "thumbprint": fresh.kid}
    private = gql("mutation($j: JSON!) { registerPublicKey(jwk: $j) { kid } }",
                  {"j": jose.generate_key("sig").private_jwk()}, tenant=home.tenant)
    assert only_error(private)["extensions"]["code"] == "ER-0231"
    gql(f'mutation {{ revokePublicKey(kid: "{fresh.kid}", reason: "test") {{ kid }} }}',
        tenant=home.tenant)
    keys = gql("{ publicKeys { kid use alg jwk thumbprint createdAt revokedAt revocationReason "
               "replacedBy } }", tenant=home.tenant)["data"]["publicKeys"]
    rest = client.get("/api/x/public-keys", headers=home.headers).json
    assert keys == rest


@pytest.mark.parametrize("grace", [-1, 7 * 24 * 3600 + 1])
def test_a_grace_period_out_of_range_is_er_0400_on_both(
    client: FlaskClient, gql: GraphQL, home: Party, grace: int
) -> None:
    # It was ER-0230 (an invalid public key) through GraphQL, about a key that was fine.
    successor = jose.generate_key("sig").public().jwk
    rest = client.post(
        f"/api/x/public-keys/{home.signing.kid}/rotate",
        json={"jwk": successor, "graceSeconds": grace},
        headers=home.headers,
    )
    assert rest.status_code == 400 and rest.json["code"] == "ER-0400"
    answer = gql(
        "mutation($k: String!, $j: JSON!, $g: Int!) "
        "{ rotatePublicKey(kid: $k, jwk: $j, graceSeconds: $g) { kid } }",
        {"k": home.signing.kid, "j": successor, "g": grace}, tenant=home.tenant,
    )
    assert only_error(answer)["extensions"]["code"] == "ER-0400"
    mine = client.get("/api/x/public-keys", headers=home.headers).json
    assert {k["kid"] for k in mine} == {home.signing.kid, home.encryption.kid}
