"""The GraphQL schema: queries and mutations over the same services as the REST views.

Resolvers translate arguments into service calls and models into nodes; they hold no query and
no rule of their own, so REST and GraphQL cannot disagree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.types.base_scalars import DateDefinition, wrap_parser
from strawberry.types import Info
from strawberry.types.execution import ExecutionContext

from router.domain.errors import RouterError
from router.domain.esi import parse_esi
from router.domain.text import ORGANISATION_IDENTIFIER_LENGTH, check_text, parse_date
from router.federation import forwarding
from router.graphql.connections import (
    CardConnection,
    CardEdge,
    PageInfo,
    PersonConnection,
    PersonEdge,
    encode_cursor,
    page_info,
    window,
)
from router.graphql.context import GraphQLContext, context_of
from router.graphql.errors import RouterErrors, log
from router.graphql.federation import FederationMutation, FederationQuery
from router.graphql.inputs import (
    CardFilter,
    CardInput,
    CardOrderField,
    OrderDirection,
    PersonFilter,
    PersonInput,
    PersonOrderField,
    RenewalInput,
    check_fields,
)
from router.graphql.limits import limit_extensions
from router.graphql.types import (
    Card,
    CardAction,
    CardStatusChange,
    DeletedPerson,
    Organisation,
    Person,
    Verification,
    card_nodes,
    person_nodes,
)
from router.services import cards, organisations, persons
from router.services.pagination import Page, PageRequest
from router.settings import Settings

T = TypeVar("T")
N = TypeVar("N")
GraphQLInfo = Info[GraphQLContext, Any]


def _search(filter: PersonFilter | CardFilter | None) -> str | None:
    """The search text of a list filter, checked as REST checks its ``search`` parameter."""
    search = filter.search if filter else None
    check_fields(search=search)
    return search


def _page_request(
    info: GraphQLInfo,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    search: str | None,
    sort: str | None,
    direction: OrderDirection,
    list_page: Callable[[PageRequest], Page[Any]],
) -> tuple[PageRequest, int]:
    """The service's page request of Relay arguments, and how many rows the window wants."""
    wanted = window(
        first,
        after,
        last,
        before,
        max_size=context_of(info).settings.max_page_size,
        count=lambda: list_page(PageRequest(size=1, search=search)).total_elements,
    )
    # An empty window still asks the service for one row, so that scopes are checked as usual.
    request = PageRequest(
        size=max(wanted.size, 1),
        offset=wanted.offset,
        sort=sort,
        direction=direction.value,
        search=search,
    )
    return request, wanted.size


def _connection_page(
    info: GraphQLInfo,
    window_args: tuple[int | None, str | None, int | None, str | None],
    search: str | None,
    sort: str | None,
    direction: OrderDirection,
    list_service: Callable[..., Page[Any]],
    build_nodes: Callable[[GraphQLContext, list[Any]], list[N]],
) -> tuple[list[tuple[str, N]], PageInfo, int]:
    """One Relay window of a list service: (cursor, node) pairs, page info and the total."""
    context = context_of(info)

    def list_page(request: PageRequest) -> Page[Any]:
        return list_service(
            context.session, context.caller, request, max_size=context.settings.max_page_size
        )

    request, size = _page_request(info, *window_args, search, sort, direction, list_page)
    page = list_page(request)
    nodes = build_nodes(context, page.items[:size])
    offset = request.offset or 0
    pairs = [(encode_cursor(offset + i), node) for i, node in enumerate(nodes)]
    return pairs, page_info(offset, len(nodes), page.total_elements), page.total_elements


@strawberry.type(description="What an institution's dashboard can read.")
class Query(FederationQuery):
    """The read side of the schema."""

    @strawberry.field(
        description="An organisation by identifier (PIC or VAT number); yours when left out."
    )
    def organisation(self, info: GraphQLInfo, identifier: str | None = None) -> Organisation:
        """The caller's organisation, or another's public facts as REST lists them."""
        context = context_of(info)
        if identifier is None:
            return Organisation.of(context.caller.organisation)
        check_text("identifier", identifier, ORGANISATION_IDENTIFIER_LENGTH)
        return Organisation.of(organisations.get_organisation(context.session, identifier))

    @strawberry.field(description="The persons linked to your organisation, a page at a time.")
    def persons(
        self,
        info: GraphQLInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: PersonFilter | None = None,
        order_by: PersonOrderField | None = None,
        direction: OrderDirection = OrderDirection.ASC,
    ) -> PersonConnection:
        """Same list, search and sort as ``GET /api/v2/persons``."""
        pairs, info_, total = _connection_page(
            info,
            (first, after, last, before),
            _search(filter),
            order_by.value if order_by else None,
            direction,
            persons.list_persons,
            person_nodes,
        )
        edges = [PersonEdge(cursor=cursor, node=node) for cursor, node in pairs]
        return PersonConnection(edges=edges, page_info=info_, total_count=total)

    @strawberry.field(description="A person of your organisation, by ESI, with their cards.")
    def person(self, info: GraphQLInfo, esi: str) -> Person:
        """Same as ``GET /api/v2/persons/{esi}``."""
        context = context_of(info)
        return person_nodes(context, [persons.get_person(context.session, context.caller, esi)])[0]

    @strawberry.field(description="The cards your organisation issued, a page at a time.")
    def cards(
        self,
        info: GraphQLInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: CardFilter | None = None,
        order_by: CardOrderField | None = None,
        direction: OrderDirection = OrderDirection.ASC,
    ) -> CardConnection:
        """Same list, search and sort as ``GET /api/v2/cards``."""
        pairs, info_, total = _connection_page(
            info,
            (first, after, last, before),
            _search(filter),
            order_by.value if order_by else None,
            direction,
            cards.list_cards,
            card_nodes,
        )
        edges = [CardEdge(cursor=cursor, node=node) for cursor, node in pairs]
        return CardConnection(edges=edges, page_info=info_, total_count=total)

    @strawberry.field(description="A card of your organisation, by ESCN, with its history.")
    def card(self, info: GraphQLInfo, escn: str) -> Card:
        """Same as ``GET /api/v2/cards/{escn}``."""
        context = context_of(info)
        return card_nodes(context, [cards.get_card(context.session, context.caller, escn)])[0]

    @strawberry.field(
        description="Verify what a partner scanned (a verification URL or a card number), as "
        "POST /api/x/verify does: scope verify; the lookup is recorded."
    )
    def verification(self, info: GraphQLInfo, scanned: str) -> Verification:
        """Same as ``POST /api/x/verify``."""
        context = context_of(info)
        answer = forwarding.verify_scan(
            context.session,
            context.federation,
            context.caller,
            scanned,
            public_url=context.settings.public_url,
        )
        return Verification.of(answer.value, answer.router.id if answer.router else None)


