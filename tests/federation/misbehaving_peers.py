"""Peers that break the federation's rules on purpose, on loopback ports, for end-to-end tests."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from router.federation.http_signatures import SignableRequest, SignableResponse, sign_response
from router.federation.keys import public_key_of
from tests.live_server import free_port


class WrongKeyPeer:
    """Answers every request correctly, signed and bound to it, but with a key of its own choice:
    not the one the catalogue gives the router it claims to be."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.key = key
        self.port = free_port()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WrongKeyPeer:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                escn = self.path.rsplit("/", 1)[-1]
                body = json.dumps({"cardNumber": escn, "status": "ACTIVE"}).encode()
                request = SignableRequest("GET", peer.url + self.path, dict(self.headers.items()))
                response = SignableResponse(
                    200,
                    {"Content-Type": "application/json",
                     "X-Request-Id": self.headers.get("X-Request-Id", "")},
                    request,
                )
                sign_response(response, body, key=peer.key,
                              kid=public_key_of(peer.key.public_key()).kid,
                              now=dt.datetime.now(dt.UTC))
                self.send_response(200)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class SilentPeer:
    """Accepts connections and never answers: the slow peer a timeout must cut short."""

    def __init__(self) -> None:
        self.port = free_port()
        self.listener = socket.socket()
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SilentPeer:
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        self.listener.settimeout(0.1)

        def accept() -> None:
            while not self.stopped.is_set():
                try:
                    connection, _ = self.listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                self.held.append(connection)

        threading.Thread(target=accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        for connection in self.held:
            connection.close()
        self.listener.close()
