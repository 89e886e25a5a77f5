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
import logging
import os
import re
import time

from flask import Flask, Request, Response, g, request

from router import metrics
from router.domain.errors import MetricsForbidden
from router.logs import write_event
from router.request_context import database, settings

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
log = logging.getLogger("router.requests")


def request_id_from(header: str | None) -> str:
    """The client's request id if it is a plain token, else a fresh one (32 hex digits)."""
    if header and _REQUEST_ID.match(header):
        return header
    return os.urandom(16).hex()


_CONVERTER = re.compile(r"<(?:[^<>]*:)?(\w+)>")


@functools.lru_cache(maxsize=512)
def _plain_rule(rule: str, prefix: str) -> str:
    """A rule with its converters left out (``<escn>``): labels stay short and stable."""
    return prefix + _CONVERTER.sub(r"<\1>", rule)


def route_template(req: Request | None = None) -> str:
    """The matched route's template (``/api/v2/cards/<escn>``), or a fixed label."""
    if req is None:
        req = request._get_current_object()  # type: ignore[attr-defined]
    rule = req.url_rule
    if rule is None:
        return "unmatched"
    return _plain_rule(rule.rule, req.script_root or "")


def note_problem(code: str) -> None:
    """Remember the problem code the request is answered with, for its log line."""
    g.problem_code = code


def _start() -> None:
    # g carries the id to every line logged while the request runs (router.logs).
    state = g._get_current_object()  # type: ignore[attr-defined]
    state.request_started = time.perf_counter()
    state.request_id = request_id_from(request.environ.get("HTTP_X_REQUEST_ID"))


def _finish(response: Response) -> Response:
    state = g._get_current_object()  # type: ignore[attr-defined]
    started = state.get("request_started")
    if started is None:  # a request Flask answered before our hooks ran
        return response
    duration = time.perf_counter() - started
    req = request._get_current_object()  # type: ignore[attr-defined]
    route = route_template(req)
    method = req.method
    status = response.status_code
    metrics.child(metrics.HTTP_REQUESTS, method, route, str(status)).inc()
    metrics.child(metrics.HTTP_LATENCY, method, route).observe(duration)
    response.headers[REQUEST_ID_HEADER] = state.request_id
    fields: dict[str, object] = {
        "request_id": state.request_id,
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(duration * 1000, 2),
    }
    caller_pic = state.get("caller_pic")
    if caller_pic is not None:
        fields["organisation"] = caller_pic
    problem = state.get("problem_code")
    if problem is not None:
        fields["problem"] = problem
    write_event(log, logging.ERROR if status >= 500 else logging.INFO, "request", fields)
    return response


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
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
    metrics.track_pool(app.extensions["escr.database"])
