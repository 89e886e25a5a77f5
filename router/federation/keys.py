"""Ed25519 keys of routers and of the federation authority: files, JWKs and fingerprints.

A key's id everywhere in the federation is its RFC 7638 JWK thumbprint (SHA-256, base64url),
so a catalogue entry, a signature's ``keyid`` and a JWS ``kid`` name a key the same way and the
id cannot be claimed for another key. Private keys are written once, mode 0600, never
overwritten unless asked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey


class KeyFileError(ValueError):
    """A key file that is missing, unreadable or holds the wrong kind of key."""


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key with its id (thumbprint) and its public JWK."""

    kid: str
    jwk: Mapping[str, str]
    key: Ed25519PublicKey


def public_key_of(key: Ed25519PublicKey) -> PublicKey:
    """The id and JWK of an Ed25519 public key."""
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    okp = OKPKey.import_key(pem)
    jwk = {k: str(v) for k, v in okp.as_dict(private=False).items() if k in {"kty", "crv", "x"}}
    return PublicKey(kid=okp.thumbprint(), jwk=jwk, key=key)


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """A public key read from a JWK; private members or another key type are refused."""
    if not isinstance(jwk, Mapping):
        raise KeyFileError("a JWK is a JSON object")
    if "d" in jwk:
        raise KeyFileError("a public JWK must not carry the private key ('d')")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise KeyFileError("only Ed25519 keys (kty OKP, crv Ed25519) are accepted")
    try:
        okp = OKPKey.import_key(dict(jwk))
    except (JoseError, ValueError, TypeError) as error:
        raise KeyFileError(f"not a valid Ed25519 JWK: {error}") from error
    key = okp.public_key
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError("only Ed25519 keys are accepted")
    return public_key_of(key)


def generate_private_key() -> Ed25519PrivateKey:
    """A new Ed25519 private key from the system's cryptographic random source."""
    return Ed25519PrivateKey.generate()


def write_private_key(key: Ed25519PrivateKey, path: Path, *, overwrite: bool = False) -> None:
    """Write ``key`` as PKCS#8 PEM readable by its owner only; refuse an existing file.

    The file is created with mode 0600 from the start (never world-readable, even briefly).
    """
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError as error:
        raise KeyFileError(f"{path} exists already; refusing to replace a key") from error
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    os.chmod(path, 0o600)


def read_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file at ``path``."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise KeyFileError(f"cannot read the key file {path}: {error.strerror}") from error
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise KeyFileError(f"{path} holds no unencrypted PEM private key") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds a key that is not Ed25519")
    return key


def read_public_keys(source: str) -> list[PublicKey]:
    """Public keys from ``source``: inline JWK/JWKS JSON, or a file holding PEM, JWK or JWKS."""
    text = source.strip()
    if not text.startswith("{"):
        path = Path(text)
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise KeyFileError(
                f"cannot read the public key file {path}: {error.strerror}"
            ) from error
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError as error:
            raise KeyFileError("not a PEM public key") from error
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError("only Ed25519 public keys are accepted")
        return [public_key_of(key)]
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise KeyFileError("a public key is PEM, a JWK or a JWKS") from error
    if isinstance(document, dict) and isinstance(document.get("keys"), list):
        return [public_key_from_jwk(jwk) for jwk in document["keys"]]
    return [public_key_from_jwk(document)]


def public_pem(key: Ed25519PublicKey) -> str:
    """The SubjectPublicKeyInfo PEM of a public key."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
