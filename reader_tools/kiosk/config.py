"""The kiosk's configuration (``host.toml``) and the secret files it names.

Relative paths are read from the configuration file's folder. The secret files (credentials,
private keys, application keys) must be readable by their owner only, as ssh wants a private key;
their contents are never printed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reader_tools.desfire.application import StdFileSpec
from reader_tools.desfire.protocol import CommMode
from sgc_client.delegation.keystore import KeyStoreError, check_private, read_secret
from sgc_client.protocol import delegation as protocol
from sgc_client.protocol import jose
from sgc_client.protocol.errors import ProtocolError

COMM_MODES = {"plain": CommMode.PLAIN, "mac": CommMode.MAC, "full": CommMode.FULL}
SECTIONS = {"router", "host", "reader", "timeouts", "application"}


class ConfigError(Exception):
    """The configuration, or a file it names, is missing, malformed or not private enough."""


@dataclass(frozen=True)
class Credentials:
    """How the kiosk signs in to its router: an API key, or an OAuth2 client id and secret."""

    api_key: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ApplicationKeys:
    """The host's keys of its application, key 0 first (never sent anywhere)."""

    keys: tuple[bytes, ...] = field(repr=False)
    version: int


@dataclass(frozen=True)
class Timeouts:
    """How long the kiosk waits, in seconds."""

    card: float = 60.0
    decision: float = 120.0
    request_lifetime: int = protocol.DEFAULT_LIFETIME
    router: float = 10.0


@dataclass(frozen=True)
class KioskConfig:
    """Everything ``escr-reader kiosk`` needs, read from ``host.toml``."""

    router_url: str
    credentials_file: Path
    host_pic: str
    host_name: str
    signing_key_file: Path
    encryption_key_file: Path
    application: protocol.Application
    application_keys_file: Path
    files: tuple[StdFileSpec, ...] = ()
    reader: str | None = None
    timeouts: Timeouts = Timeouts()

    def credentials(self) -> Credentials:
        """Read the credentials file (TOML: ``api_key``, or ``client_id`` and ``client_secret``)."""
        document = _private_toml(self.credentials_file)
        unknown = set(document) - {"api_key", "client_id", "client_secret"}
        if unknown:
            raise ConfigError(
                f"{self.credentials_file}: unknown key(s) {', '.join(sorted(unknown))}"
            )
        credentials = Credentials(**{k: str(v) for k, v in document.items()})
        if bool(credentials.api_key) == bool(credentials.client_id and credentials.client_secret):
            raise ConfigError(
                f"{self.credentials_file} holds api_key, or client_id and client_secret"
            )
        return credentials

    def application_keys(self) -> ApplicationKeys:
        """Read the application keys file (JSON ``{"version": n, "keys": ["<32 hex>", ...]}``)."""
        try:
            document = read_secret(self.application_keys_file)
            keys = tuple(bytes.fromhex(key) for key in document["keys"])
            version = int(document.get("version", 1))
        except KeyStoreError as error:
            raise ConfigError(str(error)) from error
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigError(
                f"{self.application_keys_file} is not an application key file"
            ) from error
        wanted = self.application.key_settings_2 & 0x0F
        if len(keys) != wanted or any(len(key) != 16 for key in keys):
            raise ConfigError(
                f"{self.application_keys_file} must hold {wanted} AES-128 keys "
                "(key_settings_2 names that many)"
            )
        if not 0 <= version <= 0xFF:
            raise ConfigError(f"{self.application_keys_file}: a key version is 0 to 255")
        return ApplicationKeys(keys, version)


class FileKeys:
    """The host's private signing and encryption keys, one private JWK file each."""

    def __init__(self, signing: Path, encryption: Path) -> None:
        self.signing, self.encryption = signing, encryption

    def _load(self, path: Path, use: jose.KeyUse) -> jose.PrivateKey:
        try:
            key = jose.private_key_from_jwk(read_secret(path))
        except KeyStoreError as error:
            raise ConfigError(str(error)) from error
        except (ValueError, ProtocolError) as error:
            raise ConfigError(f"{path} is not a private JWK") from error
        if key.use != use:
            raise ConfigError(f"{path} is not a {use} key")
        return key

    def signing_key(self) -> jose.PrivateKey:
        """The key requests are signed with."""
        return self._load(self.signing, "sig")

    def encryption_key(self, kid: str | None = None) -> jose.PrivateKey:
        """The configured encryption key, if it is the one named ``kid``."""
        key = self._load(self.encryption, "enc")
        if kid is not None and key.kid != kid:
            raise ConfigError(
                f"the home sealed the DAM key to encryption key {kid}, not to {key.kid} "
                f"({self.encryption}): configure that key"
            )
        return key


