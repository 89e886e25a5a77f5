"""Domain errors, each with a stable code, HTTP status, problem type and title.

Services raise these; the REST layer renders them as problem+json carrying the real router's
``{"code", "message"}`` body, and the GraphQL layer as errors with the same ``extensions.code``.
The codes ``ER-0002``, ``ER-0019`` and ``SE-0000`` are the real router's (seen in the field); the
others are ours and stay stable once published.
"""

from __future__ import annotations

from typing import ClassVar


class RouterError(Exception):
    """Base of every error a client can be told about."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "ER-0000"
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, message: str, *, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    @property
    def type_uri(self) -> str:
        """The RFC 7807 ``type`` of this error: a stable relative URI documented by the router."""
        return f"/problems/{self.slug}"


class MalformedRequest(RouterError):
    """The request cannot be read: bad JSON, wrong field types, missing fields."""

    status = 400
    code = "ER-0400"
    slug = "malformed-request"
    title = "Malformed request"


class InvalidIdentifier(RouterError):
    """An ESCN, ESI or PIC does not have the form the rules demand."""

    status = 400
    code = "ER-0401"
    slug = "invalid-identifier"
    title = "Invalid identifier"


class InternalError(RouterError):
    """The router failed unexpectedly; the failure is logged and its details are not shown."""

    status = 500
    code = "ER-0500"
    slug = "internal-error"
    title = "Internal error"

    def __init__(self, message: str = "The router failed unexpectedly.") -> None:
        super().__init__(message)


class DatabaseUnavailable(RouterError):
    """The database cannot be reached (or cannot serve) right now; nothing was changed.

    The router recovers by itself once the database is back: retry after ``Retry-After``.
    """

    status = 503
    code = "ER-0102"
    slug = "database-unavailable"
    title = "Database unavailable"

    def __init__(
        self,
        message: str = "The router's database is unavailable; nothing was changed, retry later.",
        *,
        retry_after: int = 5,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotReady(RouterError):
    """The router is up but not ready to serve: its database is behind the code's migrations."""

    status = 503
    code = "ER-0103"
    slug = "not-ready"
    title = "Not ready"

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotAuthenticated(RouterError):
    """No credential, or one that is unknown, revoked, expired or forged."""

    status = 401
    code = "SE-0001"
    slug = "not-authenticated"
    title = "Authentication required"


class AccessDenied(RouterError):
    """The caller is known but may not touch this resource (another organisation's)."""

    status = 403
    code = "SE-0000"
    slug = "access-denied"
    title = "Access denied"


class InsufficientScope(RouterError):
    """The credential is valid but lacks the scope this operation needs."""

    status = 403
    code = "SE-0002"
    slug = "insufficient-scope"
    title = "Insufficient scope"


class UnauthorisedPic(RouterError):
    """The request names an organisation (PIC) the credential does not belong to.

    The real router answers 401 here, and its clients read a 401 on such a call as "unauthorised
    PIC for this key"; a refusal for a missing scope stays a 403.
    """

    status = 401
    code = "SE-0003"
    slug = "unauthorised-pic"
    title = "Unauthorised PIC for this credential"


class NotFound(RouterError):
    """Base of the "no such thing" errors."""

    status = 404
    code = "ER-0404"
    slug = "not-found"
    title = "Not found"


class PersonNotFound(NotFound):
    """No person with this ESI."""

    code = "ER-0018"
    slug = "person-not-found"
    title = "Person not found"


class CardNotFound(NotFound):
    """No card with this ESCN."""

    code = "ER-0001"
    slug = "card-not-found"
    title = "Card not found"


class OrganisationNotFound(NotFound):
    """No organisation with this identifier."""

    code = "ER-0030"
    slug = "organisation-not-found"
    title = "Organisation not found"


class CredentialNotFound(NotFound):
    """No API key or OAuth2 client with this identifier."""

    code = "ER-0040"
    slug = "credential-not-found"
    title = "Credential not found"


class Conflict(RouterError):
    """Base of the "already exists" errors."""

    status = 409
    code = "ER-0409"
    slug = "conflict"
    title = "Already exists"


class PersonAlreadyExists(Conflict):
    """A person with this ESI is already registered (real router code)."""

    code = "ER-0019"
    slug = "person-already-exists"
    title = "Person already exists"


class CardAlreadyExists(Conflict):
    """A card with this ESCN (or chip serial number) is already registered (real router code)."""

    code = "ER-0002"
    slug = "card-already-exists"
    title = "Card already exists"


class OrganisationAlreadyExists(Conflict):
    """An organisation with this identifier already exists."""

    code = "ER-0031"
    slug = "organisation-already-exists"
    title = "Organisation already exists"


class ConcurrentChange(Conflict):
    """A record changed by other requests every time this one tried to write it."""

    code = "ER-0101"
    slug = "concurrent-change"
    title = "Changed concurrently"


class PersonErased(RouterError):
    """The person was erased (anonymised) at an organisation's request: 410 as the real router."""

    status = 410
    code = "ER-0020"
    slug = "person-erased"
    title = "Person erased"


