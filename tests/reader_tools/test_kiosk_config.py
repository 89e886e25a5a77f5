"""The kiosk's host.toml: the example in deploy/ is valid, and every mistake is named."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from reader_tools.cli import cli
from reader_tools.desfire.protocol import CommMode
from reader_tools.kiosk.config import ConfigError, FileKeys, load_config
from sgc_client.delegation import KeyStore
from tests.reader_tools.kiosk_support import HOST_APP_KEYS, kiosk_folder

EXAMPLE = Path(__file__).parents[2] / "deploy" / "kiosk" / "host.toml"


def test_the_example_configuration_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert (config.host_pic, config.application.aid, config.application.quota_limit) == (
        "888888888", "F58542", 16)
    assert config.credentials_file == EXAMPLE.parent / "credentials.toml"
    assert config.application_keys_file == EXAMPLE.parent / "application-keys.json"
    (spec,) = config.files
    assert (spec.file_no, spec.size, spec.comm_mode, spec.access_rights, spec.iso_file_id) == (
        0, 64, CommMode.FULL, 0x1010, 0x2101)
    assert config.timeouts.decision == 120 and config.reader is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("[timeouts]", "[timeout]"), "unknown section"),
        (('pic = "888888888"', 'pic = "88"'), "host.pic"),
        (("iso_file_id = 0x2100\n", ""), "isoFileId is present exactly when"),
        (("key_settings_2 = 0xA2", "key_settings_2 = 0x22"), "AES"),
        (('communication = "full"', 'communication = "secret"'), "plain, mac or full"),
        (('access_rights = "1010"', 'access_rights = "10"'), "four hex digits"),
        (("request_lifetime = 600", "request_lifetime = 7200"), "at most 3600"),
        (("decision = 120", "decision = -1"), "timeouts.decision"),
        (('url = "https://router.example.org"', "url = 1"), "router.url"),
        (("quota = 16", "quota = 16\nslots = 2"), "unknown key"),
    ],
)
def test_a_mistake_in_the_configuration_is_named(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    text = EXAMPLE.read_text()
    assert old in text
    path = tmp_path / "host.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    keys = KeyStore(tmp_path / "keys")
    keys.create("sig"), keys.create("enc")
    return kiosk_folder(tmp_path / "kiosk", "http://router.test", "the-api-key", "888888888", keys)


def test_secret_files_are_private_and_never_shown(folder: Path) -> None:
    config = load_config(folder)
    credentials, keys = config.credentials(), config.application_keys()
    assert credentials.api_key == "the-api-key" and keys.keys == HOST_APP_KEYS
    assert "the-api-key" not in repr(credentials)
    assert HOST_APP_KEYS[0].hex() not in repr(keys) and "A0" * 16 not in repr(keys)
    os.chmod(config.credentials_file, 0o644)
    with pytest.raises(ConfigError, match="accessible to others"):
        config.credentials()
    os.chmod(config.credentials_file, 0o600)
    config.credentials_file.write_text('api_key = "k"\nclient_id = "c"\nclient_secret = "s"\n')
    with pytest.raises(ConfigError, match="api_key, or client_id and client_secret"):
        config.credentials()
    config.application_keys_file.write_text(json.dumps({"keys": [HOST_APP_KEYS[0].hex()]}))
    with pytest.raises(ConfigError, match="must hold 2 AES-128 keys"):
        config.application_keys()
    wrong = FileKeys(config.encryption_key_file, config.signing_key_file)
    with pytest.raises(ConfigError, match="is not a sig key"):
        wrong.signing_key()
    with pytest.raises(ConfigError, match="sealed the DAM key to encryption key other"):
        FileKeys(config.signing_key_file, config.encryption_key_file).encryption_key("other")


def test_the_command_stops_at_a_bad_configuration_with_status_2(
    folder: Path, tmp_path: Path
) -> None:
    config = load_config(folder)
    os.chmod(config.signing_key_file, 0o640)
    refused = CliRunner().invoke(cli, ["kiosk", "--config", str(folder), "--once"])
    assert refused.exit_code == 2 and "accessible to others" in refused.output
    broken = tmp_path / "broken.toml"
    broken.write_text("[router\n")
    not_toml = CliRunner().invoke(cli, ["kiosk", "--config", str(broken)])
    assert not_toml.exit_code == 2 and "is not TOML" in not_toml.output
