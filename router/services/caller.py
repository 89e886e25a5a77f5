"""Who is calling: the organisation behind a credential and what it may do."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from router.domain.errors import InsufficientScope, UnauthorisedPic
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
    # Managing what speaks in the organisation's name: its API keys and OAuth2 clients, its
    # public keys (the router then accepts signatures made with them) and its certificate chain.
    # ``admin`` does not imply it: scopes are flat, a credential may do exactly what it names.
    KEYS_MANAGE = "keys:manage"
    ADMIN = "admin"
    # Ask for, decide on and follow delegations (a kiosk's credential needs only this one).
    DELEGATIONS = "delegations"

    ALL = (
        PERSONS_READ,
        PERSONS_WRITE,
        CARDS_READ,
        CARDS_WRITE,
        VERIFY,
        VERIFY_HOLDER,
        KEYS_MANAGE,
        DELEGATIONS,
        ADMIN,
    )
    # An institution's first key, from ``escr-admin key create``, manages its other keys and
    # public keys and takes part in delegations; narrower keys are issued from it.
    INSTITUTION = (
        PERSONS_READ,
        PERSONS_WRITE,
        CARDS_READ,
        CARDS_WRITE,
        VERIFY,
        KEYS_MANAGE,
        DELEGATIONS,
    )
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
    """An authenticated organisation, the credential it used and that credential's scopes.

    The organisation is known by its id and PIC; its ORM object is loaded (``load_organisation``)
    only when a service needs it, so that a lookup with a key builds no ORM object.
    """

    organisation_id: int
    organisation_identifier: str
    credential: str
    scopes: frozenset[str]
    load_organisation: Callable[[int], Organisation] = field(compare=False, repr=False)

    @functools.cached_property
    def organisation(self) -> Organisation:
        """The calling organisation, loaded on first use."""
        return self.load_organisation(self.organisation_id)

    def require(self, scope: str) -> None:
        """Raise :class:`InsufficientScope` unless the credential carries ``scope``."""
        if scope not in self.scopes:
            raise InsufficientScope(
                f"This operation needs the scope {scope!r}; the credential has "
                f"{' '.join(sorted(self.scopes)) or 'none'}."
            )

    def require_all(self, scopes: Iterable[str], what: str) -> None:
        """Refuse unless the credential carries every one of ``scopes`` (no escalation)."""
        missing = sorted(set(scopes) - self.scopes)
        if missing:
            raise InsufficientScope(
                f"{what} carries {' '.join(missing)}, which your credential lacks; "
                "a credential can only give out scopes it holds."
            )

    def require_own_identifier(self, identifier: str, what: str) -> None:
        """Refuse (401, as the real router) an organisation identifier not the caller's own."""
        if identifier != self.organisation_identifier:
            raise UnauthorisedPic(
                f"{what} {identifier!r} is not your organisation "
                f"({self.organisation_identifier}); you can only write your own records."
            )
