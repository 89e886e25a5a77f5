"""The QR-scan path against its ceiling: public status, card page and verification vs bare Flask.

Run on demand with the project's virtualenv (not part of the tests):

    .venv/bin/python bench/hot_path.py --db sqlite --cards 10000 --seconds 10
    .venv/bin/python bench/hot_path.py --db postgresql --cards 3000000 --seconds 10

It starts the router as ``scripts/serve`` does (``gunicorn -c python:router.gunicorn_config``,
whose defaults choose the workers and threads), fills it with N cards by SQL (``COPY`` on
PostgreSQL, ``executemany`` on SQLite; one person per card, several institutions), starts a bare
Flask JSON route (``bench/hot_path_ceiling.py``) under the same gunicorn settings, and runs wrk
(Debian's package) with random existing card numbers, interleaving ceiling and router. It prints
a table and, last, one line of ratios to the ceiling and the worst p99. On PostgreSQL it creates a
throw-away database on 127.0.0.1:5432 and drops it (``--database-url`` uses yours instead, and
then adds to it and leaves it).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hot_path_data
from live_router import LiveRouter

SCRIPT = Path(__file__).resolve().parent / "hot_path.lua"
KINDS = ("status_anon", "status_key", "page", "verify")


def _wait(server: LiveRouter, app: str) -> None:
    """Until the server answers anything (the ceiling has no ``/healthz``)."""
    try:
        server.wait_ready("/ceiling/x" if "ceiling" in app else "/healthz", lambda _: True)
    except RuntimeError as error:
        raise click.ClickException(f"{app}: {error}") from None


# A run in which one worker did more than this share of the servers' CPU had (nearly) all the
# keep-alive connections: it measured one core, not the machine, and is run again.
ONE_WORKER_SHARE = 0.9
# How often such a run is repeated before it is kept as it is (and said so).
REPEATS = 3


@dataclass
class Run:
    """One wrk run: requests per second, latency percentiles, the busiest worker's CPU share."""

    rate: float
    p50_ms: float
    p99_ms: float
    busiest_share: float = 1.0
    repeated: int = 0


