from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.domain.errors import InvalidTransition
from router.domain.lifecycle import (
    CardAction,
    CardState,
    V2Status,
    action_for_v2_status,
    allowed_actions,
    apply_action,
    public_status,
    write_status,
)


def test_lost_card_can_be_found_again() -> None:
    assert apply_action(CardState.LOST, CardAction.REACTIVATE) is CardState.ACTIVE


def test_destroyed_card_is_final_and_the_message_says_so() -> None:
    with pytest.raises(InvalidTransition, match="none"):
        apply_action(CardState.DESTROYED, CardAction.REACTIVATE)


def test_renewed_card_can_only_be_destroyed() -> None:
    assert allowed_actions(CardState.RENEWED) == {CardAction.DESTROY}
    with pytest.raises(InvalidTransition, match="DESTROY"):
        apply_action(CardState.RENEWED, CardAction.REACTIVATE)


@given(st.sampled_from(CardState), st.sampled_from(CardAction))
def test_every_transition_is_either_allowed_or_refused_clearly(
    state: CardState, action: CardAction
) -> None:
    if action in allowed_actions(state):
        assert isinstance(apply_action(state, action), CardState)
    else:
        with pytest.raises(InvalidTransition) as info:
            apply_action(state, action)
        assert state.value in info.value.message


@given(st.sampled_from(CardState))
def test_only_active_cards_are_v2_active(state: CardState) -> None:
    assert (write_status(state) is V2Status.ACTIVE) == (state is CardState.ACTIVE)


def test_expiry_wins_over_state() -> None:
    today = dt.date(2026, 11, 23)
    assert public_status(CardState.ACTIVE, dt.date(2026, 11, 22), today) is V2Status.EXPIRED
    assert public_status(CardState.ACTIVE, today, today) is V2Status.ACTIVE
    assert public_status(CardState.LOST, dt.date(2030, 1, 1), today) is V2Status.INACTIVE


def test_v2_status_writes_map_to_actions() -> None:
    assert action_for_v2_status(CardState.ACTIVE, "INACTIVE") is CardAction.DEACTIVATE
    assert action_for_v2_status(CardState.ACTIVE, "ACTIVE") is None
    assert action_for_v2_status(CardState.SUSPENDED, "ACTIVE") is CardAction.REACTIVATE
    assert action_for_v2_status(CardState.LOST, "INACTIVE") is None
