"""``/api/x/federation``: a router's identity and catalogue, and the endpoints peers call.

``identity`` and ``catalogue`` are public. The ``peer/...`` endpoints take no API key: they are
for routers of the federation catalogue, authenticated by an HTTP message signature (RFC 9421)
instead, and every answer is signed in turn. They answer from this router's own data only.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

from flask import Response, g, jsonify, request, send_file
from flask.views import MethodView
from marshmallow import Schema, fields

from router.api.blueprint import RouterBlueprint
from router.api.fields import DELEGATION_ID_PARAMETER, ESCN_PARAMETER, PIC_PARAMETER
from router.api.x_verify import VerdictView
from router.db import utcnow
from router.federation import answers, delegation_peers, key_directory
from router.federation import peer_errors as errors
from router.federation.catalogue import format_time
from router.federation.delegation_wire import peer_view_json
from router.federation.directory import PUBLISHED_FILE, federation_folder
from router.federation.http_signatures import SignableRequest
from router.federation.inbound import PeerCaller, authenticate_peer, sign_answer
from router.federation.membership import Membership
from router.federation.wire import card_json, verdict_json
from router.request_context import db_session, federation
from router.services import organisations

blp = RouterBlueprint(
    "x-federation",
    __name__,
    url_prefix="/api/x/federation",
    description="escrouter: this router's identity in its federation, and the catalogue it serves",
)
peer_blp = RouterBlueprint(
    "x-federation-peer",
    __name__,
    url_prefix="/api/x/federation/peer",
    description="escrouter: router-to-router requests, signed with HTTP message signatures "
    "(RFC 9421, Content-Digest RFC 9530) by a router of the federation catalogue; answers are "
    "signed too and echo X-Request-Id",
)

# Public, without an API key: the identity and catalogue are public documents, and the peer
# endpoints authenticate routers by their signatures instead (router.api.authenticate_api_request).
PUBLIC_ENDPOINTS = frozenset(
    {
        "x-federation.Identity",
        "x-federation.PublishedCatalogue",
        "x-federation-peer.PeerCard",
        "x-federation-peer.PeerVerifications",
        "x-federation-peer.PeerEcho",
        "x-federation-peer.PeerDelegations",
        "x-federation-peer.PeerDelegation",
        "x-federation-peer.PeerDelegationCancel",
        "x-federation-peer.PeerDelegationOutcome",
        "x-federation-peer.PeerJwks",
    }
)
_PUBLIC = {"security": []}


class KeyView(Schema):
    """A public key and its id (RFC 7638 thumbprint)."""

    kid = fields.String()
    jwk = fields.Dict()


class CatalogueStateView(Schema):
    """The catalogue this router holds."""

    serial = fields.Integer()
    validUntil = fields.String()
    lastChecked = fields.String(allow_none=True)
    lastError = fields.String(allow_none=True)


class IdentityView(Schema):
    """What the federation authority needs to list this router, and the catalogue it holds."""

    id = fields.String()
    baseUrl = fields.String()
    keys = fields.List(fields.Nested(KeyView))
    pics = fields.List(fields.String())
    catalogue = fields.Nested(CatalogueStateView, allow_none=True)


class PeerCardView(VerdictView):
    """A card's public facts for a peer router: the verdict, the v2 status and issue date."""

    class Meta:
        """The answering router needs no ``answeredBy``: it is the one answering."""

        exclude = ("answeredBy",)

    status = fields.String()
    issuedAt = fields.Date()


class EchoView(Schema):
    """The echo of a peer's signed request: proof that both routers' signatures work."""

    router = fields.String()
    caller = fields.String()
    requestId = fields.String()
    echo = fields.Raw()


class PeerDelegationEventView(Schema):
    """One change of a forwarded delegation."""

    at = fields.String()
    state = fields.String()
    party = fields.String()
    reason = fields.String(allow_none=True)


class PeerDelegationView(Schema):
    """Where a forwarded delegation stands, for the host's router (no personal data)."""

    id = fields.String()
    state = fields.String()
    deliveredAt = fields.String(allow_none=True)
    decidedAt = fields.String(allow_none=True)
    finishedAt = fields.String(allow_none=True)
    decision = fields.String(allow_none=True)
    decisionId = fields.String(allow_none=True)
    decisionReason = fields.String(allow_none=True)
    decisionToken = fields.String(allow_none=True)
    decisionKid = fields.String(allow_none=True)
    outcomeReason = fields.String(allow_none=True)
    history = fields.List(fields.Nested(PeerDelegationEventView))


