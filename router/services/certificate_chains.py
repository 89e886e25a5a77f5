"""Institutions' chip-data-zone certificate chains and the revocation lists the router publishes.

An institution uploads its chain (scope ``keys:manage``); the router checks its form, its links and
that it names the caller's own PIC, and publishes it per PIC without authentication, as the real
router did. Revocation lists are stored as their authority signed them (``escr-admin ca revoke``
writes the deployment CA's). The router vouches for none of it: verifiers pin their root.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from router.db import utcnow
from router.domain.certificates import check_chain, parse_chain
from router.domain.errors import (
    AccessDenied,
    CertificateChainNotFound,
    RevocationListNotFound,
)
from router.domain.escn import validate_pic
from router.models import CertificateChain, Organisation, RevocationList
from router.services.caller import Caller, Scope
from router.services.organisations import find_organisation


def _pem(certificates: list[x509.Certificate]) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certificates)


def upload_chain(
    session: Session, caller: Caller, pem: str, *, now: dt.datetime | None = None
) -> CertificateChain:
    """Store (or replace) the caller's certificate chain after checking it names the caller."""
    caller.require(Scope.KEYS_MANAGE)
    certificates = parse_chain(pem)
    pic = check_chain(certificates, now or utcnow())
    if pic != caller.organisation.identifier:
        raise AccessDenied(
            f"The certificate names PIC {pic}, not your organisation "
            f"({caller.organisation.identifier}); you can only publish your own chain."
        )
    leaf = certificates[0]
    record = session.scalar(
        select(CertificateChain).where(CertificateChain.organisation_id == caller.organisation_id)
    )
    if record is None:
        record = CertificateChain(organisation_id=caller.organisation_id)
        session.add(record)
    record.chain_pem = _pem(certificates)
    record.subject = leaf.subject.rfc4514_string()[:512]
    record.serial_number = f"{leaf.serial_number:X}"
    record.fingerprint = leaf.fingerprint(hashes.SHA256()).hex()
    record.not_after = leaf.not_valid_after_utc
    record.uploaded_at = utcnow()
    record.uploaded_by = caller.credential
    session.commit()
    return record


def own_chain(session: Session, caller: Caller) -> CertificateChain:
    """The caller's published chain."""
    caller.require(Scope.KEYS_MANAGE)
    record = session.scalar(
        select(CertificateChain).where(CertificateChain.organisation_id == caller.organisation_id)
    )
    if record is None:
        raise CertificateChainNotFound("Your organisation has published no certificate chain.")
    return record


def withdraw_chain(session: Session, caller: Caller) -> None:
    """Stop publishing the caller's chain."""
    record = own_chain(session, caller)
    session.delete(record)
    session.commit()


def published_chain(session: Session, pic: str) -> CertificateChain:
    """The chain published for ``pic`` (the public file)."""
    validate_pic(pic)
    organisation: Organisation | None = find_organisation(session, pic)
    record = (
        session.scalar(
            select(CertificateChain).where(CertificateChain.organisation_id == organisation.id)
        )
        if organisation is not None
        else None
    )
    if record is None:
        raise CertificateChainNotFound(f"No certificate chain is published for PIC {pic}.")
    return record


def issuer_digest(crl: x509.CertificateRevocationList) -> str:
    """The key of a revocation list: SHA-256 of its issuer's DER name."""
    return hashlib.sha256(crl.issuer.public_bytes()).hexdigest()


def store_revocation_list(session: Session, crl: x509.CertificateRevocationList) -> RevocationList:
    """Publish a revocation list, replacing the older list of the same authority."""
    digest = issuer_digest(crl)
    record = session.scalar(select(RevocationList).where(RevocationList.issuer_digest == digest))
    if record is None:
        record = RevocationList(issuer_digest=digest)
        session.add(record)
    record.issuer = crl.issuer.rfc4514_string()[:512]
    record.crl_der = crl.public_bytes(serialization.Encoding.DER)
    record.this_update = crl.last_update_utc
    record.next_update = crl.next_update_utc
    session.commit()
    return record


def revocation_list_of(
    session: Session, issuer: x509.Name
) -> x509.CertificateRevocationList | None:
    """The stored revocation list of ``issuer``, if any."""
    digest = hashlib.sha256(issuer.public_bytes()).hexdigest()
    record = session.scalar(select(RevocationList).where(RevocationList.issuer_digest == digest))
    return x509.load_der_x509_crl(record.crl_der) if record is not None else None


def published_revocation_lists(session: Session) -> str:
    """Every stored revocation list, PEM (the public file)."""
    records = session.scalars(select(RevocationList).order_by(RevocationList.id)).all()
    if not records:
        raise RevocationListNotFound("This router publishes no certificate revocation list.")
    return "".join(
        x509.load_der_x509_crl(r.crl_der).public_bytes(serialization.Encoding.PEM).decode("ascii")
        for r in records
    )
