"""``/api/x/delegations``: hosts ask, homes decide, both follow (scope ``delegations``)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from router.api import x_federation_schemas as schemas
from router.api.blueprint import SECURITY, RouterBlueprint
from router.api.fields import DELEGATION_ID_PARAMETER
from router.api.problems import ANSWERED_BY_HEADER
from router.api.representations import paged
from router.federation import delegation_decisions, delegation_forwarding, delegations
from router.federation.records import Delegation
from router.request_context import current_caller, db_session, federation, settings
from router.services.pagination import PageRequest

blp = RouterBlueprint(
    "x-delegations",
    __name__,
    url_prefix="/api/x/delegations",
    description="escrouter: delegated application management between institutions (DESFire DAM)",
)


def _answer(delegation: Delegation, status: int = 200) -> tuple[Any, int, dict[str, str]]:
    """The delegation's view; marked with the home's router when that router answered for it."""
    headers = {}
    if delegation.peer_router is not None and delegation.home_id is None:
        headers[ANSWERED_BY_HEADER] = delegation.peer_router
    return delegations.delegation_view(delegation), status, headers


@blp.route("")
class Delegations(MethodView):
    """The delegations your institution asked for (host) or is asked to decide (home)."""

    @blp.arguments(schemas.DelegationListArgs, location="query")
    @blp.response(200, schemas.PagedDelegations)
    @blp.doc(security=SECURITY, operationId="listDelegations")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List them, newest first; ``role=home&state=requested`` is the home's inbox."""
        page = delegations.list_delegations(
            db_session(),
            current_caller(),
            PageRequest(
                page=args["page"],
                size=args["size"],
                sort=args.get("sort"),
                direction=args["direction"].upper(),
            ),
            role=args.get("role"),
            states=args.get("state"),
            max_size=settings().max_page_size,
        )
        return paged(page, [dict(delegations.delegation_view(d)) for d in page.items])

    @blp.arguments(schemas.DelegationSubmission)
    @blp.response(201, schemas.DelegationView)
    @blp.doc(security=SECURITY, operationId="requestDelegation")
    def post(self, body: dict[str, Any]) -> Any:
        """Send a signed delegation request (host); it is checked, recorded and passed on."""
        delegation = delegation_forwarding.submit_request(
            db_session(), federation(), current_caller(), body["request"]
        )
        return _answer(delegation, 201)


@blp.route("/<string:delegation_id>", parameters=[DELEGATION_ID_PARAMETER])
class DelegationById(MethodView):
    """One delegation."""

    @blp.response(200, schemas.DelegationView)
    @blp.doc(security=SECURITY, operationId="getDelegation")
    def get(self, delegation_id: str) -> Any:
        """Read a delegation your institution is a party to, with its history."""
        return _answer(
            delegation_forwarding.get_delegation(
                db_session(), federation(), current_caller(), delegation_id
            )
        )


@blp.route("/<string:delegation_id>/receipt", parameters=[DELEGATION_ID_PARAMETER])
class Receipt(MethodView):
    """The home confirms it received the request."""

    @blp.response(200, schemas.DelegationView)
    @blp.doc(security=SECURITY, operationId="acknowledgeDelegation")
    def post(self, delegation_id: str) -> Any:
        """Requested → delivered (the home only; repeating it changes nothing)."""
        return delegations.delegation_view(
            delegations.acknowledge(db_session(), current_caller(), delegation_id)
        )


@blp.route("/<string:delegation_id>/decision", parameters=[DELEGATION_ID_PARAMETER])
class DecisionEndpoint(MethodView):
    """The home's signed decision."""

    @blp.arguments(schemas.DecisionSubmission)
    @blp.response(200, schemas.DelegationView)
    @blp.doc(security=SECURITY, operationId="decideDelegation")
    def post(self, body: dict[str, Any], delegation_id: str) -> Any:
        """Approve or refuse (the card's issuer only); recorded as received."""
        delegation = delegation_decisions.submit_decision(
            db_session(), current_caller(), delegation_id, body["decision"]
        )
        return delegations.delegation_view(delegation)


@blp.route("/<string:delegation_id>/cancel", parameters=[DELEGATION_ID_PARAMETER])
class Cancel(MethodView):
    """The host withdraws its request."""

    @blp.arguments(schemas.CancelRequest)
    @blp.response(200, schemas.DelegationView)
    @blp.doc(security=SECURITY, operationId="cancelDelegation")
    def post(self, body: dict[str, Any], delegation_id: str) -> Any:
        """Cancel a request not yet decided (the host only)."""
        return _answer(
            delegation_forwarding.cancel(
                db_session(), federation(), current_caller(), delegation_id, body.get("reason")
            )
        )


@blp.route("/<string:delegation_id>/outcome", parameters=[DELEGATION_ID_PARAMETER])
class Outcome(MethodView):
    """The host reports how the card write ended."""

    @blp.arguments(schemas.OutcomeReport)
    @blp.response(200, schemas.DelegationView)
    @blp.doc(security=SECURITY, operationId="reportDelegationOutcome")
    def post(self, body: dict[str, Any], delegation_id: str) -> Any:
        """Approved → completed or failed (the host only)."""
        delegation = delegation_forwarding.report_outcome(
            db_session(),
            federation(),
            current_caller(),
            delegation_id,
            body["outcome"] == "completed",
            body.get("reason"),
        )
        return _answer(delegation)
