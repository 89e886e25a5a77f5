"""GraphQL over the federation services: institutions' public keys and delegations.

The nodes are built from the same views REST answers (``key_view``, ``delegation_view``), and the
resolvers call the same service functions, so the two can never disagree.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from router.federation import (
    delegation_decisions,
    delegation_forwarding,
    delegations,
    key_directory,
)
from router.federation.delegation_states import DelegationState as DomainDelegationState
from router.graphql.connections import PageInfo, encode_cursor, page_info, window
from router.graphql.context import GraphQLContext, context_of
from router.services.pagination import PageRequest

T = TypeVar("T")
GraphQLInfo = Info[GraphQLContext, Any]

DelegationState = strawberry.enum(DomainDelegationState, description="Where a delegation stands.")


@strawberry.enum(description="Your side of a delegation.")
class DelegationRole(enum.Enum):
    """Whether the caller asked (host) or decides (home)."""

    HOME = "home"
    HOST = "host"


@strawberry.type(description="One of your institution's public keys (a JWK).")
class InstitutionKey:
    """A key as ``GET /api/x/public-keys`` lists it."""

    kid: str
    use: str
    alg: str
    jwk: JSON
    thumbprint: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    revocation_reason: str | None
    replaced_by: str | None

    @classmethod
    def of(cls, view: Mapping[str, Any]) -> InstitutionKey:
        """The node of a key view."""
        return cls(
            kid=view["kid"],
            use=view["use"],
            alg=view["alg"],
            jwk=view["jwk"],
            thumbprint=view["thumbprint"],
            created_at=view["createdAt"],
            revoked_at=view["revokedAt"],
            revocation_reason=view["revocationReason"],
            replaced_by=view["replacedBy"],
        )


@strawberry.type(description="One change of a delegation's state.")
class DelegationEvent:
    """A history entry."""

    at: dt.datetime
    state: DelegationState  # type: ignore[valid-type]
    actor: str | None = strawberry.field(description="PIC; null when the router's clock moved it")
    reason: str | None


@strawberry.type(description="A host's request to add an application to a card of its home.")
class Delegation:
    """A delegation as both its institutions see it (``GET /api/x/delegations/{id}``)."""

    id: strawberry.ID
    state: DelegationState  # type: ignore[valid-type]
    host: str
    home: str
    card_number: str
    uid: str
    application: JSON
    issued_at: dt.datetime
    expires_at: dt.datetime
    requested_at: dt.datetime
    delivered_at: dt.datetime | None
    decided_at: dt.datetime | None
    finished_at: dt.datetime | None
    decision: str | None
    decision_reason: str | None
    outcome_reason: str | None
    request: str = strawberry.field(description="The request JWS as received.")
    request_hash: str
    decision_token: str | None = strawberry.field(description="The decision JWS as received.")
    peer_router: str | None = strawberry.field(
        description="Id of the other institution's router when it is not this one."
    )
    history: list[DelegationEvent]

    @classmethod
    def of(cls, view: Mapping[str, Any]) -> Delegation:
        """The node of a delegation view."""
        return cls(
            id=strawberry.ID(view["id"]),
            state=DomainDelegationState(view["state"]),
            host=view["host"],
            home=view["home"],
            card_number=view["cardNumber"],
            uid=view["uid"],
            application=view["application"],
            issued_at=view["issuedAt"],
            expires_at=view["expiresAt"],
            requested_at=view["requestedAt"],
            delivered_at=view["deliveredAt"],
            decided_at=view["decidedAt"],
            finished_at=view["finishedAt"],
            decision=view["decision"],
            decision_reason=view["decisionReason"],
            outcome_reason=view["outcomeReason"],
            request=view["request"],
            request_hash=view["requestHash"],
            decision_token=view["decisionToken"],
            peer_router=view["peerRouter"],
            history=[
                DelegationEvent(
                    at=e["at"],
                    state=DomainDelegationState(e["state"]),
                    actor=e["actor"],
                    reason=e["reason"],
                )
                for e in view["history"]
            ],
        )


@strawberry.type(description="A delegation and its cursor.")
class DelegationEdge:
    """Relay edge of a delegation."""

    cursor: str
    node: Delegation


@strawberry.type(description="A page of delegations, newest first (Relay connection).")
class DelegationConnection:
    """Relay connection of delegations."""

    edges: list[DelegationEdge]
    page_info: PageInfo
    total_count: int


def _node(model: Any) -> Delegation:
    return Delegation.of(delegations.delegation_view(model))


def _change(info: GraphQLInfo, change: Callable[[], T]) -> T:
    """Run one mutation's service call; roll back on failure, so it changes nothing."""
    context = context_of(info)
    try:
        return change()
    except Exception:
        context.session.rollback()
        raise


