"""DataLoaders: the cards, pictures, histories and organisations of many nodes in one query each.

The Flask view executes GraphQL synchronously, so the loaders batch without an event loop: a
resolver that builds a list of nodes announces their keys (:meth:`BatchLoader.expect`), and the
first ``load`` of any of them fetches every announced key at once. Results are cached for the
request, so a key is never fetched twice.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from router.models import Card, CardHistoryEntry, Organisation
from router.services import bulk_reads
from router.services.caller import Caller

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BatchLoader(Generic[K, V]):
    """Loads values by key in batches, caching them for the lifetime of one request."""

    def __init__(self, fetch: Callable[[list[K]], Mapping[K, V]], missing: Callable[[], V]) -> None:
        self._fetch = fetch
        self._missing = missing
        self._cache: dict[K, V] = {}
        self._expected: dict[K, None] = {}

    def expect(self, keys: Iterable[K]) -> None:
        """Announce keys that are likely to be loaded soon, so that one batch covers them all."""
        for key in keys:
            if key not in self._cache:
                self._expected[key] = None

    def load(self, key: K) -> V:
        """The value of ``key``, fetching it together with every announced key on a miss."""
        if key not in self._cache:
            self._expected[key] = None
            batch = list(self._expected)
            self._expected.clear()
            found = self._fetch(batch)
            for wanted in batch:
                self._cache[wanted] = found[wanted] if wanted in found else self._missing()
        return self._cache[key]


@dataclass
class Loaders:
    """The loaders of one GraphQL request, bound to its session and caller."""

    cards_by_person: BatchLoader[int, list[Card]]
    has_picture: BatchLoader[int, bool]
    history_by_card: BatchLoader[str, list[CardHistoryEntry]]
    organisation_by_identifier: BatchLoader[str, Organisation | None]
    organisation_identifier_by_id: BatchLoader[int, str | None]

    @classmethod
    def for_request(cls, session: Session, caller: Caller) -> Loaders:
        """Fresh loaders: nothing is cached across requests, so nothing leaks between callers."""

        def pictures(ids: list[int]) -> dict[int, bool]:
            return {pid: True for pid in bulk_reads.persons_with_picture(session, caller, ids)}

        history_by_card: BatchLoader[str, list[CardHistoryEntry]] = BatchLoader(
            lambda numbers: bulk_reads.histories_by_card(session, caller, numbers), list
        )
        organisation_by_identifier: BatchLoader[str, Organisation | None] = BatchLoader(
            lambda identifiers: bulk_reads.organisations_by_identifier(session, identifiers),
            lambda: None,
        )

        def cards(ids: list[int]) -> dict[int, list[Card]]:
            found = bulk_reads.cards_by_person(session, caller, ids)
            # The nodes of these cards are built person by person, later; announcing every
            # card now lets one batch fetch the histories and processors of all of them.
            loaded = [card for person_cards in found.values() for card in person_cards]
            history_by_card.expect(card.card_number for card in loaded)
            organisation_by_identifier.expect(
                card.processor_identifier for card in loaded if card.processor_identifier
            )
            return found

        return cls(
            cards_by_person=BatchLoader(cards, list),
            has_picture=BatchLoader(pictures, lambda: False),
            history_by_card=history_by_card,
            organisation_by_identifier=organisation_by_identifier,
            organisation_identifier_by_id=BatchLoader(
                lambda ids: bulk_reads.organisation_identifiers_by_id(session, ids), lambda: None
            ),
        )