class RuleViolation(RouterError):
    """A well-formed request that the router's rules refuse."""

    status = 422
    code = "ER-0422"
    slug = "rule-violation"
    title = "Request refused by the rules"


class InvalidTransition(RuleViolation):
    """A card lifecycle change that is not allowed from the card's current state."""

    code = "ER-0050"
    slug = "invalid-transition"
    title = "Card state change not allowed"


class TooManyNumbers(RouterError):
    """More card numbers asked for than one reservation allows."""

    status = 400
    code = "ER-0060"
    slug = "too-many-numbers"
    title = "Too many card numbers requested"


class NoNumbersRequested(RouterError):
    """A card number reservation asking for no number at all (zero or fewer)."""

    status = 400
    code = "ER-0100"
    slug = "no-numbers-requested"
    title = "No card number requested"


class PictureNotFound(NotFound):
    """The organisation holds no picture of this person."""

    code = "ER-0070"
    slug = "picture-not-found"
    title = "Picture not found"


class InvalidPicture(RouterError):
    """An uploaded picture that is not a JPEG or PNG image of the required size."""

    status = 400
    code = "ER-0071"
    slug = "invalid-picture"
    title = "Invalid picture"


class UnreadableScan(RouterError):
    """What a partner scanned is neither a card number nor a verification URL."""

    status = 400
    code = "ER-0090"
    slug = "unreadable-scan"
    title = "Unreadable scan"


class MalformedVerificationUrl(RouterError):
    """A scanned URL that cannot be parsed, or whose path names no card number."""

    status = 400
    code = "ER-0091"
    slug = "malformed-verification-url"
    title = "Malformed verification URL"


class NotAnEscn(RouterError):
    """A scanned identifier that looks like a UUID but is not a European Student Card Number."""

    status = 400
    code = "ER-0092"
    slug = "not-an-escn"
    title = "Not a European Student Card Number"


class ForeignRouterCard(RuleViolation):
    """A verification URL of another router: this router cannot vouch for that card."""

    code = "ER-0093"
    slug = "foreign-router-card"
    title = "Card of another router"


class RateLimited(RouterError):
    """Too many anonymous lookups from one client address in the current window."""

    status = 429
    code = "ER-0094"
    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retryAfter": retry_after})
        self.retry_after = retry_after


class WebhookNotFound(NotFound):
    """No webhook subscription with this id belongs to the caller's organisation."""

    code = "ER-0080"
    slug = "webhook-not-found"
    title = "Webhook subscription not found"


class InvalidWebhookUrl(RouterError):
    """A webhook callback URL that is not an absolute HTTPS URL."""

    status = 400
    code = "ER-0081"
    slug = "invalid-webhook-url"
    title = "Invalid webhook URL"


class UnreadableCsv(RouterError):
    """An uploaded CSV file that cannot be read at all (encoding, empty, no rows)."""

    status = 400
    code = "ER-0082"
    slug = "unreadable-csv"
    title = "Unreadable CSV file"


class CsvTooLarge(RouterError):
    """A CSV file with more rows than one request may carry: nothing of it was read or written."""

    status = 413
    code = "ER-0104"
    slug = "csv-too-large"
    title = "CSV file too large"


class BatchSizeInvalid(RouterError):
    """A batch request with no items or more items than one request may carry."""

    status = 400
    code = "ER-0083"
    slug = "batch-size-invalid"
    title = "Batch size out of range"


class InvalidCsvRow(RouterError):
    """A CSV row whose fields fail validation; the details list each field's problem."""

    status = 400
    code = "ER-0084"
    slug = "invalid-csv-row"
    title = "Invalid CSV row"


class MetricsForbidden(RouterError):
    """The metrics are restricted to some addresses (ESCR_METRICS_ALLOW) and this is not one."""

    status = 403
    code = "ER-0150"
    slug = "metrics-forbidden"
    title = "Metrics not available to this address"


class InvalidCertificateChain(RouterError):
    """An uploaded certificate chain that is not PEM certificates, each issued by the next."""

    status = 400
    code = "ER-0300"
    slug = "invalid-certificate-chain"
    title = "Invalid certificate chain"


class CertificateWithoutPic(RouterError):
    """A chip-data-zone certificate whose subject names no PIC (organizationIdentifier PIC:...)."""

    status = 400
    code = "ER-0301"
    slug = "certificate-without-pic"
    title = "Certificate names no PIC"


class CertificateChainNotFound(NotFound):
    """No certificate chain is published for this PIC."""

    code = "ER-0302"
    slug = "certificate-chain-not-found"
    title = "Certificate chain not found"


class RevocationListNotFound(NotFound):
    """No certificate revocation list is published by this router."""

    code = "ER-0303"
    slug = "revocation-list-not-found"
    title = "Revocation list not found"


def all_error_classes() -> list[type[RouterError]]:
    """Every concrete error class, for the problem-type documentation."""
    seen: list[type[RouterError]] = []
    pending: list[type[RouterError]] = [RouterError]
    while pending:
        cls = pending.pop()
        seen.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(seen, key=lambda c: c.code)
