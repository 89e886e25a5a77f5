"""Two institutions with registered keys, a card of the home, and signed messages between them."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from router.services.caller import Scope
from sgc_client.protocol import delegation as protocol
from sgc_client.protocol import jose
from tests.conftest import Tenant

HOME_PIC, HOST_PIC, OTHER_PIC = "999999999", "888888888", "777777777"
UID = "04A1B2C3D4E5F6"


@dataclass
class Party:
    """An institution of the test router with its API key and its private keys."""

    tenant: Tenant
    signing: jose.PrivateKey
    encryption: jose.PrivateKey

    @property
    def pic(self) -> str:
        return self.tenant.pic

    @property
    def headers(self) -> dict[str, str]:
        return self.tenant.headers


@pytest.fixture
def make_party(client, make_tenant):
    def factory(pic: str, name: str | None = None) -> Party:
        tenant = make_tenant(pic, name, scopes=[*Scope.INSTITUTION, Scope.KEYS_MANAGE])
        party = Party(tenant, jose.generate_key("sig"), jose.generate_key("enc"))
        for key in (party.signing, party.encryption):
            answer = client.post(
                "/api/x/public-keys", json={"jwk": key.public().jwk}, headers=tenant.headers
            )
            assert answer.status_code == 201, answer.json
        return party

    return factory


@pytest.fixture
def home(make_party) -> Party:
    return make_party(HOME_PIC, "Università di Milano")


@pytest.fixture
def host(make_party) -> Party:
    return make_party(HOST_PIC, "Université de Paris")


@pytest.fixture
def card(registered, home) -> dict[str, Any]:
    """An active card of the home, with its chip serial number registered."""
    return registered("MILAN1", tenant=home.tenant, csn=UID)


def application(**changes: Any) -> protocol.Application:
    fields: dict[str, Any] = dict(
        aid="F58542", slot_version=0, quota_limit=16, key_settings_1=0x0B, key_settings_2=0xA3,
        iso_file_id=0x1000, iso_df_name="A00000061404F58542", name="Paris payment",
        description="Pay at the canteens of Paris",
    )
    fields.update(changes)
    return protocol.Application(**fields)


def request_claims(host: Party, home: Party, escn: str, **changes: Any) -> dict[str, Any]:
    """Valid request claims from ``host`` about card ``escn`` of ``home``."""
    request_id = str(uuid.uuid4())
    now = int(time.time())
    claims = protocol.DelegationRequest(
        request_id=request_id,
        host=host.pic,
        issued_at=now,
        expires_at=now + protocol.DEFAULT_LIFETIME,
        escn=escn,
        uid=UID,
        application=application(),
        app_key=protocol.AppKeySecret(request_id, b"\x42" * 16, 1).seal(home.encryption.public()),
    ).claims()
    claims.update(changes)
    return claims


def sign_request(claims: dict[str, Any], key: jose.PrivateKey) -> str:
    return jose.sign_compact(claims, key, protocol.REQUEST_TYPE)


def decision_claims(
    home: Party, host: Party, request: str, outcome: str = "refuse", **changes: Any
) -> dict[str, Any]:
    """Decision claims of ``home`` on the request JWS ``request``."""
    request_id = protocol.read_request(request)[1].request_id
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": home.pic, "aud": host.pic, "jti": str(uuid.uuid4()), "iat": now, "exp": now + 600,
        "requestId": request_id, "requestHash": jose.message_hash(request),
        "decision": outcome, "reason": "not this year" if outcome == "refuse" else "",
    }
    if outcome == "approve":
        claims["dam"] = {"slotNo": 0, "slotVersion": 0, "encK": "AB" * 32, "damMac": "CD" * 8}
        claims["damAuthKey"] = protocol.DamAuthKeySecret(request_id, UID, b"\x10" * 16).seal(
            host.encryption.public()
        )
    claims.update(changes)
    return claims


def sign_decision(claims: dict[str, Any], key: jose.PrivateKey) -> str:
    return jose.sign_compact(claims, key, protocol.DECISION_TYPE)
