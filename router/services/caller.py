"""Who is calling: the organisation behind a credential and what it may do."""

from __future__ import annotations

from dataclasses import dataclass

from router.domain.errors import AccessDenied, InsufficientScope
from router.models import Organisation


class Scope:
    """The scopes a credential can carry."""

    PERSONS_READ = "persons:read"
    PERSONS_WRITE = "persons:write"
    CARDS_READ = "cards:read"
    CARDS_WRITE = "cards:write"
    VERIFY = "verify"
    # A verifier that may also see the holder's display name (e.g. a library checking a face).
    VERIFY_HOLDER = "verify:holder"
    ADMIN = "admin"
    # An institution's own keys and certificates: its chip-data-zone certificate chain.
    KEYS_MANAGE = "keys:manage"

    ALL = (
        PERSONS_READ,
        PERSONS_WRITE,
        CARDS_READ,
        CARDS_WRITE,
        VERIFY,
        VERIFY_HOLDER,
        ADMIN,
        KEYS_MANAGE,
    )
    INSTITUTION = (PERSONS_READ, PERSONS_WRITE, CARDS_READ, CARDS_WRITE, VERIFY)
    # Partners (transport, culture, catering...) verify cards and nothing else.
    PARTNER = (VERIFY,)


def parse_scopes(text: str) -> tuple[str, ...]:
    """Split a space-separated scope string and refuse unknown scopes."""
    scopes = tuple(dict.fromkeys(text.split()))
    unknown = [s for s in scopes if s not in Scope.ALL]
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}; known: {' '.join(Scope.ALL)}")
    return scopes


@dataclass(frozen=True)
class Caller:
    """An authenticated organisation, the credential it used and that credential's scopes."""

    organisation: Organisation
    credential: str
    scopes: frozenset[str]

    @property
    def organisation_id(self) -> int:
        """Primary key of the calling organisation."""
        return self.organisation.id

    def require(self, scope: str) -> None:
        """Raise :class:`InsufficientScope` unless the credential carries ``scope``."""
        if scope not in self.scopes:
            raise InsufficientScope(
                f"This operation needs the scope {scope!r}; the credential has "
                f"{' '.join(sorted(self.scopes)) or 'none'}."
            )

    def require_own_identifier(self, identifier: str, what: str) -> None:
        """Refuse an organisation identifier in a request body that is not the caller's own."""
        if identifier != self.organisation.identifier:
            raise AccessDenied(
                f"{what} {identifier!r} is not your organisation "
                f"({self.organisation.identifier}); you can only write your own records."
            )
