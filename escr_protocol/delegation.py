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

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from escr_protocol import jose
from escr_protocol.errors import ProtocolError, Refusal

REQUEST_TYPE = "escr-delegation-request+jwt"
DECISION_TYPE = "escr-delegation-decision+jwt"
APP_KEY_TYPE = "escr-app-key+json"
DAM_AUTH_KEY_TYPE = "escr-dam-auth-key+json"

DEFAULT_LIFETIME = 10 * 60
MAX_LIFETIME = 60 * 60
# How far ahead of the receiver's clock an issue time may be.
CLOCK_SKEW = 60

NAME_LENGTH = 64
DESCRIPTION_LENGTH = 200
REASON_LENGTH = 500
# KeySettings2 bits 7-6 give the application's key type: 10 is AES.
KEY_TYPE_MASK, AES_KEY_TYPE = 0xC0, 0x80
KS2_HAS_KS3, KS2_ISO_FILE_IDS = 0x10, 0x20
KS3_HAS_KEY_SETS = 0x01

Outcome = Literal["approve", "refuse"]
_PIC = re.compile(r"^[0-9]{9}$")
_HEX = re.compile(r"^[0-9A-F]*$")


def _malformed(message: str) -> ProtocolError:
    return ProtocolError(Refusal.MALFORMED, message)


def _invalid(message: str) -> ProtocolError:
    return ProtocolError(Refusal.INVALID_APPLICATION, message)


