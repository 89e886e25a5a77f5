"""What an import run reports: each row's outcome, the run's totals, and when a run must stop."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sgc_client import errors

OUTCOMES = ("created", "updated", "unchanged", "failed")


class ImportAborted(errors.RouterClientError):
    """The run cannot go on (the credential is refused); finished rows stay in the journal."""


@dataclass(slots=True)
class RowResult:
    """What became of one row."""

    row: int
    key: str | None
    outcome: str
    status: int | None = None
    identifier: str | None = None
    reason: str | None = None
    resumed: bool = False


@dataclass
class ImportReport:
    """The outcome of a run: per row, in file order, plus what the router has beyond the file."""

    kind: str
    mode: str
    results: list[RowResult] = field(default_factory=list)
    missing: list[str] | None = None
    deleted: list[str] = field(default_factory=list)
    delete_failures: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # A streamed import keeps counts (and only its failed rows in ``results``).
    tally: dict[str, int] | None = None
    resumed_rows: int = 0

    def counts(self) -> dict[str, int]:
        """How many rows ended in each outcome."""
        if self.tally is not None:
            return dict(self.tally)
        totals = dict.fromkeys(OUTCOMES, 0)
        for result in self.results:
            totals[result.outcome] += 1
        return totals

    def resumed_count(self) -> int:
        """How many rows an earlier, interrupted run had finished."""
        if self.tally is not None:
            return self.resumed_rows
        return sum(1 for r in self.results if r.resumed)

    def to_json(self) -> dict[str, Any]:
        """The report as written by ``--report``."""
        return {
            "kind": self.kind,
            "mode": self.mode,
            "summary": self.counts(),
            "resumed": self.resumed_count(),
            "rows": [asdict(r) for r in self.results],
            "missing": self.missing,
            "deleted": self.deleted,
            "deleteFailures": self.delete_failures,
            "notes": self.notes,
        }


def reason_of(error: errors.RouterClientError) -> str:
    """The one-line reason a row failed: the router's problem code and message."""
    if isinstance(error, errors.ApiError):
        return f"{error.code or error.status}: {error.message}"
    return str(error)


def abort_if_fatal(error: errors.ApiError) -> None:
    """Raise :class:`ImportAborted` when ``error`` would fail every row alike."""
    # A refused credential or a missing scope fails every row alike: stop rather than repeat it.
    if isinstance(error, errors.Unauthorized) or (
        isinstance(error, errors.Forbidden) and error.code == "SE-0002"
    ):
        raise ImportAborted(reason_of(error)) from error