class PeerJwksView(Schema):
    """An institution's public keys (active, and revoked ones apart)."""

    keys = fields.List(fields.Dict())
    revoked = fields.List(fields.Dict())


def _catalogue_state(membership: Membership) -> dict[str, Any] | None:
    catalogue = membership.catalogue()
    directory = membership.directory
    if catalogue is None or directory is None:
        return None
    return {
        "serial": catalogue.serial,
        "validUntil": format_time(catalogue.valid_until),
        "lastChecked": format_time(directory.last_checked) if directory.last_checked else None,
        "lastError": directory.last_error,
    }


@blp.route("/identity")
class Identity(MethodView):
    """The identity of the router answering."""

    @blp.response(200, IdentityView)
    @blp.doc(operationId="getRouterIdentity", **_PUBLIC)
    def get(self) -> dict[str, Any]:
        """Id, base URL, public keys, hosted PICs, and the catalogue held (no key needed)."""
        membership = federation()
        if membership.identity is None:
            raise errors.FederationNotConfigured(
                "This router has no router key yet: run `escr-admin router init`."
            )
        pics = [
            o.identifier
            for o in organisations.list_organisations(db_session())
            if o.identifier_type == "PIC"
        ]
        return {
            **membership.identity.document(pics),
            "catalogue": _catalogue_state(membership),
        }


@blp.route("/catalogue")
class PublishedCatalogue(MethodView):
    """The signed federation catalogue, when this router publishes one."""

    @blp.doc(
        operationId="getFederationCatalogue",
        responses={"200": {"description": "The signed catalogue (a flattened JWS)"}},
        **_PUBLIC,
    )
    def get(self) -> Response:
        """The catalogue `escr-admin federation publish` put here; ETag and If-Modified-Since."""
        path = federation_folder(federation().places.instance_path) / PUBLISHED_FILE
        try:
            data = path.read_bytes()
        except OSError as error:
            raise errors.CatalogueNotPublished("This router publishes no catalogue.") from error
        response = send_file(
            path,
            mimetype="application/jose+json",
            etag=hashlib.sha256(data).hexdigest(),
            conditional=True,
            max_age=0,
        )
        # Caches may keep it, but must ask again (cheaply, with the ETag) before reusing it.
        response.headers["Cache-Control"] = "no-cache"
        return response


def _signable_request(membership: Membership) -> SignableRequest:
    """The request as its sender signed it: this router's catalogue base URL, path and query."""
    base = membership.identity.base_url if membership.identity else ""
    catalogue = membership.catalogue()
    own = catalogue.router(membership.router_id) if catalogue is not None else None
    if own is not None:
        base = own.base_url
    url = base + quote(request.path, safe="/:@!$&'()*+,;=-._~")
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    return SignableRequest(method=request.method, url=url, headers=request.headers)


@peer_blp.before_request
def authenticate_peer_request() -> None:
    """Every peer endpoint: a signed request of a router of the catalogue, never seen before."""
    membership = federation()
    g.peer_request = _signable_request(membership)
    g.peer_caller = authenticate_peer(
        db_session(), membership, g.peer_request, request.get_data(), now=utcnow()
    )


@peer_blp.after_request
def sign_peer_answer(response: Response) -> Response:
    """Sign every answer, refusals included, so the calling router can trust it."""
    signable = g.get("peer_request")
    if signable is not None:
        signature = sign_answer(
            federation(),
            signable,
            response.status_code,
            response.headers,
            response.get_data(),
            now=utcnow(),
        )
        response.headers.update(signature)
    return response


def peer_caller() -> PeerCaller:
    """The router behind the current, authenticated peer request."""
    return g.peer_caller


@peer_blp.route("/cards/<string:escn>", parameters=[ESCN_PARAMETER])
class PeerCard(MethodView):
    """A card hosted here, for a peer router."""

    @peer_blp.response(200, PeerCardView)
    @peer_blp.doc(operationId="getCardForPeer", **_PUBLIC)
    def get(self, escn: str) -> Response:
        """Public facts of one of this router's cards; Cache-Control says how long to reuse."""
        membership = federation()
        card = answers.card_for_peer(db_session(), membership, escn)
        response = jsonify(card_json(card))
        # The issuer decides how long other routers may reuse what it says about its cards.
        seconds = membership.settings.status_cache_seconds
        response.headers["Cache-Control"] = f"max-age={seconds}" if seconds else "no-store"
        return response


