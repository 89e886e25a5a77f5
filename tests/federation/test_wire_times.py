"""Times and dates in peer routers' messages: timestamps with a zone, in UTC; dates yyyy-MM-dd."""

from __future__ import annotations

import datetime as dt

import pytest

from router.federation.wire import WireError, parse_date, parse_timestamp


def test_a_timestamp_is_read_in_utc() -> None:
    at = parse_timestamp("2026-01-01T01:00:00+01:00", "checkedAt")
    assert at == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert at.tzinfo == dt.UTC
    assert parse_timestamp("2026-01-01T00:00:00Z", "checkedAt") == at


@pytest.mark.parametrize(
    ("value", "message"),
    [
        # An OverflowError past the wire's own error before.
        ("9999-12-31T23:00:00-14:00", "checkedAt is past year 9999 in UTC"),
        ("2026-01-01T00:00:00", "checkedAt has no time zone"),
        ("not a time", "checkedAt is not a timestamp"),
    ],
)
def test_a_time_that_names_no_moment_in_utc_is_a_wire_error(value: str, message: str) -> None:
    with pytest.raises(WireError, match=message):
        parse_timestamp(value, "checkedAt")


@pytest.mark.parametrize("value", ["20260901", "2026-W36-2", "2026-9-1"])
def test_a_peer_date_is_written_yyyy_mm_dd_as_a_clients_must_be(value: str) -> None:
    # Python's parser reads the first two as dates; the wire took them from peers before.
    with pytest.raises(WireError, match="expiresAt is not a date written yyyy-MM-dd"):
        parse_date(value, "expiresAt")


def test_a_peer_date_is_read() -> None:
    assert parse_date("2030-08-31", "expiresAt") == dt.date(2030, 8, 31)
    assert parse_date(None, "expiresAt") is None
