"""/graphql takes the same credentials and scopes as REST; without one it answers 401 SE-0001."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from router.db import Database, utcnow
from router.models import ApiKey
from router.services.caller import Scope
from tests.conftest import Tenant, esi, oauth_client

QUERY = "{ organisation { identifier } }"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer escr_deadbeef_forgedforgedforgedforgedforgedforgedfor"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"api_key": "wrong"},
    ],
)
def test_missing_or_forged_credentials_are_401_with_se_0001(
    client: FlaskClient, uni: Tenant, headers: dict[str, Any]
) -> None:
    response = client.post("/graphql", json={"query": QUERY}, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["data"] is None
    [error] = response.json["errors"]
    assert error["extensions"]["code"] == "SE-0001"
    assert error["extensions"]["status"] == 401
    assert error["message"]


def test_anonymous_mutation_is_refused_before_it_runs(client: FlaskClient, uni: Tenant) -> None:
    mutation = f'mutation {{ createPerson(input: {{identifier: "{esi("A1")}"}}) {{ identifier }} }}'
    response = client.post("/graphql", json={"query": mutation})
    assert response.status_code == 401
    persons = client.get("/api/v2/persons", headers=uni.headers).json
    assert persons["content"] == []


def test_an_unparseable_document_without_credential_is_still_401(client: FlaskClient) -> None:
    response = client.post("/graphql", json={"query": "{ this is not graphql"})
    assert response.status_code == 401
    assert response.json["errors"][0]["extensions"]["code"] == "SE-0001"


def test_bearer_and_api_key_header_both_work(client: FlaskClient, uni: Tenant) -> None:
    for headers in (uni.headers, {"api_key": uni.key}):
        response = client.post("/graphql", json={"query": QUERY}, headers=headers)
        assert response.status_code == 200
        assert response.json["data"]["organisation"]["identifier"] == uni.pic


def test_queries_by_get_are_authenticated_too(client: FlaskClient, uni: Tenant) -> None:
    assert client.get("/graphql", query_string={"query": QUERY}).status_code == 401
    response = client.get("/graphql", query_string={"query": QUERY}, headers=uni.headers)
    assert response.status_code == 200
    assert response.json["data"]["organisation"]["identifier"] == uni.pic


def test_revoked_key_is_401(client: FlaskClient, uni: Tenant, db: Database) -> None:
    with db.session() as session:
        session.execute(update(ApiKey).values(revoked_at=utcnow()))
        session.commit()
    response = client.post("/graphql", json={"query": QUERY}, headers=uni.headers)
    assert response.status_code == 401
    assert response.json["errors"][0]["extensions"]["code"] == "SE-0001"


def test_graphiql_loads_in_a_browser_without_a_key(client: FlaskClient) -> None:
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "graphiql" in response.get_data(as_text=True).lower()


def test_oauth2_token_scopes_apply_to_graphql(
    client: FlaskClient, uni: Tenant, db: Database
) -> None:
    client_id, secret = oauth_client(db, uni.pic)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    token = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": Scope.PERSONS_READ},
        headers={"Authorization": f"Basic {basic}"},
    ).json["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    read = client.post("/graphql", json={"query": "{ persons { totalCount } }"}, headers=bearer)
    assert read.status_code == 200
    assert read.json["data"]["persons"]["totalCount"] == 0
    write = client.post(
        "/graphql",
        json={
            "query": "mutation($p: PersonInput!) { createPerson(input: $p) { identifier } }",
            "variables": {"p": {"identifier": esi("O1")}},
        },
        headers=bearer,
    )
    assert write.status_code == 200
    assert write.json["errors"][0]["extensions"]["code"] == "SE-0002"
    # Reading cards needs cards:read, which this token lacks: the field fails, not the request.
    cards = client.post("/graphql", json={"query": "{ cards { totalCount } }"}, headers=bearer)
    assert cards.json["errors"][0]["extensions"]["code"] == "SE-0002"
    assert cards.json["errors"][0]["path"] == ["cards"]
