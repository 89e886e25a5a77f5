"""Paging, sorting and searching of lists, in the real router's (Spring Data) manner."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, text
from sqlalchemy.orm import Session

from router.domain.errors import MalformedRequest
from router.domain.text import INT32_MAX
from router.models import SEARCH_SEPARATOR

T = TypeVar("T")

# The form of a ``sort`` parameter, with the sortable fields of a list in ``{fields}``: the
# field (blank: the list's default) and an optional direction in any case.
SORT_PATTERN_TEMPLATE = "^(?:(?:{fields})(?:,(?:[aA][sS][cC]|[dD][eE][sS][cC])?)?)?$"
# Cursor offsets beyond this are refused: every integer up to it is exact in JSON clients.
MAX_OFFSET = 2**53


@dataclass(frozen=True)
class PageRequest:
    """What page of a list the client asked for; ``sort`` is ``field`` or ``field,asc|desc``.

    ``offset``, when set, replaces ``page * size`` as the first row: cursor pagination (GraphQL)
    resumes right after the last item seen, which need not be a page boundary.
    """

    page: int = 0
    size: int = 10
    sort: str | None = None
    direction: str = "ASC"
    search: str | None = None
    offset: int | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results and the totals the client needs to walk the rest."""

    items: Sequence[T]
    number: int
    size: int
    total_elements: int

    @property
    def total_pages(self) -> int:
        """Number of pages of ``size`` items (zero for an empty list)."""
        return math.ceil(self.total_elements / self.size) if self.size else 0


def paginate(
    session: Session,
    query: Select[Any],
    request: PageRequest,
    *,
    sortable: Mapping[str, ColumnElement[Any]],
    default_sort: str,
    max_size: int,
    keyed: Keyed | None = None,
    count_query: Select[Any] | None = None,
    count_in_page: bool = False,
    count: Callable[[], int] | None = None,
    walk: SortWalk | None = None,
) -> Page[Any]:
    """Apply sort and paging to ``query`` (which selects one entity) and run it.

    With ``keyed``, the page is found on keys alone first (``query`` then selects the key
    column): counting, sorting and skipping to a deep page read one index and no table rows
    (a deferred join); only the page's own rows are loaded, by key. ``count_query`` counts the
    same rows without what only the sort needs (a join); ``count_in_page`` counts them in the
    page's own query instead (``count(*) OVER ()`` over the matches: one pass, for a search's
    few matches); ``count`` gives the number without counting (a maintained count of an
    unfiltered list). With ``walk``, a short search's page is looked for first among the first
    rows in sort order (:class:`SortWalk`), and counted apart when found there.
    """
    if not 0 <= request.page <= INT32_MAX:
        raise MalformedRequest(f"page must be between 0 and {INT32_MAX}.")
    if request.offset is not None and not 0 <= request.offset <= MAX_OFFSET:
        raise MalformedRequest(f"offsets lie between 0 and {MAX_OFFSET}.")
    if request.size < 1:
        raise MalformedRequest(f"size must be between 1 and {max_size}.")
    # A larger page is served at the maximum size, as the real router's (Spring's) paging does.
    size = min(request.size, max_size)
    field, direction = _parse_sort(request.sort or default_sort, request.direction)
    if field not in sortable:
        raise MalformedRequest(
            f"cannot sort by {field!r}; sortable fields: {', '.join(sorted(sortable))}."
        )
    column = sortable[field]
    descending = direction == "DESC"
    # A unique tie-breaker keeps pages stable when the sort column has duplicates. It runs in
    # the sort's direction, so that one index (sort key, id) read backwards serves DESC too.
    tie_breaker = sortable[default_sort]
    sort_keys = [column] if tie_breaker is column else [column, tie_breaker]
    ordered = query.order_by(*_directed(sort_keys, descending))
    first_row = request.page * size if request.offset is None else request.offset
    total: int | None = None
    if keyed is None:
        items = list(session.scalars(ordered.offset(first_row).limit(size)).unique())
    else:
        walked: list[Any] | None = None
        few: Select[Any] | None = None  # the matches likely few: sorted by values read by key
        if walk is not None and (bound := walk_bound(first_row, size)) is not None:
            walked = _walked_page(session, walk, sort_keys, descending, first_row, size, bound)
            # A walk that found no page found the matches rare among the first rows.
            few = walk.unfiltered
        if walked is not None:
            keys = walked  # counted below, apart
        elif count_in_page:
            page_rows = session.execute(
                _counted_page(query, sort_keys, descending, values_by_key=few)
                .offset(first_row)
                .limit(size)
            ).all()
            keys = [row[0] for row in page_rows]
            if page_rows:
                total = page_rows[0][1]
            elif first_row == 0:
                total = 0  # no first page: nothing matches
            # Else past the end of the matches: counted below.
        else:
            keys = list(session.scalars(ordered.offset(first_row).limit(size)))
        by_key = {keyed.key_of(row): row for row in keyed.load(keys)} if keys else {}
        items = [by_key[key] for key in keys if key in by_key]
    if total is None and count is not None:
        total = count()
    if total is None:
        counted = (query if count_query is None else count_query).order_by(None)
        total = session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    return Page(items=items, number=request.page, size=size, total_elements=total)


