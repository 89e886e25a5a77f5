"""The deployment's certificate authority for chip data zones, so a test deployment is complete.

``escr-admin ca`` keeps a P-256 root key and certificate in the instance folder (``ca/``, the key
readable by its owner only), issues each institution a certificate naming its PIC for the public
key it sends (a CSR, so the institution's private key never leaves it), and signs the revocation
list the router publishes. The web application never reads the key. A real federation would run
its authority elsewhere and load its revocation lists with ``escr-admin ca import-crl``.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from router.domain.certificates import pic_attribute

KEY_FILE = "ca.key.pem"
CERTIFICATE_FILE = "ca.cert.pem"
ROOT_DAYS = 20 * 365
# Cards carry the certificate for their whole life: it must outlive them.
INSTITUTION_DAYS = 10 * 365
CRL_DAYS = 30


class CertificateAuthorityError(Exception):
    """The authority cannot do what was asked (missing, already there, bad request file)."""


@dataclass(frozen=True)
class CertificateAuthority:
    """The root key and certificate of the deployment's chip-data-zone authority."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @staticmethod
    def directory_of(instance_path: Path) -> Path:
        """Where the authority lives in an instance folder."""
        return instance_path / "ca"

    @classmethod
    def create(
        cls, directory: Path, name: str, *, now: dt.datetime | None = None
    ) -> CertificateAuthority:
        """A new root in ``directory``; refuses to overwrite one."""
        if (directory / KEY_FILE).exists():
            raise CertificateAuthorityError(f"a certificate authority exists in {directory}")
        now = now or dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=ROOT_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        key_path = directory / KEY_FILE
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        (directory / CERTIFICATE_FILE).write_bytes(
            certificate.public_bytes(serialization.Encoding.PEM)
        )
        return cls(key=key, certificate=certificate)

    @classmethod
    def load(cls, directory: Path) -> CertificateAuthority:
        """The authority kept in ``directory``."""
        try:
            key = serialization.load_pem_private_key((directory / KEY_FILE).read_bytes(), None)
            certificate = x509.load_pem_x509_certificate(
                (directory / CERTIFICATE_FILE).read_bytes()
            )
        except FileNotFoundError as error:
            raise CertificateAuthorityError(
                f"no certificate authority in {directory}: run 'escr-admin ca init' first"
            ) from error
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CertificateAuthorityError("the authority's key is not an elliptic-curve key")
        return cls(key=key, certificate=certificate)

    def issue(
        self,
        *,
        pic: str,
        name: str,
        country: str | None,
        public_key: ec.EllipticCurvePublicKey,
        days: int = INSTITUTION_DAYS,
        now: dt.datetime | None = None,
    ) -> x509.Certificate:
        """An institution's certificate naming its PIC, for signing chip data zones."""
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
            public_key.curve, ec.SECP256R1
        ):
            raise CertificateAuthorityError("chip data zones are signed with P-256 keys")
        now = now or dt.datetime.now(dt.UTC)
        attributes = [
            x509.NameAttribute(NameOID.COMMON_NAME, name[:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name[:64]),
            pic_attribute(pic),
        ]
        if country:
            attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(
                min(now + dt.timedelta(days=days), self.certificate.not_valid_after_utc)
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
            .sign(self.key, hashes.SHA256())
        )

    def revocation_list(
        self,
        revoked: list[x509.RevokedCertificate],
        *,
        now: dt.datetime | None = None,
    ) -> x509.CertificateRevocationList:
        """A revocation list listing ``revoked``, valid for CRL_DAYS."""
        now = now or dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now)
            .next_update(now + dt.timedelta(days=CRL_DAYS))
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
        )
        for entry in revoked:
            builder = builder.add_revoked_certificate(entry)
        return builder.sign(self.key, hashes.SHA256())

    def revoke(
        self,
        current: x509.CertificateRevocationList | None,
        serial_number: int,
        *,
        now: dt.datetime | None = None,
    ) -> x509.CertificateRevocationList:
        """A new revocation list: ``current``'s entries and ``serial_number``."""
        now = now or dt.datetime.now(dt.UTC)
        entries = list(current) if current is not None else []
        if not any(entry.serial_number == serial_number for entry in entries):
            entries.append(
                x509.RevokedCertificateBuilder()
                .serial_number(serial_number)
                .revocation_date(now)
                .build()
            )
        return self.revocation_list(entries, now=now)


def load_public_key_request(data: bytes) -> ec.EllipticCurvePublicKey:
    """The public key of a PEM CSR (its signature checked) or of a PEM public key."""
    if b"CERTIFICATE REQUEST" in data:
        try:
            request = x509.load_pem_x509_csr(data)
        except ValueError as error:
            raise CertificateAuthorityError(f"unreadable certificate request: {error}") from error
        if not request.is_signature_valid:
            raise CertificateAuthorityError("the certificate request's signature is invalid")
        key = request.public_key()
    else:
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as error:
            raise CertificateAuthorityError(
                "give a PEM certificate request or public key"
            ) from error
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise CertificateAuthorityError("chip data zones are signed with P-256 keys")
    return key
