from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from werkzeug.routing import Rule

from router.db import Database, utcnow
from router.domain.escn import EscnGenerator
from router.models import ApiKey, OAuthToken
from router.services import credentials, organisations
from router.services.caller import Scope
from tests.conftest import Tenant, esi, oauth_client, person_body

# Endpoints, not rule texts (converters may change). Public on purpose: the status behind the QR
# code, the institutions' public keys (a JWKS per PIC), and a router's identity and catalogue.
PUBLIC = {
    "cards.CardStatus",
    "x-keys.Jwks",
    "x-federation.Identity",
    "x-federation.PublishedCatalogue",
}
# The peer blueprint's endpoints are for routers of the federation, which sign their requests
# (RFC 9421) instead of using a key; which endpoints those are is pinned by test_isolation.py.
SIGNED_BLUEPRINT = "x-federation-peer."
SAMPLE_ARGS = {
    "escn": EscnGenerator().generate("999999999"),
    "esi": esi("sample"),
    "identifier": "999999999",
    "id": "999999999",
    "prefix": "escr_00000000",
}


def api_routes(app: Flask) -> Iterator[tuple[Rule, str]]:
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_api_route_but_the_public_status_needs_a_credential(
    app: Flask, client: FlaskClient
) -> None:
    checked = 0
    for rule, method in api_routes(app):
        values = {k: SAMPLE_ARGS.get(k, "x") for k in rule.arguments}
        path = rule.build(values, append_unknown=False)[1]
        response = client.open(path, method=method, json={})
        if rule.endpoint in PUBLIC:
            assert response.status_code != 401, (method, rule.rule)
            continue
        if rule.endpoint.startswith(SIGNED_BLUEPRINT):
            # This router has no federation: it answers no peer, signed or not.
            assert response.status_code == 404, (method, rule.rule, response.status_code)
            assert response.json["code"] == "ER-0265"
            continue
        assert response.status_code == 401, (method, rule.rule, response.status_code)
        assert response.json["code"] == "SE-0001"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        checked += 1
    assert checked >= 15


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer escr_deadbeef_forgedforgedforgedforgedforgedforgedfor"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"api_key": "wrong"},
        {},
    ],
)
def test_missing_or_forged_credentials_are_401(
    client: FlaskClient, uni: Tenant, headers: dict[str, Any]
) -> None:
    response = client.get("/api/v2/persons", headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_the_api_key_header_works_like_bearer(client: FlaskClient, uni: Tenant) -> None:
    assert client.get("/api/v2/persons", headers={"api_key": uni.key}).status_code == 200
    assert client.get("/api/v2/persons", headers=uni.headers).status_code == 200


def test_revoked_and_expired_keys_are_401(client: FlaskClient, uni: Tenant, db: Database) -> None:
    prefix = re.match(r"(escr_[0-9a-f]{8})_", uni.key).group(1)
    with db.session() as session:
        credentials.revoke_api_key(session, None, prefix)
    response = client.get("/api/v2/persons", headers=uni.headers)
    assert response.status_code == 401 and "revoked" in response.json["message"]

    with db.session() as session:
        organisation = organisations.get_organisation(session, uni.pic)
        issued = credentials.create_api_key(
            session, organisation, expires_at=utcnow() - dt.timedelta(seconds=1)
        )
    response = client.get("/api/v2/persons", headers={"Authorization": f"Bearer {issued.secret}"})
    assert response.status_code == 401 and "expired" in response.json["message"]


def test_keys_are_stored_hashed(uni: Tenant, db: Database) -> None:
    with db.session() as session:
        stored = session.scalars(select(ApiKey)).all()
        assert stored
        for key in stored:
            assert uni.key not in (key.key_digest, key.prefix)
            assert len(key.key_digest) == 64


def test_key_management_over_the_api(client: FlaskClient, uni: Tenant) -> None:
    issued = client.post(
        "/api/x/api-keys", json={"name": "sgc", "scopes": ["cards:read"]}, headers=uni.headers
    )
    assert issued.status_code == 201
    secret, prefix = issued.json["secret"], issued.json["prefix"]
    assert secret.startswith(prefix + "_")
    listed = client.get("/api/x/api-keys", headers=uni.headers).json
    assert prefix in [k["prefix"] for k in listed]
    assert all("secret" not in k for k in listed)

    narrow = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v2/cards", headers=narrow).status_code == 200
    refused = client.get("/api/v2/persons", headers=narrow)
    assert refused.status_code == 403 and refused.json["code"] == "SE-0002"
    # A narrow key cannot mint a broader one.
    escalate = client.post("/api/x/api-keys", json={"scopes": ["admin"]}, headers=narrow)
    assert escalate.status_code == 403

    rotated = client.post(f"/api/x/api-keys/{prefix}/rotate", headers=uni.headers)
    assert rotated.status_code == 201 and rotated.json["scopes"] == ["cards:read"]
    assert client.get("/api/v2/cards", headers=narrow).status_code == 401
    fresh = {"Authorization": f"Bearer {rotated.json['secret']}"}
    assert client.get("/api/v2/cards", headers=fresh).status_code == 200

    assert client.delete(f"/api/x/api-keys/{rotated.json['prefix']}",
                         headers=uni.headers).status_code == 204
    assert client.get("/api/v2/cards", headers=fresh).status_code == 401


def test_an_organisation_cannot_revoke_another_organisations_key(
    client: FlaskClient, uni: Tenant, other_uni: Tenant
) -> None:
    prefix = re.match(r"(escr_[0-9a-f]{8})_", uni.key).group(1)
    response = client.delete(f"/api/x/api-keys/{prefix}", headers=other_uni.headers)
    assert response.status_code == 404
    assert client.get("/api/v2/persons", headers=uni.headers).status_code == 200


def test_oauth2_client_credentials_issue_expiring_scoped_tokens(
    client: FlaskClient, uni: Tenant, db: Database
) -> None:
    client_id, secret = oauth_client(db, uni.pic)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "persons:read cards:read"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.json
    token = response.json
    assert token["token_type"].lower() == "bearer"
    assert token["expires_in"] > 0
    assert set(token["scope"].split()) == {"persons:read", "cards:read"}
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get("/api/v2/persons", headers=bearer).status_code == 200
    write = client.post("/api/v2/persons", json=person_body(esi("T1"), uni.pic), headers=bearer)
    assert write.status_code == 403 and write.json["code"] == "SE-0002"

    with db.session() as session:
        session.execute(update(OAuthToken).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
        session.commit()
    expired = client.get("/api/v2/persons", headers=bearer)
    assert expired.status_code == 401 and "expired" in expired.json["message"]


def test_oauth2_client_secret_in_the_form_body_and_revocation(
    client: FlaskClient, uni: Tenant, db: Database
) -> None:
    client_id, secret = oauth_client(db, uni.pic, scopes=[Scope.CARDS_READ])
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id,
              "client_secret": secret},
    )
    assert response.status_code == 200
    assert response.json["scope"] == "cards:read"
    bearer = {"Authorization": f"Bearer {response.json['access_token']}"}
    assert client.get("/api/v2/cards", headers=bearer).status_code == 200
    with db.session() as session:
        credentials.revoke_oauth_client(session, client_id)
    assert client.get("/api/v2/cards", headers=bearer).status_code == 401
    again = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id,
              "client_secret": secret},
    )
    assert again.status_code in (400, 401) and again.json["error"] == "invalid_client"


