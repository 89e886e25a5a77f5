"""Marshmallow's ``dump`` of a response schema, compiled once into plain functions.

A page of 50 cards is about 850 nested schema dumps, and marshmallow spent as long on them as the
database on the page. The compiled dump walks the schema's declared fields once, at import, into
one function per schema that reads a dict as marshmallow does (a missing key is left out, a None
stays None) and formats each value as its field would. It supports the field types the list
responses use and refuses to compile anything else (hooks, ``only``/``exclude``, ``data_key``,
defaults, other field types), so that it cannot silently differ from marshmallow's own dump;
tests compare the two on real pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import Schema, fields

Dumper = Callable[[Any], Any]


def _text(value: Any) -> str:
    # As marshmallow's ensure_text_type.
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _scalar(field: fields.Field) -> Dumper:
    # Exact types: a subclass may format differently.
    if type(field) is fields.String:
        return lambda value: value if type(value) is str else _text(value)
    if type(field) is fields.Boolean:
        truthy, falsy = field.truthy, field.falsy

        def boolean(value: Any) -> Any:
            try:
                if value in truthy:
                    return True
                if value in falsy:
                    return False
            except TypeError:
                pass
            return bool(value)

        return boolean
    if type(field) is fields.Integer and not field.as_string:
        return int
    if type(field) is fields.Float and not field.as_string:
        return float
    if type(field) is fields.Date and field.format in (None, "iso"):
        return dt.date.isoformat
    raise TypeError(f"no compiled dump for {type(field).__name__} {field!r}")


def _field(field: fields.Field) -> Dumper:
    if isinstance(field, fields.List):
        inner = _field(field.inner)
        return lambda values: [None if v is None else inner(v) for v in values]
    if isinstance(field, fields.Nested):
        if field.only or field.exclude or field.many or not isinstance(field.nested, type):
            raise TypeError(f"no compiled dump for {field!r}")
        return compile_dump(field.nested)
    return _scalar(field)


def compile_dump(schema_class: type[Schema]) -> Dumper:
    """A function equal to ``schema_class().dump(obj)`` for a dict ``obj`` (see the module)."""
    schema = schema_class()
    if any(schema._hooks.values()) or schema.only or schema.exclude:
        raise TypeError(f"no compiled dump for {schema_class.__name__}: hooks or only/exclude")
    plan: list[tuple[str, Dumper]] = []
    for name, field in schema.dump_fields.items():
        if field.data_key not in (None, name) or field.attribute not in (None, name):
            raise TypeError(f"no compiled dump for {schema_class.__name__}.{name}: renamed")
        if field.dump_default is not fields.missing_:
            raise TypeError(f"no compiled dump for {schema_class.__name__}.{name}: default")
        plan.append((name, _field(field)))

    def dump(obj: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, convert in plan:
            if name in obj:
                value = obj[name]
                out[name] = None if value is None else convert(value)
        return out

    return dump


class CompiledDump(Schema):
    """A response schema whose ``dump`` of a dict is compiled (see the module)."""

    _compiled: Dumper | None = None

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        """The compiled dump of a dict; marshmallow's for anything else."""
        cls = type(self)
        if many or self.many or not isinstance(obj, Mapping) or self.only or self.exclude:
            return super().dump(obj, many=many)
        if cls.__dict__.get("_compiled") is None:
            cls._compiled = compile_dump(cls)
        compiled = cls.__dict__["_compiled"]
        return compiled(obj)
