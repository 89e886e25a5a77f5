from __future__ import annotations

import threading
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.domain.errors import InvalidIdentifier
from router.domain.escn import (
    EscnGenerator,
    escn_timestamp_ns,
    is_escn,
    parse_escn,
    validate_prefix,
)

pics = st.from_regex(r"\A[0-9]{9}\Z")
prefixes = st.integers(min_value=0, max_value=999)


def test_reference_example_reads_issuer_and_prefix() -> None:
    escn = parse_escn("3e506370-826a-103d-bf76-001999978433")
    assert (escn.prefix, escn.pic) == ("001", "999978433")


def test_upper_case_is_accepted_and_normalised() -> None:
    assert parse_escn("3E506370-826A-103D-BF76-001999978433").value == (
        "3e506370-826a-103d-bf76-001999978433"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not-a-uuid",
        "3e506370826a103dbf76001999978433",  # no dashes
        str(uuid.uuid4()),  # version 4
        "3e506370-826a-103d-bf76-00199997843a",  # node not all decimal
        "3e506370-826a-103d-3f76-001999978433",  # NCS variant
        "3e506370-826a-303d-bf76-001999978433",  # version 3
    ],
)
def test_invalid_numbers_are_refused(text: str) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_escn(text)


@given(pic=pics, prefix=prefixes)
def test_generated_numbers_are_valid_and_name_their_issuer(pic: str, prefix: int) -> None:
    number = EscnGenerator().generate(pic, prefix)
    parsed = parse_escn(number)
    assert parsed.pic == pic
    assert parsed.prefix == f"{prefix:03d}"
    assert number.endswith(f"{prefix:03d}{pic}")
    assert uuid.UUID(number).version == 1


@given(text=st.text(max_size=60))
def test_parser_never_crashes_on_arbitrary_text(text: str) -> None:
    assert is_escn(text) in (True, False)


@given(st.uuids(version=1))
def test_any_version1_uuid_with_a_decimal_node_parses(value: uuid.UUID) -> None:
    text = str(value)
    assert is_escn(text) == text[-12:].isdigit()


def test_generation_is_unique_and_ordered_even_when_the_clock_stands_still() -> None:
    generator = EscnGenerator(clock=lambda: 1_700_000_000_000_000_000)
    numbers = generator.generate_many("999999999", "001", 1000)
    assert len(set(numbers)) == 1000
    times = [escn_timestamp_ns(n) for n in numbers]
    assert times == sorted(times)


def test_a_clock_stepping_back_bumps_the_clock_sequence() -> None:
    now = [1_700_000_000_000_000_000]
    generator = EscnGenerator(clock_seq=7, clock=lambda: now[0])
    first = uuid.UUID(generator.generate("999999999"))
    now[0] -= 10_000_000_000  # ten seconds back
    second = uuid.UUID(generator.generate("999999999"))
    assert first.clock_seq == 7
    assert second.clock_seq == 8
    assert first != second


def test_generation_is_unique_across_threads() -> None:
    generator = EscnGenerator()
    results: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        batch = generator.generate_many("123456789", "002", 500)
        with lock:
            results.extend(batch)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == len(set(results)) == 4000


def test_two_generators_differ_in_clock_sequence_so_processes_do_not_collide() -> None:
    clock = lambda: 1_700_000_000_000_000_000  # noqa: E731
    a = EscnGenerator(clock_seq=1, clock=clock).generate("999999999")
    b = EscnGenerator(clock_seq=2, clock=clock).generate("999999999")
    assert a != b


@pytest.mark.parametrize("bad", ["1", "0001", "abc", -1, 1000, True])
def test_invalid_prefixes_are_refused(bad: str | int | bool) -> None:
    with pytest.raises(InvalidIdentifier):
        validate_prefix(bad)


def test_prefix_given_as_integer_is_padded() -> None:
    assert validate_prefix(7) == "007"
