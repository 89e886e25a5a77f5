"""Managing credentials needs the keys:manage scope, and no credential yields a stronger one."""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from router.db import Database
from router.services.caller import Scope
from tests.conftest import MakeTenant, Tenant, access_token, oauth_client


def _prefix(key: str) -> str:
    return re.match(r"(escr_[0-9a-f]{8})_", key).group(1)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def full_key(make_tenant: MakeTenant) -> Tenant:
    """A key of the first university with every institution scope, keys:manage included."""
    return make_tenant("999999999", "Demo University")


@pytest.fixture
def read_only(make_tenant: MakeTenant, full_key: Tenant) -> Tenant:
    return make_tenant(full_key.pic, scopes=["cards:read"])


def test_a_key_without_keys_manage_can_neither_rotate_nor_revoke_nor_list(
    client: FlaskClient, full_key: Tenant, read_only: Tenant
) -> None:
    target = _prefix(full_key.key)
    attempts = [
        client.post(f"/api/x/api-keys/{target}/rotate", headers=read_only.headers),
        client.delete(f"/api/x/api-keys/{target}", headers=read_only.headers),
        client.get("/api/x/api-keys", headers=read_only.headers),
        client.post("/api/x/api-keys", json={"scopes": ["cards:read"]}, headers=read_only.headers),
    ]
    for response in attempts:
        assert response.status_code == 403, response.json
        assert response.json["code"] == "SE-0002"
        assert "secret" not in response.json
    # The full-scope key still works: it was neither rotated nor revoked.
    assert client.get("/api/v2/persons", headers=full_key.headers).status_code == 200


def test_an_oauth_token_without_keys_manage_cannot_rotate_a_key(
    client: FlaskClient, db: Database, full_key: Tenant
) -> None:
    token = access_token(client, db, full_key.pic, ["cards:read"])
    rotated = client.post(
        f"/api/x/api-keys/{_prefix(full_key.key)}/rotate", headers=_bearer(token)
    )
    assert rotated.status_code == 403 and rotated.json["code"] == "SE-0002"


def test_a_manager_key_cannot_rotate_or_revoke_a_key_stronger_than_itself(
    client: FlaskClient, make_tenant: MakeTenant, full_key: Tenant
) -> None:
    manager = make_tenant(full_key.pic, scopes=["keys:manage", "cards:read"])
    target = _prefix(full_key.key)
    for response in (
        client.post(f"/api/x/api-keys/{target}/rotate", headers=manager.headers),
        client.delete(f"/api/x/api-keys/{target}", headers=manager.headers),
        client.post("/api/x/api-keys", json={"scopes": ["cards:write"]}, headers=manager.headers),
    ):
        assert response.status_code == 403 and response.json["code"] == "SE-0002"
    # ... but it manages keys within its own scopes.
    issued = client.post(
        "/api/x/api-keys", json={"scopes": ["cards:read"]}, headers=manager.headers
    )
    assert issued.status_code == 201 and issued.json["scopes"] == ["cards:read"]
    rotated = client.post(
        f"/api/x/api-keys/{issued.json['prefix']}/rotate", headers=manager.headers
    )
    assert rotated.status_code == 201 and rotated.json["scopes"] == ["cards:read"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "no scopes"},
        {"scopes": []},
        {"scopes": ["cards:read"], "expiresAt": "2001-01-01T00:00:00+00:00"},
    ],
)
def test_an_empty_or_already_expired_key_request_is_refused(
    client: FlaskClient, full_key: Tenant, body: dict[str, Any]
) -> None:
    before = client.get("/api/x/api-keys", headers=full_key.headers).json
    response = client.post("/api/x/api-keys", json=body, headers=full_key.headers)
    assert response.status_code in (400, 422), response.json
    assert "secret" not in response.json
    assert client.get("/api/x/api-keys", headers=full_key.headers).json == before


@pytest.mark.parametrize(
    "expires",
    [
        "9999-12-31T23:59:59-14:00",  # year 10000 in UTC: stored in UTC, it answered 500
        "20300101T000000Z",  # ISO 8601's basic form, not RFC 3339's date-time
        "2030-W01-1T00:00:00+00:00",  # a week date
    ],
)
def test_a_key_expiry_that_is_no_rfc_3339_utc_time_is_a_400(
    client: FlaskClient, full_key: Tenant, expires: str
) -> None:
    before = client.get("/api/x/api-keys", headers=full_key.headers).json
    response = client.post(
        "/api/x/api-keys",
        json={"scopes": ["cards:read"], "expiresAt": expires},
        headers=full_key.headers,
    )
    assert response.status_code == 400 and response.json["code"] == "ER-0400", response.json
    assert client.get("/api/x/api-keys", headers=full_key.headers).json == before


def test_an_institution_key_manages_keys_but_admin_alone_does_not(
    client: FlaskClient, make_tenant: MakeTenant, full_key: Tenant
) -> None:
    assert Scope.KEYS_MANAGE in Scope.INSTITUTION
    admin = make_tenant("100000000", "Router operator", scopes=["admin"])
    refused = client.get("/api/x/api-keys", headers=admin.headers)
    assert refused.status_code == 403 and refused.json["code"] == "SE-0002"
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    issued = client.post(
        "/api/x/api-keys",
        json={"scopes": ["cards:read"], "expiresAt": future},
        headers=full_key.headers,
    )
    assert issued.status_code == 201


def _token(client: FlaskClient, client_id: str, secret: str, scope: str) -> TestResponse:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        headers={"Authorization": f"Basic {basic}"},
    )


def test_oauth_token_for_a_scope_the_client_lacks_is_invalid_scope(
    client: FlaskClient, db: Database, full_key: Tenant
) -> None:
    client_id, secret = oauth_client(db, full_key.pic, ["cards:read"])
    for scope in ("cards:write", "cards:read cards:write", "admin"):
        response = _token(client, client_id, secret, scope)
        assert response.status_code == 400, response.json
        assert response.json["error"] == "invalid_scope"
        assert "access_token" not in response.json
    granted = _token(client, client_id, secret, "cards:read")
    assert granted.status_code == 200 and granted.json["scope"] == "cards:read"