def _counted_page(
    query: Select[Any],
    sort_keys: Sequence[ColumnElement[Any]],
    descending: bool,
    *,
    values_by_key: Select[Any] | None = None,
) -> Select[Any]:
    """The keys of ``query``'s matches in sort order, each with the number of matches.

    One pass over the matches gives the page and, beside each row, their number. The matches
    are a materialised CTE on PostgreSQL, planned for all their rows: the number needs them all,
    but the planner, costing the page's ``LIMIT`` as a fraction of a scan that could stop early,
    would otherwise walk the whole sort index of the organisation, filtering every row, rather
    than read the search indexes' few matches and sort them.

    With ``values_by_key`` (the list's query without the search, selecting the key), the
    matches are their keys alone, and each sort value that is not the key is read by key, a
    subquery per match: a short search's index holds the key but no sort value, and reading
    every row of the organisation from the table to test its search text (about 250 ms at
    300,000 rows) costs more than reading the values of a few matches (a walk found them rare).
    """
    if values_by_key is None:
        query = query.add_columns(*(key.label(f"sort_{n}") for n, key in enumerate(sort_keys)))
    matches = query.cte("matches").prefix_with("MATERIALIZED", dialect="postgresql")
    key = next(iter(matches.c))
    if values_by_key is None:
        order: list[ColumnElement[Any]] = [matches.c[f"sort_{n}"] for n in range(len(sort_keys))]
    else:
        list_key = values_by_key.selected_columns[0]
        order = [
            key
            if sort_key.compare(list_key)
            else values_by_key.with_only_columns(sort_key).where(list_key == key).scalar_subquery()
            for sort_key in sort_keys
        ]
    return select(key, func.count().over()).order_by(*_directed(order, descending))


def _directed(keys: Sequence[ColumnElement[Any]], descending: bool) -> list[ColumnElement[Any]]:
    """``keys`` to order by, each in the sort's direction."""
    return [key.desc() if descending else key.asc() for key in keys]


# How many rows in sort order a short search's page is looked for among: twenty times the rows up
# to the page's end (a page found there when one row in twenty matches), at least a thousand,
# and no walk when that would pass five thousand (a deep page; the matches are then sorted).
WALK_FACTOR = 20
WALK_MIN_ROWS = 1_000
WALK_MAX_ROWS = 5_000


@dataclass(frozen=True)
class SortWalk:
    """A short search's page looked for among the list's first rows in sort order.

    A search of one or two letters matches much of an organisation, often all of it (every ESI
    holds ``esi``): sorting its matches to find the first page sorts them all (about 200 ms at
    300,000 rows). Walking the list's sort index, testing each row's search text, finds that page
    after a few rows instead, and the matches are counted apart on the search text's index
    (index only). A rare text would have the walk read every row (0.6 s at 300,000), so the
    walk is bounded (:data:`WALK_MAX_ROWS`): a page not found within it is found, and counted, by
    sorting the matches. ``unfiltered`` is the list's query without the search, selecting the key.
    """

    unfiltered: Select[Any]
    search_text: ColumnElement[Any]
    search: str


def short_search_walk(
    unfiltered: Select[Any], search: str, *, search_text: ColumnElement[Any]
) -> SortWalk | None:
    """How to walk the list ``unfiltered`` for a short ``search``; none for a longer one."""
    return SortWalk(unfiltered, search_text, search) if is_short_search(search) else None


def walk_bound(first_row: int, size: int) -> int | None:
    """How many rows to walk for the page from ``first_row``; none for a page too deep."""
    bound = max(WALK_MIN_ROWS, WALK_FACTOR * (first_row + size))
    return bound if bound <= WALK_MAX_ROWS else None


def _walked_page(
    session: Session,
    walk: SortWalk,
    sort_keys: Sequence[ColumnElement[Any]],
    descending: bool,
    first_row: int,
    size: int,
    bound: int,
) -> list[Any] | None:
    """The page's keys if the first rows in sort order hold it whole; else none.

    The matches among a list's first rows in sort order are its first matches in that order, so
    a whole page found among them is the page.
    """
    rows = (
        walk.unfiltered.add_columns(
            walk.search_text.label("search_text"),
            *(key.label(f"sort_{n}") for n, key in enumerate(sort_keys)),
        )
        .order_by(*_directed(sort_keys, descending))
        .limit(bound)
        .subquery("walked")
    )
    order = [rows.c[f"sort_{n}"] for n in range(len(sort_keys))]
    keys = list(
        session.scalars(
            select(next(iter(rows.c)))
            .where(_matches_search_text(rows.c.search_text, walk.search))
            .order_by(*_directed(order, descending))
            .offset(first_row)
            .limit(size)
        )
    )
    return keys if len(keys) == size else None


