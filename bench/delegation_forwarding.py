r"""Benchmark a delegation forwarded to the home's router against a local one, in the same run.

Two routers in their own gunicorn on loopback ports, one signed catalogue. The host is an
institution of router A. Local: the home is another institution of router A. Forwarded: the home
is an institution of router B, so router A forwards the request to B, and pulls the decision from
B when the host reads it; the host's outcome goes through A to B. Run on demand (not a test)::

    .venv/bin/python bench/delegation_forwarding.py --requests 200 --concurrency 4
    ESCR_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/delegation_forwarding.py   # router A on PostgreSQL

One round trip, as the host and the home each see it: the host (``DelegationHost``) signs and seals
a request and sends it to router A; the home reads it from its router's inbox, computes the DAM
authorisation for the card (AN10922, EncK, DAMMAC), seals the DAM key to the host, signs and
sends its approval; the host reads the delegation from A, checks the home's signature, opens the
DAM key and reports completion. The home answers in the same thread (no polling loop) so that the
figures show the routers' work, not a poll interval. The local run is the ceiling. Ends with one
summary line: the forwarded run's throughput and p99 as ratios of the local run's.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
import httpx
from measure import Result, timed
from router_pair import Institution, router_pair

from sgc_client import RouterClient
from sgc_client.delegation import Authorisation, DelegationHost, KeyStore
from sgc_client.delegation.dam import authorise
from sgc_client.protocol import delegation as protocol
from sgc_client.protocol import jose

HOST_PIC, LOCAL_HOME_PIC, REMOTE_HOME_PIC = "111111111", "111111112", "222222222"
APPLICATION = protocol.Application(
    aid="F58542", slot_version=0, quota_limit=16, key_settings_1=0x0B, key_settings_2=0xA3,
    iso_file_id=0x1000, iso_df_name="A00000061404F58542", name="Bench payment",
)
DEFAULT_KEY = bytes(range(16))
CARDS = 20


@dataclass
class Home:
    """A home institution: its router, API key, keys and DAM base keys, and its cards."""

    base: str
    api_key: str
    keys: KeyStore
    pic: str
    cards: list[tuple[str, str]]

    def decide(self, http: httpx.Client, delegation_id: str, host_key: jose.PublicKey) -> None:
        """Read the request from the home's router, approve it, send the signed approval."""
        headers = {"Authorization": f"Bearer {self.api_key}"}
        view = http.get(f"{self.base}/api/x/delegations/{delegation_id}", headers=headers)
        view.raise_for_status()
        message, request = protocol.read_request(view.json()["request"])
        card = authorise(self.keys.dam_base_keys(), request.uid, request.application, 0,
                         request.application.slot_version, DEFAULT_KEY, 1)
        now = int(time.time())
        decision = protocol.Decision(
            decision_id=str(uuid.uuid4()), home=self.pic, host=request.host,
            request_id=request.request_id, request_hash=message.hash, issued_at=now,
            expires_at=now + 600, outcome="approve", authorisation=card.dam,
            dam_auth_key=protocol.DamAuthKeySecret(
                request.request_id, request.uid, card.dam_auth_key
            ).seal(host_key),
        )
        token = jose.sign_compact(decision.claims(), self.keys.signing_key(),
                                  protocol.DECISION_TYPE)
        answer = http.post(f"{self.base}/api/x/delegations/{delegation_id}/decision",
                           json={"decision": token}, headers=headers)
        if answer.status_code != 200:
            raise click.ClickException(f"decision: HTTP {answer.status_code}: {answer.text}")


