"""``/graphql``: strawberry's Flask view, authenticated like the REST API.

The credential is checked before the document is even parsed, as REST checks it before reading
arguments: a request without a valid credential gets HTTP 401 with a GraphQL error body whose
``extensions.code`` is ``SE-0001`` (and a ``WWW-Authenticate`` header), so HTTP clients and
GraphQL clients both see the failure. GraphiQL's page itself (a browser's GET asking for HTML)
loads without a credential; its queries then carry the key set in its headers editor.
Errors of an authenticated request (not found, forbidden, invalid input) answer 200 with
``errors``, as GraphQL over HTTP expects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Request, Response, current_app, json, render_template, request
from flask.typing import ResponseReturnValue
from strawberry.flask.views import GraphQLView
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from router.domain.errors import NotAuthenticated
from router.domain.text import read_json
from router.graphql.context import GraphQLContext
from router.graphql.errors import MALFORMED, map_error, router_error_extensions
from router.request_body import unpaired_surrogate_reason
from router.request_context import current_caller, db_session, federation, settings
from router.web.home import router_version

# Only the router's own scripts and styles may load; GraphiQL sets inline styles and data: icons.
GRAPHIQL_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class RouterGraphQLView(GraphQLView):
    """Strawberry's view with the router's authentication, context and error codes."""

    def dispatch_request(self) -> ResponseReturnValue:
        """Authenticate, unless the browser only asks for GraphiQL's page."""
        if not self.should_render_graphql_ide(self.request_adapter_class(request)):
            try:
                current_caller()
            except NotAuthenticated as error:
                return _unauthenticated(error)
        refusal = _unreadable_body() or unpaired_surrogate_reason()
        if refusal is not None:
            return _http_error(400, refusal)
        response = super().dispatch_request()
        # Strawberry refuses some requests in plain text (a body that is not JSON, a mutation
        # sent by GET); clients get the same JSON error shape as everywhere else.
        if (
            isinstance(response, Response)
            and response.status_code >= 400
            and response.mimetype == "text/plain"
        ):
            return _http_error(response.status_code, response.get_data(as_text=True))
        return response

    def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        """GraphiQL from the router's own copy of its scripts: no CDN, works offline."""
        static = Path(current_app.static_folder or "")
        response = Response(
            render_template(
                "graphiql.html",
                assets_installed=(static / "graphiql" / "graphiql.min.js").is_file(),
                version=router_version(),
            ),
            mimetype="text/html",
        )
        response.headers.update(GRAPHIQL_HEADERS)
        return response

    def get_context(self, request: Request, response: Response) -> GraphQLContext:  # type: ignore[override]
        """The request's session and caller, the same a REST view would use."""
        return GraphQLContext(
            session=db_session(),
            caller=current_caller(),
            settings=settings(),
            federation=federation(),
        )

    def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        """Map errors raised outside the operation too (the schema's extension maps the rest)."""
        if result.errors:
            result.errors = [map_error(error) for error in result.errors]
        return super().process_result(request, result)


def _unreadable_body() -> str | None:
    """Why a POSTed JSON body, or a GET's JSON parameters, make no GraphQL request.

    Strawberry fails on some of these: it answers only json.JSONDecodeError itself, so JSON
    nested too deep or holding an integer past 4300 digits answered 500.
    """
    if request.method == "GET":
        for name in ("variables", "extensions"):
            value = request.args.get(name)
            if value is None:
                continue
            try:
                read_json(value)
            except ValueError:
                return f"The {name} query parameter is not JSON text."
        return None
    if request.method != "POST" or request.mimetype != "application/json":
        return None
    try:
        body = read_json(request.get_data())
    except ValueError:
        return "The request body is not JSON text."
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return "A GraphQL request is a JSON object with a 'query' string."
    if not isinstance(body.get("operationName"), str | None):
        return "operationName is a string (or null)."
    if not isinstance(body.get("variables"), dict | None):
        return "variables is a JSON object (or null)."
    return None


def _http_error(status: int, reason: str) -> Response:
    extensions = {**MALFORMED, "status": status}
    if status == 405:
        extensions.update(
            code="ER-0405", type="/problems/method-not-allowed", title="Method not allowed"
        )
    body = {"data": None, "errors": [{"message": reason, "extensions": extensions}]}
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _unauthenticated(error: NotAuthenticated) -> Response:
    body: dict[str, Any] = {
        "data": None,
        "errors": [{"message": error.message, "extensions": router_error_extensions(error)}],
    }
    response = Response(json.dumps(body), status=401, mimetype="application/json")
    response.headers["WWW-Authenticate"] = 'Bearer realm="escrouter"'
    return response
