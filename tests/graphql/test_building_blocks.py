"""The pure parts of the GraphQL adapter: cursors, windows, query cost and the batch loader."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from router.domain.errors import MalformedRequest
from router.graphql.connections import (
    Window,
    decode_cursor,
    encode_cursor,
    page_info,
    window,
)
from router.graphql.limits import query_cost
from router.graphql.loaders import BatchLoader


def test_cursors_round_trip_and_refuse_strangers() -> None:
    assert decode_cursor(encode_cursor(0)) == 0
    assert decode_cursor(encode_cursor(4321)) == 4321
    for bad in ("", "!!!", encode_cursor(1)[:-2] + "zz", "b2Zmc2V0Omh1bmRyZWQ="):
        with pytest.raises(MalformedRequest):
            decode_cursor(bad)


def test_windows_follow_the_relay_arguments() -> None:
    assert window(None, None, None, None, max_size=100, count=lambda: 30) == Window(0, 10)
    assert window(5, encode_cursor(9), None, None, max_size=100, count=lambda: 30) == Window(10, 5)
    assert window(None, None, 3, encode_cursor(10), max_size=100, count=lambda: 30) == Window(7, 3)
    assert window(
        None, encode_cursor(8), 5, encode_cursor(10), max_size=100, count=lambda: 30
    ) == Window(9, 1)
    assert window(
        50, encode_cursor(0), None, encode_cursor(3), max_size=100, count=lambda: 30
    ) == Window(1, 2)
    assert window(None, None, 4, None, max_size=100, count=lambda: 30) == Window(26, 4)
    assert window(None, encode_cursor(27), 4, None, max_size=100, count=lambda: 30) == Window(28, 2)
    with pytest.raises(MalformedRequest):
        window(101, None, None, None, max_size=100, count=lambda: 30)
    with pytest.raises(MalformedRequest):
        window(None, encode_cursor(5), None, encode_cursor(2), max_size=100, count=lambda: 30)


def test_page_info_of_a_middle_page() -> None:
    info = page_info(10, 5, 30)
    assert info.has_next_page and info.has_previous_page
    assert (decode_cursor(info.start_cursor), decode_cursor(info.end_cursor)) == (10, 14)
    assert not page_info(25, 5, 30).has_next_page


def _cost(document: str, variables: dict[str, Any] | None = None) -> int:
    parsed = parse(document)
    fragments = {
        d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)
    }
    [operation] = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    return query_cost(operation.selection_set, fragments, variables or {}, max_page=1000)


def test_cost_multiplies_by_page_sizes() -> None:
    assert _cost("{ organisation { name identifier } }") == 3
    # persons 1 + edges 20 + node 20 + identifier 20 + cards 20 + cardNumber 20
    assert (
        _cost("{ persons(first: 20) { edges { node { identifier cards { cardNumber } } } } }")
        == 101
    )
    # A connection without first is a default page of 10.
    assert _cost("{ persons { edges { node { identifier } } } }") == 31
    assert _cost("query($n: Int) { persons(first: $n) { totalCount } }", {"n": 500}) == 501
    # A variable left null is an argument left out; one of another type costs the maximum.
    assert _cost("query($n: Int) { persons(first: $n) { totalCount } }", {}) == 11


def test_cost_follows_fragments_and_survives_cycles() -> None:
    document = """query { persons(first: 5) { ...Page } }
        fragment Page on PersonConnection { edges { node { ... on Person { identifier } } } }"""
    assert _cost(document) == 16
    cyclic = "query { organisation { ...A } } fragment A on Organisation { name ...A }"
    assert _cost(cyclic) == 2  # organisation + name; the spread inside itself is not counted


def test_batch_loader_fetches_announced_keys_together_once() -> None:
    calls = []

    def fetch(keys: Iterable[int]) -> dict[int, int]:
        calls.append(sorted(keys))
        return {k: k * 10 for k in keys if k != 3}

    loader = BatchLoader(fetch, lambda: -1)
    loader.expect([1, 2, 3])
    assert loader.load(2) == 20
    assert loader.load(1) == 10
    assert loader.load(3) == -1
    assert loader.load(4) == 40
    loader.expect([1, 4])  # cached keys are not fetched again
    assert loader.load(1) == 10
    assert calls == [[1, 2, 3], [4]]
