from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.domain.errors import InvalidIdentifier
from router.domain.esi import ESI_PREFIX, parse_esi


def test_country_scope() -> None:
    esi = parse_esi("urn:schac:personalUniqueCode:int:esi:HR:1234")
    assert (esi.scope, esi.code, esi.scope_is_country) == ("HR", "1234", True)


def test_domain_scope_is_lower_cased() -> None:
    esi = parse_esi("urn:schac:personalUniqueCode:int:esi:LMU.de:12345")
    assert esi.value == "urn:schac:personalUniqueCode:int:esi:lmu.de:12345"
    assert not esi.scope_is_country


def test_prefix_case_is_normalised() -> None:
    assert parse_esi("URN:SCHAC:personaluniquecode:INT:esi:fr:A1").value == (
        "urn:schac:personalUniqueCode:int:esi:FR:A1"
    )


def test_code_may_contain_colons() -> None:
    assert parse_esi(f"{ESI_PREFIX}ES:abc:def").code == "abc:def"


def test_legacy_form_is_accepted() -> None:
    esi = parse_esi("fr-999999999-ABC123")
    assert (esi.legacy, esi.scope, esi.pic, esi.code) == (True, "FR", "999999999", "ABC123")
    assert esi.value == "FR-999999999-ABC123"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "urn:schac:personalUniqueCode:int:esi:",
        "urn:schac:personalUniqueCode:int:esi:FR",
        "urn:schac:personalUniqueCode:int:esi:FR:",
        "urn:schac:personalUniqueCode:int:esi:F:123",
        "urn:schac:personalUniqueCode:int:esi:not a domain:123",
        "urn:schac:personalUniqueCode:int:esi:FR:has space",
        "FR-12345-ABC",
        "student-42",
        f"{ESI_PREFIX}FR:{'x' * 300}",
    ],
)
def test_malformed_identifiers_are_refused(text: str) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_esi(text)


codes = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=100
)
countries = st.from_regex(r"\A[A-Z]{2}\Z")


@given(country=countries, code=codes)
def test_round_trip_of_valid_identifiers(country: str, code: str) -> None:
    text = f"{ESI_PREFIX}{country}:{code}"
    parsed = parse_esi(text)
    assert parsed.value == text
    assert parse_esi(parsed.value) == parsed


@given(st.text(max_size=300))
def test_parser_only_raises_invalid_identifier(text: str) -> None:
    try:
        parsed = parse_esi(text)
    except InvalidIdentifier:
        return
    assert len(parsed.value) <= 255
