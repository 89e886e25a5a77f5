"""A card written with write-cdz, verified online and offline against a live router (gunicorn).

The deployment is complete: escr-admin is its certificate authority, the home institution asks it
for a certificate naming its PIC, publishes its chain, registers the card and writes the chip data
zone; a partner verifies the card through the router, and offline with the chain and revocation
list cached from the router, then with the router gone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import segno
from click.testing import CliRunner, Result
from cryptography import x509

from reader_tools.cli import cli
from reader_tools.simulator.state import CardState
from router import migrate
from router.db import Database
from router.services import credentials, organisations
from sgc_client import RouterClient
from tests.live_server import free_port, wait_until_serving
from tests.reader_tools.pcsc_stack import CardSlot

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
HOME, PARTNER = "999999999", "555555555"
UID = bytes.fromhex("04DEC0DE000042")


@dataclass
class Deployment:
    """A router on a loopback port, its instance folder and its institutions' keys."""

    url: str
    env: dict[str, str]
    instance: Path
    keys: dict[str, str]
    server: subprocess.Popen[bytes]

    def admin(self, *args: str) -> str:
        """Run escr-admin against the router's database; its standard output."""
        done = subprocess.run(
            [str(BIN / "escr-admin"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def stop(self) -> None:
        """Take the router off the network."""
        if self.server.poll() is None:
            self.server.terminate()
            self.server.wait(timeout=10)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    instance = tmp_path / "instance"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ESCR_INSTANCE_PATH": str(instance),
        "ESCR_DATABASE_URL": f"sqlite:///{instance / 'router.sqlite3'}",
        "ESCR_SECRET_KEY": "reader-tools-live-test",
        "ESCR_PUBLIC_URL": url,
    }
    setup = Deployment(url=url, env=env, instance=instance, keys={}, server=None)  # type: ignore[arg-type]
    # The institutions are set up in-process (escr-admin's own commands are tested elsewhere);
    # the certificate authority's commands run as the administrator would run them.
    database_url = env["ESCR_DATABASE_URL"]
    migrate.upgrade(database_url)
    database = Database(database_url)
    with database.session() as session:
        for pic, name, kind, scopes in (
            (
                HOME,
                "Demo University",
                "institution",
                ["persons:read", "persons:write", "cards:read", "cards:write", "keys:manage"],
            ),
            (PARTNER, "City Transport", "transport", None),
        ):
            organisation = organisations.create_organisation(
                session,
                organisations.OrganisationInput(
                    identifier=pic, name=name, kind=kind, country="FR", prefixes=["001"]
                ),
            )
            setup.keys[pic] = credentials.create_api_key(
                session, organisation, scopes=scopes
            ).secret
    database.engine.dispose()
    log = (tmp_path / "gunicorn.log").open("w")
    setup.server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "router.wsgi:app"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_serving(
            url, setup.server, timeout=30, why_not=(tmp_path / "gunicorn.log").read_text
        )
        yield setup
    finally:
        setup.stop()
        log.close()


def reader(*args: str, ok: bool = True) -> Result:
    result = CliRunner().invoke(cli, ["--reader", "Virtual PCD 00 00", "--json", *args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_a_card_written_with_write_cdz_verifies_online_and_offline(
    deployment: Deployment, card_slot: CardSlot, tmp_path: Path
) -> None:
    # The deployment's authority certifies the home institution's signing key.
    root_pem = deployment.admin("ca", "init")
    (tmp_path / "root.pem").write_text(root_pem)
    key, csr, chain = tmp_path / "signing.key", tmp_path / "signing.csr", tmp_path / "chain.pem"
    CliRunner().invoke(
        cli,
        [
            "new-signing-key",
            "--pic",
            HOME,
            "--name",
            "Demo University",
            "--key-out",
            str(key),
            "--csr-out",
            str(csr),
        ],
        catch_exceptions=False,
    )
    deployment.admin("ca", "issue", "--pic", HOME, "--csr", str(csr), "--out", str(chain))
    serial = x509.load_pem_x509_certificates(chain.read_bytes())[0].serial_number

    # The home publishes its chain and registers the card; then writes its chip data zone.
    with RouterClient(deployment.url, api_key=deployment.keys[HOME]) as home:
        published = home.certificates.publish_chain(chain.read_text())
        assert published["pic"] == HOME
        esi = "urn:schac:personalUniqueCode:int:esi:FR:CDZ-1"
        home.persons.create(
            {
                "identifier": esi,
                "personOrganisationUpdateViews": [
                    {"organisationIdentifier": HOME, "academicLevel": "MASTER", "fullName": "Ada"}
                ],
            }
        )
        escn = home.cards.create(
            {
                "cardType": "SMART_CDZ",
                "cardStatusType": "ACTIVE",
                "issuedAt": "2026-09-01",
                "expiresAt": "2030-08-31",
                "issuerIdentifier": HOME,
                "personIdentifier": esi,
            }
        )["cardNumber"]
    CliRunner().invoke(cli, ["new-cdz-keys", "--out", str(tmp_path / "keys.json")])
    card_slot.insert(CardState.blank(UID))
    reader(
        "write-cdz",
        "--escn",
        escn,
        "--signing-key",
        str(key),
        "--certificate",
        str(chain),
        "--cdz-keys",
        str(tmp_path / "keys.json"),
    )

    # A partner verifies it through the router, from the chip and from the printed QR code.
    online = ["verify", "--router", deployment.url, "--api-key", deployment.keys[PARTNER]]
    verdict = json.loads(reader(*online).output)
    assert verdict["valid"] and verdict["cardNumber"] == escn
    assert verdict["issuer"]["identifier"] == HOME
    qr = tmp_path / "qr.png"
    segno.make(f"{deployment.url}/cards/{escn}", error="m").save(qr, scale=4)
    assert json.loads(reader(*online, "--qr", str(qr)).output)["valid"]

    # Offline: the chain and the revocation list come from the router, the root is pinned.
    offline = [
        "verify",
        "--offline",
        "--root",
        str(tmp_path / "root.pem"),
        "--router",
        deployment.url,
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    genuine = json.loads(reader(*offline).output)
    assert genuine["valid"] and genuine["chainSource"] == "router"
    assert genuine["revocationChecked"]

    # The card reported lost is refused online; its chip data stays the issuer's.
    with RouterClient(deployment.url, api_key=deployment.keys[HOME]) as home:
        home.cards.report_lost(escn)
    lost = reader(*online, ok=False)
    assert lost.exit_code == 1 and json.loads(lost.output)["valid"] is False

    # The authority revokes the institution's certificate: offline verification refuses it,
    # also once the router is gone and only the cached copies remain.
    deployment.admin("ca", "revoke", f"{serial:X}")
    revoked = reader(*offline, ok=False)
    assert json.loads(revoked.output)["reason"] == "REVOKED"
    deployment.stop()
    cached = reader(*offline, ok=False)
    assert json.loads(cached.output)["reason"] == "REVOKED"
    assert json.loads(cached.output)["chainSource"] == "cache"
    unreachable = reader(*online, ok=False)
    assert unreachable.exit_code == 3
