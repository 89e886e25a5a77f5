"""European Student Identifiers (ESI): parsing and validation.

Current form: ``urn:schac:personalUniqueCode:int:esi:<scope>:<code>``, the scope a country code
(``HR``) where the country issues national student numbers, else the institution's
schacHomeOrganization domain (``lmu.de``). The legacy ``CN-PIC-STUDENTCODE`` form still appears in
existing records and clients of the real router still send it, so it is accepted too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from router.domain.errors import InvalidIdentifier
from router.domain.text import BLANKS, BLANKS_PATTERN

ESI_PREFIX = "urn:schac:personalUniqueCode:int:esi:"
MAX_LENGTH = 255


def _case_blind(literal: str) -> str:
    """A regular expression matching ``literal`` in any case, without inline flags (ECMA-262)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in literal)


# The form parse_esi accepts, as one regular expression (ECMA-262 and Python alike) for the
# OpenAPI document; with a maximum length of MAX_LENGTH it accepts exactly what parse_esi does.
_DOMAIN_TEXT = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
ESI_PATTERN = (
    rf"^{BLANKS_PATTERN}(?:{_case_blind(ESI_PREFIX)}(?:[A-Za-z]{{2}}|{_DOMAIN_TEXT}):[!-~]+"
    rf"|[A-Za-z]{{2}}-[0-9]{{9}}-[!-~]+){BLANKS_PATTERN}$"
)

_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
# A student code: printable, no spaces; colons are allowed because national codes contain them.
_CODE = re.compile(r"^[!-~]+$")
_LEGACY = re.compile(r"^(?P<country>[A-Za-z]{2})-(?P<pic>[0-9]{9})-(?P<code>[!-~]+)$")


@dataclass(frozen=True, slots=True)
class Esi:
    """A validated ESI: its canonical text and its parts."""

    value: str
    scope: str
    code: str
    legacy: bool = False
    pic: str | None = None

    @property
    def scope_is_country(self) -> bool:
        """True when the scope is a country code rather than an institution's domain."""
        return bool(_COUNTRY.match(self.scope))

    def __str__(self) -> str:
        return self.value


def parse_esi(text: str) -> Esi:
    """Parse an ESI in the current or the legacy form; the URN prefix is matched case-blind."""
    if not isinstance(text, str) or not text.strip(BLANKS):
        raise InvalidIdentifier("An ESI is a non-empty string.")
    candidate = text.strip(BLANKS)
    if len(candidate) > MAX_LENGTH:
        raise InvalidIdentifier(f"An ESI has at most {MAX_LENGTH} characters.")
    if candidate[: len(ESI_PREFIX)].lower() == ESI_PREFIX.lower():
        rest = candidate[len(ESI_PREFIX) :]
        scope, sep, code = rest.partition(":")
        if not sep or not scope or not code:
            raise InvalidIdentifier(
                f"{text!r}: expected {ESI_PREFIX}<country or domain>:<student code>."
            )
        if _COUNTRY.match(scope):
            scope = scope.upper()
        elif _DOMAIN.match(scope):
            scope = scope.lower()
        else:
            raise InvalidIdentifier(
                f"{text!r}: the scope {scope!r} is neither a country code nor a domain name."
            )
        if not _CODE.match(code):
            raise InvalidIdentifier(
                f"{text!r}: the student code must be printable characters without spaces."
            )
        return Esi(value=f"{ESI_PREFIX}{scope}:{code}", scope=scope, code=code)
    legacy = _LEGACY.match(candidate)
    if legacy:
        country = legacy["country"].upper()
        return Esi(
            value=f"{country}-{legacy['pic']}-{legacy['code']}",
            scope=country,
            code=legacy["code"],
            legacy=True,
            pic=legacy["pic"],
        )
    raise InvalidIdentifier(
        f"{text!r} is not an ESI: expected {ESI_PREFIX}<scope>:<code> or CN-PIC-STUDENTCODE."
    )
