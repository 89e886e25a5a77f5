"""What every escr-reader command shares: global options, and failures as exit status 3."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from reader_tools import cdz, iso7816, pcsc
from reader_tools.desfire.commands import DesfireError, IntegrityError
from reader_tools.display import Display
from reader_tools.qr import NoQrCode
from sgc_client.errors import RouterClientError

EXIT_NOT_VALID = 1
EXIT_REFUSED = 1  # write-dam-keys: the card holds DAM keys it may not overwrite
EXIT_FAILED = 3
# What a card or reader problem, a refused card command or a router error looks like to the user.
FAILURES = (
    pcsc.PcscUnavailable,
    pcsc.NoSuchReader,
    pcsc.CardGone,
    cdz.NoChipDataZone,
    iso7816.IsoStatusError,
    DesfireError,
    IntegrityError,
    RouterClientError,
    NoQrCode,
)


class Failed(click.ClickException):
    """A failure of the reader, the card or the router: exit status 3."""

    exit_code = EXIT_FAILED


@contextmanager
def failures() -> Iterator[None]:
    """Turn the tools' errors into a one-line message and exit status 3."""
    try:
        yield
    except FAILURES as error:
        raise Failed(str(error)) from error


class Context:
    """The global options."""

    def __init__(self, reader_name: str | None, as_json: bool) -> None:
        self.reader_name = reader_name
        self.display = Display(as_json)


pass_context = click.make_pass_decorator(Context)
