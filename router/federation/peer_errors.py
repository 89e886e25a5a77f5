"""Federation errors (codes ER-0250 to ER-0299), each with its own status and problem type.

Two families. Errors of a *peer* (ER-0250..0257) are what this router answers its own client when
the router hosting a card cannot give a trustworthy answer: 502, 503 or 504, never a hang. Errors
of a *peer request* (ER-0260..0266) are what this router answers another router whose signed
request it refuses. Catalogue errors (ER-0270..0274) come from the authority's tools and from the
catalogue a router fetches.
"""

from __future__ import annotations

from router.domain.errors import RouterError


class PeerError(RouterError):
    """Base of the answers given when a peer router could not answer for a card."""

    status = 502
    code = "ER-0250"
    slug = "peer-unreachable"
    title = "Peer router unreachable"

    def __init__(self, message: str, *, router_id: str) -> None:
        super().__init__(message, details={"router": router_id})
        self.router_id = router_id


class PeerUnreachable(PeerError):
    """The router hosting the card could not be reached (connection refused, DNS, TLS)."""


class PeerTimeout(PeerError):
    """The router hosting the card did not answer within the federation's timeouts."""

    status = 504
    code = "ER-0251"
    slug = "peer-timeout"
    title = "Peer router timed out"


class PeerBadAnswer(PeerError):
    """The peer's answer was refused (bad signature or key, no echoed request id, stale, not JSON).

    A key is wrong when the catalogue does not give it to the router that was asked.
    """

    code = "ER-0252"
    slug = "peer-bad-answer"
    title = "Peer router's answer refused"


class PeerCircuitOpen(PeerError):
    """Recent requests to this peer failed: it is not asked again until its breaker half-opens."""

    status = 503
    code = "ER-0253"
    slug = "peer-circuit-open"
    title = "Peer router temporarily avoided"

    def __init__(self, message: str, *, router_id: str, retry_after: int) -> None:
        super().__init__(message, router_id=router_id)
        self.retry_after = retry_after


class PeerFailed(PeerError):
    """The peer answered with a server error of its own."""

    code = "ER-0254"
    slug = "peer-failed"
    title = "Peer router failed"


class PeerRefusedRequest(PeerError):
    """The peer refused this router's signed request (it does not trust it, or not yet)."""

    code = "ER-0255"
    slug = "peer-refused-request"
    title = "Peer router refused the request"


class FederationUnavailable(RouterError):
    """Unknown card here, and no valid catalogue held to tell which router hosts it."""

    status = 503
    code = "ER-0256"
    slug = "federation-unavailable"
    title = "Federation catalogue unavailable"


class ForwardedProblem(RouterError):
    """A client error of the peer that this router does not know by its code, passed on as is."""

    status = 400
    code = "ER-0257"
    slug = "forwarded-problem"
    title = "Problem reported by the peer router"

    def __init__(self, message: str, *, status: int, code: str, title: str, slug: str) -> None:
        super().__init__(message)
        # Instance attributes shadow the class's: the problem keeps the peer's own identity.
        self.status = status  # type: ignore[misc]
        self.code = code  # type: ignore[misc]
        self.title = title  # type: ignore[misc]
        self.slug = slug  # type: ignore[misc]


class InvalidPeerSignature(RouterError):
    """A peer request without a valid HTTP message signature, request id or content digest."""

    status = 401
    code = "ER-0260"
    slug = "invalid-peer-signature"
    title = "Invalid router signature"


class UnknownPeerRouter(RouterError):
    """A peer request signed with a key that no router of the federation catalogue holds."""

    status = 403
    code = "ER-0261"
    slug = "unknown-peer-router"
    title = "Router not in the federation catalogue"


class StalePeerRequest(RouterError):
    """A peer request whose signature or Date lies outside the accepted clock skew."""

    status = 401
    code = "ER-0262"
    slug = "stale-peer-request"
    title = "Stale or future-dated router request"


class ReplayedPeerRequest(RouterError):
    """A peer request whose request id this router has already answered."""

    status = 409
    code = "ER-0263"
    slug = "replayed-peer-request"
    title = "Replayed router request"


class NotHostedHere(RouterError):
    """A peer asked about a card whose issuer this router does not host.

    Requests are never forwarded twice, so a misdirected one is refused rather than passed on.
    """

    status = 421
    code = "ER-0264"
    slug = "not-hosted-here"
    title = "Card not hosted by this router"


class FederationNotConfigured(RouterError):
    """No federation here (no router key, or no valid catalogue): nothing to ask.

    A 404, not a 503: a standalone router stays standalone until its operator joins it to a
    federation; waiting and asking again would not help.
    """

    status = 404
    code = "ER-0265"
    slug = "federation-not-configured"
    title = "Federation not configured"


class InvalidCatalogue(RouterError):
    """A federation catalogue that is malformed, breaks a rule, or lacks the authority's seal."""

    status = 422
    code = "ER-0270"
    slug = "invalid-catalogue"
    title = "Invalid federation catalogue"


class CatalogueExpired(InvalidCatalogue):
    """A federation catalogue past its validUntil: it may no longer be trusted."""

    code = "ER-0271"
    slug = "catalogue-expired"
    title = "Federation catalogue expired"


class CatalogueRollback(InvalidCatalogue):
    """A federation catalogue older than the one already held (a lower serial number)."""

    code = "ER-0272"
    slug = "catalogue-rollback"
    title = "Older federation catalogue refused"


class CatalogueNotPublished(RouterError):
    """No federation catalogue is published on this router."""

    status = 404
    code = "ER-0273"
    slug = "catalogue-not-published"
    title = "No federation catalogue published here"
