"""What Swagger UI and generated clients read in /openapi.json matches what the router does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask.testing import FlaskClient

from sgc_client.protocol import jose
from tests.conftest import Tenant

PROBLEM = "application/problem+json"
METHODS = {"get", "put", "post", "delete", "patch"}


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_every_tag_in_use_is_declared_and_no_declared_tag_is_empty(client: FlaskClient) -> None:
    document = client.get("/openapi.json").json
    declared = {tag["name"] for tag in document["tags"]}
    used = {tag for _, _, op in _operations(document) for tag in op.get("tags", [])}
    assert used == declared
    assert {"V2/person", "V2/card", "V2/image"} <= declared


def test_summaries_are_markdown_not_restructured_text(client: FlaskClient) -> None:
    document = client.get("/openapi.json").json
    for path, method, operation in _operations(document):
        for key in ("summary", "description"):
            assert "``" not in operation.get(key, ""), (method, path, key)


def test_routes_outside_the_rest_views_are_documented(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").json["paths"]
    assert "post" in paths["/oauth/token"]
    assert {"get", "post"} <= set(paths["/graphql"])
    assert "get" in paths["/cards/{escn}"]
    assert {"get"} <= set(paths["/healthz"]) and {"get"} <= set(paths["/readyz"])


def test_errors_are_documented_as_the_problems_they_are(client: FlaskClient) -> None:
    document = client.get("/openapi.json").json
    for path, method, operation in _operations(document):
        for status, response in operation["responses"].items():
            if not (status == "default" or status[0] in "45"):
                continue
            content = response.get("content", {})
            json_schema = content.get("application/json", {}).get("schema", {})
            assert json_schema.get("$ref") != "#/components/schemas/ApiErrorMessage", (
                method, path, status,
            )
            if "x-plain-route" not in operation and path not in ("/oauth/token", "/graphql"):
                assert PROBLEM in content, (method, path, status)
    error = document["components"]["schemas"]["ApiErrorMessage"]
    assert "errors" in error["properties"]


def test_path_parameters_carry_the_form_the_router_checks(client: FlaskClient) -> None:
    document = client.get("/openapi.json").json
    for path, _, _ in _operations(document):
        for parameter in document["paths"][path].get("parameters", []):
            if parameter["in"] == "path":
                assert "pattern" in parameter["schema"], (path, parameter["name"])
    batch = document["components"]["schemas"]["BatchRequest"]["properties"]["items"]
    assert batch["minItems"] == 1 and batch["maxItems"] == 500



def test_the_document_refuses_a_jwk_with_private_members_as_the_router_does(
    client: FlaskClient, uni: Tenant
) -> None:
    # Schemathesis drew {"jwk": {"q": {}}}: valid by the document, refused by the router (ER-0231).
    document = client.get("/openapi.json").json
    public = jose.generate_key("sig").public().jwk
    for name in ("KeyRegistration", "KeyRotation"):
        jwk = document["components"]["schemas"][name]["properties"]["jwk"]
        refused = {m for choice in jwk["not"]["anyOf"] for m in choice["required"]}
        assert refused == jose.PRIVATE_MEMBERS, name
    for member in sorted(jose.PRIVATE_MEMBERS):
        answer = client.post(
            "/api/x/public-keys", json={"jwk": {**public, member: {}}}, headers=uni.headers
        )
        assert answer.status_code == 400 and answer.json["code"] == "ER-0231", member
