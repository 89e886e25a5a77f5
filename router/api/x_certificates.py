"""``/api/x/organisations/me/certificate-chain``: an institution's chip-data-zone certificates."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from router.api.blueprint import SECURITY, RouterBlueprint
from router.api.schemas import InputSchema
from router.domain.certificates import MAX_CHAIN_BYTES
from router.models import CertificateChain
from router.request_context import current_caller, db_session
from router.services import certificate_chains

blp = RouterBlueprint(
    "x-certificates",
    __name__,
    url_prefix="/api/x",
    description="escrouter: chip data zone certificate chains",
)


class ChainUpload(InputSchema):
    """A certificate chain in PEM: the institution's certificate first, then its issuers."""

    chain = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_CHAIN_BYTES),
        metadata={"description": "PEM certificates, leaf first"},
    )


class ChainView(Schema):
    """A published chain: the institution's certificate and where it is published."""

    pic = fields.String()
    subject = fields.String()
    serialNumber = fields.String(metadata={"description": "hexadecimal"})
    fingerprint = fields.String(metadata={"description": "SHA-256 of the certificate, hex"})
    notAfter = fields.DateTime()
    uploadedAt = fields.DateTime()
    url = fields.String(metadata={"description": "The public file of the chain"})
    chain = fields.String()


def chain_view(record: CertificateChain) -> dict[str, Any]:
    """The ChainView of a stored chain."""
    pic = record.organisation.identifier
    return {
        "pic": pic,
        "subject": record.subject,
        "serialNumber": record.serial_number,
        "fingerprint": record.fingerprint,
        "notAfter": record.not_after,
        "uploadedAt": record.uploaded_at,
        "url": f"/certs/files/{pic}/ca-chain.cert.pem",
        "chain": record.chain_pem,
    }


@blp.route("/organisations/me/certificate-chain")
class OwnCertificateChain(MethodView):
    """Your organisation's chip-data-zone certificate chain (scope ``keys:manage``)."""

    @blp.response(200, ChainView)
    @blp.doc(security=SECURITY, operationId="getCertificateChain")
    def get(self) -> dict[str, Any]:
        """Read the chain you publish."""
        return chain_view(certificate_chains.own_chain(db_session(), current_caller()))

    @blp.arguments(ChainUpload)
    @blp.response(200, ChainView)
    @blp.doc(security=SECURITY, operationId="putCertificateChain")
    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Publish (or replace) your chain; its certificate must name your PIC."""
        record = certificate_chains.upload_chain(db_session(), current_caller(), body["chain"])
        return chain_view(record)

    @blp.response(204)
    @blp.doc(security=SECURITY, operationId="deleteCertificateChain")
    def delete(self) -> None:
        """Stop publishing your chain."""
        certificate_chains.withdraw_chain(db_session(), current_caller())
