"""Errors: always problem+json with the real router's code/message, never a 500 for bad input."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from router.domain.errors import all_error_classes
from tests.conftest import Tenant, esi, person_body

# Valid JSON nested deeper than Python's recursion limit.
DEEP = "[" * 100_000 + "]" * 100_000


def _is_problem(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert {"code", "message", "type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body


def test_unknown_route_is_a_404_problem(client: FlaskClient) -> None:
    body = _is_problem(client.get("/api/v2/nothing-here"), 404)
    assert body["type"].endswith("/problems/not-found")
    assert body["code"] == "ER-0404"


def test_wrong_method_is_a_405_problem(client: FlaskClient, uni: Tenant) -> None:
    _is_problem(client.patch("/api/v2/persons", headers=uni.headers), 405)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{not json", "application/json"),
        ("[]", "application/json"),
        ('"a string"', "application/json"),
        ("identifier=x", "application/x-www-form-urlencoded"),
        ("\xff\xfe", "application/json"),
        # JSON texts Python's parser cannot read: nesting past its recursion limit, an integer
        # past its 4300 digits (with an unpaired surrogate too: the check before the views)
        (DEEP, "application/json"),
        ('{"identifier": "\\ud800", "x": ' + DEEP + "}", "application/json"),
        ('{"identifier": ' + "9" * 5000 + "}", "application/json"),
    ],
)
def test_malformed_bodies_are_400_and_create_nothing(
    client: FlaskClient, uni: Tenant, data: str, content_type: str
) -> None:
    response = client.post(
        "/api/v2/persons", data=data, content_type=content_type, headers=uni.headers
    )
    body = _is_problem(response, 400)
    assert body["code"] == "ER-0400"
    assert client.get("/api/v2/persons", headers=uni.headers).json["page"]["totalElements"] == 0


def test_wrong_types_name_the_fields(client: FlaskClient, uni: Tenant) -> None:
    body = person_body(esi("77"), uni.pic, academicLevel="PROFESSOR")
    body["personOrganisationUpdateViews"].append("not an object")
    response = client.post("/api/v2/persons", json=body, headers=uni.headers)
    problem = _is_problem(response, 400)
    assert "academicLevel" in problem["detail"] or "personOrganisationUpdateViews" in str(
        problem
    )


def test_oversized_body_is_413_problem(client: FlaskClient, uni: Tenant) -> None:
    response = client.post(
        "/api/v2/persons", data="x" * (17 * 1024 * 1024), content_type="application/json",
        headers=uni.headers,
    )
    _is_problem(response, 413)


def test_problem_types_are_documented(client: FlaskClient) -> None:
    for error in all_error_classes():
        page = client.get(f"/problems/{error.slug}")
        assert page.status_code == 200, error.slug
        assert error.title.encode() in page.data


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.text(min_size=1, max_size=80).filter(lambda s: "/" not in s and s.strip(".")))
def test_no_identifier_makes_the_router_fail(client: FlaskClient, uni: Tenant, junk: str) -> None:
    paths = (f"/api/v2/persons/{junk}", f"/api/v2/cards/{junk}", f"/api/v2/cards/{junk}/status")
    for path in paths:
        response = client.get(path, headers=uni.headers)
        # Control characters can make the URL normalise to another route (a 308): fine, not a 500.
        assert response.status_code < 500, (path, response.data)
        if response.status_code >= 400:
            assert response.status_code in {400, 404}, (path, response.status_code)
            assert response.mimetype == "application/problem+json"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["identifier", "cardNumber", "cardType", "issuedAt", "expiresAt",
                 "personIdentifier", "issuerIdentifier", "cardStatusType",
                 "personOrganisationUpdateViews", "organisationIdentifier", "academicLevel"]
            ),
            children,
            max_size=6,
        ),
        max_leaves=12,
    )
)
def test_arbitrary_json_bodies_never_cause_a_500(
    client: FlaskClient, uni: Tenant, body: Any
) -> None:
    for path in ("/api/v2/persons", "/api/v2/cards"):
        response = client.post(path, json=body, headers=uni.headers)
        assert response.status_code < 500, (path, body, response.data)
