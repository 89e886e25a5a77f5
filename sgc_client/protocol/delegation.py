"""The delegation messages: the host's request, the home's decision, and the secrets inside them.

Formats (every member is required unless marked optional; times are NumericDate seconds):

**Request** — a compact JWS, header ``{"alg", "kid", "typ": "escr-delegation-request+jwt"}``,
signed by the host with one of its registered signing keys::

    {"iss": "<host PIC>", "jti": "<request id, UUID>", "iat": 1767225600, "exp": 1767226200,
     "escn": "<card number>", "uid": "<chip UID, hex>",
     "application": {"aid": "F58842", "slotVersion": 0, "quotaLimit": 16,
                     "keySettings1": 11, "keySettings2": 163,
                     "keySettings3": 1,                 # optional: iff keySettings2 & 0x10
                     "aksVersion": 0, "noKeySets": 2,   # optional, the four of them
                     "maxKeySize": 16, "appKeySetSettings": 0,   # iff keySettings3 & 0x01
                     "isoFileId": 4096,                 # optional: iff keySettings2 & 0x20
                     "isoDfName": "A00000061404F58542", # optional: only with isoFileId
                     "keyType": "AES", "name": "Paris payment",
                     "description": "Pay for meals at Paris canteens"},
     "appKey": "<JWE to the home: the new application's default key>"}

The lifetime ``exp - iat`` is at most one hour (ten minutes by default); ``iat`` may be at most a
minute ahead of the receiver's clock.

**Application default key** (``appKey``) — a compact JWE (``cty`` ``escr-app-key+json``) to one
of the home's registered encryption keys: ``{"requestId", "key": "<32 hex>", "keyVersion": n}``.

**Decision** — a compact JWS, header ``typ`` ``escr-delegation-decision+jwt``, signed by the
home (the card's issuer)::

    {"iss": "<home PIC>", "aud": "<host PIC>", "jti": "<decision id, UUID>", "iat", "exp",
     "requestId": "<the request's jti>", "requestHash": "<message_hash of the request JWS>",
     "decision": "approve" | "refuse", "reason": "<text; required to refuse>",
     # approve only:
     "dam": {"slotNo": 0, "slotVersion": 0, "encK": "<64 hex>", "damMac": "<16 hex>"},
     "damAuthKey": "<JWE to the host: the card's DAM auth key>"}

**DAM auth key** (``damAuthKey``) — a compact JWE (``cty`` ``escr-dam-auth-key+json``) to one of
the host's encryption keys: ``{"requestId", "uid", "key": "<32 hex>"}``.

A decision is bound to its request by ``requestHash``; the secrets are bound to it by
``requestId`` (and the UID), so none of them can be moved to another request.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sgc_client.protocol import jose
from sgc_client.protocol.application import Application
from sgc_client.protocol.claims import (
    PIC_PATTERN,
    malformed,
    member,
    normalise_hex,
    pic_of,
    request_id_of,
)
from sgc_client.protocol.errors import ProtocolError, Refusal
from sgc_client.protocol.sealed import (
    APP_KEY_TYPE,
    DAM_AUTH_KEY_TYPE,
    AppKeySecret,
    DamAuthKeySecret,
)

__all__ = [
    "APP_KEY_TYPE",
    "CLOCK_SKEW",
    "DAM_AUTH_KEY_TYPE",
    "DECISION_TYPE",
    "DEFAULT_LIFETIME",
    "MAX_LIFETIME",
    "REASON_LENGTH",
    "REQUEST_TYPE",
    "AppKeySecret",
    "Application",
    "DamAuthKeySecret",
    "DamAuthorisation",
    "Decision",
    "DelegationRequest",
    "Outcome",
    "check_validity",
    "issuer_of",
    "normalise_hex",
    "pic_of",
    "read_decision",
    "read_request",
    "request_id_of",
]

REQUEST_TYPE = "escr-delegation-request+jwt"
DECISION_TYPE = "escr-delegation-decision+jwt"

DEFAULT_LIFETIME = 10 * 60
MAX_LIFETIME = 60 * 60
# How far ahead of the receiver's clock an issue time may be.
CLOCK_SKEW = 60
REASON_LENGTH = 500

Outcome = Literal["approve", "refuse"]


def issuer_of(escn: str) -> str:
    """The PIC of a card's issuer: the last nine digits of its ESCN (no lookup needed)."""
    node = escn.strip().lower()[-9:]
    if not PIC_PATTERN.match(node):
        raise malformed(f"{escn!r} names no issuer PIC")
    return node


def check_validity(issued_at: int, expires_at: int, now: float) -> None:
    """Refuse a message that is expired, issued in the future or valid for too long."""
    if expires_at <= issued_at or expires_at - issued_at > MAX_LIFETIME:
        raise ProtocolError(
            Refusal.LIFETIME_TOO_LONG,
            f"a message is valid for at most {MAX_LIFETIME} s (exp - iat), "
            f"not {expires_at - issued_at} s",
        )
    if issued_at > now + CLOCK_SKEW:
        raise ProtocolError(Refusal.FUTURE_DATED, "the message is dated in the future (iat)")
    if expires_at <= now:
        raise ProtocolError(Refusal.EXPIRED, "the message has expired (exp)")