@dataclass(frozen=True)
class Keyed:
    """How to load the rows of a page found on keys: by a list of keys, and each row's key."""

    load: Callable[[list[Any]], Iterable[Any]]
    key_of: Callable[[Any], Any]


def _parse_sort(sort: str, direction: str) -> tuple[str, str]:
    field, _, inline_direction = sort.partition(",")
    chosen = (inline_direction or direction or "ASC").upper()
    if chosen not in {"ASC", "DESC"}:
        raise MalformedRequest(f"direction must be ASC or DESC, not {chosen!r}.")
    return field, chosen


def plan_for_search(session: Session) -> None:
    """Have PostgreSQL plan the searching transaction's statements for their own search text.

    With the default ``random_page_cost`` (4, a spinning disk's), a search for a common first
    name at a large institution (about 5,000 of 300,000 rows) filters all 300,000 entries of a
    sort index (200 ms) rather than read the trigram index's bitmap and those 5,000 rows (50 ms):
    random reads are costed as on cached or solid-state storage. And every statement is planned
    for its parameters (``plan_cache_mode``): once psycopg prepares a statement (its fifth run on
    a connection), PostgreSQL may switch to a generic plan, costed for no text in particular,
    which reads every trigram index in full for a short text (a one-letter search at 30,000
    rows: 220 to 270 ms instead of 50). Set for the searching transaction only; nothing else on
    SQLite.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(SEARCH_PLANNING)


# Both settings in one round trip, for the transaction only (``is_local``), as ``SET LOCAL``.
SEARCH_PLANNING = text(
    "SELECT set_config('random_page_cost', '1.1', true),"
    " set_config('plan_cache_mode', 'force_custom_plan', true)"
)


# A trigram index finds a pattern by its three-letter pieces: a search, or the last segment of a
# text with colons (``...:fr:12345678``) to be found first, needs one piece at least.
_TRIGRAM = 3


def is_short_search(search: str) -> bool:
    """Whether ``search`` is too short for a trigram index: matched on the row's search text.

    A search holding the search text's separator is matched column by column (the separator
    must not join the end of one column to the start of the next).
    """
    return len(search) < _TRIGRAM and SEARCH_SEPARATOR not in search


def search_condition(
    session: Session,
    columns: Sequence[ColumnElement[Any]],
    search: str,
    *,
    search_text: ColumnElement[Any],
) -> ColumnElement[bool]:
    """Whether any of ``columns`` holds ``search``, case-blind, LIKE's wildcards taken literally.

    A search of one or two letters (:func:`is_short_search`) matches ``search_text``, the row's
    lower-cased ``columns`` joined by a separator (``router.models.search_text_of``), with one
    ``LIKE``: no trigram index narrows such a text, it matches most rows, and a B-tree on
    (organisation, search text) serves it without reading the table. The same rows: the pattern
    holds no separator, so a match lies within one column, and ``lower(column) LIKE
    lower(pattern)`` is what ``ILIKE`` computes.

    Every ESI starts with ``urn:schac:personalUniqueCode:int:esi:``, so the three-letter pieces
    of that start are in every row, and a trigram index scan for a whole ESI walks their entries
    for the whole organisation before the few rare ones narrow it (about 40 ms at 300,000 rows).
    On PostgreSQL a text with colons is therefore found by its last segment first (the code
    part), through the indexes, and the rows found are then held to the whole text by a test no
    index serves (``lower(column) LIKE lower(pattern)``, which is what ``ILIKE`` computes).
    That is the same set of rows: a row holding the whole text holds its last segment.
    """
    if is_short_search(search):
        return _matches_search_text(search_text, search)
    pattern = like_pattern(search)
    whole = or_(*(column.ilike(pattern, escape="\\") for column in columns))
    distinctive = search.rpartition(":")[2]
    if (
        len(distinctive) < _TRIGRAM
        or len(distinctive) == len(search)
        or session.get_bind().dialect.name != "postgresql"
    ):
        return whole
    found_by_index = or_(
        *(column.ilike(like_pattern(distinctive), escape="\\") for column in columns)
    )
    held_to_whole = or_(
        *(func.lower(column).like(func.lower(literal(pattern)), escape="\\") for column in columns)
    )
    return and_(found_by_index, held_to_whole)


def _matches_search_text(search_text: ColumnElement[Any], search: str) -> ColumnElement[bool]:
    """Whether a row's search text holds ``search`` (lower-cased on both sides, as ILIKE)."""
    return search_text.like(func.lower(literal(like_pattern(search))), escape="\\")


def like_pattern(text: str) -> str:
    """A case-blind LIKE pattern matching ``text`` anywhere, with wildcards escaped."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
