"""The reads of the QR-scan path: one statement per card, only the columns the answer needs.

The public status, the public page and a partner's verification all need the same few facts:
the card's state and dates and its issuer's public facts, joined in one ``SELECT``. Nothing of the
holder is loaded for an anonymous answer; the display name is selected only when the caller may
see it. The statements are built once, so SQLAlchemy compiles them once per process.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, case, null, select, true

from router.db import Executor, connection_of
from router.models import ApiKey, Card, Organisation
from router.precompiled import Precompiled
from router.services.credentials import KEY_READ


@dataclass(frozen=True, slots=True)
class CardFacts:
    """What a lookup of one card reads: its state, dates and issuer (and the display name)."""

    card_number: str
    state: str
    issued_at: dt.date
    expires_at: dt.date
    issuer_id: int
    issuer_identifier: str
    issuer_name: str
    issuer_country: str | None
    display_name: str | None = None


_PUBLIC_COLUMNS = (
    Card.card_number,
    Card.state,
    Card.issued_at,
    Card.expires_at,
    Card.issuer_id,
    Organisation.identifier,
    Organisation.name,
    Organisation.country,
)


def _statement(*columns: ColumnElement[Any]) -> Select[Any]:
    return (
        select(*columns)
        .join(Organisation, Organisation.id == Card.issuer_id)
        .where(Card.card_number == bindparam("number"))
    )


_PUBLIC = _statement(*_PUBLIC_COLUMNS)
_WITH_HOLDER_NAME = _statement(*_PUBLIC_COLUMNS, Card.display_name)
# The display name only when the card's issuer is the given organisation (its own cards).
_WITH_OWN_HOLDER_NAME = _statement(
    *_PUBLIC_COLUMNS,
    case((Card.issuer_id == bindparam("organisation"), Card.display_name), else_=null()),
)
# Run on the connection's DBAPI cursor (router.precompiled): a lookup's statement is most of
# its CPU, and half of that was SQLAlchemy's execution around the driver's.
_PUBLIC_RUN = Precompiled(_PUBLIC)
_WITH_HOLDER_NAME_RUN = Precompiled(_WITH_HOLDER_NAME)
_WITH_OWN_HOLDER_NAME_RUN = Precompiled(_WITH_OWN_HOLDER_NAME)


def card_facts(
    executor: Executor,
    number: str,
    *,
    display_name: bool = False,
    display_name_for: int | None = None,
) -> CardFacts | None:
    """The facts of the card numbered ``number`` (a parsed ESCN), or None; one statement.

    No cache: a card reported lost reads as lost on the next lookup, on every worker and host.

    The holder's display name is read with ``display_name`` (a caller allowed to see every
    holder's), or, with ``display_name_for``, only if that organisation issued the card.
    """
    # The statement runs on a Core connection: no ORM layer between. The QR-scan path passes
    # its own connection (no ORM session at all); others their session's.
    connection = connection_of(executor)
    if display_name:
        row = _WITH_HOLDER_NAME_RUN.first(connection, {"number": number})
    elif display_name_for is not None:
        parameters = {"number": number, "organisation": display_name_for}
        row = _WITH_OWN_HOLDER_NAME_RUN.first(connection, parameters)
    else:
        row = _PUBLIC_RUN.first(connection, {"number": number})
    return None if row is None else CardFacts(*row)


@dataclass(frozen=True, slots=True)
class CardRead:
    """A card's facts read already (None: no such card), so that a service need not read them."""

    facts: CardFacts | None


# An API key (as authentication reads it) and one card's facts in one statement: the public
# status asked with a key is one round trip, not two. The card is joined outside the key (a key
# without that card is still a row: no row means no API key); its holder's display name only
# when the key's organisation issued the card.
_CARD = _statement(*_PUBLIC_COLUMNS, Card.display_name).subquery("card")
_KEY_AND_CARD = KEY_READ.add_columns(
    *(_CARD.c[column.key] for column in _CARD.c if column.key != "display_name"),
    case((_CARD.c.issuer_id == ApiKey.organisation_id, _CARD.c.display_name), else_=null()),
).outerjoin(_CARD, true())
_KEY_AND_CARD_RUN = Precompiled(_KEY_AND_CARD)
_KEY_WIDTH = len(KEY_READ.selected_columns)


def key_and_card(
    executor: Executor, key_digest: str, number: str
) -> tuple[tuple[Any, ...], CardRead] | None:
    """The API key with this digest and the card numbered ``number``, in one statement.

    None when no API key has this digest. Else the key's row as
    :func:`router.services.credentials.caller_of_key` takes it, and the card's facts (None for
    no such card) with the holder's display name only on the key's organisation's own cards.
    """
    row = _KEY_AND_CARD_RUN.first(connection_of(executor), {"digest": key_digest, "number": number})
    if row is None:
        return None
    card = row[_KEY_WIDTH:]
    return row[:_KEY_WIDTH], CardRead(None if card[0] is None else CardFacts(*card))


_ORGANISATION_ID = select(Organisation.id).where(Organisation.identifier == bindparam("pic"))
_ORGANISATION_ID_RUN = Precompiled(_ORGANISATION_ID)


def organisation_id(executor: Executor, identifier: str) -> int | None:
    """The id of the organisation with this PIC (or VAT number), if any; one statement."""
    connection = connection_of(executor)
    row = _ORGANISATION_ID_RUN.first(connection, {"pic": identifier})
    return None if row is None else row[0]
