"""Helpers of the GraphQL tests: post a document as a tenant and read the answer."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import Tenant


class GraphQL:
    """Posts GraphQL documents to /graphql through the Flask test client."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def post(
        self, query: str, variables: dict[str, Any] | None = None, *, tenant: Tenant | None = None
    ) -> TestResponse:
        headers = tenant.headers if tenant is not None else {}
        return self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, tenant: Tenant | None
    ) -> dict[str, Any]:
        response = self.post(query, variables, tenant=tenant)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json


@pytest.fixture
def gql(client: FlaskClient) -> GraphQL:
    return GraphQL(client)


def only_error(body: dict) -> dict:
    """The single error of a GraphQL answer."""
    assert body.get("errors"), body
    assert len(body["errors"]) == 1, body["errors"]
    return body["errors"][0]
