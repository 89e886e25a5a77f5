"""Pure rules of verification: reading scans, the verdict of each card state, rate windows."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.domain.errors import (
    ForeignRouterCard,
    MalformedVerificationUrl,
    NotAnEscn,
    RouterError,
    UnreadableScan,
)
from router.domain.lifecycle import CardState
from router.domain.verification import VerdictReason, parse_scan, verdict_reason

ESCN = "f81d4fae-7dec-11d0-a765-001999999999"
TODAY = dt.date(2026, 11, 23)


@pytest.mark.parametrize(
    "scanned",
    [
        ESCN,
        ESCN.upper(),
        f"https://cards.example.eu/esc/cards/{ESCN}",
        f"http://cards.example.eu/esc/cards/{ESCN}#x",
        f"HTTPS://CARDS.EXAMPLE.EU/esc/cards/{ESCN}",
        f"cards.example.eu/esc/cards/{ESCN}",
        f"http://esc.gg/{ESCN}",
        f"https://s.esc-r.eu/{ESCN}",
    ],
)
def test_scans_of_this_router_and_the_real_one_read_the_escn(scanned: str) -> None:
    assert parse_scan(scanned, "https://cards.example.eu/esc").value == ESCN


def test_without_a_public_url_any_host_cards_path_is_read() -> None:
    assert parse_scan(f"https://anywhere.example/cards/{ESCN}").value == ESCN


@pytest.mark.parametrize(
    ("scanned", "error"),
    [
        ("", UnreadableScan),
        ("12345", UnreadableScan),
        ("BEGIN:VCARD", UnreadableScan),
        (f"https://cards.example.eu/cards/{ESCN}", ForeignRouterCard),
        (f"https://cards.example.eu/escrow/cards/{ESCN}", ForeignRouterCard),
        (f"https://cards.example.eu:8443/esc/cards/{ESCN}", ForeignRouterCard),
        (f"mailto:someone@example.org?{ESCN}", UnreadableScan),
        (f"javascript://cards.example.eu/esc/cards/{ESCN}", MalformedVerificationUrl),
        ("https://cards.example.eu/esc/cards/", MalformedVerificationUrl),
        (f"https://cards.example.eu/esc/cards/{ESCN}/extra", MalformedVerificationUrl),
        ("https://[::1/cards/x", MalformedVerificationUrl),
        (str(uuid.uuid4()), NotAnEscn),
        ("f81d4fae-7dec-11d0-a765-00a0c91e6bf6", NotAnEscn),  # version 1, node is a MAC
    ],
)
def test_bad_scans_raise_the_matching_error(scanned: str, error: type[RouterError]) -> None:
    with pytest.raises(error) as raised:
        parse_scan(scanned, "https://cards.example.eu/esc")
    assert 400 <= raised.value.status < 500


@pytest.mark.parametrize(
    ("state", "expires", "reason"),
    [
        (CardState.ACTIVE, TODAY, None),
        (CardState.ACTIVE, TODAY - dt.timedelta(days=1), VerdictReason.EXPIRED),
        (CardState.INACTIVE, TODAY, VerdictReason.INACTIVE),
        (CardState.SUSPENDED, TODAY, VerdictReason.SUSPENDED),
        (CardState.LOST, TODAY, VerdictReason.LOST),
        (CardState.STOLEN, TODAY - dt.timedelta(days=400), VerdictReason.STOLEN),
        (CardState.RENEWED, TODAY, VerdictReason.RENEWED),
        (CardState.DESTROYED, TODAY, VerdictReason.DESTROYED),
    ],
)
def test_every_state_has_its_verdict(
    state: CardState, expires: dt.date, reason: VerdictReason | None
) -> None:
    assert verdict_reason(state, expires, TODAY) is reason


def test_every_card_state_is_covered() -> None:
    for state in CardState:
        verdict_reason(state, TODAY, TODAY)


@given(
    st.one_of(
        st.text(max_size=300),
        st.builds(
            lambda scheme, host, path: f"{scheme}://{host}/{path}",
            st.sampled_from(["http", "https", "ftp", "HTTPS", ""]),
            st.text(max_size=40),
            st.text(max_size=80),
        ),
        st.builds(lambda tail: f"https://cards.example.eu/esc/cards/{tail}", st.text(max_size=60)),
    )
)
def test_any_scan_gives_an_escn_or_a_4xx_router_error(scanned: str) -> None:
    try:
        escn = parse_scan(scanned, "https://cards.example.eu/esc")
    except RouterError as error:
        assert 400 <= error.status < 500
        assert error.message
    else:
        assert escn.value == escn.value.lower()
        assert len(escn.value) == 36
