"""What every resolver receives as ``info.context``: the session, the caller and the loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from strawberry.types import Info

from router.federation.membership import Membership
from router.graphql.loaders import Loaders
from router.services.caller import Caller
from router.settings import Settings


@dataclass
class GraphQLContext:
    """One GraphQL request's state: the same session and caller a REST request would use."""

    session: Session
    caller: Caller
    settings: Settings
    federation: Membership
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.reset_loaders()

    def reset_loaders(self) -> None:
        """Start with empty loaders: after a mutation, nothing cached before it is trusted."""
        self.loaders = Loaders.for_request(self.session, self.caller)


def context_of(info: Info[Any, Any]) -> GraphQLContext:
    """The request context of a resolver."""
    context = info.context
    if not isinstance(context, GraphQLContext):  # a schema executed without the router's view
        raise TypeError("the GraphQL schema needs a GraphQLContext")
    return context