def _cpu_ticks(pid: int) -> int:
    """User and system CPU ticks of one process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _measured(server: LiveRouter, run: Callable[[], Run]) -> Run:
    """One wrk run against ``server``, repeated while one worker held every connection.

    wrk opens its keep-alive connections at once, and which of gunicorn's workers accepts each
    is a race: now and then one worker gets them all and the run measures one core (the bare
    route's runs swung from 1,700 to 4,900 requests per second so). Each worker's CPU time over
    the run tells; such a run is repeated, at most ``REPEATS`` times, and the table says so.
    """
    workers = server.worker_pids()
    repeated = 0
    while True:
        before = {pid: _cpu_ticks(pid) for pid in workers}
        result = run()
        used = [_cpu_ticks(pid) - ticks for pid, ticks in before.items()]
        result.busiest_share = max(used) / sum(used) if len(used) > 1 and sum(used) else 1.0
        result.repeated = repeated
        if len(workers) < 2 or result.busiest_share <= ONE_WORKER_SHARE or repeated == REPEATS:
            return result
        repeated += 1


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk(url: str, kind: str, seconds: int, connections: int, cards: Path, key: str) -> Run:
    env = {**os.environ, "HOT_PATH_KIND": kind, "HOT_PATH_CARDS": str(cards), "HOT_PATH_KEY": key}
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(SCRIPT), url],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    out = done.stdout
    if done.returncode != 0 or "Requests/sec" not in out:
        raise click.ClickException(f"wrk failed for {kind}: {done.stderr or out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if bad or errors:
        raise click.ClickException(f"{kind}: not every answer was a 200:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    return Run(rate, p50, p99)


def _need_wrk() -> None:
    if shutil.which("wrk") is None:
        raise click.ClickException(
            "wrk is not installed: apt-get install -y wrk (Debian's package), then run again."
        )


@click.command()
@click.option("--db", type=click.Choice(["sqlite", "postgresql"]), required=True)
@click.option(
    "--cards", "count", type=click.IntRange(1, 10_000_000), default=10_000, show_default=True
)
@click.option(
    "--seconds",
    type=click.IntRange(1, 120),
    default=10,
    show_default=True,
    help="length of each wrk run",
)
@click.option(
    "--rounds",
    type=click.IntRange(1, 10),
    default=2,
    show_default=True,
    help="ceiling and router runs interleaved this many times",
)
@click.option("--connections", type=click.IntRange(1, 256), default=8, show_default=True)
@click.option("--database-url", help="PostgreSQL database to use (default: a throw-away one)")
@click.option(
    "--gunicorn",
    "gunicorn_args",
    default="",
    help="extra gunicorn options for both servers, e.g. '--workers 2 --threads 4'",
)
@click.option(
    "--redis",
    "redis_url",
    default="",
    help="rate-limit store (ESCR_RATE_LIMIT_STORAGE), e.g. redis://127.0.0.1:6379/0",
)
def main(
    db: str,
    count: int,
    seconds: int,
    rounds: int,
    connections: int,
    database_url: str | None,
    gunicorn_args: str,
    redis_url: str,
) -> None:
    """Measure the QR-scan path against a bare Flask route under the same gunicorn."""
    _need_wrk()
    # A stopped bench still stops its servers and drops its database (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    instance = Path(tempfile.mkdtemp(prefix="escr-hot-path-"))
    servers: list[LiveRouter] = []
    database = contextlib.ExitStack()
    try:
        url = database.enter_context(hot_path_data.router_database(db, database_url, instance))
        env = {
            **os.environ,
            "ESCR_INSTANCE_PATH": str(instance),
            "ESCR_DATABASE_URL": url,
            # Every anonymous lookup is still counted; the limit is set out of the bench's reach.
            "ESCR_PUBLIC_RATE_LIMIT": "1000000000/minute",
        }
        if redis_url:
            env["ESCR_RATE_LIMIT_STORAGE"] = redis_url
            env["ESCR_RATE_LIMIT_PREFIX"] = f"escr-hot-path-{uuid.uuid4().hex[:8]}"
        click.echo(f"load before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
        institution_key, partner_key = hot_path_data.populate(env, url, db, count)
        numbers = instance / "cards.txt"
        hot_path_data.sample(url, numbers)
        extra = gunicorn_args.split()
        # As scripts/serve starts it, in a session of its own: a terminal's Ctrl-C reaches only
        # the bench, whose finally stops both servers.
        router = LiveRouter(env, extra=extra, log=instance / "router.log", new_session=True)
        servers.append(router)
        _wait(router, "router.wsgi:app")
        ceiling = LiveRouter(
            env,
            extra=[*extra, "--pythonpath", str(Path(__file__).parent)],
            app="hot_path_ceiling:app",
            log=instance / "ceiling.log",
            new_session=True,
        )
        servers.append(ceiling)
        _wait(ceiling, "hot_path_ceiling:app")
        keys = {"status_anon": "", "status_key": institution_key, "page": "", "verify": partner_key}
        # Warm both up (imports, templates, connections) before measuring.
        for kind in ("ceiling", *KINDS):
            target = ceiling if kind == "ceiling" else router
            _wrk(target.url, kind, 1, connections, numbers, keys.get(kind, ""))
        results: dict[str, list[Run]] = {kind: [] for kind in ("ceiling", *KINDS)}
        for _ in range(rounds):
            for kind in KINDS:
                results["ceiling"].append(
                    _measured(
                        ceiling,
                        lambda: _wrk(ceiling.url, "ceiling", seconds, connections, numbers, ""),
                    )
                )
                results[kind].append(
                    _measured(
                        router,
                        lambda kind=kind: _wrk(
                            router.url, kind, seconds, connections, numbers, keys[kind]
                        ),
                    )
                )
        _report(db, count, results, router, ceiling, extra, env)
    finally:
        for server in servers:
            server.stop()
        database.close()
        shutil.rmtree(instance, ignore_errors=True)


def _report(
    db: str,
    count: int,
    results: dict[str, list[Run]],
    router: LiveRouter,
    ceiling: LiveRouter,
    extra: list[str],
    env: dict[str, str],
) -> None:
    def mean(kind: str) -> float:
        return sum(r.rate for r in results[kind]) / len(results[kind])

    ceiling_rate = mean("ceiling")
    click.echo(
        f"\ngunicorn: router.gunicorn_config defaults {' '.join(extra)}; rate-limit "
        f"store {env.get('ESCR_RATE_LIMIT_STORAGE', 'memory://')}; "
        f"load after: {os.getloadavg()[0]:.2f} (1 min)"
    )
    click.echo(f"{'path':<14}{'req/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}  runs (req/s)")
    for kind, runs in results.items():
        rate = mean(kind)
        click.echo(
            f"{kind:<14}{rate:>10,.0f}{rate / ceiling_rate:>8.3f}"
            f"{max(r.p50_ms for r in runs):>9.2f}{max(r.p99_ms for r in runs):>9.2f}  "
            + " ".join(f"{r.rate:,.0f}" for r in runs)
        )
    click.echo(
        f"worker RSS MiB: router {', '.join(f'{m:.0f}' for m in router.worker_rss_mib())}; "
        f"ceiling {', '.join(f'{m:.0f}' for m in ceiling.worker_rss_mib())}"
    )
    if len(router.worker_pids()) > 1:
        runs = [r for kind_runs in results.values() for r in kind_runs]
        click.echo(
            f"busiest worker's share of the CPU per run: {min(r.busiest_share for r in runs):.2f} "
            f"to {max(r.busiest_share for r in runs):.2f}; runs repeated because one worker had "
            f"every connection: {sum(r.repeated for r in runs)}"
        )
    p99 = max(r.p99_ms for kind in KINDS for r in results[kind])
    ratios = " ".join(f"{kind}={mean(kind) / ceiling_rate:.3f}" for kind in KINDS)
    click.echo(f"hot path {db} {count}: {ratios} p99_ms={p99:.1f}")


if __name__ == "__main__":
    main()