@strawberry.type
class FederationQuery:
    """The federation's read side (mixed into the schema's Query)."""

    @strawberry.field(
        description="Delegations your institution asked for (host) or decides (home), newest "
        "first; as GET /api/x/delegations (scope delegations)."
    )
    def delegations(
        self,
        info: GraphQLInfo,
        role: DelegationRole | None = None,
        states: list[DelegationState] | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> DelegationConnection:
        """Same list and filters as REST."""
        context = context_of(info)
        wanted_states = [s.value for s in states or []]

        def list_page(request: PageRequest) -> Any:
            return delegations.list_delegations(
                context.session,
                context.caller,
                request,
                role=role.value if role else None,
                states=wanted_states,
                max_size=context.settings.max_page_size,
            )

        wanted = window(
            first,
            after,
            last,
            before,
            max_size=context.settings.max_page_size,
            count=lambda: list_page(PageRequest(size=1)).total_elements,
        )
        page = list_page(PageRequest(size=max(wanted.size, 1), offset=wanted.offset))
        items = list(page.items[: wanted.size])
        edges = [
            DelegationEdge(cursor=encode_cursor(wanted.offset + i), node=_node(model))
            for i, model in enumerate(items)
        ]
        return DelegationConnection(
            edges=edges,
            page_info=page_info(wanted.offset, len(items), page.total_elements),
            total_count=page.total_elements,
        )

    @strawberry.field(description="One delegation of your institution, with its history.")
    def delegation(self, info: GraphQLInfo, id: strawberry.ID) -> Delegation:
        """Same as GET /api/x/delegations/{id}."""
        context = context_of(info)
        return _node(
            delegation_forwarding.get_delegation(
                context.session, context.federation, context.caller, str(id)
            )
        )

    @strawberry.field(description="Your institution's public keys (scope keys:manage).")
    def public_keys(self, info: GraphQLInfo) -> list[InstitutionKey]:
        """Same as GET /api/x/public-keys."""
        context = context_of(info)
        organisation = key_directory.key_manager(context.caller)
        return [
            InstitutionKey.of(key_directory.key_view(k))
            for k in key_directory.list_keys(context.session, organisation)
        ]


@strawberry.type
class FederationMutation:
    """The federation's write side (mixed into the schema's Mutation)."""

    @strawberry.mutation(description="Send a signed delegation request (host).")
    def request_delegation(self, info: GraphQLInfo, request: str) -> Delegation | None:
        """Same as POST /api/x/delegations."""
        context = context_of(info)
        return _node(
            _change(
                info,
                lambda: delegation_forwarding.submit_request(
                    context.session, context.federation, context.caller, request
                ),
            )
        )

    @strawberry.mutation(description="Confirm the request reached you (home).")
    def acknowledge_delegation(self, info: GraphQLInfo, id: strawberry.ID) -> Delegation | None:
        """Same as POST /api/x/delegations/{id}/receipt."""
        context = context_of(info)
        return _node(
            _change(info, lambda: delegations.acknowledge(context.session, context.caller, str(id)))
        )

    @strawberry.mutation(description="Send your signed decision (home: the card's issuer).")
    def decide_delegation(
        self, info: GraphQLInfo, id: strawberry.ID, decision: str
    ) -> Delegation | None:
        """Same as POST /api/x/delegations/{id}/decision."""
        context = context_of(info)
        return _node(
            _change(
                info,
                lambda: delegation_decisions.submit_decision(
                    context.session, context.caller, str(id), decision
                ),
            )
        )

    @strawberry.mutation(description="Withdraw a request not yet decided (host).")
    def cancel_delegation(
        self, info: GraphQLInfo, id: strawberry.ID, reason: str | None = None
    ) -> Delegation | None:
        """Same as POST /api/x/delegations/{id}/cancel."""
        context = context_of(info)
        return _node(
            _change(
                info,
                lambda: delegation_forwarding.cancel(
                    context.session, context.federation, context.caller, str(id), reason
                ),
            )
        )

    @strawberry.mutation(description="Report whether the application was written (host).")
    def report_delegation_outcome(
        self, info: GraphQLInfo, id: strawberry.ID, completed: bool, reason: str | None = None
    ) -> Delegation | None:
        """Same as POST /api/x/delegations/{id}/outcome."""
        context = context_of(info)
        return _node(
            _change(
                info,
                lambda: delegation_forwarding.report_outcome(
                    context.session, context.federation, context.caller, str(id), completed, reason
                ),
            )
        )

    @strawberry.mutation(description="Register a public key (scope keys:manage).")
    def register_public_key(self, info: GraphQLInfo, jwk: JSON) -> InstitutionKey | None:
        """Same as POST /api/x/public-keys."""
        context = context_of(info)
        record = _change(
            info,
            lambda: key_directory.register_key(
                context.session, key_directory.key_manager(context.caller), jwk
            ),
        )
        return InstitutionKey.of(key_directory.key_view(record))

    @strawberry.mutation(description="Revoke one of your keys now (scope keys:manage).")
    def revoke_public_key(
        self, info: GraphQLInfo, kid: str, reason: str | None = None
    ) -> InstitutionKey | None:
        """Same as POST /api/x/public-keys/{kid}/revoke."""
        context = context_of(info)
        record = _change(
            info,
            lambda: key_directory.revoke_key(
                context.session, key_directory.key_manager(context.caller), kid, reason
            ),
        )
        return InstitutionKey.of(key_directory.key_view(record))

    @strawberry.mutation(description="Replace one of your keys (scope keys:manage).")
    def rotate_public_key(
        self, info: GraphQLInfo, kid: str, jwk: JSON, grace_seconds: int = 0
    ) -> InstitutionKey | None:
        """Same as POST /api/x/public-keys/{kid}/rotate."""
        context = context_of(info)
        record = _change(
            info,
            lambda: key_directory.rotate_key(
                context.session,
                key_directory.key_manager(context.caller),
                kid,
                jwk,
                dt.timedelta(seconds=grace_seconds),
            ),
        )
        return InstitutionKey.of(key_directory.key_view(record))
