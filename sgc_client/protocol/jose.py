"""Keys, signatures and encryption of the messages between institutions (JOSE, via joserfc).

The choices, in one place:

- **Signing keys**: ECDSA P-256 with ``ES256``, or Ed25519 with ``Ed25519`` (RFC 9864's name for
  EdDSA over Ed25519). A key's ``alg`` is fixed when it is registered, and a signature is checked
  only with the algorithm of the key named by ``kid``, so no header can pick a weaker one.
- **Encryption keys**: ECDH P-256. A secret for one party is a compact JWE with ``alg`` ``ECDH-ES``
  (direct key agreement with an ephemeral key) and ``enc`` ``A256GCM``, its protected header naming
  the recipient's ``kid`` and the secret's ``cty``.
- **Key ids**: any ``kid`` of 1 to 128 characters from ``[A-Za-z0-9._:-]``; ``escr-sgc keys create``
  uses the RFC 7638 SHA-256 thumbprint. Public keys are registered as JWKs without private members.
- **Hash of a message**: ``base64url(SHA-256(compact serialization as ASCII))``, unpadded: what a
  decision quotes of the request it answers.

joserfc is Authlib's own JOSE library (Authlib depends on it and deprecates ``authlib.jose`` in its
favour). This module adds the strict parsing the protocol wants on top of it: exactly one
algorithm per key, no ``crit``, no unencoded payloads, no duplicate JSON members.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey

from sgc_client.protocol.errors import ProtocolError, Refusal

KeyUse = Literal["sig", "enc"]

# alg -> (kty, crv) of the signing keys the protocol accepts.
SIGNING_ALGORITHMS: dict[str, tuple[str, str]] = {
    "ES256": ("EC", "P-256"),
    "Ed25519": ("OKP", "Ed25519"),
}
KEY_AGREEMENT = "ECDH-ES"
CONTENT_ENCRYPTION = "A256GCM"
ENCRYPTION_KEY_TYPE = ("EC", "P-256")
# JWK members that hold private (or symmetric) key material: a public key never has them.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
KID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A compact message larger than this is refused before any parsing.
MAX_COMPACT_LENGTH = 64 * 1024

_jws_registry = jws.JWSRegistry(algorithms=list(SIGNING_ALGORITHMS))
_jwe_registry = jwe.JWERegistry(algorithms=[KEY_AGREEMENT, CONTENT_ENCRYPTION])


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url, as JOSE writes it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url strictly; a malformed part is a malformed message."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ProtocolError(Refusal.MALFORMED, "not base64url text")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise ProtocolError(Refusal.MALFORMED, "not base64url text") from error


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ProtocolError(Refusal.MALFORMED, f"duplicate JSON member {key!r}")
        result[key] = value
    return result


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """Parse a JSON object strictly (UTF-8, no duplicate members)."""
    try:
        parsed = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    # ValueError: not UTF-8, not JSON, or an integer past Python's 4300 digits; RecursionError:
    # nesting past Python's recursion limit. All are a sender's malformed message.
    except (ValueError, RecursionError) as error:
        raise ProtocolError(Refusal.MALFORMED, f"the {what} is not JSON") from error
    if not isinstance(parsed, dict):
        raise ProtocolError(Refusal.MALFORMED, f"the {what} is not a JSON object")
    return parsed


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """Compact JSON with sorted members: the same claims always give the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def message_hash(compact: str) -> str:
    """The hash a decision quotes of a request: unpadded base64url of SHA-256 of its ASCII."""
    return b64url_encode(hashlib.sha256(compact.encode("ascii")).digest())


# -- keys ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicKey:
    """A validated public JWK: what an institution registers and what a verifier uses."""

    kid: str
    use: KeyUse
    alg: str
    jwk: dict[str, str]
    thumbprint: str

    def joserfc_key(self) -> ECKey | OKPKey:
        """The key as joserfc wants it."""
        return _import(self.jwk)


def _import(members: Mapping[str, Any]) -> ECKey | OKPKey:
    try:
        if members.get("kty") == "EC":
            return ECKey.import_key(dict(members))
        if members.get("kty") == "OKP":
            return OKPKey.import_key(dict(members))
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise ProtocolError(Refusal.INVALID_KEY, f"the key cannot be loaded: {error}") from error
    raise ProtocolError(Refusal.INVALID_KEY, "only EC (P-256) and OKP (Ed25519) keys are used")


