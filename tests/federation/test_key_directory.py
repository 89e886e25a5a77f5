"""Institutions register, rotate and revoke public keys; anyone reads them; no private key in."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask.testing import FlaskClient

from router.cli import escr_group
from router.services.caller import Scope
from router.settings import Settings
from sgc_client.protocol import jose
from tests.conftest import MakeTenant
from tests.federation.conftest import HOME_PIC, Party


def test_anyone_reads_an_institutions_jwks_without_a_credential(
    client: FlaskClient, home: Party
) -> None:
    answer = client.get(f"/api/x/directory/{HOME_PIC}/jwks.json")
    assert answer.status_code == 200
    assert answer.mimetype == "application/jwk-set+json"
    assert "max-age" in answer.headers["Cache-Control"]
    kids = {(k["kid"], k["use"], k["alg"]) for k in answer.json["keys"]}
    assert kids == {(home.signing.kid, "sig", "ES256"), (home.encryption.kid, "enc", "ECDH-ES")}
    assert answer.json["revoked"] == []
    assert all("d" not in key for key in answer.json["keys"])
    assert client.get("/api/x/directory/123456789/jwks.json").json["code"] == "ER-0030"


def test_a_private_jwk_is_refused_and_nothing_is_stored(client: FlaskClient, home: Party) -> None:
    fresh = jose.generate_key("sig")
    answer = client.post(
        "/api/x/public-keys", json={"jwk": fresh.private_jwk()}, headers=home.headers
    )
    assert answer.status_code == 400 and answer.json["code"] == "ER-0231"
    assert fresh.kid not in client.get(f"/api/x/directory/{HOME_PIC}/jwks.json").text


def test_unusable_and_duplicate_keys_are_refused(client: FlaskClient, home: Party) -> None:
    rsa_like = {"kty": "RSA", "n": "AQAB", "e": "AQAB", "use": "sig"}
    answer = client.post("/api/x/public-keys", json={"jwk": rsa_like}, headers=home.headers)
    assert answer.status_code == 400 and answer.json["code"] == "ER-0230"
    again = client.post(
        "/api/x/public-keys", json={"jwk": home.signing.public().jwk}, headers=home.headers
    )
    assert again.status_code == 409 and again.json["code"] == "ER-0232"


def test_managing_keys_needs_the_keys_manage_scope(
    client: FlaskClient, make_tenant: MakeTenant, home: Party
) -> None:
    # Every institution scope but keys:manage.
    plain = make_tenant(HOME_PIC, scopes=[s for s in Scope.INSTITUTION if s != Scope.KEYS_MANAGE])
    jwk = jose.generate_key("sig").public().jwk
    for method, path, body in (
        ("GET", "/api/x/public-keys", None),
        ("POST", "/api/x/public-keys", {"jwk": jwk}),
        ("POST", f"/api/x/public-keys/{home.signing.kid}/revoke", {}),
        ("POST", f"/api/x/public-keys/{home.signing.kid}/rotate", {"jwk": jwk}),
    ):
        answer = client.open(path, method=method, json=body, headers=plain.headers)
        assert answer.status_code == 403 and answer.json["code"] == "SE-0002", path
    assert len(client.get("/api/x/public-keys", headers=home.headers).json) == 2


def test_revoked_keys_stay_listed_as_revoked_with_the_time(
    client: FlaskClient, home: Party
) -> None:
    answer = client.post(
        f"/api/x/public-keys/{home.signing.kid}/revoke",
        json={"reason": "laptop stolen"},
        headers=home.headers,
    )
    assert answer.status_code == 200 and answer.json["revokedAt"]
    jwks = client.get(f"/api/x/directory/{HOME_PIC}/jwks.json").json
    assert [k["kid"] for k in jwks["keys"]] == [home.encryption.kid]
    [revoked] = jwks["revoked"]
    assert revoked["kid"] == home.signing.kid and revoked["revocation_reason"] == "laptop stolen"
    assert dt.datetime.fromisoformat(revoked["revoked_at"]) == dt.datetime.fromisoformat(
        answer.json["revokedAt"]
    )
    # Revoking twice changes nothing; rotating a revoked key is refused.
    assert client.post(
        f"/api/x/public-keys/{home.signing.kid}/revoke", json={}, headers=home.headers
    ).json["revokedAt"] == answer.json["revokedAt"]
    rotated = client.post(
        f"/api/x/public-keys/{home.signing.kid}/rotate",
        json={"jwk": jose.generate_key("sig").public().jwk},
        headers=home.headers,
    )
    assert rotated.status_code == 409 and rotated.json["code"] == "ER-0234"


def test_rotation_keeps_the_old_key_valid_for_its_grace_period(
    client: FlaskClient, home: Party
) -> None:
    successor = jose.generate_key("sig", "Ed25519")
    answer = client.post(
        f"/api/x/public-keys/{home.signing.kid}/rotate",
        json={"jwk": successor.public().jwk, "graceSeconds": 3600},
        headers=home.headers,
    )
    assert answer.status_code == 201 and answer.json["kid"] == successor.kid
    jwks = client.get(f"/api/x/directory/{HOME_PIC}/jwks.json").json
    active = {k["kid"]: k for k in jwks["keys"]}
    assert set(active) == {home.signing.kid, home.encryption.kid, successor.kid}
    assert "valid_until" in active[home.signing.kid]
    mine = {k["kid"]: k for k in client.get("/api/x/public-keys", headers=home.headers).json}
    assert mine[home.signing.kid]["replacedBy"] == successor.kid
    wrong_use = client.post(
        f"/api/x/public-keys/{successor.kid}/rotate",
        json={"jwk": jose.generate_key("enc").public().jwk},
        headers=home.headers,
    )
    assert wrong_use.status_code == 400 and wrong_use.json["code"] == "ER-0230"


def test_an_institution_sees_and_touches_only_its_own_keys(
    client: FlaskClient, home: Party, host: Party
) -> None:
    assert client.get(f"/api/x/public-keys/{home.signing.kid}", headers=host.headers).json[
        "code"
    ] == "ER-0233"
    answer = client.post(
        f"/api/x/public-keys/{home.signing.kid}/revoke", json={}, headers=host.headers
    )
    assert answer.status_code == 404
    assert [k["kid"] for k in client.get("/api/x/public-keys", headers=host.headers).json] == [
        host.signing.kid, host.encryption.kid,
    ]
    # The same public key cannot be registered by a second institution.
    stolen = client.post(
        "/api/x/public-keys", json={"jwk": home.signing.public().jwk}, headers=host.headers
    )
    assert stolen.status_code == 409


def test_escr_admin_registers_lists_rotates_and_revokes(
    settings: Settings, home: Party, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESCR_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    fresh, successor = jose.generate_key("enc"), jose.generate_key("enc")
    (tmp_path / "k.json").write_text(json.dumps(fresh.public().jwk))
    (tmp_path / "s.json").write_text(json.dumps({"keys": [successor.public().jwk]}))
    (tmp_path / "p.json").write_text(json.dumps(jose.generate_key("sig").private_jwk()))

    def run(*args: str) -> Result:
        return runner.invoke(escr_group, list(args), catch_exceptions=False)

    assert run("public-key", "register", "--pic", HOME_PIC, "--jwk", str(tmp_path / "k.json")
               ).exit_code == 0
    private = run("public-key", "register", "--pic", HOME_PIC, "--jwk", str(tmp_path / "p.json"))
    assert private.exit_code != 0 and "ER-0231" in private.output
    rotated = run("public-key", "rotate", "--pic", HOME_PIC, "--kid", fresh.kid,
                  "--jwk", str(tmp_path / "s.json"), "--grace-seconds", "60")
    assert rotated.exit_code == 0 and successor.kid in rotated.output
    assert run("public-key", "revoke", "--pic", HOME_PIC, "--kid", home.signing.kid).exit_code == 0
    listed = run("public-key", "list", "--pic", HOME_PIC).output
    assert f"{home.signing.kid}\tsig\tES256\trevoked" in listed
    assert f"{fresh.kid}\tenc\tECDH-ES\tvalid-until" in listed
    assert f"{successor.kid}\tenc\tECDH-ES\tactive" in listed


def test_federation_problem_codes_are_unique_in_their_range_and_documented(
    client: FlaskClient
) -> None:
    from router.domain.errors import all_error_classes
    from router.federation import errors

    ours = [c for c in all_error_classes() if c.__module__ == errors.__name__]
    codes = [c.code for c in ours]
    assert len(codes) == len(set(codes)) >= 30
    assert all("ER-0200" <= code <= "ER-0249" for code in codes)
    for cls in ours:
        page = client.get(f"/problems/{cls.slug}").json
        assert page["code"] == cls.code and page["description"]
