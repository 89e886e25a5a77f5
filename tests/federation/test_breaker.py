"""The circuit breaker of a peer: when it stops asking, when it tries again."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from router.federation.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_it_opens_after_the_threshold_of_consecutive_failures() -> None:
    clock = Clock()
    breaker = CircuitBreaker(3, 30, clock=clock)
    for _ in range(2):
        assert breaker.acquire()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.acquire()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.acquire()
    assert breaker.retry_after() == 30


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(2, 30, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_after_the_pause_one_trial_goes_and_its_success_closes_the_circuit() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 30, clock=clock)
    breaker.record_failure()
    clock.now += 29.9
    assert not breaker.acquire()
    clock.now += 0.2
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.acquire()
    assert not breaker.acquire(), "only one trial at a time"
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.acquire() and breaker.acquire()


def test_a_failed_trial_opens_the_circuit_for_another_pause() -> None:
    clock = Clock()
    breaker = CircuitBreaker(5, 30, clock=clock)
    for _ in range(5):
        breaker.record_failure()
    clock.now += 30
    assert breaker.acquire()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_after() == 30


def test_a_trial_that_never_reports_is_given_up_after_a_pause() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 10, clock=clock)
    breaker.record_failure()
    clock.now += 10
    assert breaker.acquire()
    clock.now += 5
    assert not breaker.acquire()
    clock.now += 5
    assert breaker.acquire()


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(0, 10)
    with pytest.raises(ValueError):
        CircuitBreaker(1, 0)


class BreakerModel(RuleBasedStateMachine):
    """Random sequences of calls, outcomes and waits against a plain model of the rules."""

    THRESHOLD, PAUSE = 3, 20.0

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.breaker = CircuitBreaker(self.THRESHOLD, self.PAUSE, clock=self.clock)
        self.failures = 0
        self.opened_at: float | None = None
        self.in_flight = 0
        self.trial_at: float | None = None

    def _model_state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self.clock.now < self.opened_at + self.PAUSE:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    @rule(seconds=st.floats(min_value=0, max_value=30))
    def wait(self, seconds: float) -> None:
        self.clock.now += seconds

    @rule()
    def call(self) -> None:
        state = self._model_state()
        allowed = self.breaker.acquire()
        if state is BreakerState.CLOSED:
            assert allowed
        elif state is BreakerState.OPEN:
            assert not allowed
        else:
            trial_free = self.trial_at is None or self.clock.now >= self.trial_at + self.PAUSE
            assert allowed == trial_free
            if allowed:
                self.trial_at = self.clock.now
        if allowed:
            self.in_flight += 1

    @precondition(lambda self: self.in_flight > 0)
    @rule(ok=st.booleans())
    def outcome(self, ok: bool) -> None:
        self.in_flight -= 1
        state = self._model_state()
        if ok:
            self.breaker.record_success()
            self.failures, self.opened_at, self.trial_at = 0, None, None
            return
        self.breaker.record_failure()
        self.failures += 1
        if state is BreakerState.HALF_OPEN or self.failures >= self.THRESHOLD:
            self.opened_at, self.trial_at = self.clock.now, None

    @invariant()
    def same_state_as_the_model(self) -> None:
        assert self.breaker.state is self._model_state()

    @invariant()
    def never_asks_while_open(self) -> None:
        if self._model_state() is BreakerState.OPEN:
            assert self.breaker.retry_after() >= 1


BreakerModel.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestBreakerAgainstItsModel = BreakerModel.TestCase
