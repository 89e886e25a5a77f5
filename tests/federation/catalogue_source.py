"""A catalogue source on a loopback port: serves one document with ETag and Last-Modified."""

from __future__ import annotations

import email.utils
import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.live_server import free_port


class CatalogueSource:
    """A static file server for one signed catalogue, honouring If-None-Match."""

    def __init__(self) -> None:
        self.port = free_port()
        self.document: bytes | None = None
        self.modified = time.time()
        self.answers: list[int] = []
        self.conditional: list[str | None] = []
        self.since: list[str | None] = []
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/catalogue.json"

    def publish(self, document: bytes) -> None:
        self.document = document
        self.modified = time.time()

    def start(self) -> CatalogueSource:
        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                source.conditional.append(self.headers.get("If-None-Match"))
                source.since.append(self.headers.get("If-Modified-Since"))
                # Each answer is recorded before it is sent: the client may look right after.
                if source.document is None:
                    source.answers.append(404)
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = '"' + hashlib.sha256(source.document).hexdigest() + '"'
                if self.headers.get("If-None-Match") == etag:
                    source.answers.append(304)
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                source.answers.append(200)
                self.send_response(200)
                self.send_header("Content-Type", "application/jose+json")
                self.send_header("ETag", etag)
                modified = email.utils.formatdate(source.modified, usegmt=True)
                self.send_header("Last-Modified", modified)
                self.send_header("Content-Length", str(len(source.document)))
                self.end_headers()
                self.wfile.write(source.document)

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
            self.server = None
