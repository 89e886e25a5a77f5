"""A router (or another WSGI app) in its own gunicorn on a loopback port, for the benchmarks."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import click
import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def escr_admin(env: Mapping[str, str], *args: str) -> str:
    """Run ``escr-admin`` with ``env``; its output, stripped (a ClickException if it fails)."""
    done = subprocess.run(
        [str(BIN / "escr-admin"), *args], env=dict(env), cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise click.ClickException(f"escr-admin {' '.join(args)}: {done.stderr.strip()[-2000:]}")
    return done.stdout.strip()


def _rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # the process has just ended
        return 0
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(found.group(1)) if found else 0


class LiveRouter:
    """gunicorn serving ``app`` on a loopback port; SIGTERM stops its master and workers.

    ``config`` starts it as ``scripts/serve`` does (``-c python:router.gunicorn_config``); benches
    that measured plain gunicorn keep it off so that their figures stay comparable.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        workers: int | None = None,
        extra: Sequence[str] = (),
        config: bool = True,
        app: str = "router.wsgi:app",
        port: int | None = None,
        log: Path | None = None,
        new_session: bool = False,
    ) -> None:
        self.port = port if port is not None else free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        output = log.open("w") if log is not None else subprocess.DEVNULL
        command = [
            str(BIN / "gunicorn"),
            *(["-c", "python:router.gunicorn_config"] if config else []),
            "--bind",
            f"127.0.0.1:{self.port}",
            *(["--workers", str(workers)] if workers is not None else []),
            *extra,
            app,
        ]
        try:
            self.process = subprocess.Popen(
                command,
                env=dict(env),
                cwd=ROOT,
                stdout=output,
                stderr=output,
                start_new_session=new_session,
            )
        finally:
            if log is not None:
                output.close()  # type: ignore[union-attr]  # the child holds its own copy

    def wait_ready(
        self,
        path: str = "/readyz",
        ready: Callable[[httpx.Response], bool] = lambda answer: answer.status_code == 200,
        timeout: float = 60,
    ) -> None:
        """Poll ``path`` until ``ready`` holds; fail if gunicorn exits or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                tail = self.log.read_text()[-3000:] if self.log is not None else ""
                raise RuntimeError(f"gunicorn on {self.url} did not start\n{tail}")
            try:
                if ready(httpx.get(f"{self.url}{path}", timeout=2)):
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.url}{path} not ready within {timeout:.0f} s")
            time.sleep(0.1)

    def worker_pids(self) -> list[int]:
        """The gunicorn workers' process ids."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def worker_rss_mib(self) -> list[float]:
        """Resident memory of each worker process, in MiB."""
        return [_rss_kib(pid) / 1024 for pid in self.worker_pids()]

    def rss_mib(self) -> float:
        """Resident memory of the master and its workers, in MiB."""
        return sum(_rss_kib(pid) for pid in [self.process.pid, *self.worker_pids()]) / 1024

    def stop(self) -> None:
        """SIGTERM, then wait (a kill if gunicorn has not stopped after 40 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> LiveRouter:
        """The started server."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()
