"""Relay-style cursor connections over the services' paged lists.

A cursor is the opaque, base64-encoded offset of an item in the list's order; ``first``/``after``
walk forward and ``last``/``before`` backward, as the Relay connection specification describes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass

import strawberry

from router.domain.errors import MalformedRequest
from router.graphql.types import Card, Person
from router.services.pagination import MAX_OFFSET

_PREFIX = "offset:"


def encode_cursor(offset: int) -> str:
    """The opaque cursor of the item at ``offset``."""
    return base64.urlsafe_b64encode(f"{_PREFIX}{offset}".encode()).decode("ascii")


def decode_cursor(cursor: str) -> int:
    """The offset behind a cursor, or a 400 error if the cursor is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise MalformedRequest(f"{cursor!r} is not a valid cursor.") from exc
    digits = text[len(_PREFIX) :]
    if not text.startswith(_PREFIX) or not digits.isascii() or not digits.isdigit():
        raise MalformedRequest(f"{cursor!r} is not a valid cursor.")
    if len(digits) > len(str(MAX_OFFSET)) or int(digits) > MAX_OFFSET:
        raise MalformedRequest(f"{cursor!r} points past the end of any list.")
    return int(digits)


@dataclass(frozen=True)
class Window:
    """The slice of a list a connection asked for: where it starts and how many items."""

    offset: int
    size: int


def window(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    *,
    max_size: int,
    count: Callable[[], int],
) -> Window:
    """Turn Relay arguments into an offset and a size, refusing nonsense with a clear message.

    ``count`` gives the length of the list; it is called only for ``last`` without ``before``,
    the one case that needs to know where the list ends.
    """
    if first is not None and last is not None:
        raise MalformedRequest("Give either first or last, not both.")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 1 <= value <= max_size:
            raise MalformedRequest(f"{name} must be between 1 and {max_size}.")
    start = decode_cursor(after) + 1 if after is not None else 0
    end = decode_cursor(before) if before is not None else None
    if end is not None and end < start:
        raise MalformedRequest("The before cursor comes ahead of the after cursor.")
    if last is not None:
        if end is None:
            end = max(count(), start)
        begin = max(start, end - last)
        return Window(offset=begin, size=end - begin)
    size = first if first is not None else 10
    if end is not None:
        size = min(size, end - start)
    return Window(offset=start, size=size)


@strawberry.type(description="Where a page sits in the whole list (Relay PageInfo).")
class PageInfo:
    """Relay page information."""

    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


def page_info(offset: int, count: int, total: int) -> PageInfo:
    """The PageInfo of ``count`` items starting at ``offset`` of ``total``."""
    return PageInfo(
        has_next_page=offset + count < total,
        has_previous_page=offset > 0,
        start_cursor=encode_cursor(offset) if count else None,
        end_cursor=encode_cursor(offset + count - 1) if count else None,
    )


@strawberry.type(description="A person and its cursor.")
class PersonEdge:
    """Relay edge of a person."""

    cursor: str
    node: Person


@strawberry.type(description="A page of persons (Relay connection).")
class PersonConnection:
    """Relay connection of persons."""

    edges: list[PersonEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="A card and its cursor.")
class CardEdge:
    """Relay edge of a card."""

    cursor: str
    node: Card


@strawberry.type(description="A page of cards (Relay connection).")
class CardConnection:
    """Relay connection of cards."""

    edges: list[CardEdge]
    page_info: PageInfo
    total_count: int
