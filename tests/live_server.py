"""Helpers of the tests that talk to a real server on a loopback port."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from router import migrate
from router.db import Database
from router.services import credentials, organisations

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

    def __init__(self, port: int, secret: str, status: int = 204) -> None:
        self.port, self.secret, self.status = port, secret, status
        self.received: list[dict] = []
        self.server: ThreadingHTTPServer | None = None

    def verify(self, headers: Mapping[str, str] | Message, body: bytes) -> bool:
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
            def do_POST(self) -> None:
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

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class TcpProxy:
    """A TCP forwarder on a free loopback port that can be cut and restored: a database outage.

    ``stop`` closes the listener and every open connection, so clients see the server vanish;
    ``start`` listens again on the same port.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self.listener is not None:
            # shutdown wakes the thread blocked in accept(), which close() alone would not.
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
            self.listener = None
        with self.lock:
            connections, self.connections = self.connections, []
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()


def institution_key(database_url: str, pic: str, name: str = "Demo University") -> str:
    """Migrate the database at ``database_url``, add the institution ``pic``: a key of it."""
    migrate.upgrade(database_url)
    database = Database(database_url)
    try:
        with database.session() as session:
            organisation = organisations.create_organisation(
                session, organisations.OrganisationInput(identifier=pic, name=name)
            )
            return credentials.create_api_key(session, organisation).secret
    finally:
        database.engine.dispose()
