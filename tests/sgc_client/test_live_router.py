"""escr-sgc and RouterClient against a live router (gunicorn on a loopback port).

Sizes: the 10,000-row file (malformed rows included) goes through ``/api/x/persons:batch``, as a
full run, a second run that changes nothing, and a run killed half-way then resumed. One call per
row costs about 8-25 ms on this router (SQLite, two shared cores), so the per-row transport, the
one the real router allows, runs on 1,000 rows.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from sgc_client import RouterClient, errors
from sgc_client.cli import EXIT_ROWS_FAILED, cli
from tests.live_server import WebhookReceiver, free_port
from tests.sgc_client.conftest import LiveRouter, LiveTenant
from tests.sgc_client.factories import esi_of, write_persons_csv

pytestmark = pytest.mark.e2e

PER_ROW_ROWS = 1_000
BATCH_ROWS = 10_000
ESCR_SGC = str(Path(sys.executable).parent / "escr-sgc")


def summary_of(output: str) -> dict[str, int]:
    line = next(x for x in output.splitlines() if x.startswith("summary: "))
    return {k: int(v) for k, v in (p.split("=") for p in line.removeprefix("summary: ").split())}


def run_cli(router: LiveRouter, tenant: LiveTenant, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--router", router.url, "--api-key", tenant.key, *args], catch_exceptions=False
    )


def offers_batches(router: LiveRouter, tenant: LiveTenant) -> bool:
    answer = httpx.post(
        f"{router.url}/api/x/persons:batch",
        json={"items": []},
        headers={"Authorization": f"Bearer {tenant.key}"},
    )
    return answer.status_code not in (404, 405)


def client_of(router: LiveRouter, tenant: LiveTenant, **kwargs: Any) -> RouterClient:
    return RouterClient(router.url, api_key=tenant.key, **kwargs)


def test_import_with_malformed_rows_then_a_second_run_changes_nothing(
    live_router: LiveRouter, live_tenant: LiveTenant, tmp_path: Path
) -> None:
    assert offers_batches(live_router, live_tenant)
    persons = write_persons_csv(tmp_path / "persons.csv", BATCH_ROWS)
    report = tmp_path / "report.json"
    result = run_cli(
        live_router, live_tenant, "persons", "import", str(persons.path), "--report", str(report),
        "--mode", "batch",
    )
    assert result.exit_code == EXIT_ROWS_FAILED, result.output
    expected = {
        "created": len(persons.valid),
        "updated": 0,
        "unchanged": 0,
        "failed": len(persons.malformed),
    }
    assert summary_of(result.output) == expected
    document = json.loads(report.read_text())
    reasons = {r["row"]: r["reason"] for r in document["rows"] if r["outcome"] == "failed"}
    words = {
        "esi": "is not an ESI",
        "email": "e-mail",
        "columns": "columns",
        "academicLevel": "academicLevel",
    }
    assert {line: words[kind] in reasons[line] for line, kind in persons.malformed.items()} == (
        dict.fromkeys(persons.malformed, True)
    )
    with client_of(live_router, live_tenant) as client:
        held = {p["identifier"] for p in client.persons.list(size=500)}
        assert held == set(persons.valid)
        person = client.persons.get(esi_of(1))
        link = person["organisations"][0]
        assert link["fullName"] == "Student 1" and link["academicLevel"]["key"] == "MASTER"
        assert link["contactPoint"] == {"email": "s1@uni.example", "phone": "+33 1 23 45 67 89"}

    again = run_cli(
        live_router, live_tenant, "persons", "import", str(persons.path), "--mode", "batch"
    )
    assert summary_of(again.output) == {**expected, "created": 0, "unchanged": len(persons.valid)}


@pytest.mark.parametrize(("mode", "rows", "kill_after"), [("batch", BATCH_ROWS, 2_000),
                                                          ("per-row", PER_ROW_ROWS, 300)])
def test_a_run_killed_half_way_resumes_and_finishes(
    live_router: LiveRouter,
    live_tenant: LiveTenant,
    tmp_path: Path,
    mode: str,
    rows: int,
    kill_after: int,
) -> None:
    start = 50_000 if mode == "per-row" else 200_000
    persons = write_persons_csv(tmp_path / "persons.csv", rows, start=start)
    journal = tmp_path / "persons.csv.persons.journal"
    command = [
        ESCR_SGC,
        "--router",
        live_router.url,
        "--api-key",
        live_tenant.key,
        "persons",
        "import",
        str(persons.path),
        "--no-progress",
        "--mode",
        mode,
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while True:
            lines = journal.read_text().count("\n") if journal.exists() else 0
            if lines > kill_after:
                break
            assert process.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    with client_of(live_router, live_tenant) as client:
        done_before = sum(1 for _ in client.persons.list(size=500))
    assert kill_after <= done_before < len(persons.valid)
    assert journal.exists()

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == EXIT_ROWS_FAILED, resumed.stderr
    counts = summary_of(resumed.stdout)
    # Rows the killed run finished but had not yet journaled are found unchanged.
    assert counts["created"] + counts["unchanged"] == len(persons.valid)
    assert counts["updated"] == 0 and counts["failed"] == len(persons.malformed)
    assert "finished by an earlier, interrupted run" in resumed.stderr
    assert not journal.exists()
    with client_of(live_router, live_tenant) as client:
        assert {p["identifier"] for p in client.persons.list(size=500)} == set(persons.valid)

    third = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert summary_of(third.stdout) == {
        "created": 0,
        "updated": 0,
        "unchanged": len(persons.valid),
        "failed": len(persons.malformed),
    }


def test_sync_reports_then_deletes_only_the_callers_missing_persons(
    live_router: LiveRouter,
    live_tenant: LiveTenant,
    tmp_path: Path,
    make_live_tenant: Callable[[], LiveTenant],
) -> None:
    neighbour = make_live_tenant()
    shared = write_persons_csv(tmp_path / "n.csv", 5, start=90_000)
    run_cli(live_router, neighbour, "persons", "import", str(shared.path))
    persons = write_persons_csv(tmp_path / "p.csv", 40, start=90_000)
    # Persons the neighbour registered already are linked to this institution too (409, then PUT).
    first = run_cli(
        live_router, live_tenant, "persons", "import", str(persons.path), "--workers", "4"
    )
    assert summary_of(first.output)["created"] == len(persons.valid)
    shorter = write_persons_csv(tmp_path / "p.csv", 25, start=90_000)
    gone = sorted(set(persons.valid) - set(shorter.valid))
    report = tmp_path / "r.json"
    run_cli(live_router, live_tenant, "sync", str(shorter.path), "--report", str(report))
    assert json.loads(report.read_text())["missing"] == gone
    result = run_cli(live_router, live_tenant, "sync", str(shorter.path), "--delete-missing")
    assert f"deleted {len(gone)} record(s)" in result.output
    with client_of(live_router, live_tenant) as client:
        assert {p["identifier"] for p in client.persons.list()} == set(shorter.valid)
    with client_of(live_router, neighbour) as client:
        # The neighbour's own persons (some with the same ESIs) are untouched.
        assert {p["identifier"] for p in client.persons.list()} == set(shared.valid)


def write_cards_csv(path: Path, rows: list[list[str]]) -> None:
    header = "cardNumber,csn,esi,cardType,cardStatusType,issuedAt,expiresAt,displayName\n"
    path.write_text(header + "".join(",".join(r) + "\n" for r in rows))


def test_cards_import_per_row_by_number_and_by_chip(
    live_router: LiveRouter, live_tenant: LiveTenant, tmp_path: Path
) -> None:
    persons = write_persons_csv(tmp_path / "p.csv", 6, start=95_000)
    run_cli(live_router, live_tenant, "persons", "import", str(persons.path))
    holders = persons.valid[:4]
    with client_of(live_router, live_tenant) as client:
        numbers = client.cards.generate_numbers(live_tenant.pic, "001", 2)
    rows = [
        [numbers[0], "", holders[0], "SMART_CDZ", "ACTIVE", "2026-09-01", "2030-08-31", "Ada"],
        [
            numbers[1],
            "04:a1:b2:c3:d4:e5:f6",
            holders[1],
            "PASSIVE",
            "ACTIVE",
            "2026-09-01",
            "2030-08-31",
            "",
        ],
        ["", "04112233", holders[2], "SMART_CDZ", "INACTIVE", "2026-09-01", "2030-08-31", "B"],
        ["", "", holders[3], "SMART_CDZ", "ACTIVE", "2026-09-01", "2030-08-31", ""],
        [
            "",
            "04556677",
            "urn:schac:personalUniqueCode:int:esi:FR:unknown",
            "SMART_CDZ",
            "ACTIVE",
            "2026-09-01",
            "2030-08-31",
            "",
        ],
    ]
    cards = tmp_path / "cards.csv"
    write_cards_csv(cards, rows)
    report = tmp_path / "r.json"
    result = run_cli(
        live_router, live_tenant, "cards", "import", str(cards), "--report", str(report),
        "--mode", "per-row",
    )
    assert summary_of(result.output) == {"created": 3, "updated": 0, "unchanged": 0, "failed": 2}, (
        result.output
    )
    document = json.loads(report.read_text())
    assert document["mode"] == "per-row"
    outcome = document["rows"]
    assert "cardNumber or csn" in outcome[3]["reason"]
    assert outcome[4]["status"] in (400, 404, 422) and "ER-" in outcome[4]["reason"]
    by_chip = outcome[2]["identifier"]
    with client_of(live_router, live_tenant) as client:
        assert client.cards.get(by_chip)["csn"] == "04112233"

    again = run_cli(live_router, live_tenant, "cards", "import", str(cards))
    assert summary_of(again.output) == {"created": 0, "updated": 0, "unchanged": 3, "failed": 2}

    rows[2][4] = "ACTIVE"
    rows[0][7] = "Ada L."
    write_cards_csv(cards, rows)
    changed = run_cli(live_router, live_tenant, "cards", "import", str(cards))
    assert summary_of(changed.output) == {"created": 0, "updated": 2, "unchanged": 1, "failed": 2}
    with client_of(live_router, live_tenant) as client:
        assert client.cards.get(by_chip)["cardStatusType"]["key"] == "ACTIVE"
        assert client.cards.get(numbers[0])["displayName"] == "Ada L."


def test_card_commands_qr_and_consent_withdrawal(
    live_router: LiveRouter, live_tenant: LiveTenant, tmp_path: Path
) -> None:
    persons = write_persons_csv(tmp_path / "p.csv", 2, start=97_000)
    run_cli(live_router, live_tenant, "persons", "import", str(persons.path))
    esi = persons.valid[0]
    with client_of(live_router, live_tenant) as client:
        card = client.cards.create(
            {
                "cardType": "SMART_CDZ",
                "cardStatusType": "ACTIVE",
                "issuedAt": "2026-09-01",
                "expiresAt": "2030-08-31",
                "issuerIdentifier": live_tenant.pic,
                "personIdentifier": esi,
            }
        )
    number = card["cardNumber"]

    svg = tmp_path / "card.svg"
    result = run_cli(live_router, live_tenant, "card", "qr", number, "-o", str(svg))
    assert result.exit_code == 0 and svg.read_text().lstrip().startswith("<")
    png = tmp_path / "card.png"
    run_cli(live_router, live_tenant, "card", "qr", number, "-o", str(png), "--format", "png")
    assert png.read_bytes().startswith(b"\x89PNG")

    result = run_cli(live_router, live_tenant, "card", "suspend", number)
    assert "SUSPENDED" in result.output
    result = run_cli(live_router, live_tenant, "card", "reactivate", number)
    assert "ACTIVE" in result.output
    result = run_cli(live_router, live_tenant, "card", "lost", number)
    assert f"{number}: LOST (INACTIVE)" in result.output
    result = run_cli(
        live_router, live_tenant, "card", "renew", number, "--expires-at", "2031-08-31"
    )
    assert result.exit_code == 0 and "replaced by" in result.output
    result = CliRunner().invoke(
        cli, ["--router", live_router.url, "--api-key", live_tenant.key, "card", "suspend", number]
    )
    assert result.exit_code == 1 and "ER-0050" in result.output  # a renewed card stays renewed

    result = run_cli(live_router, live_tenant, "consent", "withdraw", esi)
    assert result.exit_code == 0
    with client_of(live_router, live_tenant) as client:
        with pytest.raises(errors.Gone) as caught:
            client.persons.get(esi)
        assert caught.value.code == "ER-0020"
        with pytest.raises(errors.NotFound):
            client.cards.get(number)


def test_client_errors_oauth_pictures_and_the_esc_rest_base(
    live_router: LiveRouter,
    live_tenant: LiveTenant,
    make_live_tenant: Callable[[], LiveTenant],
    tmp_path: Path,
) -> None:
    persons = write_persons_csv(tmp_path / "p.csv", 1, start=98_000)
    run_cli(live_router, live_tenant, "persons", "import", str(persons.path))
    esi = persons.valid[0]
    stranger = make_live_tenant()
    with client_of(live_router, stranger) as client:
        with pytest.raises(errors.Forbidden) as caught:
            client.persons.get(esi)
        assert caught.value.code == "SE-0000"
        with pytest.raises(errors.NotFound) as missing:
            client.persons.get(esi_of(123_456_789))
        assert missing.value.code == "ER-0018"

    with RouterClient(f"{live_router.url}/esc-rest", api_key=live_tenant.key) as client:
        assert client.persons.get(esi)["identifier"] == esi
        picture = io.BytesIO()
        Image.new("RGB", (200, 300), "navy").save(picture, format="PNG")
        client.pictures.upload(
            live_tenant.pic, esi, picture.getvalue(), filename="p.png", content_type="image/png"
        )
        assert client.pictures.get(live_tenant.pic, esi).startswith(b"\x89PNG")
        client.pictures.delete(live_tenant.pic, esi)
        with pytest.raises(errors.NotFound):
            client.pictures.get(live_tenant.pic, esi)

    credentials = live_router.admin("oauth-client", "create", "--pic", live_tenant.pic)
    values = dict(line.split("=", 1) for line in credentials.split())
    with RouterClient(
        live_router.url, client_id=values["client_id"], client_secret=values["client_secret"]
    ) as client:
        assert [p["identifier"] for p in client.persons.list()] == [esi]
    with (
        RouterClient(
            live_router.url, client_id=values["client_id"], client_secret="wrong"
        ) as client,
        pytest.raises(errors.Unauthorized),
    ):
        client.persons.get(esi)

    bad = CliRunner().invoke(
        cli, ["--router", live_router.url, "--api-key", "nope", "consent", "withdraw", esi]
    )
    assert bad.exit_code == 1 and "401" in bad.output


def test_another_spelling_of_an_esi_is_the_same_person(
    live_router: LiveRouter, live_tenant: LiveTenant, tmp_path: Path
) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "esi,fullName\nURN:schac:personalUniqueCode:int:esi:fr:Ab1,A\n"
        "urn:schac:personalUniqueCode:int:esi:Uni-X.EU:Cd2,B\n"
    )
    first = run_cli(live_router, live_tenant, "persons", "import", str(path))
    assert summary_of(first.output) == {"created": 2, "updated": 0, "unchanged": 0, "failed": 0}
    second = run_cli(live_router, live_tenant, "persons", "import", str(path))
    assert summary_of(second.output) == {"created": 0, "updated": 0, "unchanged": 2, "failed": 0}

    path.write_text(path.read_text().replace(",B", ",Bea"))
    third = run_cli(live_router, live_tenant, "persons", "import", str(path))
    assert summary_of(third.output) == {"created": 0, "updated": 1, "unchanged": 1, "failed": 0}
    with client_of(live_router, live_tenant) as client:
        person = client.persons.get("urn:schac:personalUniqueCode:int:esi:uni-x.eu:Cd2")
        assert person["organisations"][0]["fullName"] == "Bea"


def test_a_key_without_write_scope_stops_the_run_and_keeps_the_journal(
    live_router: LiveRouter, live_tenant: LiveTenant, tmp_path: Path
) -> None:
    reader = live_router.admin(
        "key", "create", "--pic", live_tenant.pic, "--scope", "persons:read"
    ).split()[0]
    persons = write_persons_csv(tmp_path / "p.csv", 5, start=99_000)
    result = CliRunner().invoke(
        cli,
        ["--router", live_router.url, "--api-key", reader, "persons", "import", str(persons.path)],
    )
    assert result.exit_code == 1
    assert "stopped: SE-0002" in result.output
    assert (tmp_path / "p.csv.persons.journal").exists()
    with client_of(live_router, live_tenant) as client:
        assert list(client.persons.list()) == []


def test_webhook_delivery_verifies_and_partners_verify_over_http(
    live_router: LiveRouter,
    live_tenant: LiveTenant,
    make_live_tenant: Callable[[], LiveTenant],
    tmp_path: Path,
) -> None:
    from sgc_client.webhooks import verify_signature

    persons = write_persons_csv(tmp_path / "p.csv", 1, start=99_000)
    run_cli(live_router, live_tenant, "persons", "import", str(persons.path))
    port = free_port()
    with client_of(live_router, live_tenant) as client:
        hook = client.webhooks.create(f"http://127.0.0.1:{port}/hook")
        assert hook.secret and [h.id for h in client.webhooks.list()] == [hook.id]
        card = client.cards.create({
            "personIdentifier": persons.valid[0], "issuerIdentifier": live_tenant.pic,
            "cardType": "SMART_CDZ", "cardStatusType": "ACTIVE", "issuedAt": "2026-09-01",
            "expiresAt": "2030-08-31", "displayName": "Live card",
        })
    escn = card["cardNumber"]
    assert run_cli(live_router, live_tenant, "card", "suspend", escn).exit_code == 0

    receiver = WebhookReceiver(port, hook.secret)
    receiver.start()
    try:
        live_router.admin("webhooks", "deliver", "--once")
    finally:
        receiver.stop()
    assert len(receiver.received) == 1
    delivery = receiver.received[0]
    assert delivery["valid"]
    verify_signature(hook.secret, delivery["headers"], delivery["body"])
    event = json.loads(delivery["body"])
    assert event["data"]["cardNumber"] == escn and event["data"]["state"] == "SUSPENDED"

    partner = make_live_tenant()
    with client_of(live_router, partner) as client:
        verdict = client.verification.verify(f"{live_router.url}/cards/{escn}")
    assert (verdict.valid, verdict.reason, verdict.card_number) == (False, "SUSPENDED", escn)
    assert verdict.display_name is None
    assert verdict.issuer["identifier"] == live_tenant.pic
