"""End to end: `scripts/serve` on a free loopback port, driven over HTTP as the README shows."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_URL, esi
from tests.live_server import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]
KEY = re.compile(r"API key \(shown once, keep it\): (\S+)")


@pytest.fixture(params=["sqlite", "postgresql"] if PG_URL else ["sqlite"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The router as scripts/serve starts it, with the demo key it printed."""
    port = free_port()
    env = {
        **os.environ,
        "ESCR_VENV": sys.prefix,
        "ESCR_INSTANCE_PATH": str(tmp_path),
        "ESCR_BIND": f"127.0.0.1:{port}",
        "ESCR_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("ESCR_DATABASE_URL", None)
    schema = None
    if request.param == "postgresql":
        import uuid

        from sqlalchemy import create_engine, text

        from tests.conftest import _postgres_schema_url

        schema = f"escr_e2e_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        env["ESCR_DATABASE_URL"] = _postgres_schema_url(schema)
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(ROOT / "scripts" / "serve")], cwd=ROOT, env=env, stdout=sink,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, process, why_not=log.read_text)
        found = KEY.search(log.read_text())
        assert found, log.read_text()
        yield base, found.group(1)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        if schema:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def test_the_readme_session_over_http(served: tuple[str, str]) -> None:
    base, key = served
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/api/v2/persons").status_code == 401
        person = {
            "identifier": esi("e2e-1"),
            "personOrganisationUpdateViews": [
                {"organisationIdentifier": "999999999", "academicLevel": "MASTER",
                 "email": "ada@example.org", "fullName": "Ada Lovelace"}
            ],
        }
        created = http.post("/api/v2/persons", json=person, headers=auth)
        assert created.status_code == 201, created.text
        card = http.post(
            "/api/v2/cards",
            json={"cardType": "SMART_CDZ", "cardStatusType": "ACTIVE", "issuedAt": "2026-09-01",
                  "expiresAt": "2030-08-31", "issuerIdentifier": "999999999",
                  "personIdentifier": person["identifier"], "displayName": "Ada"},
            headers=auth,
        )
        assert card.status_code == 201, card.text
        escn = card.json()["cardNumber"]

        status = http.get(f"/api/v2/cards/{escn}/status")
        assert status.status_code == 200
        assert status.json()["status"] == "ACTIVE"
        assert status.json()["issuerIdentifier"] == "999999999"

        qr = http.get(f"/api/v2/cards/{escn}/qr", headers={**auth, "Accept": "image/svg+xml"})
        assert qr.status_code == 200
        assert qr.headers["content-type"].startswith("image/svg+xml")
        assert qr.text.lstrip().startswith(("<?xml", "<svg"))

        # The same API under the real router's base path, as its existing clients call it.
        again = http.get(f"/esc-rest/api/v2/cards/{escn}", headers={"api_key": key})
        assert again.status_code == 200
        assert again.json()["cardNumber"] == escn

        bad = http.post("/api/v2/cards", content=b"{oops", headers={
            **auth, "Content-Type": "application/json"})
        assert bad.status_code == 400
        assert bad.headers["content-type"] == "application/problem+json"

        docs = http.get("/docs")
        assert docs.status_code == 200


def test_served_with_concurrent_clients_issues_distinct_numbers(served: tuple[str, str]) -> None:
    base, key = served
    auth = {"Authorization": f"Bearer {key}"}
    import concurrent.futures

    def reserve(_: int) -> list[str]:
        response = httpx.get(
            f"{base}/api/v2/cards/generate-escn",
            params={"pic": "999999999", "prefix": "001", "numberOfESCN": 50},
            headers=auth, timeout=20,
        )
        assert response.status_code == 200, response.text
        return response.json()

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        batches = list(pool.map(reserve, range(16)))
    numbers = [n for batch in batches for n in batch]
    assert len(numbers) == 800
    assert len(set(numbers)) == 800
