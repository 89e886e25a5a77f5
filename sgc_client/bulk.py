"""Bulk import and sync of persons and cards: batch calls where offered, one call per row elsewhere.

Two transports give the same outcomes:

* **batch** (escrouter): ``POST /api/x/persons:batch`` / ``cards:batch`` with up to 500 rows per
  call; the router says per row whether it created, updated, left unchanged or refused it.
* **per-row** (the real router, which answers 404/405 on ``/api/x``): one walk of the v2 list to
  learn what the router holds, then for each row a comparison and a POST or PUT only when something
  differs; cards are read whole (GET) when the list does not show enough to compare.

A malformed row fails alone with its reason and costs no request. Every finished row is written to
the journal, so an interrupted run resumes; rows are matched by key (ESI, card number or CSN), so a
second run changes nothing and reports every row unchanged. The keys already seen (to refuse a
duplicate of an earlier row) are kept in a :class:`~sgc_client.spill_map.SpillMap`: a bounded
number in memory, the rest in a temporary file freed when the run ends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from itertools import islice
from pathlib import Path
from typing import Any

from sgc_client import errors
from sgc_client.client import RouterClient
from sgc_client.csv_formats import ParsedRow, canonical_esi, normalise_csn
from sgc_client.import_report import (
    OUTCOMES,
    ImportAborted,
    ImportReport,
    RowResult,
    abort_if_fatal,
    reason_of,
)
from sgc_client.journal import Journal, JournalEntry
from sgc_client.record_matching import card_lite_matches, card_matches, person_matches
from sgc_client.resources import BATCH_LIMIT, BatchResult
from sgc_client.spill_map import SpillMap

MODES = ("auto", "batch", "per-row")


class BulkImporter:
    """Feeds parsed rows of one kind (``persons`` or ``cards``) to the router."""

    def __init__(
        self,
        client: RouterClient,
        kind: str,
        pic: str,
        *,
        mode: str = "auto",
        journal: Journal | None = None,
        on_progress: Callable[[int], None] | None = None,
        chunk_size: int = BATCH_LIMIT,
        list_page_size: int = 500,
        workers: int = 1,
        memory_limit: int | None = None,
    ) -> None:
        if kind not in ("persons", "cards"):
            raise ValueError("kind is persons or cards")
        if mode not in MODES:
            raise ValueError(f"mode is one of {', '.join(MODES)}")
        self.client = client
        self.kind = kind
        self.pic = pic
        self.mode = mode
        self.journal = journal
        self.on_progress = on_progress or (lambda _n: None)
        self.chunk_size = max(1, min(chunk_size, BATCH_LIMIT))
        self.list_page_size = list_page_size
        self.workers = max(1, workers)
        self.memory_limit = memory_limit
        self._listing: dict[str, dict[str, Any]] | None = None
        self._full_cards: dict[str, dict[str, Any]] = {}
        self.mode_used = mode

    # -- the run ----------------------------------------------------------------------------

    def run(
        self,
        rows: Iterable[ParsedRow],
        *,
        find_missing: bool = False,
        delete_missing: bool = False,
        confirm_delete: Callable[[list[str]], bool] | None = None,
    ) -> ImportReport:
        """Import every row; optionally report (and delete) what the router has beyond the file.

        ``confirm_delete`` is asked, with the keys about to be deleted, before anything is; a
        False answer deletes nothing.
        """
        report = ImportReport(kind=self.kind, mode=self.mode)
        results: dict[int, RowResult] = {}
        all_rows = list(rows)
        with self._seen_keys() as seen:
            pending = self._triage(all_rows, seen, results)
        mode = self.mode
        if pending and mode in ("auto", "batch"):
            mode = self._run_batches(pending, results, probe=mode == "auto")
        if pending and mode == "per-row":
            self._run_per_row([p for p in pending if p.row not in results], results)
        if self.journal is not None:
            self.journal.sync()
        report.mode = mode if pending else self.mode
        report.results = [results[p.row] for p in all_rows]
        if find_missing or delete_missing:
            self._missing(all_rows, report, delete=delete_missing, confirm=confirm_delete)
        return report

    def stream(self, rows: Iterable[ParsedRow]) -> Iterator[RowResult]:
        """Import rows as they are read, ``workers`` batches at a time; results in file order.

        The batches are those :meth:`run` would send (full chunks of the rows left to send).
        In batch mode the next chunks are read, checked and sent while earlier ones are being
        answered (``workers`` in flight), so reading the file, the router's work and journaling
        overlap. Memory stays bounded by the chunks in flight and the bound of the keys already
        seen kept in memory (to refuse a duplicate of an earlier row, as :meth:`run` does; the
        others go to a temporary file). ``self.mode_used`` tells the transport used.
        """
        window: list[ParsedRow] = []
        results: dict[int, RowResult] = {}
        pending: list[ParsedRow] = []
        self.mode_used = self.mode
        in_flight: deque[tuple[list[ParsedRow], list[ParsedRow], dict[int, RowResult], Any]]
        in_flight = deque()
        executor: ThreadPoolExecutor | None = None
        source = iter(rows)
        with self._seen_keys() as seen:
            try:
                # Rows are checked a chunk at a time (one look-up of their keys), then go on
                # one by one, so chunks are cut where they always were.
                while block := list(islice(source, self.chunk_size)):
                    settled: dict[int, RowResult] = {}
                    to_send = {p.row for p in self._triage(block, seen, settled)}
                    for parsed in block:
                        window.append(parsed)
                        if parsed.row in to_send:
                            pending.append(parsed)
                        else:
                            results[parsed.row] = settled[parsed.row]
                        if self.mode_used != "batch":
                            # Until the transport is known (the first chunk probes it), or per-row.
                            if len(pending) >= self.chunk_size * self.workers:
                                yield from self._run_window(window, pending, results)
                                window, pending, results = [], [], {}
                            continue
                        if len(pending) >= self.chunk_size:
                            if executor is None:
                                executor = ThreadPoolExecutor(
                                    max_workers=self.workers, thread_name_prefix="escr-sgc"
                                )
                            future = executor.submit(self._post_chunk, pending)
                            in_flight.append((window, pending, results, future))
                            window, pending, results = [], [], {}
                            while len(in_flight) > self.workers:
                                yield from self._settle_flight(in_flight.popleft())
                while in_flight:
                    yield from self._settle_flight(in_flight.popleft())
            finally:
                if executor is not None:
                    executor.shutdown(wait=True, cancel_futures=True)
        if window:
            yield from self._run_window(window, pending, results)
        if self.journal is not None:
            self.journal.sync()

    def _seen_keys(self) -> SpillMap[str, int]:
        """The keys already seen and the row of each, spilling next to the journal."""
        directory: Path | None = self.journal.path.parent if self.journal is not None else None
        return SpillMap(memory_limit=self.memory_limit, directory=directory)

    def _settle_flight(
        self, flight: tuple[list[ParsedRow], list[ParsedRow], dict[int, RowResult], Any]
    ) -> Iterator[RowResult]:
        """Wait for one chunk sent by :meth:`stream`; its window's results in file order."""
        window, chunk, results, future = flight
        self._settle_chunk(chunk, future.result(), results, first=False)
        for parsed in window:
            yield results[parsed.row]

    def _run_window(
        self, window: list[ParsedRow], pending: list[ParsedRow], results: dict[int, RowResult]
    ) -> Iterator[RowResult]:
        if pending and self.mode_used in ("auto", "batch"):
            self.mode_used = self._run_batches(pending, results, probe=self.mode_used == "auto")
        if pending and self.mode_used == "per-row":
            self._run_per_row([p for p in pending if p.row not in results], results)
        for parsed in window:
            yield results[parsed.row]

    def _triage(
        self, rows: list[ParsedRow], seen: SpillMap[str, int], results: dict[int, RowResult]
    ) -> list[ParsedRow]:
        """Settle malformed, duplicate and already journaled rows; the rows left to send."""
        keyed = [p for p in rows if p.error is None and p.key is not None]
        earliest = seen.setdefault_many([(p.key, p.row) for p in keyed if p.key is not None])
        for parsed, earlier in zip(keyed, earliest, strict=True):
            if earlier != parsed.row:
                parsed.error = f"duplicate of row {earlier} ({parsed.key})"
                parsed.body = None
        checked = [p for p in rows if p.error is None]
        done = (
            self.journal.finished_many([(p.row, p.digest) for p in checked])
            if self.journal is not None
            else {}
        )
        pending: list[ParsedRow] = []
        for parsed in rows:
            if parsed.error is not None:
                results[parsed.row] = RowResult(
                    parsed.row, parsed.key, "failed", reason=parsed.error
                )
                self.on_progress(1)
                continue
            entry = done.get(parsed.row)
            if entry is not None:
                results[parsed.row] = RowResult(
                    parsed.row,
                    parsed.key,
                    entry.outcome,
                    status=entry.status,
                    identifier=entry.identifier,
                    reason=entry.reason,
                    resumed=True,
                )
                self.on_progress(1)
                continue
            pending.append(parsed)
        return pending

    def _finish(self, parsed: ParsedRow, result: RowResult, results: dict[int, RowResult]) -> None:
        results[parsed.row] = result
        if self.journal is not None:
            self.journal.record(self._entry(parsed, result))
        self.on_progress(1)

    @staticmethod
    def _entry(parsed: ParsedRow, result: RowResult) -> JournalEntry:
        return JournalEntry(
            row=parsed.row,
            digest=parsed.digest,
            outcome=result.outcome,
            identifier=result.identifier,
            status=result.status,
            reason=result.reason,
        )

    # -- batch transport --------------------------------------------------------------------

    def _run_batches(
        self, pending: list[ParsedRow], results: dict[int, RowResult], *, probe: bool
    ) -> str:
        """Send the rows in chunks, ``workers`` at once; the mode that did the work.

        With ``probe`` the first chunk goes alone: a 404 there means the real router (no
        ``/api/x`` batch endpoints) and the rows go per-row. Chunks never share a key (duplicates
        were refused before), so sending them at once changes no outcome.
        """
        chunks = [
            pending[start : start + self.chunk_size]
            for start in range(0, len(pending), self.chunk_size)
        ]
        if probe:
            first = chunks.pop(0)
            if self._settle_chunk(first, self._post_chunk(first), results, first=True):
                return "per-row"
        if self.workers == 1 or len(chunks) < 2:
            for chunk in chunks:
                self._settle_chunk(chunk, self._post_chunk(chunk), results, first=False)
            return "batch"
        executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="escr-sgc")
        try:
            # Answers are settled (and journaled) from this thread only, in the file's order.
            for chunk, answer in zip(chunks, executor.map(self._post_chunk, chunks), strict=True):
                self._settle_chunk(chunk, answer, results, first=False)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
        return "batch"

    def _post_chunk(self, chunk: list[ParsedRow]) -> BatchResult | errors.RouterClientError:
        """One batch call; its answer, or the error it met (settled by the caller's thread)."""
        batch = self.client.persons.batch if self.kind == "persons" else self.client.cards.batch
        try:
            return batch([p.body for p in chunk if p.body is not None])
        except (errors.ApiError, errors.TransportError) as error:
            return error

    def _settle_chunk(
        self,
        chunk: list[ParsedRow],
        answer: BatchResult | errors.RouterClientError,
        results: dict[int, RowResult],
        *,
        first: bool,
    ) -> bool:
        """Record the rows of one answered chunk; True if the router has no batch endpoint."""
        if isinstance(answer, errors.NotFound | errors.MethodNotAllowed):
            if self.mode == "auto" and first:
                return True  # the real router: no /api/x batch endpoints
            raise ImportAborted(f"batch endpoint refused: {reason_of(answer)}") from answer
        if isinstance(answer, errors.RouterClientError):
            if isinstance(answer, errors.ApiError):
                abort_if_fatal(answer)
            # A transport error: some rows may have been applied; the journal lets a re-run
            # settle them.
            for parsed in chunk:
                self._finish(parsed, self._failed(parsed, answer), results)
            return False
        by_index = {r.index: r for r in answer.results}
        entries: list[JournalEntry] = []
        for index, parsed in enumerate(chunk):
            item = by_index.get(index)
            if item is None:
                result = RowResult(
                    parsed.row, parsed.key, "failed", reason="no result for this row"
                )
            elif item.outcome == "failed" or item.outcome not in OUTCOMES:
                result = RowResult(
                    parsed.row,
                    parsed.key,
                    "failed",
                    status=item.status,
                    identifier=item.identifier,
                    reason=f"{item.error_code or item.status}: {item.error_message}",
                )
            else:
                result = RowResult(
                    parsed.row,
                    parsed.key,
                    item.outcome,
                    status=item.status,
                    identifier=item.identifier,
                )
            results[parsed.row] = result
            entries.append(self._entry(parsed, result))
        # The answer's rows are journaled together and synced once (as "after each batch").
        if self.journal is not None:
            self.journal.record_batch(entries)
        self.on_progress(len(chunk))
        return False

    # -- per-row transport ------------------------------------------------------------------

    def _run_per_row(self, pending: list[ParsedRow], results: dict[int, RowResult]) -> None:
        """One row at a time, or ``workers`` rows at a time on as many connections."""
        if self.workers == 1 or len(pending) < 2:
            for parsed in pending:
                self._finish(parsed, self._one_row(parsed), results)
            return
        try:
            self.listing()  # once, before the workers compare against it
        except errors.ApiError as error:
            abort_if_fatal(error)
            raise
        executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="escr-sgc")
        try:
            futures = {executor.submit(self._one_row, parsed): parsed for parsed in pending}
            # Results are journaled from this thread only, in the order they complete.
            for future in as_completed(futures):
                self._finish(futures[future], future.result(), results)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)

    def _failed(self, parsed: ParsedRow, error: errors.RouterClientError) -> RowResult:
        status = error.status if isinstance(error, errors.ApiError) else None
        return RowResult(parsed.row, parsed.key, "failed", status=status, reason=reason_of(error))

    def listing(self) -> dict[str, dict[str, Any]]:
        """What the router holds for this organisation, by key (ESI or card number)."""
        if self._listing is None:
            if self.kind == "persons":
                items = self.client.persons.list(size=self.list_page_size)
                self._listing = {canonical_esi(p["identifier"]): p for p in items}
            else:
                items = self.client.cards.list(size=self.list_page_size)
                self._listing = {c["cardNumber"]: c for c in items}
        return self._listing

    def _one_row(self, parsed: ParsedRow) -> RowResult:
        assert parsed.body is not None and parsed.key is not None
        try:
            if self.kind == "persons":
                return self._one_person(parsed)
            return self._one_card(parsed)
        except errors.ApiError as error:
            abort_if_fatal(error)
            return self._failed(parsed, error)
        except errors.TransportError as error:
            return self._failed(parsed, error)

    def _one_person(self, parsed: ParsedRow) -> RowResult:
        assert parsed.body is not None and parsed.key is not None
        existing = self.listing().get(parsed.key)
        if existing is not None:
            if person_matches(existing, parsed.body, self.pic):
                return RowResult(parsed.row, parsed.key, "unchanged", 200, parsed.key)
            self.client.persons.replace(parsed.key, parsed.body)
            return RowResult(parsed.row, parsed.key, "updated", 200, parsed.key)
        try:
            self.client.persons.create(parsed.body)
        except errors.Conflict:
            # Known to the router through another organisation: link it to ours.
            self.client.persons.replace(parsed.key, parsed.body)
        return RowResult(parsed.row, parsed.key, "created", 201, parsed.key)

    def _full_card(self, number: str) -> dict[str, Any]:
        if number not in self._full_cards:
            self._full_cards[number] = self.client.cards.get(number)
        return self._full_cards[number]

    def _card_by_csn(self, csn: str, esi: str) -> dict[str, Any] | None:
        # The list does not show chip numbers: read the cards of the same holder whole.
        for number, lite in self.listing().items():
            holder = canonical_esi((lite.get("person") or {}).get("identifier") or "")
            if holder == esi:
                card = self._full_card(number)
                if normalise_csn(card.get("csn") or "") == csn:
                    return card
        return None

    def _one_card(self, parsed: ParsedRow) -> RowResult:
        body = parsed.body
        assert body is not None
        number = body.get("cardNumber")
        existing: dict[str, Any] | None = None
        if number is not None:
            lite = self.listing().get(number)
            if lite is not None:
                existing = lite if not card_lite_matches(lite, body) else self._full_card(number)
        else:
            existing = self._card_by_csn(body["csn"], body["personIdentifier"])
            if existing is not None:
                number = existing["cardNumber"]
        if existing is None:
            created = self.client.cards.create(body)
            return RowResult(parsed.row, parsed.key, "created", 201, created.get("cardNumber"))
        assert number is not None
        if card_lite_matches(existing, body) and card_matches(existing, body):
            return RowResult(parsed.row, parsed.key, "unchanged", 200, number)
        self.client.cards.update(number, {**body, "cardNumber": number})
        return RowResult(parsed.row, parsed.key, "updated", 200, number)

    # -- what the file no longer has --------------------------------------------------------

    def _missing(
        self,
        rows: list[ParsedRow],
        report: ImportReport,
        *,
        delete: bool,
        confirm: Callable[[list[str]], bool] | None = None,
    ) -> None:
        self._listing = None  # read afresh: the run itself changed the router
        listed = self.listing()
        if self.kind == "persons":
            in_file = {p.key for p in rows if p.key}
        else:
            in_file = {p.key for p in rows if p.key}
            in_file |= {r.identifier for r in report.results if r.identifier}
        missing = sorted(key for key in listed if key not in in_file)
        report.missing = missing
        if not delete:
            return
        if not any(r.outcome != "failed" for r in report.results):
            # An empty or wholly broken file would otherwise erase everything the router holds.
            report.notes.append("not deleting: no row of the file was imported")
            return
        unresolved = [
            r for r in report.results if r.outcome == "failed" and (r.key or "").startswith("csn:")
        ]
        if self.kind == "cards" and unresolved:
            report.notes.append(
                f"not deleting: {len(unresolved)} row(s) keyed by csn failed, so their cards "
                "cannot be told apart from missing ones"
            )
            return
        if missing and confirm is not None and not confirm(missing):
            report.notes.append(f"not deleting: {len(missing)} deletion(s) were not confirmed")
            return
        for key in missing:
            try:
                if self.kind == "persons":
                    self.client.persons.delete(key)
                else:
                    self.client.cards.delete(key)
            except errors.RouterClientError as error:
                report.delete_failures[key] = reason_of(error)
            else:
                report.deleted.append(key)
