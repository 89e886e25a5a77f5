"""Validated request fields every REST schema builds on; they show in the OpenAPI document.

``Text`` refuses NUL characters and over-long values (maxLength and a pattern in the document),
``BoundedInteger`` keeps numbers within what the databases compute with, ``IsoDate`` and
``Timestamp`` take only the forms ``format: date`` and ``date-time`` document, and the ``*_PATTERN``
constants describe identifiers in path and query parameters as the router checks them. New
routes use these rather than bare ``fields.String``/``fields.Integer``, so that no value a client
sends can reach a database that would fail on it (a 500) instead of refusing it (a 400).
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from router.domain import text
from router.domain.escn import ESCN_PATTERN, PIC_TEXT_PATTERN
from router.domain.esi import ESI_PATTERN
from sgc_client.protocol.jose import KID_PATTERN as KID_FORM

__all__ = [
    "ESCN_PATTERN",
    "ESI_PATTERN",
    "KEY_PREFIX_PATTERN",
    "KID_PATTERN",
    "PIC_TEXT_PATTERN",
    "UUID_PATTERN",
    "BoundedInteger",
    "IsoDate",
    "Text",
    "Timestamp",
    "path_parameter",
]

UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
KEY_PREFIX_PATTERN = "^escr_[0-9a-f]{8}$"
KID_PATTERN = KID_FORM.pattern


def _refuse_nul(value: str) -> None:
    if text.NUL in value:
        raise ValidationError("A NUL character is not allowed.")


class Text(fields.String):
    """A string without NUL characters and at most ``max_length`` long.

    ``pattern`` is documented and checked here (a 400 ``ER-0400``). ``identifier_pattern`` is
    documented only: it describes an identifier the service parses itself, so that the refusal
    keeps the service's own code (``ER-0401`` for an ESI or ESCN) in REST and GraphQL alike.
    """

    def __init__(
        self,
        max_length: int,
        *,
        min_length: int | None = None,
        pattern: str | None = None,
        identifier_pattern: str | None = None,
        **kwargs: Any,
    ) -> None:
        validators = list(kwargs.pop("validate", None) or [])
        validators.insert(0, validate.Length(min=min_length, max=max_length))
        validators.insert(0, _refuse_nul)
        metadata = dict(kwargs.pop("metadata", None) or {})
        metadata.setdefault("pattern", pattern or identifier_pattern or text.NO_NUL_PATTERN)
        if pattern is not None:
            validators.append(validate.Regexp(pattern, error="Does not have the expected form."))
        super().__init__(validate=validators, metadata=metadata, **kwargs)


class BoundedInteger(fields.Integer):
    """An integer within ``[minimum, maximum]`` (by default what a 64-bit column holds)."""

    def __init__(
        self, *, minimum: int = 0, maximum: int = text.INT64_MAX, **kwargs: Any
    ) -> None:
        validators = list(kwargs.pop("validate", None) or [])
        validators.insert(0, validate.Range(min=minimum, max=maximum))
        metadata = dict(kwargs.pop("metadata", None) or {})
        metadata.setdefault("format", "int32" if maximum <= text.INT32_MAX else "int64")
        super().__init__(strict=False, validate=validators, metadata=metadata, **kwargs)


class IsoDate(fields.Date):
    """A date written yyyy-MM-dd, the form ``format: date`` documents (not ISO 8601's others)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            return text.parse_date(value)
        except (TypeError, ValueError):  # not text, or not yyyy-MM-dd
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None


class Timestamp(fields.AwareDateTime):
    """An RFC 3339 date-time with its offset, read in UTC, the zone the router stores."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not text.RFC3339_TIMESTAMP.fullmatch(value):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        try:
            return text.parse_timestamp(value)
        except ValueError:
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None


def path_parameter(
    name: str, pattern: str, description: str, *, max_length: int = 255
) -> dict[str, Any]:
    """The OpenAPI description of a path parameter with the form the router checks."""
    return {
        "in": "path",
        "name": name,
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": pattern, "maxLength": max_length},
    }


# The path parameters of the API, as the router checks them.
ESCN_PARAMETER = path_parameter("escn", ESCN_PATTERN, "The card number (ESCN)", max_length=64)
ESI_PARAMETER = path_parameter("esi", ESI_PATTERN, "The identifier of the student (ESI)")
ORGANISATION_ID_PARAMETER = path_parameter(
    "id", text.NO_NUL_PATTERN, "The identifier of the organisation", max_length=64
)
ORGANISATION_IDENTIFIER_PARAMETER = path_parameter(
    "identifier", text.NO_NUL_PATTERN, "PIC or VAT number", max_length=64
)
KEY_PREFIX_PARAMETER = path_parameter(
    "prefix", KEY_PREFIX_PATTERN, "The key's public prefix", max_length=13
)
PIC_PARAMETER = path_parameter("pic", PIC_TEXT_PATTERN, "The institution's PIC", max_length=64)
KID_PARAMETER = path_parameter("kid", KID_PATTERN, "The key's id (kid)", max_length=128)
DELEGATION_ID_PARAMETER = path_parameter(
    "delegation_id", UUID_PATTERN, "The delegation's id (the request's UUID)", max_length=36
)
SUBSCRIPTION_ID_PARAMETER = path_parameter(
    "subscription_id", UUID_PATTERN, "The subscription's id", max_length=36
)
