r"""Benchmark the whole delegation round trip: host request → router → home's loop → decision.

Run on demand (not part of the tests):

    .venv/bin/python bench/delegation_roundtrip.py --requests 200 --concurrency 4
    ESCR_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        .venv/bin/python bench/delegation_roundtrip.py

It starts gunicorn on a loopback port and the home's ``escr-sgc delegations run`` loop (polling,
auto-approving policy), then has ``--concurrency`` host threads each sign a request, send it, wait
for the decision, open it (signature, binding, the sealed DAM key) and report completion.

The ceiling, measured in the same run with the same threads, is a signed no-op round trip: the
same cryptography on both sides (sign and seal, verify and open, AN10922 + EncK + DAMMAC, seal and
sign, verify and open) and two authenticated HTTP calls to the router, but none of the router's
delegation work and no waiting for the home's loop. The ratio says what the brokering costs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import click
from live_router import BIN, ROOT, LiveRouter, escr_admin
from measure import percentiles, timed

from sgc_client import RouterClient
from sgc_client.delegation import Authorisation, DelegationHost, KeyStore
from sgc_client.delegation.dam import authorise
from sgc_client.protocol import delegation as protocol
from sgc_client.protocol import jose

HOME_PIC, HOST_PIC = "999999991", "888888881"
SCOPES = [
    "persons:read",
    "persons:write",
    "cards:read",
    "cards:write",
    "delegations",
    "keys:manage",
]
APPLICATION = protocol.Application(
    aid="F58542",
    slot_version=0,
    quota_limit=16,
    key_settings_1=0x0B,
    key_settings_2=0xA3,
    iso_file_id=0x1000,
    iso_df_name="A00000061404F58542",
    name="Bench payment",
)
DEFAULT_KEY = bytes(range(16))


def _line(name: str, rate: float, latencies: list[float]) -> str:
    q = percentiles(latencies)
    return f"{name:<30} {rate:8.1f} req/s   p50 {q[49] * 1000:7.1f} ms   p99 {q[98] * 1000:7.1f} ms"


def _cards(client: RouterClient, run: str, count: int) -> list[tuple[str, str]]:
    """``count`` active cards of the home with distinct chip UIDs: (ESCN, UID)."""
    result: list[tuple[str, str]] = []
    for start in range(0, count, 500):
        chunk = range(start, min(start + 500, count))
        esis = [f"urn:schac:personalUniqueCode:int:esi:FR:dam-{run}-{i}" for i in chunk]
        client.persons.batch(
            [
                {
                    "identifier": e,
                    "personOrganisationUpdateViews": [
                        {"organisationIdentifier": HOME_PIC, "academicLevel": "MASTER"}
                    ],
                }
                for e in esis
            ]
        )
        uids = [f"04{run[:6].upper()}{i:06X}" for i in chunk]
        answer = client.cards.batch(
            [
                {
                    "personIdentifier": e,
                    "issuerIdentifier": HOME_PIC,
                    "cardType": "SMART_CDZ",
                    "cardStatusType": "ACTIVE",
                    "issuedAt": "2026-09-01",
                    "expiresAt": "2030-08-31",
                    "csn": u,
                }
                for e, u in zip(esis, uids, strict=True)
            ]
        )
        result += [(r.identifier or "", u) for r, u in zip(answer.results, uids, strict=True)]
    return result


@click.command()
@click.option("--requests", "count", default=200, show_default=True)
@click.option("--concurrency", default=4, show_default=True, help="host threads")
@click.option("--workers", default=2, show_default=True, help="gunicorn workers")
@click.option("--poll", default=0.05, show_default=True, help="home loop's pause when idle (s)")
def main(count: int, concurrency: int, workers: int, poll: float) -> None:
    """Measure the delegation round trip and its signed no-op ceiling."""
    instance = Path(tempfile.mkdtemp(prefix="escr-deleg-bench-"))
    run = uuid.uuid4().hex[:8]
    env = {**os.environ, "ESCR_INSTANCE_PATH": str(instance)}
    escr_admin(env, "db", "upgrade")
    keys: dict[str, str] = {}
    for pic in (HOME_PIC, HOST_PIC):
        with contextlib.suppress(click.ClickException):  # kept from an earlier run
            escr_admin(env, "org", "create", "--pic", pic, "--name", f"Bench {pic}")
        keys[pic] = escr_admin(
            env, "key", "create", "--pic", pic, *[a for s in SCOPES for a in ("--scope", s)]
        ).splitlines()[0]
    # Plain gunicorn (not router.gunicorn_config), as this bench has always measured.
    server = LiveRouter(env, workers=workers, config=False)
    base = server.url
    home_loop: subprocess.Popen[bytes] | None = None
    try:
        server.wait_ready()
        home_client = RouterClient(base, api_key=keys[HOME_PIC])
        host_client = RouterClient(base, api_key=keys[HOST_PIC])
        home_store = KeyStore(instance / "home-keys")
        host_store = KeyStore(instance / "host-keys")
        for store, client in ((home_store, home_client), (host_store, host_client)):
            for use in ("sig", "enc"):
                client.public_keys.register(store.create(use).public().jwk)
        home_store.create_dam_base_keys()
        policy = instance / "policy.toml"
        policy.write_text(
            f'[[hosts]]\npic = "{HOST_PIC}"\naids = ["*"]\nmax_quota = 1024\napproval = "auto"\n'
        )
        cards = _cards(home_client, run, count)
        home_loop = subprocess.Popen(
            [
                BIN / "escr-sgc",
                "--router",
                base,
                "--api-key",
                keys[HOME_PIC],
                "delegations",
                "run",
                "--keys",
                str(home_store.directory),
                "--policy",
                str(policy),
                "--pic",
                HOME_PIC,
                "--interval",
                str(poll),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=(instance / "home-loop.log").open("w"),
        )
        host = DelegationHost(host_client, host_store, HOST_PIC)

        def round_trip(index: int) -> None:
            escn, uid = cards[index]
            prepared = host.prepare(escn, uid, APPLICATION, DEFAULT_KEY, 1)
            host.submit(prepared)
            view = host.wait(prepared.id, timeout=120, interval=0.02, max_interval=0.5)
            opened = host.open(prepared, view)
            if not isinstance(opened, Authorisation):
                raise RuntimeError(f"refused: {opened.reason}")
            host.report(prepared.id, completed=True)

        base_keys = home_store.dam_base_keys()
        home_sig, home_enc = home_store.signing_key(), home_store.encryption_key()
        host_sig, host_enc = host_store.signing_key(), host_store.encryption_key()

        def signed_no_op(index: int) -> None:
            escn, uid = cards[index]
            request_id, now = str(uuid.uuid4()), int(time.time())
            request = protocol.DelegationRequest(
                request_id,
                HOST_PIC,
                now,
                now + 600,
                escn,
                uid,
                APPLICATION,
                protocol.AppKeySecret(request_id, DEFAULT_KEY, 1).seal(home_enc.public()),
            )
            compact = jose.sign_compact(request.claims(), host_sig, protocol.REQUEST_TYPE)
            host_client.organisations.me()
            message, received = protocol.read_request(compact)
            jose.verify_compact(message, host_sig.public())
            secret = protocol.AppKeySecret.open(received.app_key, home_enc, request_id)
            card = authorise(base_keys, uid, APPLICATION, 0, 0, secret.key, secret.key_version)
            decision = protocol.Decision(
                str(uuid.uuid4()),
                HOME_PIC,
                HOST_PIC,
                request_id,
                message.hash,
                now,
                now + 600,
                "approve",
                "",
                card.dam,
                protocol.DamAuthKeySecret(request_id, uid, card.dam_auth_key).seal(
                    host_enc.public()
                ),
            )
            token = jose.sign_compact(decision.claims(), home_sig, protocol.DECISION_TYPE)
            home_client.organisations.me()
            signed, answer = protocol.read_decision(token)
            jose.verify_compact(signed, home_sig.public())
            assert answer.dam_auth_key is not None
            protocol.DamAuthKeySecret.open(answer.dam_auth_key, host_enc, request_id, uid)

        click.echo(
            f"{count} round trips, {concurrency} host threads, {workers} gunicorn workers, "
            f"home loop polling every {poll} s, database "
            f"{env.get('ESCR_DATABASE_URL', 'SQLite')}"
        )
        ceiling_rate, ceiling = timed(count, concurrency, signed_no_op)
        rate, latencies = timed(count, concurrency, round_trip)
        click.echo(_line("ceiling: signed no-op", ceiling_rate, ceiling))
        click.echo(_line("delegation round trip", rate, latencies))
        q = percentiles(latencies)
        click.echo(
            f"summary: delegation round trip {rate:.1f} req/s (p50 {q[49] * 1000:.0f} ms, "
            f"p99 {q[98] * 1000:.0f} ms) = {rate / ceiling_rate:.0%} of the signed no-op "
            f"ceiling ({ceiling_rate:.1f} req/s)"
        )
    finally:
        if home_loop is not None:
            home_loop.send_signal(signal.SIGTERM)
            home_loop.wait(timeout=30)
        server.stop()


if __name__ == "__main__":
    main()
