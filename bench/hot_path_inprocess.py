"""The QR-scan path's own cost: CPU time per request, the WSGI app called directly, no server.

Run on demand with the project's virtualenv (not part of the tests):

    .venv/bin/python bench/hot_path_inprocess.py --db sqlite --cards 10000
    .venv/bin/python bench/hot_path_inprocess.py --db postgresql --cards 10000 --profile verify

``bench/hot_path.py`` measures the path through gunicorn and wrk, where the server's own work
(about as much again on this machine) and the other processes on the cores blur the router's
share. This one fills a router with N cards exactly as that bench does, builds the application
in this process as ``router.wsgi`` does (metrics in multiprocess mode, as under gunicorn; the
JSON log lines written to a file), and calls it directly, one request after another: public
status anonymous and with a key, the public page (HTML) and a partner's verification, each
interleaved with the bare Flask route of ``bench/hot_path_ceiling.py``. It reports the CPU time
of this process per request (``time.process_time``: what other processes do to the cores barely
moves it; the database server's work is not in it), the wall time beside it, and the ratio of
the bare route's CPU time to the path's, the ceiling the router could reach in-process.
``--profile KIND`` then runs that path under cProfile (timed by CPU too) and prints its top
functions.
On PostgreSQL it creates a throw-away database on 127.0.0.1:5432 and drops it.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hot_path_data

KINDS = ("status_anon", "status_key", "page", "verify")
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _environ(kind: str, number: str, keys: dict[str, str]) -> tuple[dict[str, Any], bytes]:
    """The WSGI environ of one request of ``kind`` (the requests ``hot_path.lua`` sends)."""
    from werkzeug.test import EnvironBuilder

    headers: dict[str, str] = {}
    method, body, path = "GET", b"", f"/api/v2/cards/{number}/status"
    if kind == "ceiling":
        path = f"/ceiling/{number}"
    elif kind == "status_key":
        headers["Authorization"] = f"Bearer {keys['institution']}"
    elif kind == "page":
        path = f"/cards/{number}"
        headers.update({"Accept": "text/html", "Accept-Language": "fr,en;q=0.8"})
    elif kind == "verify":
        method, path = "POST", "/api/x/verify"
        headers.update(
            {"Authorization": f"Bearer {keys['partner']}", "Content-Type": "application/json"}
        )
        body = b'{"scanned": "%s"}' % number.encode()
    builder = EnvironBuilder(path=path, method=method, headers=headers, data=body or None)
    environ = builder.get_environ()
    environ["REMOTE_ADDR"] = "127.0.0.1"
    return environ, body


class RequestRun:
    """Requests of one kind against one WSGI app, called in turn."""

    def __init__(self, app: WsgiApp, kind: str, numbers: list[str], keys: dict[str, str]) -> None:
        self.app = app
        self.kind = kind
        self.requests = [_environ(kind, number, keys) for number in numbers]
        self.next = 0

    def call(self, count: int) -> None:
        """Send ``count`` requests; every answer must be a 200."""
        requests, app = self.requests, self.app
        statuses: list[str] = []
        start_response = lambda status, _headers, *_: statuses.append(status)  # noqa: E731
        for _ in range(count):
            environ, body = requests[self.next % len(requests)]
            self.next += 1
            environ = dict(environ)
            environ["wsgi.input"] = io.BytesIO(body)
            answer = app(environ, start_response)
            b"".join(answer)
            close = getattr(answer, "close", None)
            if close is not None:
                close()
        bad = [status for status in statuses if not status.startswith("200")]
        if bad:
            raise click.ClickException(f"{self.kind}: not every answer was a 200: {bad[:3]}")

    def measure(self, count: int) -> tuple[float, float]:
        """CPU and wall microseconds per request over ``count`` requests."""
        cpu, wall = time.process_time(), time.perf_counter()
        self.call(count)
        return (
            (time.process_time() - cpu) / count * 1e6,
            (time.perf_counter() - wall) / count * 1e6,
        )


@click.command()
@click.option("--db", type=click.Choice(["sqlite", "postgresql"]), required=True)
@click.option(
    "--cards", "count", type=click.IntRange(1, 10_000_000), default=10_000, show_default=True
)
@click.option(
    "--requests",
    "per_run",
    type=click.IntRange(100, 1_000_000),
    default=2000,
    show_default=True,
    help="requests per run",
)
@click.option(
    "--rounds",
    type=click.IntRange(1, 20),
    default=5,
    show_default=True,
    help="ceiling and path runs interleaved this many times (the median counts)",
)
@click.option("--database-url", help="PostgreSQL database to use (default: a throw-away one)")
@click.option(
    "--redis",
    "redis_url",
    default="",
    help="rate-limit store (ESCR_RATE_LIMIT_STORAGE), e.g. redis://127.0.0.1:6379/0",
)
@click.option(
    "--profile",
    "profiled",
    type=click.Choice(KINDS),
    multiple=True,
    help="run this path under cProfile and print its top functions (repeatable)",
)
@click.option("--top", type=click.IntRange(5, 200), default=35, show_default=True)
def main(
    db: str,
    count: int,
    per_run: int,
    rounds: int,
    database_url: str | None,
    redis_url: str,
    profiled: tuple[str, ...],
    top: int,
) -> None:
    """Measure the QR-scan path's CPU time per request in process against a bare Flask route."""
    instance = Path(tempfile.mkdtemp(prefix="escr-hot-path-inprocess-"))
    database = contextlib.ExitStack()
    try:
        url = database.enter_context(hot_path_data.router_database(db, database_url, instance))
        env = {
            "ESCR_INSTANCE_PATH": str(instance),
            "ESCR_DATABASE_URL": url,
            # Every anonymous lookup is still counted; the limit is set out of the bench's reach.
            "ESCR_PUBLIC_RATE_LIMIT": "1000000000/minute",
            # As router.gunicorn_config sets it before any worker imports prometheus-client.
            "PROMETHEUS_MULTIPROC_DIR": str(instance / "metrics"),
        }
        if redis_url:
            env["ESCR_RATE_LIMIT_STORAGE"] = redis_url
            env["ESCR_RATE_LIMIT_PREFIX"] = f"escr-hot-inproc-{uuid.uuid4().hex[:8]}"
        (instance / "metrics").mkdir()
        os.environ.update(env)
        click.echo(f"load before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
        institution_key, partner_key = hot_path_data.populate(os.environ, url, db, count)
        hot_path_data.sample(url, instance / "cards.txt")
        numbers = (instance / "cards.txt").read_text().split()
        _measure(db, count, numbers, institution_key, partner_key, instance, per_run, rounds)
        for kind in profiled:
            _profile(kind, per_run, top)
    finally:
        _close_router()
        database.close()
        shutil.rmtree(instance, ignore_errors=True)


_paths: dict[str, RequestRun] = {}


def _measure(
    db: str,
    count: int,
    numbers: list[str],
    institution_key: str,
    partner_key: str,
    instance: Path,
    per_run: int,
    rounds: int,
) -> None:
    # The router's lines go to a file, as gunicorn's standard error does in bench/hot_path.py.
    log = (instance / "router.log").open("w")
    sys.stderr = log
    from hot_path_ceiling import app as ceiling_app

    from router.wsgi import app as router_app

    keys = {"institution": institution_key, "partner": partner_key}
    chosen = random.sample(numbers, min(len(numbers), 1000))
    _paths["ceiling"] = RequestRun(ceiling_app, "ceiling", chosen, keys)
    for kind in KINDS:
        _paths[kind] = RequestRun(router_app, kind, chosen, keys)
    for path in _paths.values():  # imports, templates, connections, compiled statements
        path.call(min(per_run, 300))
    cpu: dict[str, list[float]] = {kind: [] for kind in ("ceiling", *KINDS)}
    wall: dict[str, list[float]] = {kind: [] for kind in ("ceiling", *KINDS)}
    for _ in range(rounds):
        for kind in KINDS:
            for measured in ("ceiling", kind):
                cpu_us, wall_us = _paths[measured].measure(per_run)
                cpu[measured].append(cpu_us)
                wall[measured].append(wall_us)
    sys.stderr = sys.__stderr__
    log.close()
    ceiling = statistics.median(cpu["ceiling"])
    click.echo(
        f"\n{per_run} requests per run, {rounds} rounds (median); rate-limit store "
        f"{os.environ.get('ESCR_RATE_LIMIT_STORAGE', 'memory://')}; "
        f"load after: {os.getloadavg()[0]:.2f} (1 min)"
    )
    click.echo(f"{'path':<14}{'cpu us':>9}{'ratio':>8}{'wall us':>9}  runs (cpu us)")
    for kind, runs in cpu.items():
        median = statistics.median(runs)
        click.echo(
            f"{kind:<14}{median:>9.0f}{ceiling / median:>8.3f}"
            f"{statistics.median(wall[kind]):>9.0f}  " + " ".join(f"{r:.0f}" for r in runs)
        )
    figures = " ".join(
        f"{kind}={statistics.median(cpu[kind]):.0f} ({ceiling / statistics.median(cpu[kind]):.3f})"
        for kind in KINDS
    )
    click.echo(f"hot path in process {db} {count}: {figures} ceiling={ceiling:.0f}")


def _profile(kind: str, per_run: int, top: int) -> None:
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115  (restored below)
    # Timed by CPU, as the table is: waits on the database or the disk count for nothing.
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    _paths[kind].call(per_run)
    profile.disable()
    sys.stderr.close()
    sys.stderr = sys.__stderr__
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    click.echo(f"\n--- {kind}: {per_run} requests under cProfile, by own time")
    stats.sort_stats("tottime").print_stats(top)
    click.echo("\n".join(out.getvalue().splitlines()[4:]))
    out.seek(0)
    out.truncate()
    click.echo(f"--- {kind}: by cumulative time")
    stats.sort_stats("cumulative").print_stats(top)
    click.echo("\n".join(out.getvalue().splitlines()[4:]))


def _close_router() -> None:
    """Release the router's pooled connections, so that its database can be dropped."""
    if "router.wsgi" in sys.modules:
        sys.modules["router.wsgi"].flask_app.extensions["escr.database"].engine.dispose()


if __name__ == "__main__":
    main()
