"""The brief cache of peers' public answers: bounded in time, by the issuer, and in size."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from router.federation.status_cache import StatusCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_lives_for_the_ttl_then_is_asked_again() -> None:
    clock = Clock()
    cache: StatusCache[str] = StatusCache(30, 100, clock=clock)
    cache.put("card", "ACTIVE")
    clock.now = 29.9
    assert cache.get("card") == "ACTIVE"
    clock.now = 30.0
    assert cache.get("card") is None
    assert len(cache) == 0


def test_the_issuer_can_shorten_the_life_but_not_lengthen_it() -> None:
    clock = Clock()
    cache: StatusCache[str] = StatusCache(30, 100, clock=clock)
    cache.put("short", "ACTIVE", max_age=5)
    cache.put("long", "ACTIVE", max_age=3600)
    clock.now = 6
    assert cache.get("short") is None
    assert cache.get("long") == "ACTIVE"
    clock.now = 31
    assert cache.get("long") is None


def test_no_store_or_a_zero_ttl_keeps_nothing() -> None:
    assert len(_filled(StatusCache(0, 100), 3)) == 0
    cache: StatusCache[str] = StatusCache(30, 100)
    cache.put("card", "ACTIVE", max_age=0)
    assert cache.get("card") is None


def _filled(cache: StatusCache[str], count: int) -> StatusCache[str]:
    for index in range(count):
        cache.put(f"k{index}", "v")
    return cache


def test_the_least_recently_used_goes_first_when_full() -> None:
    cache: StatusCache[str] = StatusCache(30, 2, clock=Clock())
    cache.put("a", "1")
    cache.put("b", "2")
    assert cache.get("a") == "1"
    cache.put("c", "3")
    assert cache.get("b") is None
    assert cache.get("a") == "1" and cache.get("c") == "3"


@settings(max_examples=50, deadline=None)
@given(
    ttl=st.integers(min_value=1, max_value=60),
    steps=st.lists(
        st.tuples(st.sampled_from("abcde"), st.integers(min_value=0, max_value=90),
                  st.one_of(st.none(), st.integers(min_value=0, max_value=90))),
        max_size=30,
    ),
)
def test_no_answer_is_ever_served_older_than_the_ttl_or_the_issuers_max_age(
    ttl: int, steps: list[tuple[str, int, int | None]]
) -> None:
    clock = Clock()
    cache: StatusCache[float] = StatusCache(ttl, 3, clock=clock)
    limits: dict[str, float] = {}
    for key, wait, max_age in steps:
        clock.now += wait
        served = cache.get(key)
        if served is not None:
            assert clock.now - served < limits[key]
        cache.put(key, clock.now, max_age=max_age)
        limits[key] = ttl if max_age is None else min(ttl, max_age)
