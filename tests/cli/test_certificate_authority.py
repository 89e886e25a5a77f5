"""escr-admin ca: the deployment's chip-data-zone certificate authority."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask.testing import FlaskClient

from router.cli import escr_group
from router.db import Database


@pytest.fixture
def admin(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Result]:
    """Run escr-admin against the (clean) test database, with ``tmp_path`` as instance folder."""
    monkeypatch.setenv("ESCR_DATABASE_URL", database_url)
    monkeypatch.setenv("ESCR_INSTANCE_PATH", str(tmp_path))
    runner = CliRunner()

    def run(*args: str, ok: bool = True, input: bytes | None = None) -> Result:
        result = runner.invoke(escr_group, list(args), input=input, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def _request(key: ec.EllipticCurvePrivateKey) -> bytes:
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "anything")]))
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM)


def test_the_authority_issues_an_institution_certificate_naming_its_pic(
    admin: Callable[..., Result], client: FlaskClient, tmp_path: Path
) -> None:
    admin("org", "create", "--pic", "123456789", "--name", "Université Test", "--country", "FR")
    root_pem = admin("ca", "init", "--name", "Test deployment root").stdout
    root = x509.load_pem_x509_certificate(root_pem.encode())
    assert stat.S_IMODE((tmp_path / "ca" / "ca.key.pem").stat().st_mode) == 0o600
    assert admin("ca", "root").stdout == root_pem

    key = ec.generate_private_key(ec.SECP256R1())
    chain_file = tmp_path / "chain.pem"
    issued = admin(
        "ca",
        "issue",
        "--pic",
        "123456789",
        "--csr",
        "-",
        "--out",
        str(chain_file),
        input=_request(key),
    )
    certificate, issuer = x509.load_pem_x509_certificates(chain_file.read_bytes())
    assert issuer == root
    certificate.verify_directly_issued_by(root)
    assert certificate.public_key() == key.public_key()
    assert certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value == (
        "PIC:123456789"
    )
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Université Test"
    )
    assert f"{certificate.serial_number:X}" in issued.stderr

    # The empty revocation list is published from the start; revoking adds the serial.
    empty = x509.load_pem_x509_crl(client.get("/certs/files/crl.pem").data)
    assert len(empty) == 0 and empty.is_signature_valid(root.public_key())
    admin("ca", "revoke", f"{certificate.serial_number:X}")
    crl = x509.load_pem_x509_crl(client.get("/certs/files/crl.pem").data)
    assert crl.is_signature_valid(root.public_key())
    assert crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None
    admin("ca", "refresh-crl")
    refreshed = x509.load_pem_x509_crl(client.get("/certs/files/crl.pem").data)
    assert refreshed.get_revoked_certificate_by_serial_number(certificate.serial_number)


def test_the_authority_refuses_what_it_cannot_do(
    admin: Callable[..., Result], tmp_path: Path
) -> None:
    before_init = admin("ca", "root", ok=False)
    assert before_init.exit_code != 0 and "ca init" in before_init.output
    admin("ca", "init")
    again = admin("ca", "init", ok=False)
    assert again.exit_code != 0 and "exists" in again.output
    unknown = admin(
        "ca",
        "issue",
        "--pic",
        "123123123",
        "--csr",
        "-",
        ok=False,
        input=_request(ec.generate_private_key(ec.SECP256R1())),
    )
    assert unknown.exit_code != 0 and "ER-0030" in unknown.output
    admin("org", "create", "--pic", "123456789", "--name", "U")
    p384 = admin(
        "ca",
        "issue",
        "--pic",
        "123456789",
        "--csr",
        "-",
        ok=False,
        input=_request(ec.generate_private_key(ec.SECP384R1())),
    )
    assert p384.exit_code != 0 and "P-256" in p384.output
    garbage = admin("ca", "issue", "--pic", "123456789", "--csr", "-", ok=False, input=b"nope")
    assert garbage.exit_code != 0
    assert admin("ca", "revoke", "not-hex", ok=False).exit_code != 0


def test_another_authoritys_revocation_list_can_be_published(
    admin: Callable[..., Result], client: FlaskClient, tmp_path: Path
) -> None:
    from tests.pki import make_root, revocation_list

    crl = revocation_list(make_root("External federation root"), 42)
    crl_file = tmp_path / "external.crl"
    crl_file.write_bytes(crl.public_bytes(serialization.Encoding.DER))
    admin("ca", "import-crl", str(crl_file))
    assert x509.load_pem_x509_crl(client.get("/certs/files/crl.pem").data) == crl
