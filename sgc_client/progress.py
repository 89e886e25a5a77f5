"""The progress display of long imports: rows done, rate and time remaining."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RowRateColumn(ProgressColumn):
    """Rows per second, measured over the last half minute."""

    def render(self, task: Task) -> Text:
        """``1,234 rows/s``, or a dash before the first rows are done."""
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("- rows/s", style="progress.data.speed")
        return Text(f"{speed:,.0f} rows/s", style="progress.data.speed")


def import_progress(
    console: Console, kind: str, *, disable: bool, get_time: Callable[[], float] | None = None
) -> Progress:
    """A bar with rows done out of all, the rate, time elapsed and time remaining."""
    return Progress(
        TextColumn(kind),
        BarColumn(),
        MofNCompleteColumn(),
        RowRateColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        disable=disable,
        get_time=get_time,
        # The rate is measured over this window, so a slow start does not skew the estimate.
        speed_estimate_period=30,
    )
