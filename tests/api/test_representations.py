"""The QR-scan path's answers are rendered without their schemas: the same JSON as the dump."""

from __future__ import annotations

import datetime as dt

import pytest

from router.api.representations import card_status_view
from router.api.schemas import CardStatusView
from router.api.x_verify import VerdictView, verdict_view
from router.domain.lifecycle import V2Status
from router.domain.verification import VerdictReason
from router.services.cards import CardStatus
from router.services.verification import IssuerInfo, Verdict

NUMBER = "f81d4fae-7dec-11d0-a765-001999999999"


@pytest.mark.parametrize("display_name", [None, "Ada L.", ""])
@pytest.mark.parametrize("status", list(V2Status))
def test_the_status_view_is_what_its_schema_dumps(
    display_name: str | None, status: V2Status
) -> None:
    card = CardStatus(
        card_number=NUMBER,
        status=status,
        issued_at=dt.date(2026, 9, 1),
        expires_at=dt.date(2030, 8, 31),
        issuer_identifier="999999999",
        issuer_name="Université Ünïcode",
        display_name=display_name,
    )
    view = card_status_view(card)
    assert view == CardStatusView().dump(
        view | {"expiresAt": card.expires_at, "issuedAt": card.issued_at}
    )
    assert list(view) == list(CardStatusView().fields)


@pytest.mark.parametrize("answered_by", [None, "router-b"])
@pytest.mark.parametrize(
    "verdict",
    [
        Verdict(
            True,
            None,
            NUMBER,
            IssuerInfo("999999999", "Uni", "FR"),
            dt.date(2030, 8, 31),
            "Ada",
            dt.datetime(2026, 11, 24, 9, 0, 0, 123456, tzinfo=dt.UTC),
        ),
        Verdict(
            False,
            VerdictReason.LOST,
            NUMBER,
            IssuerInfo("999999999", "Uni", None),
            dt.date(2030, 8, 31),
            None,
            dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC),
        ),
        Verdict(
            False,
            VerdictReason.UNKNOWN,
            NUMBER,
            None,
            None,
            None,
            dt.datetime(2026, 11, 24, 23, 59, 59, 1, tzinfo=dt.UTC),
        ),
    ],
)
def test_the_verdict_view_is_what_its_schema_dumps(
    verdict: Verdict, answered_by: str | None
) -> None:
    view = verdict_view(verdict, answered_by)
    dumped = VerdictView().dump(
        view | {"expiresAt": verdict.expires_at, "checkedAt": verdict.checked_at}
    )
    assert view == dumped
