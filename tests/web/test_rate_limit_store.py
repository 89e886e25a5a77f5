"""The in-memory rate-limit store: exact counts, expired ones swept inline, no thread per count."""

from __future__ import annotations

import time
import types

import limits.storage.memory
import pytest
from limits import parse
from limits.strategies import FixedWindowRateLimiter

from router.anonymous_limits import SweptMemoryStorage


def test_counting_starts_no_timer_thread_and_still_refuses_past_the_limit(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SweptMemoryStorage("memory://")
    started: list[object] = []
    monkeypatch.setattr(limits.storage.memory.threading, "Timer", lambda *a, **k: started.append(a))
    limiter = FixedWindowRateLimiter(store)
    rate = parse("5/minute")
    answers = [limiter.hit(rate, "anon", "192.0.2.1") for _ in range(8)]
    assert answers == [True] * 5 + [False] * 3
    assert limiter.hit(rate, "anon", "192.0.2.2")  # another address counts alone
    assert started == []


def test_expired_counts_are_swept_at_most_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    store = SweptMemoryStorage("memory://")
    store.incr("old", 60)
    assert store.get("old") == 1
    now = time.time()
    later = types.SimpleNamespace(time=lambda: now + 120)
    monkeypatch.setattr(limits.storage.memory, "time", later)
    store._next_sweep = 0.0
    store.incr("new", 60)
    assert "old" not in store.storage and "old" not in store.expirations
    assert store.get("new") == 1
