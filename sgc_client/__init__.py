"""sgc_client: the library and CLI an institution's card system (SGC) uses to feed a router.

``RouterClient`` speaks the European Student Card Router's v2 API, so it works with escrouter and
with the real router; the ``/api/x`` features (batch writes, lifecycle, verification, webhooks)
need escrouter.
"""

from sgc_client.client import RouterClient
from sgc_client.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    MethodNotAllowed,
    NotFound,
    RateLimited,
    RouterClientError,
    RuleViolation,
    ServerError,
    TransportError,
    Unauthorized,
)
from sgc_client.resources import BatchResult, Verdict, Webhook
from sgc_client.webhooks import InvalidSignature, verify_signature

__all__ = [
    "ApiError",
    "BadRequest",
    "BatchResult",
    "Conflict",
    "Forbidden",
    "Gone",
    "InvalidSignature",
    "MethodNotAllowed",
    "NotFound",
    "RateLimited",
    "RouterClient",
    "RouterClientError",
    "RuleViolation",
    "ServerError",
    "TransportError",
    "Unauthorized",
    "Verdict",
    "Webhook",
    "verify_signature",
]