def _member(claims: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = claims.get(name)
    # bool is an int in Python, never in these messages.
    if value is None or not isinstance(value, kind) or isinstance(value, bool):
        expected = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise _malformed(f"{name!r} is missing or not a {expected}")
    return value


def _optional_int(claims: Mapping[str, Any], name: str) -> int | None:
    return None if claims.get(name) is None else _member(claims, name, int)


def _byte(value: int | None, name: str, high: int = 0xFF) -> None:
    if value is not None and not 0 <= value <= high:
        raise _invalid(f"{name} must be between 0 and {high}")


def normalise_hex(text: Any, name: str, lengths: tuple[int, ...]) -> str:
    """Upper-case hex of one of the byte ``lengths``, or a malformed-message error."""
    if not isinstance(text, str):
        raise _malformed(f"{name!r} is missing or not hex text")
    cleaned = text.strip().upper()
    if not _HEX.match(cleaned) or len(cleaned) % 2 or len(cleaned) // 2 not in lengths:
        raise _malformed(f"{name!r} must be {' or '.join(map(str, lengths))} bytes in hex")
    return cleaned


def request_id_of(value: Any, name: str = "jti") -> str:
    """A message id: a UUID, in its canonical lower-case form."""
    if not isinstance(value, str):
        raise _malformed(f"{name!r} is missing")
    try:
        return str(uuid.UUID(value))
    except ValueError as error:
        raise _malformed(f"{name!r} is not a UUID") from error


def pic_of(value: Any, name: str) -> str:
    """An institution's PIC: nine digits."""
    if not isinstance(value, str) or not _PIC.match(value):
        raise _malformed(f"{name!r} is not a PIC (nine digits)")
    return value


def issuer_of(escn: str) -> str:
    """The PIC of a card's issuer: the last nine digits of its ESCN (no lookup needed)."""
    node = escn.strip().lower()[-9:]
    if not _PIC.match(node):
        raise _malformed(f"{escn!r} names no issuer PIC")
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
class Application:
    """The delegated application the host wants created on the card (DESFire EV2 DAM)."""

    aid: str
    slot_version: int
    quota_limit: int
    key_settings_1: int
    key_settings_2: int
    name: str
    description: str = ""
    key_settings_3: int | None = None
    aks_version: int | None = None
    no_key_sets: int | None = None
    max_key_size: int | None = None
    app_key_set_settings: int | None = None
    iso_file_id: int | None = None
    iso_df_name: str | None = None
    key_type: str = "AES"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """The layout rules of a DAM CreateApplication (esc-reference.md, DAM section)."""
        if not _HEX.match(self.aid) or len(self.aid) != 6:
            raise _invalid("aid is 3 bytes in hex, e.g. F58842")
        if self.aid == "000000":
            raise _invalid("aid 000000 is the card (PICC) itself")
        _byte(self.slot_version, "slotVersion")
        _byte(self.quota_limit, "quotaLimit", 0xFFFF)
        _byte(self.key_settings_1, "keySettings1")
        _byte(self.key_settings_2, "keySettings2")
        if self.key_type != "AES" or self.key_settings_2 & KEY_TYPE_MASK != AES_KEY_TYPE:
            raise _invalid("the application's keys are AES: keyType AES, keySettings2 bits 7-6 10")
        if not 1 <= self.key_settings_2 & 0x0F <= 14:
            raise _invalid("keySettings2 must give 1 to 14 application keys (bits 3-0)")
        has_ks3 = bool(self.key_settings_2 & KS2_HAS_KS3)
        if has_ks3 != (self.key_settings_3 is not None):
            raise _invalid("keySettings3 is present exactly when keySettings2 has bit 4 (0x10)")
        _byte(self.key_settings_3, "keySettings3")
        key_sets = (
            self.aks_version,
            self.no_key_sets,
            self.max_key_size,
            self.app_key_set_settings,
        )
        wants_sets = bool(has_ks3 and (self.key_settings_3 or 0) & KS3_HAS_KEY_SETS)
        if any(v is None for v in key_sets) if wants_sets else any(v is not None for v in key_sets):
            raise _invalid(
                "aksVersion, noKeySets, maxKeySize and appKeySetSettings are present exactly "
                "when keySettings3 has bit 0 (0x01)"
            )
        for value, label in zip(
            key_sets, ("aksVersion", "noKeySets", "maxKeySize", "appKeySetSettings"), strict=True
        ):
            _byte(value, label)
        if bool(self.key_settings_2 & KS2_ISO_FILE_IDS) != (self.iso_file_id is not None):
            raise _invalid("isoFileId is present exactly when keySettings2 has bit 5 (0x20)")
        _byte(self.iso_file_id, "isoFileId", 0xFFFF)
        if self.iso_df_name is not None:
            if self.iso_file_id is None:
                raise _invalid("isoDfName needs isoFileId")
            if not _HEX.match(self.iso_df_name) or not 1 <= len(self.iso_df_name) // 2 <= 16:
                raise _invalid("isoDfName is 1 to 16 bytes in hex")
            if len(self.iso_df_name) % 2:
                raise _invalid("isoDfName is 1 to 16 bytes in hex")
        if not 1 <= len(self.name) <= NAME_LENGTH or not self.name.isprintable():
            raise _invalid(f"name is 1 to {NAME_LENGTH} printable characters")
        if len(self.description) > DESCRIPTION_LENGTH or not self.description.isprintable():
            raise _invalid(f"description is at most {DESCRIPTION_LENGTH} printable characters")

    def claims(self) -> dict[str, Any]:
        """The ``application`` member of a request (optional parts left out when absent)."""
        claims: dict[str, Any] = {
            "aid": self.aid,
            "slotVersion": self.slot_version,
            "quotaLimit": self.quota_limit,
            "keySettings1": self.key_settings_1,
            "keySettings2": self.key_settings_2,
            "keySettings3": self.key_settings_3,
            "aksVersion": self.aks_version,
            "noKeySets": self.no_key_sets,
            "maxKeySize": self.max_key_size,
            "appKeySetSettings": self.app_key_set_settings,
            "isoFileId": self.iso_file_id,
            "isoDfName": self.iso_df_name,
            "keyType": self.key_type,
            "name": self.name,
            "description": self.description,
        }
        return {name: value for name, value in claims.items() if value is not None}

    @classmethod
    def from_claims(cls, claims: Any) -> Application:
        """Read and validate the ``application`` member of a request."""
        if not isinstance(claims, Mapping):
            raise _malformed("'application' is not an object")
        description = claims.get("description", "")
        if not isinstance(description, str):
            raise _malformed("'description' is not text")
        df_name = claims.get("isoDfName")
        return cls(
            aid=normalise_hex(claims.get("aid"), "aid", (3,)),
            slot_version=_member(claims, "slotVersion", int),
            quota_limit=_member(claims, "quotaLimit", int),
            key_settings_1=_member(claims, "keySettings1", int),
            key_settings_2=_member(claims, "keySettings2", int),
            key_settings_3=_optional_int(claims, "keySettings3"),
            aks_version=_optional_int(claims, "aksVersion"),
            no_key_sets=_optional_int(claims, "noKeySets"),
            max_key_size=_optional_int(claims, "maxKeySize"),
            app_key_set_settings=_optional_int(claims, "appKeySetSettings"),
            iso_file_id=_optional_int(claims, "isoFileId"),
            iso_df_name=None
            if df_name is None
            else normalise_hex(df_name, "isoDfName", tuple(range(1, 17))),
            key_type=_member(claims, "keyType", str),
            name=_member(claims, "name", str),
            description=description,
        )


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
        escn = _member(claims, "escn", str).strip().lower()
        try:
            uuid.UUID(escn)
        except ValueError as error:
            raise _malformed("'escn' is not a card number") from error
        app_key = _member(claims, "appKey", str)
        jose.read_jwe_header(app_key, APP_KEY_TYPE)
        return cls(
            request_id=request_id_of(claims.get("jti")),
            host=pic_of(claims.get("iss"), "iss"),
            issued_at=_member(claims, "iat", int),
            expires_at=_member(claims, "exp", int),
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
            raise _malformed("'dam' is not an object")
        slot_no, slot_version = _member(claims, "slotNo", int), _member(claims, "slotVersion", int)
        if not 0 <= slot_no <= 0xFFFF or not 0 <= slot_version <= 0xFF:
            raise _malformed("slotNo is 0..65535 and slotVersion 0..255")
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
            raise _malformed("'decision' is approve or refuse")
        reason = claims.get("reason", "")
        if not isinstance(reason, str) or len(reason) > REASON_LENGTH:
            raise _malformed(f"'reason' is text of at most {REASON_LENGTH} characters")
        request_hash = _member(claims, "requestHash", str)
        if len(jose.b64url_decode(request_hash)) != 32:
            raise _malformed("'requestHash' is a base64url SHA-256")
        authorisation = dam_auth_key = None
        if outcome == "approve":
            authorisation = DamAuthorisation.from_claims(claims.get("dam"))
            dam_auth_key = _member(claims, "damAuthKey", str)
            jose.read_jwe_header(dam_auth_key, DAM_AUTH_KEY_TYPE)
        elif "dam" in claims or "damAuthKey" in claims or not reason.strip():
            raise _malformed("a refusal says why and carries no DAM data")
        return cls(
            decision_id=request_id_of(claims.get("jti")),
            home=pic_of(claims.get("iss"), "iss"),
            host=pic_of(claims.get("aud"), "aud"),
            request_id=request_id_of(claims.get("requestId"), "requestId"),
            request_hash=request_hash,
            issued_at=_member(claims, "iat", int),
            expires_at=_member(claims, "exp", int),
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


# -- the secrets (only the parties ever see these in clear) --------------------------------------


def _key_bytes(claims: Mapping[str, Any]) -> bytes:
    return bytes.fromhex(normalise_hex(claims.get("key"), "key", (16,)))


@dataclass(frozen=True)
class AppKeySecret:
    """The new application's default key and version, for the home's EncK."""

    request_id: str
    key: bytes
    key_version: int

    def seal(self, home_key: jose.PublicKey) -> str:
        """Encrypt to the home's encryption key."""
        payload = {
            "requestId": self.request_id,
            "key": self.key.hex().upper(),
            "keyVersion": self.key_version,
        }
        return jose.encrypt_compact(payload, home_key, APP_KEY_TYPE)

    @classmethod
    def open(cls, compact: str, home_key: jose.PrivateKey, request_id: str) -> AppKeySecret:
        """Decrypt with the home's key; refuse a secret made for another request."""
        claims = jose.decrypt_compact(compact, home_key, APP_KEY_TYPE)
        version = _member(claims, "keyVersion", int)
        if not 0 <= version <= 0xFF:
            raise _malformed("keyVersion is 0..255")
        if request_id_of(claims.get("requestId"), "requestId") != request_id:
            raise ProtocolError(
                Refusal.NOT_BOUND, "the application key was sealed for another request"
            )
        return cls(request_id=request_id, key=_key_bytes(claims), key_version=version)


@dataclass(frozen=True)
class DamAuthKeySecret:
    """The card's DAM authentication key (PICC key 0x10), for the host only."""

    request_id: str
    uid: str
    key: bytes

    def seal(self, host_key: jose.PublicKey) -> str:
        """Encrypt to the host's encryption key."""
        payload = {"requestId": self.request_id, "uid": self.uid, "key": self.key.hex().upper()}
        return jose.encrypt_compact(payload, host_key, DAM_AUTH_KEY_TYPE)

    @classmethod
    def open(
        cls, compact: str, host_key: jose.PrivateKey, request_id: str, uid: str
    ) -> DamAuthKeySecret:
        """Decrypt with the host's key; refuse a key made for another request or card."""
        claims = jose.decrypt_compact(compact, host_key, DAM_AUTH_KEY_TYPE)
        if (
            request_id_of(claims.get("requestId"), "requestId") != request_id
            or normalise_hex(claims.get("uid"), "uid", (4, 7, 10)) != uid
        ):
            raise ProtocolError(Refusal.NOT_BOUND, "the DAM key was sealed for another request")
        return cls(request_id=request_id, uid=uid, key=_key_bytes(claims))
