"""Put a simulated card into vsmartcard's virtual PC/SC reader (vpcd, a pcscd driver).

vpcd listens on a TCP port (35963 for its first reader, "Virtual PCD 00 00"); whatever connects
there is the card in that reader, and disconnecting takes the card out. Each message, both ways, is
a 2-byte big-endian length and a payload: a 1-byte payload from vpcd is a control (0 power off,
1 power on, 2 reset, 4 send the ATR), anything longer a command APDU, answered with the response
APDU framed the same way. A 1-byte native DESFire frame therefore cannot cross vpcd: readers use
the ISO 7816-4 wrapping, which every DESFire command supports.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable

from reader_tools.simulator.card import SimulatedCard

VPCD_HOST = "127.0.0.1"
VPCD_PORT = 35963
POWER_OFF, POWER_ON, RESET, GET_ATR = 0, 1, 2, 4


class VpcdUnavailable(ConnectionError):
    """Nothing listens on vpcd's port: pcscd is not running with the vpcd driver."""


class VirtualCard:
    """A simulated card in vpcd's reader: :meth:`insert` it, :meth:`remove` it.

    The card answers in a background thread. ``on_exchange`` is called after every APDU (the
    ``simulate`` command saves the card's state there).
    """

    def __init__(
        self,
        card: SimulatedCard,
        *,
        host: str = VPCD_HOST,
        port: int = VPCD_PORT,
        on_exchange: Callable[[SimulatedCard], None] | None = None,
    ) -> None:
        self.card = card
        self.host, self.port = host, port
        self.on_exchange = on_exchange
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.lock = threading.Lock()

    @property
    def inserted(self) -> bool:
        """Whether the card is in the reader (connected to vpcd)."""
        return self._thread is not None and self._thread.is_alive()

    def insert(self, *, timeout: float = 10.0) -> None:
        """Connect to vpcd (retrying until ``timeout``): the reader now holds the card."""
        if self.inserted:
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                connection = socket.create_connection((self.host, self.port), timeout=2)
                break
            except OSError as error:
                if time.monotonic() > deadline:
                    raise VpcdUnavailable(
                        f"nothing listens on {self.host}:{self.port}: start pcscd with the vpcd "
                        "driver (Debian: apt-get install pcscd vsmartcard-vpcd)"
                    ) from error
                time.sleep(0.1)
        connection.settimeout(None)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket = connection
        self.card.reset()
        self._thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
        self._thread.start()

    def remove(self) -> None:
        """Disconnect from vpcd: the reader is empty again."""
        connection, self._socket = self._socket, None
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """Insert the card and answer until vpcd goes away (the ``simulate`` command)."""
        self.insert()
        assert self._thread is not None
        self._thread.join()

    def _serve(self, connection: socket.socket) -> None:
        try:
            while True:
                message = _receive(connection)
                if message is None:
                    return
                answer = self._answer(message)
                if answer is not None:
                    connection.sendall(struct.pack(">H", len(answer)) + answer)
        except OSError:
            return

    def _answer(self, message: bytes) -> bytes | None:
        with self.lock:
            if len(message) == 1:
                if message[0] == GET_ATR:
                    return self.card.atr
                if message[0] in (POWER_OFF, POWER_ON, RESET):
                    self.card.reset()
                return None
            answer = self.card.transmit(message)
            if self.on_exchange is not None:
                self.on_exchange(self.card)
            return answer


def _receive(connection: socket.socket) -> bytes | None:
    header = _exactly(connection, 2)
    if header is None:
        return None
    (length,) = struct.unpack(">H", header)
    return _exactly(connection, length)


# vpcd writes a message's length and payload separately; with Nagle on its side and delayed
# acknowledgements on ours, every APDU would wait ~40 ms. Acknowledging at once (Linux) avoids it.
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


def _exactly(connection: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            return None
        if _QUICKACK is not None:
            connection.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        data += chunk
    return data