def _home(tmp: Path, base: str, api_key: str, pic: str) -> Home:
    keys = KeyStore(tmp / f"{pic}-keys")
    client = RouterClient(base, api_key=api_key)
    for use in ("sig", "enc"):
        client.public_keys.register(keys.create(use).public().jwk)
    keys.create_dam_base_keys()
    cards = []
    for index in range(CARDS):
        esi = f"urn:schac:personalUniqueCode:int:esi:IT:{pic}-{index}"
        uid = f"04{index:012X}"
        client.persons.create({"identifier": esi,
                               "personOrganisationUpdateViews": [{"organisationIdentifier": pic}]})
        card = client.cards.create({
            "personIdentifier": esi, "issuerIdentifier": pic, "cardType": "SMART_CDZ",
            "cardStatusType": "ACTIVE", "issuedAt": "2026-09-01", "expiresAt": "2030-08-31",
            "csn": uid,
        })
        cards.append((card["cardNumber"], uid))
    return Home(base, api_key, keys, pic, cards)


def _run(name: str, count: int, concurrency: int, one: Callable[[int], None]) -> Result:
    return Result.of(name, *timed(count, concurrency, one))


@click.command()
@click.option("--requests", "count", default=200, show_default=True)
@click.option("--concurrency", default=4, show_default=True)
@click.option("--workers", default=2, show_default=True, help="gunicorn workers per router")
def main(count: int, concurrency: int, workers: int) -> None:
    """Start routers A and B, then time local and forwarded delegation round trips."""
    with router_pair(
        "escr-bench-delegations-",
        workers,
        [
            Institution("a", HOST_PIC, "Host university"),
            Institution("a", LOCAL_HOME_PIC, "Home on A"),
            Institution("b", REMOTE_HOME_PIC, "Home on B"),
        ],
    ) as routers:
        tmp, bases, api_keys, pg = routers.tmp, routers.bases, routers.keys, routers.postgresql
        local_home = _home(tmp, bases["a"], api_keys[LOCAL_HOME_PIC], LOCAL_HOME_PIC)
        remote_home = _home(tmp, bases["b"], api_keys[REMOTE_HOME_PIC], REMOTE_HOME_PIC)
        host_store = KeyStore(tmp / "host-keys")
        host_client = RouterClient(bases["a"], api_key=api_keys[HOST_PIC])
        for use in ("sig", "enc"):
            host_client.public_keys.register(host_store.create(use).public().jwk)
        host = DelegationHost(host_client, host_store, HOST_PIC)
        host_public = host_store.encryption_key().public()
        http = httpx.Client(timeout=30)

        def round_trip(home: Home) -> Callable[[int], None]:
            def one(index: int) -> None:
                escn, uid = home.cards[index % len(home.cards)]
                prepared = host.prepare(escn, uid, APPLICATION, DEFAULT_KEY, 1)
                host.submit(prepared)
                home.decide(http, prepared.id, host_public)
                view = host.client.delegations.get(prepared.id)
                if not isinstance(host.open(prepared, view), Authorisation):
                    raise click.ClickException(f"{prepared.id}: {view['state']}")
                host.report(prepared.id, completed=True)

            return one

        click.echo(
            f"{count} delegation round trips per run, {concurrency} hosts, {workers} workers per "
            f"router, router A on {'PostgreSQL' if pg else 'SQLite'}, router B on SQLite"
        )
        _run("warm-up", 20, concurrency, round_trip(local_home))
        _run("warm-up", 20, concurrency, round_trip(remote_home))
        local = _run("local delegation (A)", count, concurrency, round_trip(local_home))
        forwarded = _run("forwarded delegation (A→B)", count, concurrency,
                         round_trip(remote_home))
        click.echo(local.line())
        click.echo(forwarded.line())
        click.echo(
            f"summary: forwarded delegation round trip {forwarded.throughput:.1f}/s = "
            f"{forwarded.throughput / local.throughput:.2f}x the local ceiling "
            f"({local.throughput:.1f}/s); p99 {forwarded.p99 * 1000:.0f} ms = "
            f"{forwarded.p99 / local.p99:.2f}x local ({local.p99 * 1000:.0f} ms)"
        )


if __name__ == "__main__":
    sys.exit(main())