def _use_and_alg(members: Mapping[str, Any]) -> tuple[KeyUse, str]:
    """The use and algorithm a JWK declares, or implies when only one of them is given."""
    kty, crv = members.get("kty"), members.get("crv")
    use, alg = members.get("use"), members.get("alg")
    if use not in (None, "sig", "enc") or alg not in (None, *SIGNING_ALGORITHMS, KEY_AGREEMENT):
        raise ProtocolError(
            Refusal.INVALID_KEY,
            f"use must be sig or enc and alg one of {', '.join(SIGNING_ALGORITHMS)} or "
            f"{KEY_AGREEMENT}",
        )
    if alg is None:
        if use == "enc":
            alg = KEY_AGREEMENT
        elif use == "sig":
            alg = "Ed25519" if kty == "OKP" else "ES256"
        else:
            raise ProtocolError(Refusal.INVALID_KEY, "a key must say its use (sig or enc) or alg")
    expected_use: KeyUse = "enc" if alg == KEY_AGREEMENT else "sig"
    if use is not None and use != expected_use:
        raise ProtocolError(Refusal.INVALID_KEY, f"alg {alg} is not for use {use}")
    wanted = ENCRYPTION_KEY_TYPE if alg == KEY_AGREEMENT else SIGNING_ALGORITHMS[alg]
    if (kty, crv) != wanted:
        raise ProtocolError(
            Refusal.INVALID_KEY, f"alg {alg} needs a {wanted[0]} {wanted[1]} key, not {kty} {crv}"
        )
    return expected_use, alg


def public_key_from_jwk(members: Any) -> PublicKey:
    """Validate a public JWK (refusing any private member) and normalise it.

    The normal form keeps ``kty``, ``crv``, ``x`` (and ``y``), and sets ``kid``, ``use`` and
    ``alg``; the ``kid`` defaults to the RFC 7638 thumbprint.
    """
    if not isinstance(members, Mapping):
        raise ProtocolError(Refusal.INVALID_KEY, "a JWK is a JSON object")
    private = sorted(PRIVATE_MEMBERS & set(members))
    if private:
        raise ProtocolError(
            Refusal.PRIVATE_KEY,
            f"the JWK holds private key material ({', '.join(private)}); send the public key only",
        )
    use, alg = _use_and_alg(members)
    public = {name: members[name] for name in ("kty", "crv", "x", "y") if name in members}
    if not all(isinstance(value, str) for value in public.values()):
        raise ProtocolError(Refusal.INVALID_KEY, "the key's members are strings")
    key = _import(public)
    thumbprint = key.thumbprint()
    kid = members.get("kid", thumbprint)
    if not isinstance(kid, str) or not KID_PATTERN.match(kid):
        raise ProtocolError(
            Refusal.INVALID_KEY, "a kid is 1 to 128 characters among letters, digits and ._:-"
        )
    normal = {**public, "kid": kid, "use": use, "alg": alg}
    return PublicKey(kid=kid, use=use, alg=alg, jwk=normal, thumbprint=thumbprint)


@dataclass(frozen=True)
class PrivateKey:
    """A private key held by an institution's own tools; never sent to the router."""

    kid: str
    use: KeyUse
    alg: str
    key: ECKey | OKPKey

    def public(self) -> PublicKey:
        """The public half, as registered at the router."""
        members = self.key.as_dict(private=False)
        return public_key_from_jwk({**members, "kid": self.kid, "use": self.use, "alg": self.alg})

    def private_jwk(self) -> dict[str, Any]:
        """The private JWK, for the key file."""
        return {**self.key.as_dict(private=True), "kid": self.kid, "use": self.use, "alg": self.alg}


def generate_key(use: KeyUse, alg: str | None = None) -> PrivateKey:
    """A new key from the operating system's random source; its kid is its thumbprint."""
    alg = alg or ("ES256" if use == "sig" else KEY_AGREEMENT)
    if use == "enc" and alg != KEY_AGREEMENT:
        raise ValueError(f"encryption keys use {KEY_AGREEMENT}")
    if use == "sig" and alg not in SIGNING_ALGORITHMS:
        raise ValueError(f"signing keys use one of {', '.join(SIGNING_ALGORITHMS)}")
    key: ECKey | OKPKey
    key = OKPKey.generate_key("Ed25519") if alg == "Ed25519" else ECKey.generate_key("P-256")
    return PrivateKey(kid=key.thumbprint(), use=use, alg=alg, key=key)


def private_key_from_jwk(members: Any) -> PrivateKey:
    """Load a private key from its JWK (a key file)."""
    if not isinstance(members, Mapping) or "d" not in members:
        raise ProtocolError(Refusal.INVALID_KEY, "not a private JWK")
    public = public_key_from_jwk({k: v for k, v in members.items() if k not in PRIVATE_MEMBERS})
    key = _import({**public.jwk, "d": members["d"]})
    return PrivateKey(kid=public.kid, use=public.use, alg=public.alg, key=key)


# -- signatures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedMessage:
    """A compact JWS read but not yet verified: its header and claims, for routing checks."""

    compact: str
    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def kid(self) -> str:
        """The signer's key id."""
        return str(self.header["kid"])

    @property
    def hash(self) -> str:
        """The message's hash (what a decision quotes)."""
        return message_hash(self.compact)


def _compact_parts(compact: Any, count: int, what: str) -> list[str]:
    if not isinstance(compact, str) or not compact.isascii():
        raise ProtocolError(Refusal.MALFORMED, f"a {what} is an ASCII string")
    if len(compact) > MAX_COMPACT_LENGTH:
        raise ProtocolError(Refusal.MALFORMED, f"the {what} is longer than {MAX_COMPACT_LENGTH}")
    parts = compact.strip().split(".")
    if len(parts) != count:
        raise ProtocolError(
            Refusal.UNSIGNED if count == 3 else Refusal.MALFORMED,
            f"not a compact {what} ({count} dot-separated parts)",
        )
    return parts


