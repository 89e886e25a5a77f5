"""What every ``escr-sgc`` command shares: the global options' client, errors, confirmations."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from sgc_client import errors
from sgc_client.client import RouterClient
from sgc_client.csv_formats import CsvFormatError
from sgc_client.journal import JournalMismatch


class Context:
    """The global options, and the client made from them on first use."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self._client: RouterClient | None = None

    @property
    def client(self) -> RouterClient:
        """The router client, built from --router and the credential options."""
        if self._client is None:
            router = self.options["router"]
            if not router:
                raise click.UsageError("Name the router: --router URL or ESCR_SGC_ROUTER.")
            if not self.options["api_key"] and not self.options["client_id"]:
                raise click.UsageError(
                    "Give a credential: --api-key (ESCR_SGC_API_KEY) or "
                    "--client-id/--client-secret."
                )
            try:
                self._client = RouterClient(
                    router,
                    api_key=self.options["api_key"],
                    client_id=self.options["client_id"],
                    client_secret=self.options["client_secret"],
                    timeout=self.options["timeout"],
                    retries=self.options["retries"],
                    transport=self.options["transport"],
                )
            except ValueError as error:
                raise click.UsageError(str(error)) from error
        return self._client

    def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            self._client.close()


pass_context = click.make_pass_decorator(Context)


def on_terminal() -> bool:
    """True when a person types the answers: destructive commands then ask before acting."""
    return sys.stdin.isatty()


def yes_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--yes`` option of the commands that ask before destroying."""
    return click.option(
        "--yes", "-y", is_flag=True, help="Do not ask for confirmation (for scripts)."
    )(function)


@contextmanager
def api_errors() -> Iterator[None]:
    """Turn the client's errors into one-line command errors."""
    try:
        yield
    except errors.ApiError as error:
        raise click.ClickException(f"{error.status} {error.code or ''} {error.message}") from error
    except (errors.RouterClientError, CsvFormatError, JournalMismatch) as error:
        raise click.ClickException(str(error)) from error
