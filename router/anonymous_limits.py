"""The rate limit of anonymous lookups (the public card page, the v2 status), per client address.

Counted in the database so that every gunicorn worker enforces one shared limit. The address is
the connection's peer: behind a reverse proxy, wrap the app in werkzeug's ``ProxyFix`` so that it
is the client's, not the proxy's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import request

from router.request_context import database, settings
from router.services import rate_limits

# The clock the windows are read from; tests replace it to cross a window without waiting.
clock: Callable[[], float] = time.time


def limit_anonymous_lookup() -> None:
    """Count this anonymous request; raise RateLimited (429, Retry-After) past the limit."""
    address = request.remote_addr or "unknown"
    with database().session() as session:
        rate_limits.enforce(session, f"anonymous:{address}", settings().public_rate, clock())