def sign_compact(claims: Mapping[str, Any], key: PrivateKey, typ: str) -> str:
    """Sign ``claims`` with ``key``: a compact JWS whose header names the key and the type."""
    if key.use != "sig":
        raise ValueError("an encryption key cannot sign")
    header = {"alg": key.alg, "kid": key.kid, "typ": typ}
    return jws.serialize_compact(header, canonical_json(claims), key.key, registry=_jws_registry)


def read_compact(compact: Any, typ: str) -> SignedMessage:
    """Read a compact JWS of type ``typ`` without verifying it; refuse what cannot be signed."""
    header_part, payload_part, signature_part = _compact_parts(compact, 3, "JWS")
    header = json_object(b64url_decode(header_part), "JWS header")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none" or not signature_part:
        raise ProtocolError(Refusal.UNSIGNED, "the message is not signed")
    if alg not in SIGNING_ALGORITHMS:
        raise ProtocolError(
            Refusal.UNSIGNED,
            f"alg {alg!r} is not a signature the protocol accepts "
            f"({', '.join(SIGNING_ALGORITHMS)})",
        )
    if "crit" in header or "b64" in header:
        raise ProtocolError(Refusal.MALFORMED, "crit and b64 headers are not used")
    if header.get("typ") != typ:
        raise ProtocolError(Refusal.MALFORMED, f"the message's typ is not {typ!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not KID_PATTERN.match(kid):
        raise ProtocolError(Refusal.MALFORMED, "the JWS header names no valid kid")
    claims = json_object(b64url_decode(payload_part), "JWS payload")
    b64url_decode(signature_part)
    return SignedMessage(compact=compact.strip(), header=header, claims=claims)


def verify_compact(message: SignedMessage, key: PublicKey) -> None:
    """Check the signature with ``key`` (and only with its algorithm); raise if it fails."""
    if key.use != "sig" or message.header["alg"] != key.alg:
        raise ProtocolError(
            Refusal.BAD_SIGNATURE,
            f"key {key.kid} signs with {key.alg}, not {message.header['alg']}",
        )
    try:
        jws.deserialize_compact(
            message.compact, key.joserfc_key(), algorithms=[key.alg], registry=_jws_registry
        )
    except (JoseError, ValueError) as error:
        raise ProtocolError(Refusal.BAD_SIGNATURE, "the signature does not verify") from error


# -- encryption ---------------------------------------------------------------------------------


def encrypt_compact(payload: Mapping[str, Any], recipient: PublicKey, cty: str) -> str:
    """Encrypt ``payload`` (JSON) to ``recipient``'s encryption key: a compact JWE."""
    if recipient.use != "enc":
        raise ValueError("a signing key cannot receive a secret")
    header = {"alg": KEY_AGREEMENT, "enc": CONTENT_ENCRYPTION, "kid": recipient.kid, "cty": cty}
    return jwe.encrypt_compact(
        header, canonical_json(payload), recipient.joserfc_key(), registry=_jwe_registry
    )


def read_jwe_header(compact: Any, cty: str) -> dict[str, Any]:
    """The protected header of a compact JWE, checked without decrypting (the router's view)."""
    parts = _compact_parts(compact, 5, "JWE")
    header = json_object(b64url_decode(parts[0]), "JWE header")
    if header.get("alg") != KEY_AGREEMENT or header.get("enc") != CONTENT_ENCRYPTION:
        raise ProtocolError(
            Refusal.MALFORMED,
            f"a secret is encrypted with {KEY_AGREEMENT} and {CONTENT_ENCRYPTION}",
        )
    if header.get("cty") != cty:
        raise ProtocolError(Refusal.MALFORMED, f"the secret's cty is not {cty!r}")
    if not isinstance(header.get("kid"), str) or "crit" in header or "zip" in header:
        raise ProtocolError(Refusal.MALFORMED, "the JWE header names no kid, or uses crit/zip")
    if parts[1]:
        raise ProtocolError(Refusal.MALFORMED, "ECDH-ES carries no encrypted key")
    for part in parts[2:]:
        b64url_decode(part)
    return header


def decrypt_compact(compact: str, key: PrivateKey, cty: str) -> dict[str, Any]:
    """Decrypt a compact JWE sent to ``key``; its payload as a JSON object."""
    header = read_jwe_header(compact, cty)
    if key.use != "enc":
        raise ValueError("a signing key cannot open a secret")
    if header["kid"] != key.kid:
        raise ProtocolError(
            Refusal.WRONG_RECIPIENT, f"the secret is for key {header['kid']}, not {key.kid}"
        )
    try:
        opened = jwe.decrypt_compact(compact, key.key, registry=_jwe_registry)
    except (JoseError, ValueError) as error:
        raise ProtocolError(Refusal.UNDECRYPTABLE, "the secret cannot be decrypted") from error
    return json_object(opened.plaintext or b"", "secret")
