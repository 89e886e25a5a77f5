"""sgc_client.protocol: keys, signatures, encryption and the delegation messages, no router."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sgc_client.protocol import delegation as protocol
from sgc_client.protocol import jose
from sgc_client.protocol.errors import ProtocolError, Refusal

SIG = jose.generate_key("sig")
ED = jose.generate_key("sig", "Ed25519")
ENC = jose.generate_key("enc")


def _refusal(call: Callable[[], object]) -> Refusal:
    with pytest.raises(ProtocolError) as caught:
        call()
    return caught.value.refusal


def application(**changes: Any) -> protocol.Application:
    fields = dict(
        aid="F58542", slot_version=0xFF, quota_limit=0x10, key_settings_1=0x0B,
        key_settings_2=0xA3, iso_file_id=0x1000, iso_df_name="A00000061404F58542",
        name="Paris payment", description="Pay at the canteens",
    )
    fields.update(changes)
    return protocol.Application(**fields)


def test_a_public_jwk_is_normalised_and_its_kid_defaults_to_the_rfc7638_thumbprint() -> None:
    members = {k: v for k, v in SIG.public().jwk.items() if k not in ("kid", "alg")}
    key = jose.public_key_from_jwk(members)
    assert key.kid == key.thumbprint == SIG.kid
    assert key.jwk["alg"] == "ES256" and key.use == "sig"
    assert jose.public_key_from_jwk({**members, "use": "enc"}).alg == "ECDH-ES"


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"d": "AAAA"}, Refusal.PRIVATE_KEY),
        ({"kty": "oct", "k": "AAAA"}, Refusal.PRIVATE_KEY),
        ({"kty": "RSA"}, Refusal.INVALID_KEY),
        ({"crv": "P-384"}, Refusal.INVALID_KEY),
        ({"alg": "ES256", "use": "enc"}, Refusal.INVALID_KEY),
        ({"alg": "HS256"}, Refusal.INVALID_KEY),
        ({"x": "not a point"}, Refusal.INVALID_KEY),
        ({"kid": "spaces are not allowed"}, Refusal.INVALID_KEY),
    ],
)
def test_keys_the_protocol_does_not_use_are_refused(
    change: dict[str, str], refusal: Refusal
) -> None:
    assert _refusal(lambda: jose.public_key_from_jwk({**SIG.public().jwk, **change})) is refusal


@pytest.mark.parametrize("key", [SIG, ED], ids=["ES256", "Ed25519"])
def test_a_signature_verifies_with_its_key_only(key: jose.PrivateKey) -> None:
    compact = jose.sign_compact({"a": 1}, key, "t+jwt")
    message = jose.read_compact(compact, "t+jwt")
    jose.verify_compact(message, key.public())
    other = jose.generate_key("sig", key.alg)
    # Another key under the same kid: what a forger who swapped the directory entry would hold.
    impostor = jose.public_key_from_jwk({**other.public().jwk, "kid": key.kid})
    assert _refusal(lambda: jose.verify_compact(message, impostor)) is Refusal.BAD_SIGNATURE


def test_a_tampered_payload_and_an_algorithm_switch_do_not_verify() -> None:
    compact = jose.sign_compact({"quota": 16}, SIG, "t+jwt")
    header, _, signature = compact.split(".")
    forged_payload = jose.b64url_encode(json.dumps({"quota": 4096}).encode())
    tampered = jose.read_compact(f"{header}.{forged_payload}.{signature}", "t+jwt")
    assert _refusal(lambda: jose.verify_compact(tampered, SIG.public())) is Refusal.BAD_SIGNATURE
    switched_header = jose.b64url_encode(
        json.dumps({"alg": "Ed25519", "kid": SIG.kid, "typ": "t+jwt"}).encode()
    )
    switched = jose.read_compact(f"{switched_header}.{compact.split('.')[1]}.{signature}", "t+jwt")
    assert _refusal(lambda: jose.verify_compact(switched, SIG.public())) is Refusal.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("header", "signature", "refusal"),
    [
        ({"alg": "none", "kid": "k", "typ": "t+jwt"}, "", Refusal.UNSIGNED),
        ({"alg": "HS256", "kid": "k", "typ": "t+jwt"}, "c2ln", Refusal.UNSIGNED),
        ({"alg": "ES256", "kid": "k", "typ": "t+jwt"}, "", Refusal.UNSIGNED),
        ({"alg": "ES256", "kid": "k", "typ": "other"}, "c2ln", Refusal.MALFORMED),
        ({"alg": "ES256", "kid": "k", "typ": "t+jwt", "crit": ["b64"]}, "c2ln", Refusal.MALFORMED),
        ({"alg": "ES256", "typ": "t+jwt"}, "c2ln", Refusal.MALFORMED),
    ],
)
def test_unsigned_or_odd_headers_are_refused_before_any_key_is_used(
    header: dict[str, Any], signature: str, refusal: Refusal
) -> None:
    encoded = jose.b64url_encode(json.dumps(header).encode())
    payload = jose.b64url_encode(b'{"a":1}')
    assert _refusal(lambda: jose.read_compact(f"{encoded}.{payload}.{signature}", "t+jwt")) is (
        refusal
    )


def test_not_a_jws_at_all_is_unsigned_and_duplicate_members_are_malformed() -> None:
    assert _refusal(lambda: jose.read_compact('{"iss": "x"}', "t+jwt")) is Refusal.UNSIGNED
    header = jose.b64url_encode(b'{"alg":"ES256","kid":"k","typ":"t+jwt"}')
    payload = jose.b64url_encode(b'{"a":1,"a":2}')
    assert _refusal(lambda: jose.read_compact(f"{header}.{payload}.c2ln", "t+jwt")) is (
        Refusal.MALFORMED
    )


def test_a_secret_opens_only_with_the_recipients_key_and_the_router_sees_only_its_header() -> None:
    sealed = jose.encrypt_compact({"key": "00" * 16}, ENC.public(), "c+json")
    header = jose.read_jwe_header(sealed, "c+json")
    assert header["kid"] == ENC.kid and header["alg"] == "ECDH-ES"
    assert "00" * 16 not in sealed
    assert jose.decrypt_compact(sealed, ENC, "c+json") == {"key": "00" * 16}
    stranger = jose.generate_key("enc")
    assert _refusal(lambda: jose.decrypt_compact(sealed, stranger, "c+json")) is (
        Refusal.WRONG_RECIPIENT
    )
    posing = jose.PrivateKey(kid=ENC.kid, use="enc", alg=ENC.alg, key=stranger.key)
    assert _refusal(lambda: jose.decrypt_compact(sealed, posing, "c+json")) is (
        Refusal.UNDECRYPTABLE
    )


def test_the_app_key_secret_is_bound_to_its_request() -> None:
    sealed = protocol.AppKeySecret("6f0f7e44-0000-4000-8000-000000000001", b"\x11" * 16, 1).seal(
        ENC.public()
    )
    opened = protocol.AppKeySecret.open(sealed, ENC, "6f0f7e44-0000-4000-8000-000000000001")
    assert (opened.key, opened.key_version) == (b"\x11" * 16, 1)
    assert _refusal(
        lambda: protocol.AppKeySecret.open(sealed, ENC, str(uuid.uuid4()))
    ) is Refusal.NOT_BOUND


@pytest.mark.parametrize(
    ("iat", "exp", "refusal"),
    [
        (1000, 1000 + protocol.MAX_LIFETIME + 1, Refusal.LIFETIME_TOO_LONG),
        (1000, 1000, Refusal.LIFETIME_TOO_LONG),
        (1000 + protocol.CLOCK_SKEW + 5, 1000 + 600, Refusal.FUTURE_DATED),
        (400, 1000, Refusal.EXPIRED),
    ],
)
def test_validity_windows(iat: int, exp: int, refusal: Refusal) -> None:
    assert _refusal(lambda: protocol.check_validity(iat, exp, 1000)) is refusal
    protocol.check_validity(990, 1590, 1000)


def test_the_reference_application_round_trips_through_its_claims() -> None:
    app = application()
    assert protocol.Application.from_claims(app.claims()) == app
    assert "keySettings3" not in app.claims()


@pytest.mark.parametrize(
    "changes",
    [
        {"aid": "000000"},
        {"key_settings_2": 0x23},  # 2TDEA keys, not AES
        {"key_settings_2": 0xA0},  # no key
        {"key_settings_2": 0x83},  # no ISO file ids, yet a file id given
        {"key_settings_2": 0xB3},  # KeySett3 announced, not given
        {"key_settings_2": 0xB3, "key_settings_3": 0x01},  # key set fields missing
        {"iso_df_name": "00" * 17},
        {"quota_limit": 0x10000},
        {"name": ""},
        {"description": "line\nbreak"},
    ],
)
def test_applications_breaking_the_dam_layout_are_refused(changes: dict[str, Any]) -> None:
    assert _refusal(lambda: application(**changes)) is Refusal.INVALID_APPLICATION


@given(
    ks2_low=st.integers(1, 14),
    with_ks3=st.booleans(),
    with_sets=st.booleans(),
    with_fid=st.booleans(),
    df_length=st.integers(0, 16),
    quota=st.integers(0, 0xFFFF),
)
def test_every_valid_layout_round_trips(
    ks2_low: int, with_ks3: bool, with_sets: bool, with_fid: bool, df_length: int, quota: int
) -> None:
    ks2 = 0x80 | ks2_low | (0x10 if with_ks3 else 0) | (0x20 if with_fid else 0)
    sets = dict(aks_version=1, no_key_sets=2, max_key_size=16, app_key_set_settings=0)
    app = protocol.Application(
        aid="F58842", slot_version=1, quota_limit=quota, key_settings_1=0x0F, key_settings_2=ks2,
        key_settings_3=(0x01 if with_sets else 0x00) if with_ks3 else None,
        **(sets if with_ks3 and with_sets else {}),
        iso_file_id=0x1234 if with_fid else None,
        iso_df_name=("AB" * df_length or None) if with_fid else None,
        name="App",
    )
    assert protocol.Application.from_claims(json.loads(json.dumps(app.claims()))) == app


@given(st.dictionaries(st.sampled_from(
    ["aid", "slotVersion", "quotaLimit", "keySettings1", "keySettings2", "keySettings3",
     "isoFileId", "isoDfName", "keyType", "name", "description", "noKeySets"]),
    st.one_of(st.none(), st.booleans(), st.integers(-5, 70000),
              st.sampled_from(["", "F58842", "AES", "A0", "zz", "ÿ\n"]), st.just([1])),
    max_size=8))
def test_any_application_object_is_read_or_refused_never_crashing(claims: dict[str, Any]) -> None:
    try:
        protocol.Application.from_claims(claims)
    except ProtocolError as error:
        assert error.refusal in (Refusal.MALFORMED, Refusal.INVALID_APPLICATION)


def test_a_refusal_carries_a_reason_and_no_dam_data() -> None:
    claims = {
        "iss": "999999999", "aud": "888888888", "jti": str(uuid.uuid4()), "iat": 1, "exp": 2,
        "requestId": str(uuid.uuid4()), "requestHash": jose.message_hash("a.b.c"),
        "decision": "refuse", "reason": "",
    }
    assert _refusal(lambda: protocol.Decision.from_claims(claims)) is Refusal.MALFORMED
    decision = protocol.Decision.from_claims({**claims, "reason": "not allowed"})
    assert not decision.approved and decision.authorisation is None
    with_dam = {**claims, "reason": "x", "dam": {}}
    assert _refusal(lambda: protocol.Decision.from_claims(with_dam)) is Refusal.MALFORMED


def test_the_issuer_is_read_from_the_card_number() -> None:
    assert protocol.issuer_of("f81d4fae-7dec-11d0-a765-001999978433") == "999978433"
