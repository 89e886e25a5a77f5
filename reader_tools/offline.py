"""Offline verification of a chip data zone: signature, certificate chain, PIC, revocation.

A card is genuine when the signature over ESCN || UID verifies with the certificate it carries,
that certificate chains up to a root the verifier pinned (never one the router served), it names
the PIC of the ESCN, and no revocation list of the chain's issuers lists it. Chip data copied onto
another card fails (its UID differs), and so does a foreign or revoked certificate.

The PIC travels in the certificate's subject as ``organizationIdentifier`` (OID 2.5.4.97) with
the value ``PIC:<nine digits>``: the form the router's certificate authority (``escr-admin ca``)
writes, and the one place this module reads it.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from reader_tools.cdz import ChipData, pic_of_escn, signed_message

PIC_PREFIX = "PIC:"


class Reason(enum.StrEnum):
    """Why a chip data zone is not genuine."""

    NOT_AN_ESCN = "NOT_AN_ESCN"
    SCAN_MISMATCH = "SCAN_MISMATCH"
    UNREADABLE_CERTIFICATE = "UNREADABLE_CERTIFICATE"
    PIC_MISMATCH = "PIC_MISMATCH"
    SIGNATURE_MISMATCH = "SIGNATURE_MISMATCH"
    UNTRUSTED_CHAIN = "UNTRUSTED_CHAIN"
    REVOKED = "REVOKED"


@dataclass(frozen=True)
class OfflineVerdict:
    """The outcome of an offline verification and what it was based on."""

    valid: bool
    reason: Reason | None
    message: str
    escn: str
    uid: bytes
    pic: str | None
    certificate_subject: str | None
    certificate_serial: str | None
    revocation_checked: bool
    checked_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "valid": self.valid,
            "reason": self.reason.value if self.reason else None,
            "message": self.message,
            "cardNumber": self.escn,
            "uid": self.uid.hex().upper(),
            "pic": self.pic,
            "certificateSubject": self.certificate_subject,
            "certificateSerial": self.certificate_serial,
            "revocationChecked": self.revocation_checked,
            "checkedAt": self.checked_at.isoformat(),
        }


def pic_of_certificate(certificate: x509.Certificate) -> str | None:
    """The PIC a certificate names (``organizationIdentifier = PIC:<9 digits>``), if any."""
    for attribute in certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER):
        value = str(attribute.value)
        if value.startswith(PIC_PREFIX) and value[4:].isdigit() and len(value) == 13:
            return value[4:]
    return None


def _validated_chain(
    leaf: x509.Certificate,
    roots: list[x509.Certificate],
    intermediates: list[x509.Certificate],
    now: dt.datetime,
) -> list[x509.Certificate]:
    # The web PKI's rules for the CAs (basic constraints, key usage with keyCertSign); the end
    # certificate signs card data, not TLS, so its extensions are not held to a TLS profile.
    verifier = (
        PolicyBuilder()
        .store(Store(roots))
        .time(now)
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all()
        )
        .build_client_verifier()
    )
    return list(verifier.verify(leaf, intermediates).chain)


def _revocation(
    chain: list[x509.Certificate], crls: list[x509.CertificateRevocationList], now: dt.datetime
) -> tuple[bool, bool]:
    """(revoked, every certificate checked against a current list of its issuer)."""
    checked = True
    for certificate, issuer in itertools.pairwise(chain):
        lists = [
            crl
            for crl in crls
            if crl.issuer == issuer.subject and crl.is_signature_valid(issuer.public_key())
        ]
        if any(
            crl.get_revoked_certificate_by_serial_number(certificate.serial_number) for crl in lists
        ):
            return True, True
        current = [crl for crl in lists if crl.next_update_utc is None or crl.next_update_utc > now]
        checked = checked and bool(current)
    return False, checked


def verify_offline(
    chip: ChipData,
    *,
    roots: list[x509.Certificate],
    chain: list[x509.Certificate],
    crls: list[x509.CertificateRevocationList],
    scanned_escn: str | None = None,
    now: dt.datetime | None = None,
) -> OfflineVerdict:
    """Judge a chip data zone with pinned ``roots``, the issuer's cached ``chain`` and ``crls``."""
    now = now or dt.datetime.now(dt.UTC)
    pic = pic_of_escn(chip.escn)

    def verdict(
        reason: Reason | None,
        message: str,
        certificate: x509.Certificate | None = None,
        revocation_checked: bool = False,
    ) -> OfflineVerdict:
        return OfflineVerdict(
            valid=reason is None,
            reason=reason,
            message=message,
            escn=chip.escn,
            uid=chip.uid,
            pic=pic,
            certificate_subject=certificate.subject.rfc4514_string() if certificate else None,
            certificate_serial=f"{certificate.serial_number:X}" if certificate else None,
            revocation_checked=revocation_checked,
            checked_at=now,
        )

    if pic is None:
        return verdict(Reason.NOT_AN_ESCN, f"{chip.escn} is not a European Student Card Number")
    if scanned_escn is not None and scanned_escn.lower() != chip.escn:
        return verdict(Reason.SCAN_MISMATCH, "the printed code names another card than the chip")
    try:
        certificate = x509.load_der_x509_certificate(chip.certificate)
    except ValueError:
        return verdict(Reason.UNREADABLE_CERTIFICATE, "the chip's certificate cannot be read")
    public_key = certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        return verdict(
            Reason.UNREADABLE_CERTIFICATE, "the certificate's key is not ECDSA", certificate
        )
    if pic_of_certificate(certificate) != pic:
        return verdict(
            Reason.PIC_MISMATCH,
            f"the certificate is not that of the card's issuer (PIC {pic})",
            certificate,
        )
    try:
        public_key.verify(
            chip.signature, signed_message(chip.escn, chip.uid), ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        return verdict(
            Reason.SIGNATURE_MISMATCH,
            "the signature does not cover this card's number and UID: copied or altered chip data",
            certificate,
        )
    if not roots:
        return verdict(Reason.UNTRUSTED_CHAIN, "no root is pinned: nothing to trust", certificate)
    try:
        validated = _validated_chain(certificate, roots, chain, now)
    except VerificationError as error:
        return verdict(
            Reason.UNTRUSTED_CHAIN,
            f"the certificate does not chain up to a pinned root: {error}",
            certificate,
        )
    revoked, checked = _revocation(validated, crls, now)
    if revoked:
        return verdict(Reason.REVOKED, "the issuer's certificate is revoked", certificate, True)
    return verdict(None, "genuine chip data of the issuer", certificate, checked)
