"""``escr-sgc``: feed a router from an institution's card system (SGC) from the command line.

Exit status: 0 when everything succeeded, 3 when the run completed but some rows failed (see the
summary and ``--report``), 1 on an error that stopped the command.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from sgc_client import errors
from sgc_client.bulk import MODES, BulkImporter
from sgc_client.cli_card import card
from sgc_client.cli_context import (
    Context,
    api_errors,
    on_terminal,
    pass_context,
    yes_option,
)
from sgc_client.cli_lazy import LazyGroup
from sgc_client.csv_formats import ParsedRow, count_rows, read_cards, read_persons, sniff_kind
from sgc_client.import_report import OUTCOMES, ImportAborted, ImportReport
from sgc_client.journal import Journal
from sgc_client.progress import import_progress

EXIT_ROWS_FAILED = 3
# How many failed rows the terminal summary lists; --report FILE.json holds all of them.
SHOWN_FAILURES = 20


@click.group(
    cls=LazyGroup,
    # Imported when asked for: JOSE and cryptography cost a bulk import's start-up otherwise.
    lazy_commands={
        "keys": "sgc_client.delegation.cli:keys_group",
        "dam-keys": "sgc_client.delegation.cli:dam_keys_group",
        "delegations": "sgc_client.delegation.cli:delegations_group",
    },
)
@click.option(
    "--router", envvar="ESCR_SGC_ROUTER", help="Base URL of the router (env ESCR_SGC_ROUTER)."
)
@click.option("--api-key", envvar="ESCR_SGC_API_KEY", help="API key (env ESCR_SGC_API_KEY).")
@click.option("--client-id", envvar="ESCR_SGC_CLIENT_ID", help="OAuth2 client id.")
@click.option("--client-secret", envvar="ESCR_SGC_CLIENT_SECRET", help="OAuth2 client secret.")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds per request.")
@click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True)
@click.version_option(package_name="escrouter", prog_name="escr-sgc")
@click.pass_context
def cli(ctx: click.Context, **options: Any) -> None:
    """Keep an ESC router in sync with your card management system."""
    # A program embedding the CLI may pass {"transport": httpx transport} as obj (tests do).
    transport = ctx.obj.get("transport") if isinstance(ctx.obj, dict) else None
    ctx.obj = Context(transport=transport, **options)
    ctx.call_on_close(ctx.obj.close)


def _own_pic(context: Context, pic: str | None) -> str:
    if pic:
        return pic
    try:
        return context.client.organisations.me()["identifier"]
    except (errors.NotFound, errors.MethodNotAllowed) as error:
        raise click.UsageError(
            "This router does not tell who you are (/api/x/organisations/me): pass --pic."
        ) from error


def _bulk_options(function: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--pic", help="Your institution's PIC (default: asked from the router)."),
        click.option(
            "--mode",
            type=click.Choice(MODES),
            default="auto",
            show_default=True,
            help="batch: /api/x/*:batch; per-row: v2 calls; auto: batch if offered.",
        ),
        click.option(
            "--journal",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Journal file for resuming (default: FILE.<kind>.journal next to FILE).",
        ),
        click.option(
            "--report",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Write every row's outcome and reason to this JSON file.",
        ),
        click.option(
            "--workers",
            type=click.IntRange(1, 16),
            default=1,
            show_default=True,
            help="Rows sent at once in per-row mode, batches in flight in batch mode.",
        ),
        click.option("--progress/--no-progress", default=True, help="Show a progress bar."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _print_summary(console: Console, report: ImportReport) -> None:
    counts = report.counts()
    resumed = report.resumed_count()
    table = Table(title=f"{report.kind} ({report.mode})", show_header=True)
    for name in ("created", "updated", "unchanged", "failed"):
        table.add_column(name, justify="right")
    table.add_row(*(str(counts[name]) for name in ("created", "updated", "unchanged", "failed")))
    console.print(table)
    if resumed:
        console.print(f"{resumed} row(s) were finished by an earlier, interrupted run.")
    failures = [r for r in report.results if r.outcome == "failed"]
    for result in failures[:SHOWN_FAILURES]:
        console.print(
            f"row {result.row}: failed: {result.reason}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if counts["failed"] > SHOWN_FAILURES:
        console.print(f"... and {counts['failed'] - SHOWN_FAILURES} more failed row(s)")
    if report.missing is not None:
        console.print(f"{len(report.missing)} record(s) in the router are not in the file")
        for key in report.missing[:SHOWN_FAILURES]:
            console.print(f"missing: {key}", markup=False, highlight=False, soft_wrap=True)
    if report.deleted:
        console.print(f"deleted {len(report.deleted)} record(s) missing from the file")
    for key, reason in report.delete_failures.items():
        console.print(
            f"could not delete {key}: {reason}", markup=False, highlight=False, soft_wrap=True
        )
    for note in report.notes:
        console.print(note, markup=False, highlight=False, soft_wrap=True)
    # One plain line for scripts to read.
    click.echo(
        "summary: "
        + " ".join(
            f"{name}={counts[name]}" for name in ("created", "updated", "unchanged", "failed")
        )
    )


def _stream(importer: BulkImporter, kind: str, rows: Iterable[ParsedRow]) -> ImportReport:
    """Import a file as it is read; the report keeps the counts and the failed rows only."""
    report = ImportReport(kind=kind, mode=importer.mode, tally=dict.fromkeys(OUTCOMES, 0))
    for result in importer.stream(rows):
        report.tally[result.outcome] += 1  # type: ignore[index]
        report.resumed_rows += result.resumed
        if result.outcome == "failed" and len(report.results) < SHOWN_FAILURES:
            report.results.append(result)
    report.mode = importer.mode_used
    return report


def _run_bulk(
    context: Context,
    kind: str,
    file: Path,
    *,
    pic: str | None,
    mode: str,
    journal: Path | None,
    report: Path | None,
    progress: bool,
    workers: int = 1,
    find_missing: bool = False,
    delete_missing: bool = False,
    yes: bool = False,
) -> None:
    console = Console(stderr=True)
    with api_errors():
        own_pic = _own_pic(context, pic)
        reader = read_persons if kind == "persons" else read_cards
        # Without --report or a comparison against the router's list, the file is streamed:
        # memory stays bounded whatever its size.
        streaming = report is None and not (find_missing or delete_missing)
        rows = reader(file, own_pic) if streaming else list(reader(file, own_pic))
        # Counting a streamed file reads it once more: only for a progress bar that shows it.
        total = (count_rows(file) if progress else None) if streaming else len(rows)
        journal_path = journal or file.with_name(f"{file.name}.{kind}.journal")
        run_journal = Journal(
            journal_path,
            {"kind": kind, "router": context.client.base_url, "pic": own_pic},
        )
        run_journal.open()
        complete = False
        try:
            with import_progress(console, kind, disable=not progress) as bar:
                task = bar.add_task(kind, total=total)

                def confirm_delete(keys: list[str]) -> bool:
                    bar.stop()
                    more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
                    shown = ", ".join(keys[:5]) + more
                    return click.confirm(
                        f"Delete {len(keys)} {kind} from the router that {file.name} does not "
                        f"name ({shown})?",
                        default=False,
                        err=True,
                    )

                importer = BulkImporter(
                    context.client,
                    kind,
                    own_pic,
                    mode=mode,
                    journal=run_journal,
                    on_progress=lambda n: bar.advance(task, n),
                    workers=workers,
                )
                if streaming:
                    outcome = _stream(importer, kind, rows)
                else:
                    outcome = importer.run(
                        rows,
                        find_missing=find_missing,
                        delete_missing=delete_missing,
                        confirm_delete=None if yes or not on_terminal() else confirm_delete,
                    )
            complete = True
        except ImportAborted as error:
            raise click.ClickException(
                f"stopped: {error}; finished rows are kept in {journal_path}"
            ) from error
        finally:
            run_journal.close(complete=complete)
    if report is not None:
        report.write_text(json.dumps(outcome.to_json(), indent=2), encoding="utf-8")
    _print_summary(console, outcome)
    if outcome.counts()["failed"]:
        sys.exit(EXIT_ROWS_FAILED)


@cli.group()
def persons() -> None:
    """Persons (students) of your institution."""


@persons.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_bulk_options
@pass_context
def persons_import(context: Context, file: Path, **options: Any) -> None:
    """Register new persons and update changed ones from FILE (CSV)."""
    _run_bulk(context, "persons", file, **options)


@cli.group()
def cards() -> None:
    """Cards of your institution, in bulk."""


@cards.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_bulk_options
@pass_context
def cards_import(context: Context, file: Path, **options: Any) -> None:
    """Register new cards and update changed ones from FILE (CSV)."""
    _run_bulk(context, "cards", file, **options)


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(["persons", "cards"]),
    help="What FILE holds (default: guessed from its header).",
)
@click.option(
    "--delete-missing",
    is_flag=True,
    help="Delete what the router has and FILE no longer has (default: only report it).",
)
@yes_option
@_bulk_options
@pass_context
def sync(
    context: Context,
    file: Path,
    kind: str | None,
    delete_missing: bool,
    yes: bool,
    **options: Any,
) -> None:
    """Import FILE, then report what the router holds that FILE no longer has.

    With --delete-missing on a terminal, asks before deleting (--yes does not ask).
    """
    _run_bulk(
        context,
        kind or sniff_kind(file),
        file,
        find_missing=True,
        delete_missing=delete_missing,
        yes=yes,
        **options,
    )


cli.add_command(card)


@cli.group()
def consent() -> None:
    """Students' consent to share their card data."""


@consent.command("withdraw")
@click.argument("esi")
@yes_option
@pass_context
def consent_withdraw(context: Context, esi: str, yes: bool) -> None:
    """Erase person ESI from the router (with your cards of them): consent withdrawn.

    On a terminal, asks first (--yes does not ask).
    """
    if not yes and on_terminal():
        click.confirm(
            f"Erase {esi} and your cards of them from the router? This cannot be undone",
            default=False,
            abort=True,
            err=True,
        )
    with api_errors():
        context.client.persons.delete(esi)
    click.echo(f"erased {esi}")


def main() -> None:
    """Console entry point of ``escr-sgc``."""
    cli(prog_name="escr-sgc")


if __name__ == "__main__":
    main()
