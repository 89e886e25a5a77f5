"""Institutions publish their chip-data-zone certificate chain; anyone fetches it per PIC."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from router.db import Database
from router.services import certificate_chains
from router.services.caller import Scope
from tests.conftest import MakeTenant, Tenant
from tests.pki import NOW, Issued, chain_pem, make_institution, make_root, revocation_list

ROUTE = "/api/x/organisations/me/certificate-chain"


@pytest.fixture
def keys_manager(make_tenant: MakeTenant) -> Tenant:
    """The first university, with a key allowed to manage its keys and certificates."""
    return make_tenant("999999999", "Demo University", scopes=["keys:manage"])


@pytest.fixture
def root() -> Issued:
    return make_root()


def _public(client: FlaskClient, pic: str, **headers: str) -> TestResponse:
    return client.get(f"/certs/files/{pic}/ca-chain.cert.pem", headers=headers)


def test_an_institution_publishes_its_chain_and_anyone_reads_it(
    client: FlaskClient, keys_manager: Tenant, root: Issued
) -> None:
    own = make_institution(root, keys_manager.pic)
    uploaded = client.put(ROUTE, json={"chain": chain_pem(own, root)}, headers=keys_manager.headers)
    assert uploaded.status_code == 200, uploaded.json
    assert uploaded.json["pic"] == keys_manager.pic
    assert uploaded.json["serialNumber"] == f"{own.certificate.serial_number:X}"
    assert uploaded.json["url"] == f"/certs/files/{keys_manager.pic}/ca-chain.cert.pem"

    public = _public(client, keys_manager.pic)
    assert public.status_code == 200
    assert public.mimetype == "application/x-pem-file"
    published = x509.load_pem_x509_certificates(public.data)
    assert published == [own.certificate, root.certificate]
    again = _public(client, keys_manager.pic, **{"If-None-Match": public.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""

    assert client.get(ROUTE, headers=keys_manager.headers).json["chain"] == public.text


def test_a_new_chain_replaces_the_old_and_withdrawing_unpublishes(
    client: FlaskClient, keys_manager: Tenant, root: Issued
) -> None:
    first, second = (
        make_institution(root, keys_manager.pic),
        make_institution(root, keys_manager.pic),
    )
    client.put(ROUTE, json={"chain": chain_pem(first, root)}, headers=keys_manager.headers)
    client.put(ROUTE, json={"chain": chain_pem(second)}, headers=keys_manager.headers)
    published = x509.load_pem_x509_certificates(_public(client, keys_manager.pic).data)
    assert published == [second.certificate]
    assert client.delete(ROUTE, headers=keys_manager.headers).status_code == 204
    gone = _public(client, keys_manager.pic)
    assert gone.status_code == 404 and gone.json["code"] == "ER-0302"
    assert client.get(ROUTE, headers=keys_manager.headers).json["code"] == "ER-0302"


def test_publishing_needs_the_keys_manage_scope(
    client: FlaskClient, make_tenant: MakeTenant, uni: Tenant, root: Issued
) -> None:
    # Every institution scope but keys:manage.
    plain = make_tenant(uni.pic, scopes=[s for s in Scope.INSTITUTION if s != Scope.KEYS_MANAGE])
    response = client.put(
        ROUTE, json={"chain": chain_pem(make_institution(root, uni.pic))}, headers=plain.headers
    )
    assert response.status_code == 403 and response.json["code"] == "SE-0002"
    assert _public(client, uni.pic).status_code == 404


def test_a_chain_naming_another_pic_is_refused(
    client: FlaskClient, keys_manager: Tenant, root: Issued
) -> None:
    theirs = make_institution(root, "888888888")
    response = client.put(
        ROUTE, json={"chain": chain_pem(theirs, root)}, headers=keys_manager.headers
    )
    assert response.status_code == 403 and response.json["code"] == "SE-0000"
    assert _public(client, "888888888").status_code == 404


def _rsa_institution(root: Issued, pic: str) -> Issued:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return make_institution(root, pic, key=key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda root, pic: "not a certificate", "ER-0300"),
        (lambda root, pic: chain_pem(root, make_institution(root, pic)), "ER-0300"),  # order
        (lambda root, pic: chain_pem(make_institution(make_root("other"), pic), root), "ER-0300"),
        (
            lambda root, pic: chain_pem(
                make_institution(root, pic, not_after=NOW - dt.timedelta(days=1))
            ),
            "ER-0300",
        ),
        (lambda root, pic: chain_pem(_rsa_institution(root, pic)), "ER-0300"),
        (lambda root, pic: chain_pem(make_institution(root, None), root), "ER-0301"),
        (lambda root, pic: chain_pem(*[make_institution(root, pic)] * 6), "ER-0300"),
    ],
    ids=["garbage", "wrong-order", "unlinked", "expired", "rsa-leaf", "no-pic", "too-long"],
)
def test_malformed_chains_are_refused_and_change_nothing(
    client: FlaskClient,
    keys_manager: Tenant,
    root: Issued,
    build: Callable[[Issued, str], str],
    code: str,
) -> None:
    kept = chain_pem(make_institution(root, keys_manager.pic), root)
    client.put(ROUTE, json={"chain": kept}, headers=keys_manager.headers)
    response = client.put(
        ROUTE, json={"chain": build(root, keys_manager.pic)}, headers=keys_manager.headers
    )
    assert response.status_code == 400, response.json
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code
    assert _public(client, keys_manager.pic).text == kept


def test_public_files_answer_problems_for_unknown_or_malformed_pics(client: FlaskClient) -> None:
    unknown = _public(client, "123456789")
    assert unknown.status_code == 404 and unknown.json["code"] == "ER-0302"
    malformed = _public(client, "12345")
    assert malformed.status_code == 400 and malformed.json["code"] == "ER-0401"


def test_revocation_lists_are_published_as_signed(
    client: FlaskClient, db: Database, root: Issued
) -> None:
    missing = client.get("/certs/files/crl.pem")
    assert missing.status_code == 404 and missing.json["code"] == "ER-0303"
    crl = revocation_list(root, 1234)
    with db.session() as session:
        certificate_chains.store_revocation_list(session, crl)
    published = x509.load_pem_x509_crl(client.get("/certs/files/crl.pem").data)
    assert published == crl
    assert published.get_revoked_certificate_by_serial_number(1234) is not None
    newer = revocation_list(root, 1234, 5678)
    with db.session() as session:
        certificate_chains.store_revocation_list(session, newer)
    assert x509.load_pem_x509_crl(client.get("/certs/files/crl.pem").data) == newer
