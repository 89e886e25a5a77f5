"""gunicorn's settings for escrouter: ``gunicorn -c python:router.gunicorn_config router.wsgi:app``.

Options given on gunicorn's command line override these defaults. What this file adds to them:

- **One count per deployment.** The rate limit's memory store is per process: with more than one
  worker it must be Redis (``ESCR_RATE_LIMIT_STORAGE=redis://...``), or the start is refused. The
  default is one worker with 8 threads on the memory store, which it serves exactly, and one
  worker per core with 4 threads each when the store is Redis (``ESCR_WORKERS`` and
  ``ESCR_THREADS`` choose otherwise).
- **A migrated database.** The start is refused, in one line, when the database is not at the
  revision the code needs (``escr-admin db upgrade`` first).
- **Metrics of every worker.** ``PROMETHEUS_MULTIPROC_DIR`` (a fresh folder unless set) holds each
  worker's counts for ``/metrics``; a dead worker's live gauges are dropped.
- **JSON logs.** gunicorn's own lines use the router's JSON format; the router writes one line per
  request without the path (paths hold ESIs), so gunicorn's access log is off, even with
  ``--access-logfile``, and its lines are not even built.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger

from router.logs import json_formatter  # noqa: F401  (named in logconfig_dict below)

# The folder must be known before any process imports prometheus-client: set it now, in the
# master, so that every worker inherits it. Left-over counts of an earlier run are wiped.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    if _metrics_dir.is_dir():
        for stale in _metrics_dir.glob("*.db"):
            stale.unlink()
    _metrics_dir.mkdir(parents=True, exist_ok=True)
else:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="escrouter-metrics-")

bind = "127.0.0.1:8080"


def _default_workers() -> int:
    """One process per core when the rate limit is shared (Redis); else the one process.

    Measured on 2 cores (README, Performance): a gthread process holds the GIL while it renders
    an answer, so one process uses about one core; a second one uses the other. With the memory
    store the count must stay in one process, so that default stays one.
    """
    if os.environ.get("ESCR_WORKERS"):
        return int(os.environ["ESCR_WORKERS"])
    storage = os.environ.get("ESCR_RATE_LIMIT_STORAGE", "memory://")
    if storage.startswith("memory"):
        return 1
    return max(1, os.cpu_count() or 1)


def _default_threads(workers: int) -> int:
    """8 threads for the one process, 4 each when there is one per core (``ESCR_THREADS``)."""
    return int(os.environ.get("ESCR_THREADS") or (8 if workers == 1 else 4))


# gthread, not sync: keep-alive connections, and a worker's threads overlap their database
# round trips.
worker_class = "gthread"
workers = _default_workers()
threads = _default_threads(workers)
# A request that takes longer is a bug or an attack: the worker is restarted.
timeout = 30
# On SIGTERM, requests in flight get this long to finish before the workers are stopped.
graceful_timeout = 30
keepalive = 5
# The real router's OpenAPI document names its key header `api_key`: let underscores through.
header_map = "dangerous"
accesslog = None


class WithoutAccessLog(Logger):
    """gunicorn's logger without its access log: the router writes its own line per request.

    gunicorn's line holds the request's path, and paths hold ESIs; the router's line names the
    route template instead (``router.observability``). Our ``logconfig_dict`` already gives the
    access logger no handler, even with ``--access-logfile``, but gunicorn still built each
    line (its atoms, a log record) whenever a ``logconfig_dict`` is set: a tenth of a worker's
    time on the QR-scan path went to lines nobody wrote.
    """

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Nothing: see the class."""


logger_class = WithoutAccessLog
# gunicorn's control socket has one default path per user ($HOME/.gunicorn/gunicorn.ctl), which
# several gunicorns of one host would share; systemd and signals manage the router instead.
control_socket_disable = True
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "router.logs.json_formatter"}},
    "handlers": {
        "json_stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": "WARNING", "handlers": ["json_stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["json_stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
    },
}


def _refuse(server: Any, message: str) -> None:
    server.log.error(message)
    sys.exit(1)


def on_starting(server: Any) -> None:
    """Refuse to start on an unmigrated database or a per-process rate limit with many workers."""
    from router.schema_state import schema_problem
    from router.settings import Settings

    settings = Settings.from_env()
    problem = schema_problem(settings.database_url)
    if problem:
        _refuse(server, problem)
    if server.cfg.workers > 1 and settings.rate_limit_storage.startswith("memory"):
        _refuse(
            server,
            f"{server.cfg.workers} workers would each count the rate limit in their own memory: "
            "set ESCR_RATE_LIMIT_STORAGE=redis://HOST:6379 (shared by every worker and host), "
            "or serve with one worker and threads (--workers 1 --threads N).",
        )


def post_worker_init(worker: Any) -> None:
    """Make a quick shutdown (SIGINT, SIGQUIT: Ctrl-C) of a worker immediate.

    gunicorn's threaded worker shuts its thread pool down inside the signal handler; when the
    signal interrupts the pool's ``submit()``, which holds the same lock, the worker deadlocks
    and hangs until the master kills it ``graceful_timeout`` later. A quick shutdown abandons
    requests in flight anyway, so the worker leaves at once. SIGTERM (systemd's stop) still
    finishes the requests in flight.
    """

    def leave_now(_signum: int, _frame: object) -> None:
        os._exit(0)

    signal.signal(signal.SIGQUIT, leave_now)
    signal.signal(signal.SIGINT, leave_now)


def child_exit(_server: Any, worker: Any) -> None:
    """Drop the live gauges of a worker that is gone."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(_server: Any) -> None:
    """Remove the metrics folder this configuration created."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if Path(folder).name.startswith("escrouter-metrics-"):
        shutil.rmtree(folder, ignore_errors=True)
