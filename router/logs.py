"""Structured logs: one JSON object per line on standard error, through structlog.

Configured once per process by the application factory. The router's own loggers (``router.*``)
and gunicorn's error log write through the same JSON formatter; each line carries the request id
of the request it belongs to. What is logged is chosen where it is logged: route templates, never
paths (they hold ESIs), organisation PICs, never keys, names or e-mail addresses.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

# Fields every line starts with, whatever logged it.
_SHARED = [
    structlog.contextvars.merge_contextvars,
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
