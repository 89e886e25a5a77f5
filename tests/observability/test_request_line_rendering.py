"""The request line's lean rendering writes what the structlog formatter writes, byte for byte."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
from flask import Flask
from flask.testing import FlaskClient

from router import logs
from router.logs import _StandardError, json_formatter, write_event
from tests.conftest import Tenant


def only_our_handler(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """The router's loggers as gunicorn runs them: our handler alone, standard error a buffer.

    Called in the test itself: pytest attaches its capture handlers when the test starts.
    """
    router_logger = logging.getLogger("router")
    ours = [h for h in router_logger.handlers if isinstance(h, _StandardError)]
    monkeypatch.setattr(router_logger, "handlers", ours)
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    return buffer


def _structlog_line(fields: dict, level: int) -> str:
    """The line structlog's stdlib path gives the same event (the formatter of our handler)."""
    logger = logging.getLogger("router.requests")
    record = logger.makeRecord(
        logger.name, level, __file__, 1, dict(fields), (), None,
        extra={"_logger": logger, "_name": logging.getLevelName(level).lower()},
    )  # fmt: skip
    return json_formatter().format(record)


FIELDS = {
    "method": "GET",
    "route": "/api/v2/cards/<escn>/status",
    "status": 200,
    "duration_ms": 0.42,
    "organisation": "999999999",
    "problem": "ER-0018",
}


@pytest.mark.parametrize("level", [logging.INFO, logging.ERROR])
def test_the_lean_line_is_the_formatters_line(
    app: Flask, monkeypatch: pytest.MonkeyPatch, level: int
) -> None:
    written = only_our_handler(monkeypatch)
    monkeypatch.setattr(logs, "_utc_timestamp", lambda: "2026-11-24T09:00:00.123456Z")
    write_event(
        logging.getLogger("router.requests"), level, "request", {"request_id": "abc", **FIELDS}
    )
    (line,) = written.getvalue().splitlines()
    expected = {
        "timestamp": "2026-11-24T09:00:00.123456Z",
        "level": logging.getLevelName(level).lower(),
        "event": "request",
        "logger": "router.requests",
        "request_id": "abc",
    }
    # The structlog path puts its own fields last; the formatter moves them to the front.
    assert line == _structlog_line({**FIELDS, "event": "request", **expected}, level)
    assert list(json.loads(line)) == [*expected, *FIELDS]


def test_a_request_writes_one_lean_line_in_the_usual_shape(
    client: FlaskClient, uni: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = only_our_handler(monkeypatch)
    response = client.get("/api/v2/persons", headers=uni.headers)
    (line,) = written.getvalue().splitlines()
    fields = json.loads(line)
    assert list(fields) == [
        "timestamp", "level", "event", "logger", "request_id",
        "method", "route", "status", "duration_ms", "organisation",
    ]  # fmt: skip
    assert fields["request_id"] == response.headers["X-Request-Id"]
    assert fields["timestamp"].endswith("Z")


def test_the_level_is_filtered_as_logging_filters_it(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = only_our_handler(monkeypatch)
    router_logger = logging.getLogger("router")
    level = router_logger.level
    router_logger.setLevel(logging.WARNING)  # setLevel also clears logging's level cache
    try:
        client.get("/api/v2/persons")  # a 401, logged at info
    finally:
        router_logger.setLevel(level)
    assert written.getvalue() == ""
    client.get("/api/v2/persons")
    assert json.loads(written.getvalue())["status"] == 401


def test_other_handlers_get_the_record_structlog_would_give(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="router.requests"):
        client.get("/api/v2/persons")
    (record,) = [r for r in caplog.records if r.name == "router.requests"]
    assert record.msg["event"] == "request" and record.msg["status"] == 401
    assert json_formatter().format(record).startswith('{"timestamp": ')
