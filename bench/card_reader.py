"""Timings of the card side: APDUs, chip data zone reads and offline checks, through pcscd.

Run as root (pcscd needs /run/pcscd): ``.venv/bin/python bench/card_reader.py [N]``. It starts
pcscd with vpcd's virtual reader unless one runs, puts the simulated card in it, and compares each
figure with its ceiling measured in the same run: the same work on the simulated card directly,
without PC/SC, so the ratio is the cost of the real stack. Ends with one summary line.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from reader_tools import cdz, pcsc
from reader_tools.desfire.commands import Desfire
from reader_tools.offline import PIC_PREFIX, verify_offline
from reader_tools.simulator.card import SimulatedCard
from reader_tools.simulator.state import CardState
from reader_tools.simulator.vpcd import VirtualCard

READER = "Virtual PCD 00 00"
# The card tests' lock: vpcd's reader holds one card, so never bench while they run.
LOCK_FILE = Path(tempfile.gettempdir()) / "escrouter-pcsc-tests.lock"
ESCN = "5b0f3a4e-7c2d-11ef-8b1e-001999999999"


def _median_ms(count: int, call: Callable[[], object]) -> float:
    durations = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations) * 1000


def _certificates() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, x509.Certificate]:
    now = dt.datetime.now(dt.UTC)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench root")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=9))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    subject = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"{PIC_PREFIX}999999999")]
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=9))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    return root, key, leaf


def _pcscd() -> subprocess.Popen[bytes] | None:
    if any(r.name == READER for r in _readers()):
        return None
    daemon = shutil.which("pcscd") or "/usr/sbin/pcscd"
    process = subprocess.Popen(
        [daemon, "--foreground"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while not any(r.name == READER for r in _readers()):
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit("pcscd with vpcd's reader could not start: run scripts/pcsc-stack as root")
        time.sleep(0.1)
    return process


def _readers() -> list[pcsc.ReaderInfo]:
    try:
        return pcsc.list_readers()
    except pcsc.PcscUnavailable:
        return []


def main() -> None:
    """Measure, print the figures with their ratios, and one summary line."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    root, key, leaf = _certificates()

    state = CardState.blank(bytes.fromhex("04BE0C4A9D0001"))
    direct = SimulatedCard(state)
    cdz.write_chip_data(
        Desfire(direct),
        picc_master_key=bytes(16),
        escn=ESCN,
        signing_key=key,
        certificate=leaf.public_bytes(serialization.Encoding.DER),
        base_keys=cdz.CdzBaseKeys.generate(),
    )
    lock = LOCK_FILE.open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    daemon = _pcscd()
    virtual = VirtualCard(SimulatedCard(state))
    try:
        virtual.insert()
        deadline = time.monotonic() + 10
        while not any(r.name == READER and r.atr for r in _readers()):
            if time.monotonic() > deadline:
                sys.exit("the simulated card did not appear in the virtual reader")
            time.sleep(0.05)
        with pcsc.connect(READER) as transport:
            rows = [
                (
                    "GetVersion (3 frames)",
                    lambda: Desfire(transport).get_version(),
                    lambda: Desfire(direct).get_version(),
                ),
                (
                    "read chip data zone (ISO)",
                    lambda: cdz.read_chip_data(transport),
                    lambda: cdz.read_chip_data(direct),
                ),
            ]
            figures = []
            for label, through_pcscd, on_card in rows:
                measured, ceiling = _median_ms(count, through_pcscd), _median_ms(count, on_card)
                figures.append((label, measured, ceiling))
            chip = cdz.read_chip_data(transport)
    finally:
        virtual.remove()
        if daemon is not None:
            daemon.terminate()
            daemon.wait(timeout=10)
        lock.close()
    if not verify_offline(chip, roots=[root], chain=[], crls=[]).valid:
        sys.exit("the benchmark's chip data does not verify: nothing to time")
    signed = cdz.signed_message(chip.escn, chip.uid)
    offline = _median_ms(count, lambda: verify_offline(chip, roots=[root], chain=[], crls=[]))
    raw = _median_ms(
        count, lambda: key.public_key().verify(chip.signature, signed, ec.ECDSA(hashes.SHA256()))
    )
    figures.append(("offline verification", offline, raw))
    for label, measured, ceiling in figures:
        print(
            f"{label:<28} median {measured:8.3f} ms   ceiling {ceiling:8.3f} ms   "
            f"ratio {measured / ceiling:6.1f}x"
        )
    read = next(f for f in figures if f[0].startswith("read"))
    print(
        f"summary: chip data zone read {read[1]:.1f} ms through pcscd ({read[1] / read[2]:.0f}x "
        f"the card alone), offline check {offline:.2f} ms ({offline / raw:.1f}x one ECDSA verify)"
    )


if __name__ == "__main__":
    main()
