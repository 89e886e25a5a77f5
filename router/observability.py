"""What an operator sees of each request: a request id, one JSON log line, Prometheus metrics.

- The request id comes from the client's ``X-Request-Id`` when it is a plain token (letters,
  digits, ``.``, ``_``, ``-``; at most 128), else a new one; it is echoed in the response and
  carried by every log line written while the request runs.
- One line per request: method, route template (never the path: paths hold ESIs), status,
  duration, request id, the calling organisation's PIC and the problem code of an error.
- ``/metrics``: not behind the API key; ``ESCR_METRICS_ALLOW`` restricts it to address ranges.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import time
import uuid

import structlog
from flask import Flask, Response, g, request

from router import metrics
from router.domain.errors import MetricsForbidden
from router.logs import get_logger
from router.request_context import database, settings

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
log = get_logger("router.requests")


def request_id_from(header: str | None) -> str:
    """The client's request id if it is a plain token, else a fresh one."""
    if header and _REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


_CONVERTER = re.compile(r"<(?:[^<>]*:)?(\w+)>")


@functools.lru_cache(maxsize=512)
def _plain_rule(rule: str) -> str:
    """A rule with its converters left out (``<escn>``): labels stay short and stable."""
    return _CONVERTER.sub(r"<\1>", rule)


def route_template() -> str:
    """The matched route's template (``/api/v2/cards/<escn>``), or a fixed label."""
    rule = request.url_rule
    if rule is None:
        return "unmatched"
    prefix = request.script_root or ""
    return f"{prefix}{_plain_rule(rule.rule)}"


def note_problem(code: str) -> None:
    """Remember the problem code the request is answered with, for its log line."""
    g.problem_code = code


def _start() -> None:
    g.request_started = time.perf_counter()
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=g.request_id)


def _finish(response: Response) -> Response:
    started = g.get("request_started")
    if started is None:  # a request Flask answered before our hooks ran
        return response
    duration = time.perf_counter() - started
    route = route_template()
    metrics.HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    metrics.HTTP_LATENCY.labels(request.method, route).observe(duration)
    response.headers[REQUEST_ID_HEADER] = g.request_id
    caller_pic = g.get("caller_pic")
    fields: dict[str, object] = {
        "method": request.method,
        "route": route,
        "status": response.status_code,
        "duration_ms": round(duration * 1000, 2),
    }
    if caller_pic is not None:
        fields["organisation"] = caller_pic
    problem = g.get("problem_code")
    if problem is not None:
        fields["problem"] = problem
    level = "error" if response.status_code >= 500 else "info"
    getattr(log, level)("request", **fields)
    return response


def _teardown(_exc: BaseException | None) -> None:
    structlog.contextvars.clear_contextvars()


def metrics_view() -> Response:
    """The Prometheus exposition of every serving process's metrics."""
    allowed = settings().metrics_networks
    if allowed:
        try:
            address = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            address = None
        if address is None or not any(address in network for network in allowed):
            raise MetricsForbidden("This address may not read the metrics (ESCR_METRICS_ALLOW).")
    body = metrics.exposition([metrics.WebhookQueueCollector(database())])
    return Response(body, mimetype="text/plain; version=0.0.4")


def init_observability(app: Flask) -> None:
    """Install the request hooks and ``/metrics``; count the database pool's connections."""
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_teardown)
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
    metrics.track_pool(app.extensions["escr.database"])
