"""The institution's own secrets on disk: its private JWKs and its DAM base keys.

One directory (the operator chooses it; ``ESCR_SGC_KEYS``), created with mode 0700, holding:

- ``sig-<kid>.jwk.json`` and ``enc-<kid>.jwk.json``: private JWKs, mode 0600, one per key ever
  created (an old encryption key is still needed to open what was sealed to it);
- ``current.json``: which signing and encryption kids are in use (not secret);
- ``dam-base-keys.json``: the three DAM base keys (hex), mode 0600, drawn from the operating
  system's random source (``secrets``) by the DESFire module.

Files are created with ``O_EXCL`` and their final mode from the start, and a secret file that
anyone but its owner can read is refused, as ssh refuses a private key.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from reader_tools.desfire.crypto import DamBaseKeys
from sgc_client.protocol import jose

CURRENT = "current.json"
DAM_BASE_KEYS = "dam-base-keys.json"
SECRET_MODE = 0o600
DIRECTORY_MODE = 0o700


class KeyStoreError(Exception):
    """A key file is missing, unreadable, or readable by others than its owner."""


def write_secret(path: Path, document: dict[str, Any]) -> None:
    """Write a new secret file, mode 0600 from its creation; never overwrite one."""
    data = json.dumps(document, indent=2).encode()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_MODE)
    except FileExistsError as error:
        raise KeyStoreError(f"{path} exists already; it is never overwritten") from error
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def check_private(path: Path) -> None:
    """Refuse a secret file that is missing, or that its group or others may read or write."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as error:
        raise KeyStoreError(f"{path} does not exist") from error
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyStoreError(
            f"{path} is accessible to others (mode {stat.S_IMODE(mode):o}); chmod 600 it"
        )


def read_secret(path: Path) -> dict[str, Any]:
    """Read a secret JSON file, refusing it if its group or others may read or write it."""
    check_private(path)
    return json.loads(path.read_text(encoding="utf-8"))


class KeyStore:
    """An institution's key directory (see the module's description)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def _ensure_directory(self) -> None:
        self.directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)

    def _path(self, use: str, kid: str) -> Path:
        return self.directory / f"{use}-{kid}.jwk.json"

    def _current(self) -> dict[str, str]:
        path = self.directory / CURRENT
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def _set_current(self, use: str, kid: str) -> None:
        current = {**self._current(), use: kid}
        temporary = self.directory / f".{CURRENT}.tmp"
        temporary.write_text(json.dumps(current, indent=2), encoding="utf-8")
        temporary.replace(self.directory / CURRENT)

    def create(self, use: jose.KeyUse, alg: str | None = None) -> jose.PrivateKey:
        """Generate a key, store its private JWK (0600) and make it the current one of its use."""
        self._ensure_directory()
        key = jose.generate_key(use, alg)
        write_secret(self._path(use, key.kid), key.private_jwk())
        self._set_current(use, key.kid)
        return key

    def current_kid(self, use: jose.KeyUse) -> str | None:
        """The kid in use for signing or encryption, if any."""
        return self._current().get(use)

    def key(self, use: jose.KeyUse, kid: str | None = None) -> jose.PrivateKey:
        """A private key by kid (the current one of ``use`` when no kid is given)."""
        kid = kid or self.current_kid(use)
        if kid is None:
            raise KeyStoreError(
                f"no {use} key in {self.directory}: run 'escr-sgc keys create' first"
            )
        if not jose.KID_PATTERN.match(kid):
            raise KeyStoreError(f"{kid!r} is not a key id")
        try:
            key = jose.private_key_from_jwk(read_secret(self._path(use, kid)))
        except jose.ProtocolError as error:
            raise KeyStoreError(f"{self._path(use, kid)}: {error.message}") from error
        if key.use != use:
            raise KeyStoreError(f"{self._path(use, kid)} is not a {use} key")
        return key

    def signing_key(self) -> jose.PrivateKey:
        """The current signing key."""
        return self.key("sig")

    def encryption_key(self, kid: str | None = None) -> jose.PrivateKey:
        """An encryption key by kid, for opening a secret sealed to it (the current one if None)."""
        return self.key("enc", kid)

    def create_dam_base_keys(self) -> None:
        """Draw the three DAM base keys from the OS random source and store them (0600), once."""
        self._ensure_directory()
        base = DamBaseKeys.generate()
        write_secret(
            self.directory / DAM_BASE_KEYS,
            {"auth": base.auth.hex(), "mac": base.mac.hex(), "enc": base.enc.hex()},
        )

    def dam_base_keys(self) -> DamBaseKeys:
        """The institution's DAM base keys."""
        return load_dam_base_keys(self.directory / DAM_BASE_KEYS)


def load_dam_base_keys(path: Path) -> DamBaseKeys:
    """DAM base keys from a ``dam-base-keys.json`` file, or from the key directory holding one."""
    if path.is_dir():
        path = path / DAM_BASE_KEYS
    try:
        document = read_secret(path)
        return DamBaseKeys(
            auth=bytes.fromhex(document["auth"]),
            mac=bytes.fromhex(document["mac"]),
            enc=bytes.fromhex(document["enc"]),
        )
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        raise KeyStoreError(f"{path} is not a DAM key file") from error
