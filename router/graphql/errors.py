"""Errors as GraphQL errors carrying the REST error's code, status and problem type.

A :class:`RouterError` raised by a service keeps its message and gains
``extensions = {"code", "status", "type", "title"}``, the same values REST puts in its
problem+json body. A query refused before it runs (syntax, unknown field, depth, cost) is a
malformed request, ``ER-0400``; anything unexpected is masked as ``ER-0500`` and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from router.db import is_unavailable
from router.domain.errors import DatabaseUnavailable, InternalError, MalformedRequest, RouterError

log = logging.getLogger(__name__)

def router_error_extensions(error: RouterError) -> dict[str, Any]:
    """The ``extensions`` of a domain error: what the REST problem+json body says of it."""
    extensions: dict[str, Any] = {
        "code": error.code,
        "status": error.status,
        "type": error.type_uri,
        "title": error.title,
    }
    if error.details:
        extensions["errors"] = error.details
    return extensions


# What a document refused before it runs, and an unexpected failure, answer: REST's values.
MALFORMED = router_error_extensions(MalformedRequest("The GraphQL document is malformed."))
UNEXPECTED = router_error_extensions(InternalError())


def router_graphql_error(error: RouterError) -> GraphQLError:
    """A GraphQL error standing for ``error`` outside any field (authentication)."""
    return GraphQLError(error.message, extensions=router_error_extensions(error))


def map_error(error: GraphQLError) -> GraphQLError:
    """Give one GraphQL error the REST code of its cause, masking unexpected failures."""
    if error.extensions and "code" in error.extensions:
        return error
    original = error.original_error
    if isinstance(original, RouterError):
        extensions = router_error_extensions(original)
        message = original.message
    elif original is not None and is_unavailable(original):
        unavailable = DatabaseUnavailable()
        extensions, message = router_error_extensions(unavailable), unavailable.message
    elif original is None or isinstance(original, GraphQLError):
        # Raised by graphql-core itself: the document does not parse, validate or coerce.
        extensions, message = MALFORMED, error.message
    else:
        # Logged by RouterSchema.process_errors; the client learns nothing of the internals.
        extensions, message = UNEXPECTED, InternalError().message
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original if isinstance(original, RouterError) else None,
        extensions=extensions,
    )


class RouterErrors(SchemaExtension):
    """Rewrite every error of a result with the REST codes (see :func:`map_error`)."""

    def on_operation(self) -> Iterator[None]:
        """After the operation: map the errors of the result."""
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [map_error(error) for error in result.errors]
