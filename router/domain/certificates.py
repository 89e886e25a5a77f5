"""Chip data zone certificates: reading a chain, the PIC a certificate names, its links.

An institution's chain is its certificate (the one its cards carry), then the certificates of the
authorities above it, in PEM. The PIC travels in the certificate's subject as
``organizationIdentifier`` (OID 2.5.4.97) with the value ``PIC:<nine digits>``; the card-side
verifier (``reader_tools.offline``) reads the same form.
"""

from __future__ import annotations

import datetime as dt
import itertools

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from router.domain.errors import CertificateWithoutPic, InvalidCertificateChain

PIC_PREFIX = "PIC:"
MAX_CHAIN_LENGTH = 5
MAX_CHAIN_BYTES = 64 * 1024


def pic_attribute(pic: str) -> x509.NameAttribute:
    """The subject attribute that names ``pic`` in a certificate."""
    return x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"{PIC_PREFIX}{pic}")


def pic_of_certificate(certificate: x509.Certificate) -> str | None:
    """The PIC a certificate names, if it names one."""
    for attribute in certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER):
        value = str(attribute.value)
        if value.startswith(PIC_PREFIX) and value[4:].isdigit() and len(value) == 13:
            return value[4:]
    return None


def parse_chain(pem: str) -> list[x509.Certificate]:
    """The certificates of a PEM chain, leaf first; :class:`InvalidCertificateChain` otherwise."""
    if len(pem.encode("utf-8", "replace")) > MAX_CHAIN_BYTES:
        raise InvalidCertificateChain(f"A chain is at most {MAX_CHAIN_BYTES} bytes of PEM.")
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise InvalidCertificateChain(f"The chain is not PEM certificates: {error}") from error
    if not 1 <= len(certificates) <= MAX_CHAIN_LENGTH:
        raise InvalidCertificateChain(f"A chain holds 1 to {MAX_CHAIN_LENGTH} certificates.")
    return certificates


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):  # another issuer's name, key or signature
        return False
    return True


def check_chain(certificates: list[x509.Certificate], now: dt.datetime) -> str:
    """Check a chain's form and links; the PIC its first certificate names.

    Each certificate must be issued by the next one and valid now, the first must carry an
    elliptic-curve key (cards are signed with ECDSA P-256) and name a PIC.
    """
    leaf = certificates[0]
    if not isinstance(leaf.public_key(), ec.EllipticCurvePublicKey):
        raise InvalidCertificateChain("The institution's certificate must carry an ECDSA key.")
    for certificate in certificates:
        if not isinstance(
            certificate.public_key(),
            ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey,
        ):
            raise InvalidCertificateChain("A certificate of the chain has an unsupported key.")
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise InvalidCertificateChain(
                f"The certificate {certificate.subject.rfc4514_string()} is not valid now."
            )
    for certificate, issuer in itertools.pairwise(certificates):
        if not _issued_by(certificate, issuer):
            raise InvalidCertificateChain(
                f"{certificate.subject.rfc4514_string()} is not issued by the next certificate "
                f"({issuer.subject.rfc4514_string()}): give the chain leaf first."
            )
    pic = pic_of_certificate(leaf)
    if pic is None:
        raise CertificateWithoutPic(
            "The institution's certificate must name its PIC: subject organizationIdentifier "
            "'PIC:<nine digits>'."
        )
    return pic