@dataclass(frozen=True)
class DelegationRequest:
    """What the host asks: this application on this card, with its default key for the home."""

    request_id: str
    host: str
    issued_at: int
    expires_at: int
    escn: str
    uid: str
    application: Application
    app_key: str

    def claims(self) -> dict[str, Any]:
        """The request's JWS claims."""
        return {
            "iss": self.host,
            "jti": self.request_id,
            "iat": self.issued_at,
            "exp": self.expires_at,
            "escn": self.escn,
            "uid": self.uid,
            "application": self.application.claims(),
            "appKey": self.app_key,
        }

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> DelegationRequest:
        """Read a request's claims (shape only: times and keys are checked by the reader)."""
        escn = member(claims, "escn", str).strip().lower()
        try:
            uuid.UUID(escn)
        except ValueError as error:
            raise malformed("'escn' is not a card number") from error
        app_key = member(claims, "appKey", str)
        jose.read_jwe_header(app_key, APP_KEY_TYPE)
        return cls(
            request_id=request_id_of(claims.get("jti")),
            host=pic_of(claims.get("iss"), "iss"),
            issued_at=member(claims, "iat", int),
            expires_at=member(claims, "exp", int),
            escn=escn,
            uid=normalise_hex(claims.get("uid"), "uid", (4, 7, 10)),
            application=Application.from_claims(claims.get("application")),
            app_key=app_key,
        )


@dataclass(frozen=True)
class DamAuthorisation:
    """What the card needs to create the application: slot, EncK and DAMMAC (hex)."""

    slot_no: int
    slot_version: int
    enck: str
    dam_mac: str

    def claims(self) -> dict[str, Any]:
        """The ``dam`` member of an approval."""
        return {
            "slotNo": self.slot_no,
            "slotVersion": self.slot_version,
            "encK": self.enck,
            "damMac": self.dam_mac,
        }

    @classmethod
    def from_claims(cls, claims: Any) -> DamAuthorisation:
        """Read the ``dam`` member of an approval."""
        if not isinstance(claims, Mapping):
            raise malformed("'dam' is not an object")
        slot_no, slot_version = member(claims, "slotNo", int), member(claims, "slotVersion", int)
        if not 0 <= slot_no <= 0xFFFF or not 0 <= slot_version <= 0xFF:
            raise malformed("slotNo is 0..65535 and slotVersion 0..255")
        return cls(
            slot_no=slot_no,
            slot_version=slot_version,
            enck=normalise_hex(claims.get("encK"), "encK", (32,)),
            dam_mac=normalise_hex(claims.get("damMac"), "damMac", (8,)),
        )


@dataclass(frozen=True)
class Decision:
    """The home institution's answer to one request, bound to it by its hash."""

    decision_id: str
    home: str
    host: str
    request_id: str
    request_hash: str
    issued_at: int
    expires_at: int
    outcome: Outcome
    reason: str = ""
    authorisation: DamAuthorisation | None = None
    dam_auth_key: str | None = None

    @property
    def approved(self) -> bool:
        """Whether the home approved."""
        return self.outcome == "approve"

    def claims(self) -> dict[str, Any]:
        """The decision's JWS claims."""
        claims: dict[str, Any] = {
            "iss": self.home,
            "aud": self.host,
            "jti": self.decision_id,
            "iat": self.issued_at,
            "exp": self.expires_at,
            "requestId": self.request_id,
            "requestHash": self.request_hash,
            "decision": self.outcome,
            "reason": self.reason,
        }
        if self.authorisation is not None:
            claims["dam"] = self.authorisation.claims()
        if self.dam_auth_key is not None:
            claims["damAuthKey"] = self.dam_auth_key
        return claims

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Decision:
        """Read a decision's claims: an approval carries the DAM data, a refusal a reason."""
        outcome = claims.get("decision")
        if outcome not in ("approve", "refuse"):
            raise malformed("'decision' is approve or refuse")
        reason = claims.get("reason", "")
        if not isinstance(reason, str) or len(reason) > REASON_LENGTH:
            raise malformed(f"'reason' is text of at most {REASON_LENGTH} characters")
        request_hash = member(claims, "requestHash", str)
        if len(jose.b64url_decode(request_hash)) != 32:
            raise malformed("'requestHash' is a base64url SHA-256")
        authorisation = dam_auth_key = None
        if outcome == "approve":
            authorisation = DamAuthorisation.from_claims(claims.get("dam"))
            dam_auth_key = member(claims, "damAuthKey", str)
            jose.read_jwe_header(dam_auth_key, DAM_AUTH_KEY_TYPE)
        elif "dam" in claims or "damAuthKey" in claims or not reason.strip():
            raise malformed("a refusal says why and carries no DAM data")
        return cls(
            decision_id=request_id_of(claims.get("jti")),
            home=pic_of(claims.get("iss"), "iss"),
            host=pic_of(claims.get("aud"), "aud"),
            request_id=request_id_of(claims.get("requestId"), "requestId"),
            request_hash=request_hash,
            issued_at=member(claims, "iat", int),
            expires_at=member(claims, "exp", int),
            outcome=outcome,
            reason=reason,
            authorisation=authorisation,
            dam_auth_key=dam_auth_key,
        )


def read_request(compact: Any) -> tuple[jose.SignedMessage, DelegationRequest]:
    """Read a request JWS (not verified): the message and its parsed claims."""
    message = jose.read_compact(compact, REQUEST_TYPE)
    return message, DelegationRequest.from_claims(message.claims)


def read_decision(compact: Any) -> tuple[jose.SignedMessage, Decision]:
    """Read a decision JWS (not verified): the message and its parsed claims."""
    message = jose.read_compact(compact, DECISION_TYPE)
    return message, Decision.from_claims(message.claims)
