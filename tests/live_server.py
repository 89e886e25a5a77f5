"""Helpers of the tests that talk to a real server on a loopback port."""

from __future__ import annotations

import hashlib
import hmac
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

# Receivers refuse deliveries signed longer ago than this (the webhook contract).
MAX_AGE_SECONDS = 300


def free_port() -> int:
    """A TCP port nothing listens on, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(
    base_url: str,
    process: subprocess.Popen,
    *,
    timeout: float = 60,
    why_not: Callable[[], str] = lambda: "",
) -> None:
    """Wait until the router at ``base_url`` serves its OpenAPI document; fail if it dies first.

    ``why_not`` tells what the server said, for the failure message.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{why_not()}")
        try:
            if httpx.get(f"{base_url}/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer within {timeout:.0f} s:\n{why_not()}")
        time.sleep(0.1)


class WebhookReceiver:
    """A webhook endpoint on 127.0.0.1 that records deliveries and checks their signatures.

    The check is written out here, independently of the router and of sgc_client, so that a bug
    shared by both cannot pass unnoticed.
    """

    def __init__(self, port: int, secret: str, status: int = 204):
        self.port, self.secret, self.status = port, secret, status
        self.received: list[dict] = []
        self.server: ThreadingHTTPServer | None = None

    def verify(self, headers, body: bytes) -> bool:
        timestamp = headers["X-Escr-Timestamp"]
        if abs(time.time() - int(timestamp)) > MAX_AGE_SECONDS:
            return False
        expected = hmac.new(
            self.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(headers["X-Escr-Signature"], f"sha256={expected}")

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(
                    {
                        "headers": dict(self.headers),
                        "body": body,
                        "valid": receiver.verify(self.headers, body),
                    }
                )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
