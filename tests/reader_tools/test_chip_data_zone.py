"""The chip data zone written by the issuer and judged offline, on the simulated card directly.

The same flows run through pcscd with the escr-reader commands in ``test_pcsc_chip_data.py``;
here every verdict is checked quickly, with certificates made independently in ``tests.pki``.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from reader_tools import cdz
from reader_tools.desfire import crypto
from reader_tools.desfire.commands import Desfire, DesfireError
from reader_tools.offline import Reason, verify_offline
from reader_tools.simulator.card import SimulatedCard
from reader_tools.simulator.state import CardState
from tests.pki import NOW, Issued, make_institution, make_root, revocation_list

h = bytes.fromhex
UID = h("04AABBCCDDEEFF")
PIC = "999999999"
ESCN = "0e3d1a9c-7b21-11ef-9a2b-001999999999"


@pytest.fixture(scope="module")
def root() -> Issued:
    return make_root()


@pytest.fixture(scope="module")
def issuer(root: Issued) -> Issued:
    return make_institution(root, PIC, name="Demo University")


@pytest.fixture
def base_keys() -> cdz.CdzBaseKeys:
    return cdz.CdzBaseKeys.generate()


@pytest.fixture
def written(issuer: Issued, base_keys: cdz.CdzBaseKeys) -> tuple[SimulatedCard, cdz.ChipData]:
    card = SimulatedCard(CardState.blank(UID))
    chip = cdz.write_chip_data(
        Desfire(card),
        picc_master_key=bytes(16),
        escn=ESCN,
        signing_key=issuer.key,
        certificate=issuer.der,
        base_keys=base_keys,
    )
    return card, chip


def test_the_written_zone_has_the_reference_layout(
    written: tuple[SimulatedCard, cdz.ChipData], base_keys: cdz.CdzBaseKeys
) -> None:
    card, chip = written
    application = card.state.applications[cdz.CDZ_AID]
    assert (application.iso_file_id, application.iso_df_name) == (0x1000, cdz.CDZ_DF_NAME)
    assert {n: (f.iso_file_id, f.access_rights, f.size) for n, f in application.files.items()} == {
        0: (0x1001, 0xE000, 16),
        1: (0x1002, 0xE000, len(chip.signature)),
        2: (0x1003, 0xE000, len(chip.certificate)),
    }
    key_0, key_1, key_2 = base_keys.card_keys(ESCN, UID)
    assert [k.value for k in application.keys] == [key_0, key_1, key_2]
    assert key_1 == crypto.diversify_aes128(base_keys.key_1, cdz.escn_bytes(ESCN))
    assert key_2 == crypto.diversify_aes128(base_keys.key_2, UID)
    assert cdz.read_chip_data(card) == chip


def test_a_genuine_zone_verifies_offline(
    written: tuple[SimulatedCard, cdz.ChipData], root: Issued
) -> None:
    _, chip = written
    verdict = verify_offline(chip, roots=[root.certificate], chain=[], crls=[])
    assert verdict.valid and verdict.reason is None and verdict.pic == PIC
    assert not verdict.revocation_checked
    checked = verify_offline(chip, roots=[root.certificate], chain=[], crls=[revocation_list(root)])
    assert checked.valid and checked.revocation_checked


def test_chip_data_copied_onto_another_card_fails(
    written: tuple[SimulatedCard, cdz.ChipData], root: Issued
) -> None:
    card, _ = written
    clone_state = copy.deepcopy(card.state)
    clone_state.uid = h("04111111111111")
    copied = cdz.read_chip_data(SimulatedCard(clone_state))
    verdict = verify_offline(copied, roots=[root.certificate], chain=[], crls=[])
    assert verdict.reason is Reason.SIGNATURE_MISMATCH and not verdict.valid


def test_a_certificate_under_another_root_fails(
    written: tuple[SimulatedCard, cdz.ChipData]
) -> None:
    _, chip = written
    verdict = verify_offline(
        chip, roots=[make_root("Another federation").certificate], chain=[], crls=[]
    )
    assert verdict.reason is Reason.UNTRUSTED_CHAIN


def test_a_chain_the_router_served_is_never_a_root(
    written: tuple[SimulatedCard, cdz.ChipData], issuer: Issued
) -> None:
    _, chip = written
    verdict = verify_offline(chip, roots=[], chain=[issuer.certificate], crls=[])
    assert verdict.reason is Reason.UNTRUSTED_CHAIN


def test_a_revoked_certificate_fails(
    written: tuple[SimulatedCard, cdz.ChipData], root: Issued, issuer: Issued
) -> None:
    _, chip = written
    crl = revocation_list(root, issuer.certificate.serial_number)
    verdict = verify_offline(chip, roots=[root.certificate], chain=[], crls=[crl])
    assert verdict.reason is Reason.REVOKED
    forged = revocation_list(make_root("Test federation root"), 7)  # same name, other key
    still = verify_offline(chip, roots=[root.certificate], chain=[], crls=[forged])
    assert still.valid and not still.revocation_checked


def test_a_foreign_certificate_fails(root: Issued) -> None:
    foreign = make_institution(root, "888888888", name="Other University")
    card = SimulatedCard(CardState.blank(UID))
    chip = cdz.write_chip_data(
        Desfire(card),
        picc_master_key=bytes(16),
        escn=ESCN,
        signing_key=foreign.key,
        certificate=foreign.der,
        base_keys=cdz.CdzBaseKeys.generate(),
    )
    verdict = verify_offline(chip, roots=[root.certificate], chain=[], crls=[])
    assert verdict.reason is Reason.PIC_MISMATCH


def test_an_expired_certificate_fails(root: Issued) -> None:
    expiring = make_institution(root, PIC, not_after=NOW + dt.timedelta(days=1))
    card = SimulatedCard(CardState.blank(UID))
    chip = cdz.write_chip_data(
        Desfire(card),
        picc_master_key=bytes(16),
        escn=ESCN,
        signing_key=expiring.key,
        certificate=expiring.der,
        base_keys=cdz.CdzBaseKeys.generate(),
    )
    later = NOW + dt.timedelta(days=30)
    verdict = verify_offline(chip, roots=[root.certificate], chain=[], crls=[], now=later)
    assert verdict.reason is Reason.UNTRUSTED_CHAIN


def test_a_scanned_code_must_name_the_chip_s_card(
    written: tuple[SimulatedCard, cdz.ChipData], root: Issued
) -> None:
    _, chip = written
    same = verify_offline(
        chip, roots=[root.certificate], chain=[], crls=[], scanned_escn=ESCN.upper()
    )
    assert same.valid
    other = verify_offline(
        chip,
        roots=[root.certificate],
        chain=[],
        crls=[],
        scanned_escn="0e3d1a9c-7b21-11ef-9a2b-001888888888",
    )
    assert other.reason is Reason.SCAN_MISMATCH


def test_unreadable_data_is_refused(
    written: tuple[SimulatedCard, cdz.ChipData], root: Issued
) -> None:
    _, chip = written
    garbage = cdz.ChipData(
        uid=chip.uid, escn=chip.escn, signature=chip.signature, certificate=b"\x30\x03junk"
    )
    assert verify_offline(garbage, roots=[root.certificate], chain=[], crls=[]).reason is (
        Reason.UNREADABLE_CERTIFICATE
    )
    not_escn = cdz.ChipData(
        uid=chip.uid,
        escn="0e3d1a9c-7b21-41ef-9a2b-001999999999",
        signature=chip.signature,
        certificate=chip.certificate,
    )
    assert verify_offline(not_escn, roots=[root.certificate], chain=[], crls=[]).reason is (
        Reason.NOT_AN_ESCN
    )


def test_the_issuer_proves_the_keys_and_a_clone_cannot(
    written: tuple[SimulatedCard, cdz.ChipData], base_keys: cdz.CdzBaseKeys
) -> None:
    card, chip = written
    cdz.prove_keys(Desfire(card), base_keys, chip)
    with pytest.raises(DesfireError):
        cdz.prove_keys(Desfire(card), cdz.CdzBaseKeys.generate(), chip)


def test_a_zone_is_written_once(
    written: tuple[SimulatedCard, cdz.ChipData], issuer: Issued, base_keys: cdz.CdzBaseKeys
) -> None:
    card, _ = written
    with pytest.raises(DesfireError) as refused:
        cdz.write_chip_data(
            Desfire(card),
            picc_master_key=bytes(16),
            escn=ESCN,
            signing_key=issuer.key,
            certificate=issuer.der,
            base_keys=base_keys,
        )
    assert refused.value.status == 0xDE


def test_a_card_without_the_zone_says_so() -> None:
    with pytest.raises(cdz.NoChipDataZone, match="no chip data zone"):
        cdz.read_chip_data(SimulatedCard(CardState.blank(UID)))


def test_signatures_need_a_p256_key() -> None:
    with pytest.raises(ValueError):
        cdz.sign_chip_data(ec.generate_private_key(ec.SECP384R1()), ESCN, UID)


@pytest.mark.parametrize(
    ("escn", "pic"),
    [
        (ESCN, PIC),
        ("0E3D1A9C-7B21-11EF-9A2B-001999999999", PIC),
        ("0e3d1a9c-7b21-41ef-9a2b-001999999999", None),  # version 4
        ("0e3d1a9c-7b21-11ef-9a2b-0019999999ab", None),  # node not decimal
        ("not-a-uuid", None),
    ],
)
def test_the_pic_of_an_escn(escn: str, pic: str | None) -> None:
    assert cdz.pic_of_escn(escn) == pic
