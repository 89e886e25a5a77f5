"""The flask-smorest blueprint every area of the API uses."""

from __future__ import annotations

from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser


class _Parser(FlaskParser):
    """Request parsing that calls a schema failure what it is: a malformed request (400)."""

    DEFAULT_VALIDATION_STATUS = 400


class RouterBlueprint(Blueprint):
    """A flask-smorest blueprint whose argument errors are 400, not 422."""

    ARGUMENTS_PARSER = _Parser()


# Declared on every authenticated operation; both schemes carry the same API key or token.
SECURITY = [{"bearerAuth": []}, {"api_key": []}]
