"""The GraphQL adapter: ``/graphql`` over the same services as the REST API."""

from __future__ import annotations

from flask import Flask

from router.settings import Settings


def init_graphql(app: Flask, settings: Settings) -> None:
    """Mount ``/graphql`` (with GraphiQL in the browser), limited by ``settings``."""
    from router.graphql.schema import build_schema
    from router.graphql.view import RouterGraphQLView

    app.add_url_rule(
        "/graphql",
        view_func=RouterGraphQLView.as_view(
            "graphql", schema=build_schema(settings), graphql_ide="graphiql"
        ),
    )
