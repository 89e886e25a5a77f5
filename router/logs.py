"""Structured logs: one JSON object per line on standard error, through structlog.

Configured once per process by the application factory. The router's own loggers (``router.*``)
and gunicorn's error log write through the same JSON formatter; each line carries the request id
of the request it belongs to. What is logged is chosen where it is logged: route templates, never
paths (they hold ESIs), organisation PICs, never keys, names or e-mail addresses.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

import structlog
from flask import g, has_app_context


def _add_request_id(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """The id of the request being answered (``flask.g.request_id``), when there is one."""
    if "request_id" not in event and has_app_context():
        request_id = g.get("request_id")
        if request_id is not None:
            event["request_id"] = request_id
    return event


# Fields every line starts with, whatever logged it.
_SHARED = [
    structlog.contextvars.merge_contextvars,
    _add_request_id,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever ``sys.stderr`` is when a line is written.

    gunicorn and test runners replace ``sys.stderr``; a handler that kept the stream it was
    created with would write to a closed file.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass

    def write_line(self, line: str) -> None:
        """Write an already rendered line, as :meth:`emit` writes a formatted record."""
        with self.lock:  # type: ignore[union-attr]
            stream = sys.stderr
            stream.write(line + self.terminator)
            stream.flush()


_LEAD = ("timestamp", "level", "event", "logger", "request_id")


def _lead_fields(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Put when, how bad and what first, so that a person can read the lines too."""
    lead = {key: event.pop(key) for key in _LEAD if key in event}
    return {**lead, **event}


def json_formatter() -> logging.Formatter:
    """The formatter rendering any log record, structlog's or the standard library's, as JSON."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _lead_fields,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
    )


def _utc_timestamp() -> str:
    """The timestamp structlog's ``TimeStamper(fmt="iso", utc=True)`` writes."""
    return dt.datetime.now(tz=dt.UTC).isoformat().replace("+00:00", "Z")


def write_event(logger: logging.Logger, level: int, event: str, fields: dict[str, Any]) -> None:
    """Log ``event`` with ``fields`` as one JSON line, the same line the structlog path writes.

    For the line written on every request: one ``json.dumps`` of the fields in the order the
    formatter puts them (when, how bad, what, who, which request, then the rest), written
    through the router's own handler without a log record, structlog's processors or the
    formatter. The level is filtered as by ``logging``; any other handler in the logger's chain
    (a test's capture, an operator's addition) gets the record structlog would have made, and
    a logger with filters goes the whole structlog way.
    """
    if not logger.isEnabledFor(level):
        return
    name = logging.getLevelName(level).lower()
    lead: dict[str, Any] = {"timestamp": _utc_timestamp(), "level": name, "event": event}
    lead["logger"] = logger.name
    request_id = fields.pop("request_id", None)
    if request_id is None and has_app_context():
        request_id = g.get("request_id")
    if request_id is not None:
        lead["request_id"] = request_id
    line_fields = {**lead, **fields}
    line: str | None = None
    record: logging.LogRecord | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            structlog.stdlib.get_logger(logger.name).log(level, event, **fields)
            return
        current = current.parent if current.propagate else None
    current = logger
    while current is not None:
        for handler in current.handlers:
            if level < handler.level:
                continue
            if type(handler) is _StandardError and not handler.filters:
                if line is None:
                    line = json.dumps(line_fields)
                try:
                    handler.write_line(line)
                except Exception:
                    handler.handleError(record or _record(logger, level, name, line_fields))
            else:
                record = record or _record(logger, level, name, line_fields)
                handler.handle(record)
        current = current.parent if current.propagate else None


def _record(
    logger: logging.Logger, level: int, name: str, fields: dict[str, Any]
) -> logging.LogRecord:
    """The record structlog's stdlib path hands the handlers (its formatter reads ``msg``)."""
    return logger.makeRecord(
        logger.name,
        level,
        "(unknown file)",
        0,
        dict(fields),
        (),
        None,
        extra={"_logger": logger, "_name": name},
    )


def configure_logging(level: str = "INFO") -> None:
    """Send the router's logs to standard error as JSON lines; only the first call configures."""
    router_logger = logging.getLogger("router")
    if any(isinstance(h, _StandardError) for h in router_logger.handlers):
        router_logger.setLevel(level.upper())
        return
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _StandardError()
    handler.setFormatter(json_formatter())
    router_logger.addHandler(handler)
    router_logger.setLevel(level.upper())
    # The router's lines are complete where they are written: not again through the root logger.
    router_logger.propagate = False


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger under the ``router`` namespace."""
    return structlog.stdlib.get_logger(name)
