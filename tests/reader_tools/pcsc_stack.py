"""The real PC/SC stack of the card tests: pcscd with vpcd's virtual reader, and a simulated card.

pcscd is started for the test session (``pcscd --foreground``) unless one runs already, and
stopped at the end. vpcd lets one program at a time be the card in its reader (it listens on
127.0.0.1:35963), so every card test takes a machine-wide lock first (through ``pcsc_stack``): two
test sessions on one machine never drive the virtual reader at once. The fixtures are a plugin of
the whole suite (``pytest_plugins`` in tests/conftest.py), so that the card tests here and the
end-to-end ones in tests/e2e share the one session-wide stack and its lock. Where the stack cannot
run, the card tests skip, saying what to install; with ``ESCR_TEST_REQUIRE_PCSC`` set (``.ci/run``
sets it) they fail instead, so CI never counts them as passing without running them.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reader_tools.simulator.card import SimulatedCard
from reader_tools.simulator.state import CardState

VPCD_READER = "Virtual PCD 00 00"
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
LOCK_FILE = Path(tempfile.gettempdir()) / "escrouter-pcsc-tests.lock"
INSTALL = (
    "the card tests need Debian's pcscd and vsmartcard-vpcd, and pyscard (the reader extra, "
    "built against swig and libpcsclite-dev): run scripts/pcsc-stack as root, then scripts/setup "
    "with ESCR_SETUP_EXTRAS=test,reader"
)


def _unavailable(reason: str) -> None:
    """Skip the card tests, or fail them where they are required to run (CI)."""
    if os.environ.get("ESCR_TEST_REQUIRE_PCSC", "").strip():
        pytest.fail(f"ESCR_TEST_REQUIRE_PCSC is set and {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass
class PcscStack:
    """The running stack: the virtual reader's name and pcscd's log."""

    reader: str
    log: Path


def _virtual_reader_listed() -> bool:
    from reader_tools.pcsc import PcscUnavailable, list_readers

    try:
        return any(r.name == VPCD_READER for r in list_readers())
    except PcscUnavailable:
        return False


def _pcscd() -> str | None:
    return shutil.which("pcscd") or next(
        (p for p in ("/usr/sbin/pcscd", "/sbin/pcscd") if Path(p).exists()), None
    )


@pytest.fixture(scope="session")
def pcsc_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PcscStack]:
    """pcscd with vpcd's reader, for the whole session, under the machine-wide card-test lock."""
    if importlib.util.find_spec("smartcard") is None:
        _unavailable(f"pyscard is not installed: {INSTALL}")
    daemon = _pcscd()
    if daemon is None or not VPCD_DRIVER.exists():
        _unavailable(f"pcscd or vpcd is missing: {INSTALL}")
    log = tmp_path_factory.mktemp("pcscd") / "pcscd.log"
    with LOCK_FILE.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        started: subprocess.Popen[bytes] | None = None
        if not _virtual_reader_listed():
            with log.open("wb") as output:
                started = subprocess.Popen(
                    [daemon, "--foreground"], stdout=output, stderr=subprocess.STDOUT
                )
            deadline = time.monotonic() + 10
            while not _virtual_reader_listed():
                if started.poll() is not None or time.monotonic() > deadline:
                    started.kill()
                    started.wait()
                    _unavailable(
                        f"pcscd could not start with vpcd's reader ({log.read_text()[-300:]!r}): "
                        f"{INSTALL}; pcscd needs root to create /run/pcscd"
                    )
                time.sleep(0.1)
        try:
            yield PcscStack(reader=VPCD_READER, log=log)
        finally:
            _stop_card_monitor()
            if started is not None:
                started.terminate()
                try:
                    started.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    started.kill()
                    started.wait()


def _stop_card_monitor() -> None:
    """End pyscard's card monitoring thread, if a test started one, before pcscd goes away.

    The thread waits in SCardGetStatusChange; a card event wakes it up to see its stop flag, so
    it ends quietly instead of failing loudly when the daemon disappears under it.
    """
    from smartcard.CardMonitoring import CardMonitoringThread

    from reader_tools.simulator.vpcd import VirtualCard

    thread = CardMonitoringThread.instance
    if thread is None or not thread.is_alive():
        return
    thread.stop()
    virtual = VirtualCard(SimulatedCard(CardState.blank()))
    virtual.insert()
    thread.join(timeout=5)
    virtual.remove()
    if thread.cardrequest is not None:  # its PC/SC context, released while pcscd still runs
        thread.cardrequest.pcsccardrequest.release()


def wait_for_presence(reader_name: str, present: bool, timeout: float = 10) -> None:
    """Wait until pcscd sees the card in (or out of) ``reader_name``."""
    from reader_tools.pcsc import list_readers

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {r.name: r for r in list_readers()}
        reader = states.get(reader_name)
        if reader and reader.card_present == present and (reader.atr is not None) == present:
            return
        time.sleep(0.05)
    raise AssertionError(f"pcscd did not see the card {'in' if present else 'out of'} the reader")


class CardSlot:
    """Put simulated cards into the virtual reader and take them out."""

    def __init__(self, stack: PcscStack) -> None:
        from reader_tools.simulator.vpcd import VirtualCard

        self.stack = stack
        self.virtual = VirtualCard(SimulatedCard(CardState.blank()))

    @property
    def card(self) -> SimulatedCard:
        return self.virtual.card

    def insert(self, state: CardState | None = None, *, wait: bool = True) -> SimulatedCard:
        """Insert a card (a new blank one unless ``state`` is given)."""
        self.remove()
        self.virtual.card = SimulatedCard(state or CardState.blank())
        self.virtual.insert()
        if wait:
            wait_for_presence(self.stack.reader, True)
        return self.virtual.card

    def remove(self, *, wait: bool = True) -> None:
        """Take the card out of the reader."""
        if self.virtual.inserted:
            self.virtual.remove()
            if wait:
                wait_for_presence(self.stack.reader, False)


@pytest.fixture
def card_slot(pcsc_stack: PcscStack) -> Iterator[CardSlot]:
    """The virtual reader, empty at the start and at the end of the test."""
    slot = CardSlot(pcsc_stack)
    try:
        yield slot
    finally:
        with contextlib.suppress(AssertionError):
            slot.remove()
