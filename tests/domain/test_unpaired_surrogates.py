"""The JSON texts refused at the door: strings holding half of a UTF-16 surrogate pair."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from router.domain.text import unpaired_surrogate_in_json

HALVES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
# Any JSON value built of text that is valid Unicode (hypothesis' text() draws no surrogates).
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(VALUES, st.booleans())
def test_valid_text_passes_whether_escaped_or_not(value: Any, ascii_only: bool) -> None:
    assert not unpaired_surrogate_in_json(json.dumps(value, ensure_ascii=ascii_only).encode())


@given(st.text(), HALVES, st.text(), st.booleans())
def test_a_lone_half_is_found_in_a_value_or_a_key(
    before: str, half: str, after: str, as_key: bool
) -> None:
    text = before + half + after
    value = {text: 1} if as_key else {"items": [{"name": text}]}
    assert unpaired_surrogate_in_json(json.dumps(value))


def test_an_escaped_backslash_before_u_is_no_surrogate_and_bad_json_is_left_to_its_parser() -> None:
    assert not unpaired_surrogate_in_json(rb'{"a": "\\ud800"}')
    assert not unpaired_surrogate_in_json(rb'{"a": "\ud800"')
    # An astral character is a pair: valid.
    assert not unpaired_surrogate_in_json(rb'{"a": "\ud83d\ude00"}')