def test_oauth2_wrong_secret_is_refused(client: FlaskClient, uni: Tenant, db: Database) -> None:
    client_id, _ = oauth_client(db, uni.pic)
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id,
              "client_secret": "guess"},
    )
    assert response.status_code in (400, 401)
    assert response.json["error"] == "invalid_client"


@pytest.mark.parametrize("credentials", [b"\xff\xfe:secret", b"client:\xff", b"\xff"])
def test_oauth2_basic_credentials_that_are_not_utf8_are_invalid_client(
    client: FlaskClient, credentials: bytes
) -> None:
    # authlib decodes them as UTF-8 and raised UnicodeDecodeError: the token endpoint answered 500.
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(credentials).decode()},
    )
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("form", "basic"),
    [({"client_id": "a\x00", "client_secret": "x"}, None), ({}, b"a\x00:secret")],
)
def test_oauth2_a_client_id_with_a_nul_is_invalid_client(
    client: FlaskClient, form: dict[str, str], basic: bytes | None
) -> None:
    # PostgreSQL refuses a NUL in a query parameter: looking such a client up answered 500.
    headers = {"Authorization": "Basic " + base64.b64encode(basic).decode()} if basic else {}
    response = client.post(
        "/oauth/token", data={"grant_type": "client_credentials", **form}, headers=headers
    )
    assert response.status_code in (400, 401)
    assert response.json["error"] == "invalid_client"
