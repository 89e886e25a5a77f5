"""A decision counts only from the card's issuer: signed, in date, bound to its request."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.test import TestResponse

from router.db import Database
from router.federation.records import Delegation
from router.settings import Settings
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


@pytest.fixture
def pending(client: FlaskClient, host: Party, home: Party, card: dict[str, Any]) -> tuple[str, str]:
    """A delegation request the home has yet to decide: (id, request JWS)."""
    compact = sign_request(request_claims(host, home, card["escn"]), host.signing)
    answer = client.post("/api/x/delegations", json={"request": compact}, headers=host.headers)
    assert answer.status_code == 201
    return answer.json["id"], compact


def decide(client: FlaskClient, party: Party, delegation_id: str, token: str) -> TestResponse:
    return client.post(
        f"/api/x/delegations/{delegation_id}/decision", json={"decision": token},
        headers=party.headers,
    )


def state_of(client: FlaskClient, party: Party, delegation_id: str) -> dict[str, Any]:
    return client.get(f"/api/x/delegations/{delegation_id}", headers=party.headers).json


def test_an_approval_is_recorded_as_received_and_the_host_reports_completion(
    client: FlaskClient, host: Party, home: Party, pending: tuple[str, str]
) -> None:
    delegation_id, request = pending
    token = sign_decision(decision_claims(home, host, request, "approve"), home.signing)
    answer = decide(client, home, delegation_id, token)
    assert answer.status_code == 200, answer.json
    assert answer.json["state"] == "approved" and answer.json["decisionToken"] == token
    assert [h["state"] for h in answer.json["history"]] == ["requested", "delivered", "approved"]
    assert state_of(client, host, delegation_id)["decisionToken"] == token
    again = decide(client, home, delegation_id, token)
    assert (again.status_code, again.json["code"]) == (409, "ER-0205")
    second = sign_decision(decision_claims(home, host, request, "refuse"), home.signing)
    assert decide(client, home, delegation_id, second).json["code"] == "ER-0224"
    done = client.post(f"/api/x/delegations/{delegation_id}/outcome",
                       json={"outcome": "completed"}, headers=host.headers)
    assert done.json["state"] == "completed" and done.json["finishedAt"]
    by_home = client.post(f"/api/x/delegations/{delegation_id}/outcome",
                          json={"outcome": "failed"}, headers=home.headers)
    assert by_home.status_code == 409


def test_a_refusal_ends_the_delegation(
    client: FlaskClient, host: Party, home: Party, pending: tuple[str, str]
) -> None:
    delegation_id, request = pending
    client.post(f"/api/x/delegations/{delegation_id}/receipt", headers=home.headers)
    answer = decide(client, home, delegation_id,
                    sign_decision(decision_claims(home, host, request), home.signing))
    assert answer.json["state"] == "refused" and answer.json["decisionReason"] == "not this year"


def _forged(home: Party, host: Party, request: str) -> str:
    token = sign_decision(decision_claims(home, host, request, "approve"), home.signing)
    header, payload, signature = token.split(".")
    claims = json.loads(jose.b64url_decode(payload))
    claims["dam"]["slotNo"] = 7
    return f"{header}.{jose.b64url_encode(json.dumps(claims).encode())}.{signature}"


DECISION_REFUSALS = {
    "forged": (lambda home, host, request: _forged(home, host, request), 422, "ER-0220"),
    "unknown kid": (
        lambda home, host, request: sign_decision(
            decision_claims(home, host, request), jose.generate_key("sig")), 422, "ER-0203"),
    "other request hash": (
        lambda home, host, request: sign_decision(
            decision_claims(home, host, request, requestHash=jose.message_hash("x.y.z")),
            home.signing), 422, "ER-0222"),
    "other host": (
        lambda home, host, request: sign_decision(
            decision_claims(home, host, request, aud=OTHER_PIC), home.signing), 422, "ER-0222"),
    "expired decision": (
        lambda home, host, request: sign_decision(
            decision_claims(home, host, request, iat=1_000_000, exp=1_000_600), home.signing),
        422, "ER-0206"),
    "dam key not for the host": (
        lambda home, host, request: sign_decision(
            decision_claims(home, host, request, "approve", damAuthKey=jose.encrypt_compact(
                {}, home.encryption.public(), "escr-dam-auth-key+json")), home.signing),
        422, "ER-0217"),
    "approval without DAM data": (
        lambda home, host, request: sign_decision(
            {k: v for k, v in decision_claims(home, host, request, "approve").items()
             if k != "dam"}, home.signing), 400, "ER-0200"),
    "unsigned": (lambda home, host, request: "eyJhbGciOiJub25lIn0.e30.", 400, "ER-0201"),
}


def test_each_decision_refusal_has_its_own_code_and_nothing_is_approved(
    client: FlaskClient, host: Party, home: Party, pending: tuple[str, str]
) -> None:
    delegation_id, request = pending
    for case, (build, status, code) in sorted(DECISION_REFUSALS.items()):
        answer = decide(client, home, delegation_id, build(home, host, request))
        assert (answer.status_code, answer.json["code"]) == (status, code), (case, answer.json)
        view = state_of(client, home, delegation_id)
        assert view["state"] == "requested" and view["decisionToken"] is None, case


def test_a_decision_from_anyone_but_the_cards_issuer_is_refused(
    client: FlaskClient, host: Party, home: Party, pending: tuple[str, str], make_party: MakeParty
) -> None:
    delegation_id, request = pending
    # The host approving its own request, with its own valid key.
    self_approved = sign_decision(
        decision_claims(home, host, request, "approve", iss=host.pic), host.signing
    )
    answer = decide(client, host, delegation_id, self_approved)
    assert (answer.status_code, answer.json["code"]) == (403, "ER-0221")
    # A third institution does not even learn the delegation exists.
    stranger = make_party(OTHER_PIC)
    theirs = sign_decision(
        decision_claims(home, host, request, "approve", iss=OTHER_PIC), stranger.signing
    )
    assert decide(client, stranger, delegation_id, theirs).json["code"] == "ER-0225"
    # The home's decision sent with someone else's credential.
    home_signed = sign_decision(decision_claims(home, host, request, "approve"), home.signing)
    assert decide(client, host, delegation_id, home_signed).json["code"] == "ER-0210"
    assert state_of(client, home, delegation_id)["state"] == "requested"


def test_an_expired_request_cannot_be_approved_and_is_shown_expired(
    client: FlaskClient, db: Database, host: Party, home: Party, pending: tuple[str, str]
) -> None:
    delegation_id, request = pending
    with db.session() as session:
        session.execute(
            update(Delegation)
            .where(Delegation.id == delegation_id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        session.commit()
    token = sign_decision(decision_claims(home, host, request, "approve"), home.signing)
    answer = decide(client, home, delegation_id, token)
    assert (answer.status_code, answer.json["code"]) == (422, "ER-0223")
    view = state_of(client, host, delegation_id)
    assert view["state"] == "expired" and view["decisionToken"] is None
    assert [h["state"] for h in view["history"]] == ["requested", "expired"]
    assert view["history"][-1]["actor"] is None


def test_a_revoked_home_key_cannot_approve(
    client: FlaskClient, host: Party, home: Party, pending: tuple[str, str]
) -> None:
    delegation_id, request = pending
    client.post(f"/api/x/public-keys/{home.signing.kid}/revoke", json={}, headers=home.headers)
    token = sign_decision(decision_claims(home, host, request, "approve"), home.signing)
    assert decide(client, home, delegation_id, token).json["code"] == "ER-0204"


def test_escr_admin_expires_overdue_requests_once(
    client: FlaskClient,
    db: Database,
    settings: Settings,
    host: Party,
    home: Party,
    pending: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from router.cli import escr_group

    delegation_id, _ = pending
    with db.session() as session:
        session.execute(
            update(Delegation)
            .where(Delegation.id == delegation_id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        session.commit()
    monkeypatch.setenv("ESCR_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    assert "expired 1 " in runner.invoke(escr_group, ["delegations", "expire"]).output
    assert "expired 0 " in runner.invoke(escr_group, ["delegations", "expire"]).output
    assert state_of(client, host, delegation_id)["state"] == "expired"
