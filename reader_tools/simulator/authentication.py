"""The card's side of AuthenticateEV2First (0x71) and of the legacy AuthenticateAES (0xAA)."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from reader_tools.desfire import crypto
from reader_tools.desfire.protocol import Command, Status
from reader_tools.desfire.session import Ev2Session
from reader_tools.simulator.frames import Answer, CardError, Pending

if TYPE_CHECKING:
    from reader_tools.simulator.card import SimulatedCard

# PICC-level keys a reader may authenticate with: the master key and the DAM authentication key.
# The DAM MAC and ENC keys only check and open what the issuer prepared (DAMMAC, EncK).
PICC_AUTHENTICATION_KEYS = (0x00, crypto.DAM_AUTH_KEY_NO)
# Capabilities the card reports after AuthenticateEV2First (PDcap2, PCDcap2): none in particular.
NO_CAPABILITIES = bytes(6)


def _authentication_key(card: SimulatedCard, key_no: int) -> bytes:
    if card.application is None and key_no not in PICC_AUTHENTICATION_KEYS:
        if key_no in card.state.dam_keys:
            raise CardError(Status.PERMISSION_DENIED, f"key {key_no:#04x} cannot authenticate")
        raise CardError(Status.NO_SUCH_KEY, f"no PICC key {key_no:#04x}")
    return card.key(key_no).value


def start_ev2_first(card: SimulatedCard, data: bytes) -> Pending:
    """Frame 1: KeyNo LenCap [PCDcap2] -> E(K, RndB)."""
    if len(data) < 2 or len(data) != 2 + data[1]:
        raise CardError(Status.LENGTH_ERROR, "AuthenticateEV2First takes KeyNo, LenCap, PCDcap2")
    key_no = data[0]
    key = _authentication_key(card, key_no)
    card.end_authentication()
    rnd_b = card.random(16)
    return Pending(
        kind="authenticate-ev2",
        command=Command.AUTHENTICATE_EV2_FIRST,
        context={"key_no": key_no, "key": key, "rnd_b": rnd_b},
        frames=[crypto.aes_cbc_encrypt(key, rnd_b)],
    )


def finish_ev2_first(card: SimulatedCard, pending: Pending, data: bytes) -> Answer:
    """Frame 2: E(K, RndA || RndB') -> E(K, TI || RndA' || PDcap2 || PCDcap2); the session."""
    key, rnd_b = pending.context["key"], pending.context["rnd_b"]
    assert isinstance(key, bytes) and isinstance(rnd_b, bytes)
    if len(data) != 32:
        raise CardError(Status.LENGTH_ERROR, "the second frame is 32 bytes")
    plain = crypto.aes_cbc_decrypt(key, data)
    rnd_a, rnd_b_rotated = plain[:16], plain[16:]
    if not hmac.compare_digest(rnd_b_rotated, crypto.rotate_left(rnd_b)):
        raise CardError(Status.AUTHENTICATION_ERROR, "RndB' does not match: wrong key")
    ti = card.random(4)
    key_no = pending.context["key_no"]
    assert isinstance(key_no, int)
    card.session = Ev2Session.establish(key_no, key, rnd_a, rnd_b, ti)
    answer = ti + crypto.rotate_left(rnd_a) + NO_CAPABILITIES + NO_CAPABILITIES
    return Answer.of(crypto.aes_cbc_encrypt(key, answer))


def start_aes(card: SimulatedCard, data: bytes) -> Pending:
    """Legacy frame 1: KeyNo -> E(K, RndB), zero IV."""
    if len(data) != 1:
        raise CardError(Status.LENGTH_ERROR, "AuthenticateAES takes the key number only")
    key = _authentication_key(card, data[0])
    card.end_authentication()
    rnd_b = card.random(16)
    encrypted = crypto.aes_cbc_encrypt(key, rnd_b)
    return Pending(
        kind="authenticate-aes",
        command=Command.AUTHENTICATE_AES,
        context={"key_no": data[0], "key": key, "rnd_b": rnd_b, "iv": encrypted[-16:]},
        frames=[encrypted],
    )


def finish_aes(card: SimulatedCard, pending: Pending, data: bytes) -> Answer:
    """Legacy frame 2: E(K, RndA || RndB') chained on the card's cryptogram -> E(K, RndA')."""
    key, rnd_b, iv = (pending.context[name] for name in ("key", "rnd_b", "iv"))
    assert isinstance(key, bytes) and isinstance(rnd_b, bytes) and isinstance(iv, bytes)
    if len(data) != 32:
        raise CardError(Status.LENGTH_ERROR, "the second frame is 32 bytes")
    plain = crypto.aes_cbc_decrypt(key, data, iv)
    rnd_a, rnd_b_rotated = plain[:16], plain[16:]
    if not hmac.compare_digest(rnd_b_rotated, crypto.rotate_left(rnd_b)):
        raise CardError(Status.AUTHENTICATION_ERROR, "RndB' does not match: wrong key")
    key_no = pending.context["key_no"]
    assert isinstance(key_no, int)
    card.ev1_key = key_no
    return Answer.of(crypto.aes_cbc_encrypt(key, crypto.rotate_left(rnd_a), data[-16:]))