def _private_toml(path: Path) -> dict[str, Any]:
    try:
        check_private(path)
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except KeyStoreError as error:
        raise ConfigError(str(error)) from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not TOML: {error}") from error


def _table(document: Mapping[str, Any], name: str, *, required: bool = True) -> dict[str, Any]:
    value = document.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] is missing")
    return value


def _text(table: Mapping[str, Any], section: str, name: str) -> str:
    value = table.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{section}.{name} is missing (text)")
    return value.strip()


def _number(table: Mapping[str, Any], section: str, name: str, default: float) -> float:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{section}.{name} is a positive number of seconds")
    return float(value)


def _file_spec(item: Any, position: int) -> StdFileSpec:
    where = f"application.files[{position}]"
    if not isinstance(item, dict):
        raise ConfigError(f"{where} is a table")
    unknown = set(item) - {"number", "size", "communication", "access_rights", "iso_file_id"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    rights = str(item.get("access_rights", "EEEE"))
    mode = COMM_MODES.get(str(item.get("communication", "plain")))
    if mode is None:
        raise ConfigError(f"{where}.communication is plain, mac or full")
    try:
        if len(rights) != 4:
            raise ValueError
        return StdFileSpec(
            file_no=int(item["number"]),
            size=int(item["size"]),
            comm_mode=mode,
            access_rights=int(rights, 16),
            iso_file_id=int(item["iso_file_id"]) if "iso_file_id" in item else None,
        )
    except KeyError as error:
        raise ConfigError(f"{where} needs {error.args[0]}") from error
    except (ValueError, TypeError) as error:
        raise ConfigError(
            f"{where}: number 0-31, size in bytes, access_rights four hex digits "
            f"(read, write, read&write, change): {error}"
        ) from error


def _application(table: Mapping[str, Any]) -> protocol.Application:
    names = {
        "aid": "aid",
        "slot_version": "slot_version",
        "quota": "quota_limit",
        "key_settings_1": "key_settings_1",
        "key_settings_2": "key_settings_2",
        "key_settings_3": "key_settings_3",
        "iso_file_id": "iso_file_id",
        "iso_df_name": "iso_df_name",
        "name": "name",
        "description": "description",
    }
    unknown = set(table) - set(names) - {"keys", "files"}
    if unknown:
        raise ConfigError(f"[application]: unknown key(s) {', '.join(sorted(unknown))}")
    arguments = {names[key]: value for key, value in table.items() if key in names}
    for key in ("aid", "iso_df_name"):
        if key in arguments:
            arguments[key] = str(arguments[key]).upper()
    try:
        return protocol.Application(**arguments)
    except ProtocolError as error:
        raise ConfigError(f"[application]: {error.message}") from error
    except TypeError as error:
        raise ConfigError(f"[application]: {error}") from error


def load_config(path: Path) -> KioskConfig:
    """Read and check ``host.toml`` (the secret files are read when they are needed)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not TOML: {error}") from error
    unknown = set(document) - SECTIONS
    if unknown:
        raise ConfigError(f"unknown section(s) {', '.join(sorted(unknown))}")
    folder = path.parent

    def file(table: Mapping[str, Any], section: str, name: str) -> Path:
        return folder / Path(_text(table, section, name)).expanduser()

    router, host = _table(document, "router"), _table(document, "host")
    application = _table(document, "application")
    timeouts = _table(document, "timeouts", required=False)
    reader = _table(document, "reader", required=False)
    try:
        pic = protocol.pic_of(host.get("pic"), "host.pic")
    except ProtocolError as error:
        raise ConfigError(f"host.pic is nine digits: {error.message}") from error
    files = application.get("files", [])
    if not isinstance(files, list):
        raise ConfigError("application.files is a list of tables ([[application.files]])")
    lifetime = int(_number(timeouts, "timeouts", "request_lifetime", protocol.DEFAULT_LIFETIME))
    if lifetime > protocol.MAX_LIFETIME:
        raise ConfigError(f"timeouts.request_lifetime is at most {protocol.MAX_LIFETIME} s")
    return KioskConfig(
        router_url=_text(router, "router", "url"),
        credentials_file=file(router, "router", "credentials"),
        host_pic=pic,
        host_name=_text(host, "host", "name"),
        signing_key_file=file(host, "host", "signing_key"),
        encryption_key_file=file(host, "host", "encryption_key"),
        application=_application(application),
        application_keys_file=file(application, "application", "keys"),
        files=tuple(_file_spec(item, n) for n, item in enumerate(files)),
        reader=str(reader["name"]) if reader.get("name") else None,
        timeouts=Timeouts(
            card=_number(timeouts, "timeouts", "card", Timeouts.card),
            decision=_number(timeouts, "timeouts", "decision", Timeouts.decision),
            request_lifetime=lifetime,
            router=_number(timeouts, "timeouts", "router", Timeouts.router),
        ),
    )
