"""Lists follow the Relay connection convention: cursors, pageInfo, totalCount, filters."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import Register, Tenant, esi, person_body
from tests.graphql.conftest import GraphQL, only_error

PAGE = """query($first: Int, $after: String, $last: Int, $before: String) {
    persons(first: $first, after: $after, last: $last, before: $before) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { identifier } } } }"""


@pytest.fixture
def twenty_five(client: FlaskClient, uni: Tenant) -> list[str]:
    names = []
    for i in range(25):
        identifier = esi(f"PG{i:02d}")
        body = person_body(identifier, uni.pic, fullName=f"Student {(i * 7) % 25:02d}")
        assert client.post("/api/v2/persons", json=body, headers=uni.headers).status_code == 201
        names.append(identifier)
    return names


def _page(gql: GraphQL, uni: Tenant, **variables: Any) -> dict[str, Any]:
    return gql(PAGE, variables, tenant=uni)["data"]["persons"]


def test_walking_forward_with_cursors_visits_every_person_once(
    gql: GraphQL, uni: Tenant, twenty_five: list[str]
) -> None:
    seen, after, pages = [], None, 0
    while True:
        page = _page(gql, uni, first=10, after=after)
        assert page["totalCount"] == 25
        seen += [e["node"]["identifier"] for e in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == twenty_five  # registration order: the default sort, as in REST


def test_walking_backward_with_last_and_before(
    gql: GraphQL, uni: Tenant, twenty_five: list[str]
) -> None:
    end = _page(gql, uni, first=25)["edges"][-1]["cursor"]
    page = _page(gql, uni, last=5, before=end)
    assert [e["node"]["identifier"] for e in page["edges"]] == twenty_five[19:24]
    assert page["pageInfo"]["hasPreviousPage"] is True
    assert page["pageInfo"]["hasNextPage"] is True


def test_last_without_before_pages_back_from_the_end(
    gql: GraphQL, uni: Tenant, twenty_five: list[str]
) -> None:
    page = _page(gql, uni, last=3)
    assert [e["node"]["identifier"] for e in page["edges"]] == twenty_five[22:]
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["pageInfo"]["hasPreviousPage"] is True
    earlier = _page(gql, uni, last=3, before=page["pageInfo"]["startCursor"])
    assert [e["node"]["identifier"] for e in earlier["edges"]] == twenty_five[19:22]


def test_an_empty_list_has_no_cursors(gql: GraphQL, uni: Tenant) -> None:
    page = _page(gql, uni, first=5)
    assert page == {
        "totalCount": 0,
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
        "edges": [],
    }


def test_filter_and_order_match_the_rest_list(
    client: FlaskClient, gql: GraphQL, uni: Tenant, twenty_five: list[str]
) -> None:
    rest = client.get(
        "/api/v2/persons",
        query_string={"search": "student 1", "sort": "fullName", "direction": "DESC", "size": 50},
        headers=uni.headers,
    ).json
    body = gql(
        """{ persons(first: 50, filter: {search: "student 1"}, orderBy: FULL_NAME,
                     direction: DESC) { totalCount edges { node { identifier fullName } } } }""",
        tenant=uni,
    )
    persons = body["data"]["persons"]
    assert persons["totalCount"] == rest["page"]["totalElements"] == 10
    assert [e["node"] for e in persons["edges"]] == [
        {"identifier": p["identifier"], "fullName": p["fullName"]} for p in rest["content"]
    ]


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 0},
        {"first": 1001},
        {"first": -1},
        {"first": 5, "last": 5},
        {"after": "not-a-cursor"},
        {"after": "b2Zmc2V0Oi0x"},  # "offset:-1"
        {"last": 0},
    ],
)
def test_bad_paging_arguments_are_er_0400(
    gql: GraphQL, uni: Tenant, variables: dict[str, Any]
) -> None:
    error = only_error(gql(PAGE, variables, tenant=uni))
    assert error["extensions"]["code"] == "ER-0400"
    assert error["extensions"]["status"] == 400
    assert error["message"]


def test_cards_connection_pages_too(gql: GraphQL, uni: Tenant, registered: Register) -> None:
    numbers = [registered(f"CP{i}")["escn"] for i in range(3)]
    first = gql(
        "{ cards(first: 2) { totalCount pageInfo { hasNextPage endCursor } "
        "edges { node { cardNumber } } } }",
        tenant=uni,
    )["data"]["cards"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"] is True
    rest = gql(
        "query($a: String) { cards(first: 2, after: $a) { pageInfo { hasNextPage } "
        "edges { node { cardNumber } } } }",
        {"a": first["pageInfo"]["endCursor"]},
        tenant=uni,
    )["data"]["cards"]
    got = [e["node"]["cardNumber"] for e in first["edges"] + rest["edges"]]
    assert got == numbers
    assert rest["pageInfo"]["hasNextPage"] is False
