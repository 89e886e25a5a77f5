"""PC/SC through pyscard: readers, cards coming and going, connections. The one pyscard module.

pyscard is the ``reader`` extra; without it, or without a running pcscd, the functions here raise
:class:`PcscUnavailable` saying what is missing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

INSTALL_HINT = (
    "install the reader extra (pip install 'escrouter[reader]', which needs Debian's swig and "
    "libpcsclite-dev) and run pcscd (Debian: apt-get install pcscd)"
)


class PcscUnavailable(Exception):
    """pyscard is not installed, or no PC/SC daemon answers."""


class NoSuchReader(Exception):
    """No reader matches the name asked for, or no card is in it."""


class CardGone(Exception):
    """The card stopped answering: taken out of the reader (or reset) during a command."""


@dataclass(frozen=True)
class ReaderInfo:
    """A PC/SC reader, whether pcscd sees a card in it, and the card's ATR if it answers."""

    name: str
    card_present: bool
    atr: bytes | None


def _system() -> Any:
    try:
        from smartcard import System
        from smartcard.Exceptions import SmartcardException
        from smartcard.pcsc.PCSCExceptions import BaseSCardException
    except ImportError as error:
        raise PcscUnavailable(f"pyscard is not installed: {INSTALL_HINT}") from error
    try:
        return System.readers()
    except (SmartcardException, BaseSCardException) as error:
        raise PcscUnavailable(f"no PC/SC daemon answers ({error}): {INSTALL_HINT}") from error


def _release(connection: Any) -> None:
    """Disconnect and release the PC/SC context now, not whenever the garbage collector runs."""
    from smartcard.Exceptions import CardConnectionException

    with contextlib.suppress(CardConnectionException):
        connection.disconnect()
    with contextlib.suppress(CardConnectionException):
        connection.release()


def _atr_of(reader: Any) -> bytes | None:
    from smartcard.Exceptions import CardConnectionException, NoCardException

    connection = reader.createConnection()
    try:
        connection.connect()
        return bytes(connection.getATR())
    except (NoCardException, CardConnectionException):
        return None
    finally:
        _release(connection)


def _presence() -> dict[str, bool]:
    """Whether each reader holds a card, as pcscd's reader states say (what monitors see)."""
    from smartcard import scard

    result, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if result != scard.SCARD_S_SUCCESS:
        raise PcscUnavailable(f"no PC/SC daemon answers: {INSTALL_HINT}")
    try:
        result, names = scard.SCardListReaders(context, [])
        if result != scard.SCARD_S_SUCCESS or not names:
            return {}
        result, states = scard.SCardGetStatusChange(
            context, 0, [(name, scard.SCARD_STATE_UNAWARE) for name in names]
        )
        if result != scard.SCARD_S_SUCCESS:
            return {}
        return {name: bool(event & scard.SCARD_STATE_PRESENT) for name, event, _atr in states}
    finally:
        scard.SCardReleaseContext(context)


def list_readers() -> list[ReaderInfo]:
    """Every reader pcscd knows, whether a card is in it, and that card's ATR."""
    readers = _system()
    presence = _presence()
    infos = []
    for reader in readers:
        name = str(reader)
        present = presence.get(name, False)
        infos.append(
            ReaderInfo(name=name, card_present=present, atr=_atr_of(reader) if present else None)
        )
    return infos


def find_reader(name: str | None = None) -> Any:
    """The reader whose name contains ``name``; by default the first one holding a card."""
    readers = _system()
    if not readers:
        raise NoSuchReader("pcscd knows no reader")
    if name is not None:
        for reader in readers:
            if name.lower() in str(reader).lower():
                return reader
        raise NoSuchReader(f"no reader named like {name!r}: {', '.join(map(str, readers))}")
    for reader in readers:
        if _atr_of(reader) is not None:
            return reader
    raise NoSuchReader("no card in any reader")


class PcscTransport:
    """A pyscard connection as a :class:`reader_tools.desfire.commands.Transport`."""

    def __init__(self, connection: Any, reader_name: str) -> None:
        self.connection = connection
        self.reader_name = reader_name

    @property
    def atr(self) -> bytes:
        """The card's answer to reset."""
        return bytes(self.connection.getATR())

    def transmit(self, apdu: bytes) -> bytes:
        """Send one APDU; the response with its status word."""
        from smartcard.Exceptions import CardConnectionException

        try:
            data, sw1, sw2 = self.connection.transmit(list(apdu))
        except CardConnectionException as error:
            raise CardGone(f"the card in {self.reader_name} stopped answering: {error}") from error
        return bytes(data) + bytes((sw1, sw2))


@contextmanager
def connect(reader_name: str | None = None) -> Iterator[PcscTransport]:
    """Connect to the card in a reader (see :func:`find_reader`) for the duration of a block."""
    from smartcard.Exceptions import CardConnectionException, NoCardException

    reader = find_reader(reader_name)
    connection = reader.createConnection()
    try:
        try:
            connection.connect()
        except (NoCardException, CardConnectionException) as error:
            raise NoSuchReader(f"no card in {reader}: {error}") from error
        yield PcscTransport(connection, str(reader))
    finally:
        _release(connection)


class CardWatcher:
    """Cards presented and taken away, as pyscard's card monitor reports them to its observer."""

    def __init__(self, reader_name: str | None = None) -> None:
        from smartcard.CardMonitoring import CardMonitor, CardObserver

        _system()
        self.reader_name = reader_name
        self._condition = threading.Condition()
        self._present: set[str] = set()
        watcher = self

        class _Observer(CardObserver):  # pyscard calls update() from its monitoring thread
            def update(self, observable: Any, handlers: Any) -> None:
                added, removed = handlers
                with watcher._condition:
                    for card in removed:
                        watcher._present.discard(str(card.reader))
                    for card in added:
                        watcher._present.add(str(card.reader))
                    watcher._condition.notify_all()

        self._observer = _Observer()
        self._monitor = CardMonitor()
        self._monitor.addObserver(self._observer)

    def close(self) -> None:
        """Stop being told about cards."""
        self._monitor.deleteObserver(self._observer)

    def __enter__(self) -> CardWatcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _matching(self) -> str | None:
        for reader in sorted(self._present):
            if self.reader_name is None or self.reader_name.lower() in reader.lower():
                return reader
        return None

    def wait_for_card(self, timeout: float | None = None) -> str | None:
        """The reader where a card is presented (or already is); None after ``timeout`` s."""
        with self._condition:
            if self._condition.wait_for(lambda: self._matching() is not None, timeout):
                return self._matching()
        return None

    def wait_for_removal(self, timeout: float | None = None) -> bool:
        """Whether the card was taken away within ``timeout`` seconds."""
        with self._condition:
            return self._condition.wait_for(lambda: self._matching() is None, timeout)
