"""Why a message or a key is refused: one exception, with the rule it broke."""

from __future__ import annotations

import enum


class Refusal(enum.StrEnum):
    """The protocol rule a message or key broke; the router maps each to a problem code."""

    MALFORMED = "malformed"
    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad-signature"
    EXPIRED = "expired"
    FUTURE_DATED = "future-dated"
    LIFETIME_TOO_LONG = "lifetime-too-long"
    INVALID_KEY = "invalid-key"
    PRIVATE_KEY = "private-key"
    INVALID_APPLICATION = "invalid-application"
    UNDECRYPTABLE = "undecryptable"
    WRONG_RECIPIENT = "wrong-recipient"
    NOT_BOUND = "not-bound"


class ProtocolError(Exception):
    """A message or key the protocol refuses; ``refusal`` names the rule, the text says why."""

    def __init__(self, refusal: Refusal, message: str) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.message = message