@peer_blp.route("/verifications")
class PeerVerifications(MethodView):
    """A partner of a peer router verifies a card hosted here."""

    @peer_blp.response(200, VerdictView)
    @peer_blp.doc(operationId="verifyForPeer", **_PUBLIC)
    def post(self) -> Response:
        """Judge the card and record the lookup here, for the card's issuer to see."""
        verdict = answers.verification_for_peer(
            db_session(), federation(), peer_caller(), request.get_json(silent=True)
        )
        return jsonify(verdict_json(verdict))


@peer_blp.route("/echo")
class PeerEcho(MethodView):
    """Echo a signed request: a new router proves its signatures work before it serves."""

    @peer_blp.response(200, EchoView)
    @peer_blp.doc(operationId="echoForPeer", **_PUBLIC)
    def post(self) -> Response:
        """Answer with the calling router's id, the request id and the JSON body received."""
        caller = peer_caller()
        return jsonify(
            {
                "router": federation().router_id,
                "caller": caller.router.id,
                "requestId": caller.request_id,
                "echo": request.get_json(silent=True),
            }
        )


@peer_blp.route("/delegations")
class PeerDelegations(MethodView):
    """A host of the calling router asks for a delegation on a card hosted here."""

    @peer_blp.response(201, PeerDelegationView)
    @peer_blp.doc(operationId="forwardDelegationForPeer", **_PUBLIC)
    def post(self) -> Response:
        """Check the host's request with the keys its router sends, record it for the home."""
        delegation = delegation_peers.accept_forwarded(
            db_session(), federation(), peer_caller(), request.get_json(silent=True)
        )
        response = jsonify(peer_view_json(delegation))
        response.status_code = 201
        return response


@peer_blp.route("/delegations/<string:delegation_id>", parameters=[DELEGATION_ID_PARAMETER])
class PeerDelegation(MethodView):
    """A delegation the calling router forwarded."""

    @peer_blp.response(200, PeerDelegationView)
    @peer_blp.doc(operationId="getDelegationForPeer", **_PUBLIC)
    def get(self, delegation_id: str) -> Response:
        """Where it stands: state, history and the home's signed decision as received."""
        delegation = delegation_peers.peer_delegation(db_session(), peer_caller(), delegation_id)
        return jsonify(peer_view_json(delegation))


@peer_blp.route(
    "/delegations/<string:delegation_id>/cancel", parameters=[DELEGATION_ID_PARAMETER]
)
class PeerDelegationCancel(MethodView):
    """The host, through its router, withdraws its request."""

    @peer_blp.response(200, PeerDelegationView)
    @peer_blp.doc(operationId="cancelDelegationForPeer", **_PUBLIC)
    def post(self, delegation_id: str) -> Response:
        """Cancel a request not yet decided."""
        delegation = delegation_peers.peer_cancel(
            db_session(), peer_caller(), delegation_id, request.get_json(silent=True)
        )
        return jsonify(peer_view_json(delegation))


@peer_blp.route(
    "/delegations/<string:delegation_id>/outcome", parameters=[DELEGATION_ID_PARAMETER]
)
class PeerDelegationOutcome(MethodView):
    """The host, through its router, reports how the card write ended."""

    @peer_blp.response(200, PeerDelegationView)
    @peer_blp.doc(operationId="reportDelegationOutcomeForPeer", **_PUBLIC)
    def post(self, delegation_id: str) -> Response:
        """Approved → completed or failed."""
        delegation = delegation_peers.peer_outcome(
            db_session(), peer_caller(), delegation_id, request.get_json(silent=True)
        )
        return jsonify(peer_view_json(delegation))


@peer_blp.route("/directory/<string:pic>/jwks.json", parameters=[PIC_PARAMETER])
class PeerJwks(MethodView):
    """The public keys of an institution hosted here, for a peer router's institutions."""

    @peer_blp.response(200, PeerJwksView)
    @peer_blp.doc(operationId="getInstitutionJwksForPeer", **_PUBLIC)
    def get(self, pic: str) -> Response:
        """Active and revoked keys, as ``/api/x/directory/{pic}/jwks.json`` serves them here."""
        membership = federation()
        membership.require_hosted(pic.strip())
        return jsonify(key_directory.jwks(db_session(), pic.strip()))
