"""``/certs/files/...``: the public certificate files, as the real router published them.

``/certs/files/{pic}/ca-chain.cert.pem`` is an institution's chain (its certificate, then its
issuers), ``/certs/files/crl.pem`` the revocation lists. Anyone may fetch them, with ETags so that
verifiers keeping a copy for offline use ask cheaply whether it changed. Verifiers pin their root
and never trust a chain because the router served it.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, request

from router.anonymous_limits import limit_anonymous_lookup
from router.request_context import db_session
from router.services import certificate_chains

blp = Blueprint("certs", __name__)

PEM_FILE = "application/x-pem-file"
# Chains change rarely; verifiers revalidate with the ETag after this.
CACHE_CONTROL = "public, max-age=300"


def _pem_response(text: str) -> Response:
    response = Response(text, mimetype=PEM_FILE)
    response.set_etag(hashlib.sha256(text.encode("ascii")).hexdigest())
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response.make_conditional(request)


@blp.get("/certs/files/<string:pic>/ca-chain.cert.pem")
def certificate_chain(pic: str) -> Response:
    """An institution's certificate chain, PEM."""
    limit_anonymous_lookup()
    return _pem_response(certificate_chains.published_chain(db_session(), pic).chain_pem)


@blp.get("/certs/files/crl.pem")
def revocation_lists() -> Response:
    """The certificate revocation lists this router publishes, PEM."""
    limit_anonymous_lookup()
    return _pem_response(certificate_chains.published_revocation_lists(db_session()))