def _write(info: GraphQLInfo, change: Callable[[], T]) -> T:
    """Run one mutation's service call; on failure roll back, so it changes nothing.

    A GraphQL request may hold several mutations on one session: without the rollback, a later
    mutation's commit would also commit what a failed one left half-done.
    """
    context = context_of(info)
    try:
        return change()
    except Exception:
        context.session.rollback()
        raise
    finally:
        # What the loaders cached before the change may be stale now (a history, a card list).
        context.reset_loaders()


@strawberry.type(
    description="What an institution can change. Each mutation commits or fails on its own: a "
    "failed one answers null with an error and changes nothing, and the next ones still run."
)
class Mutation(FederationMutation):
    """The write side of the schema; results are nullable so one failure spares the others."""

    @strawberry.mutation(description="Register a person linked to your organisation.")
    def create_person(self, info: GraphQLInfo, input: PersonInput) -> Person | None:
        """Same as ``POST /api/v2/persons``."""
        context = context_of(info)
        person = _write(
            info,
            lambda: persons.create_person(
                context.session, context.caller, input.to_service(context.caller)
            ),
        )
        return person_nodes(context, [person])[0]

    @strawberry.mutation(description="Replace what your organisation holds of a person.")
    def update_person(
        self,
        info: GraphQLInfo,
        esi: str,
        input: PersonInput,
    ) -> Person | None:
        """Same as ``PUT /api/v2/persons/{esi}``."""
        context = context_of(info)
        person = _write(
            info,
            lambda: persons.replace_person(
                context.session, context.caller, esi, input.to_service(context.caller)
            ),
        )
        return person_nodes(context, [person])[0]

    @strawberry.mutation(description="Erase what your organisation holds of a person.")
    def delete_person(self, info: GraphQLInfo, esi: str) -> DeletedPerson | None:
        """Same as ``DELETE /api/v2/persons/{esi}``."""
        context = context_of(info)
        _write(info, lambda: persons.delete_person(context.session, context.caller, esi))
        return DeletedPerson(identifier=parse_esi(esi).value)

    @strawberry.mutation(description="Issue a card to a person of your organisation.")
    def issue_card(self, info: GraphQLInfo, input: CardInput) -> Card | None:
        """Same as ``POST /api/v2/cards``."""
        context = context_of(info)
        card = _write(
            info,
            lambda: cards.register_card(
                context.session, context.caller, input.to_service(context.caller)
            ),
        )
        return card_nodes(context, [card])[0]

    @strawberry.mutation(
        description="Change a card's status with a reason: report it lost or stolen, suspend, "
        "deactivate, reactivate, renew or destroy it."
    )
    def change_card_status(
        self,
        info: GraphQLInfo,
        escn: str,
        action: CardAction,  # type: ignore[valid-type]
        renewal: RenewalInput | None = None,
    ) -> CardStatusChange | None:
        """Same as ``POST /api/x/cards/{escn}/lifecycle``."""
        context = context_of(info)
        card, replacement = _write(
            info,
            lambda: cards.change_state(
                context.session,
                context.caller,
                escn,
                action,
                renewal.to_service() if renewal else None,
            ),
        )
        nodes = card_nodes(context, [card] if replacement is None else [card, replacement])
        return CardStatusChange(card=nodes[0], replacement=nodes[1] if replacement else None)


class RouterSchema(strawberry.Schema):
    """The schema, logging only the errors that are the router's fault."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Domain errors and refused documents are the client's business, not the log's."""
        for error in errors:
            original = error.original_error
            if original is not None and not isinstance(original, RouterError | GraphQLError):
                log.error("unexpected error in GraphQL", exc_info=original)


# strawberry's Date, reading yyyy-MM-dd only (as REST does), not every form Python's parser takes.
ISO_DATE = dataclasses.replace(DateDefinition, parse_value=wrap_parser(parse_date, "Date"))


def build_schema(settings: Settings | None = None) -> RouterSchema:
    """The schema, with the limits of ``settings`` (none when only its SDL is wanted)."""
    extensions: list[Callable[[], SchemaExtension]] = [RouterErrors]
    if settings is not None:
        extensions.extend(limit_extensions(settings))
    return RouterSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        scalar_overrides={dt.date: ISO_DATE},
    )


def schema_sdl() -> str:
    """The schema in GraphQL SDL, as ``schema.graphql`` holds it."""
    return build_schema().as_str() + "\n"
