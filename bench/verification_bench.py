"""Rough timings of partner verification and of the public page (with its rate-limit counter).

Run: ``.venv/bin/python bench/verification_bench.py [N]`` — in-process (Flask test client) on a
temporary SQLite database, or on ``ESCR_DATABASE_URL`` when set (PostgreSQL: an empty database).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from router import migrate
from router.app import create_app
from router.services import credentials, organisations
from router.settings import Settings


def _setup(url: str) -> tuple[Flask, str, str]:
    migrate.upgrade(url)
    settings = Settings(
        database_url=url,
        instance_path=Path(tempfile.mkdtemp()),
        public_url="https://router.bench",
        public_rate_limit="1000000/minute",
    )
    app = create_app(settings)
    database = app.extensions["escr.database"]
    with database.session() as session:
        uni = organisations.create_organisation(
            session, organisations.OrganisationInput(identifier="999999999", name="Bench U")
        )
        partner = organisations.create_organisation(
            session,
            organisations.OrganisationInput(
                identifier="777777777", name="Bench Transport", kind="transport"
            ),
        )
        uni_key = credentials.create_api_key(session, uni).secret
        partner_key = credentials.create_api_key(session, partner).secret
    return app, uni_key, partner_key


def _time(label: str, count: int, call: Callable[[], object]) -> None:
    durations = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        durations.append(time.perf_counter() - start)
    durations.sort()
    print(
        f"{label:<38} n={count} median={statistics.median(durations) * 1000:.2f} ms "
        f"p95={durations[int(len(durations) * 0.95) - 1] * 1000:.2f} ms"
    )


def main() -> None:
    """Time the verification endpoint, the public page and the JSON status."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    url = os.environ.get("ESCR_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    app, uni_key, partner_key = _setup(url)
    client = app.test_client()
    uni = {"Authorization": f"Bearer {uni_key}"}
    esi = "urn:schac:personalUniqueCode:int:esi:FR:bench1"
    client.post(
        "/api/v2/persons",
        json={
            "identifier": esi,
            "personOrganisationUpdateViews": [{"organisationIdentifier": "999999999"}],
        },
        headers=uni,
    )
    card = client.post(
        "/api/v2/cards",
        json={
            "cardType": "SMART_CDZ",
            "cardStatusType": "ACTIVE",
            "issuedAt": "2026-09-01",
            "expiresAt": "2030-08-31",
            "issuerIdentifier": "999999999",
            "personIdentifier": esi,
        },
        headers=uni,
    ).json["cardNumber"]
    partner = {"Authorization": f"Bearer {partner_key}"}
    scan = {"scanned": f"https://router.bench/cards/{card}"}
    _time(
        "POST /api/x/verify (recorded)",
        count,
        lambda: client.post("/api/x/verify", json=scan, headers=partner),
    )
    _time("GET /cards/<ESCN> (html, limited)", count, lambda: client.get(f"/cards/{card}"))
    _time(
        "GET /api/v2/cards/<ESCN>/status", count, lambda: client.get(f"/api/v2/cards/{card}/status")
    )
    _time(
        "GET .../status with a key (no limit)",
        count,
        lambda: client.get(f"/api/v2/cards/{card}/status", headers=uni),
    )
    _time(
        "GET .../qr (svg, S)",
        count // 3,
        lambda: client.get(f"/api/v2/cards/{card}/qr", headers=uni),
    )


if __name__ == "__main__":
    main()
