"""The home writes a card's three DAM keys at issuance (PICC keys 0x10 auth, 0x11 MAC, 0x12 ENC).

Each key is the AN10922 diversification of the home's DAM base key with the card's UID
(:func:`reader_tools.desfire.crypto.diversify_dam_keys`, the one derivation the home's desk also
uses to authorise a delegation). They are changed with ChangeKey under the PICC master key: a key
other than the authenticated one travels as new XOR current with a CRC32 of the new key, so the
card itself refuses the change (INTEGRITY_ERROR, nothing written) unless the reader knows the key's
current value. The writer only ever presents the value it expects (the factory's zeros, or the
keys derived from the old base keys when rotating), so it never overwrites keys it cannot vouch for.

It is safe to run again after a card was pulled out half-way: a key that already holds its new
value is recognised (a ChangeKey from the new value to itself succeeds) and left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from reader_tools import iso7816
from reader_tools.desfire import crypto
from reader_tools.desfire.commands import Desfire, DesfireError
from reader_tools.desfire.protocol import PICC_AID, Status

FACTORY_KEY = bytes(crypto.AES_KEY_SIZE)
FACTORY_KEYS = crypto.DamCardKeys(auth=FACTORY_KEY, mac=FACTORY_KEY, enc=FACTORY_KEY)
# The order of the writes: the auth key, the only one a reader can check without changing it,
# goes last, so an interrupted run leaves it at its old value and the next run can tell.
ORDER = (
    (crypto.DAM_MAC_KEY_NO, "mac"),
    (crypto.DAM_ENC_KEY_NO, "enc"),
    (crypto.DAM_AUTH_KEY_NO, "auth"),
)


class DamKeysRefused(Exception):
    """The card's DAM keys are neither the expected old ones nor the new ones: nothing written."""


class RandomUid(Exception):
    """The card announces a random UID: keys derived from it would match no later reading."""


class WrongPiccKey(Exception):
    """The card refused the authentication with the PICC master key: nothing is written."""


@dataclass(frozen=True)
class KeyWritten:
    """What happened to one DAM key: ``written`` (from ``old``), or ``unchanged`` (already new)."""

    key_no: int
    name: str
    version: int
    outcome: str
    was: str


@dataclass(frozen=True)
class DamKeysResult:
    """The card's UID and what happened to each of its DAM keys."""

    uid: bytes
    keys: tuple[KeyWritten, ...]

    @property
    def changed(self) -> bool:
        """Whether any key was written."""
        return any(key.outcome == "written" for key in self.keys)


def _authenticate_master(card: Desfire, picc_master_key: bytes) -> None:
    card.select_application(PICC_AID)
    try:
        card.authenticate_ev2_first(0, picc_master_key)
    except DesfireError as error:
        if error.status == Status.AUTHENTICATION_ERROR:
            raise WrongPiccKey(
                "the card refused the PICC master key (wrong key): nothing was written"
            ) from error
        raise


def _holds_auth_key(card: Desfire, key: bytes) -> bool:
    """Whether PICC key 0x10 is ``key`` (an authentication, which changes nothing)."""
    card.select_application(PICC_AID)
    try:
        card.authenticate_ev2_first(crypto.DAM_AUTH_KEY_NO, key)
    except DesfireError as error:
        if error.status == Status.AUTHENTICATION_ERROR:
            return False
        raise
    finally:
        card.end_session()
    return True


def write_dam_keys(
    card: Desfire,
    *,
    picc_master_key: bytes,
    base: crypto.DamBaseKeys,
    version: int,
    old_base: crypto.DamBaseKeys | None = None,
) -> DamKeysResult:
    """Write the card's DAM keys derived from ``base``, replacing the factory's (or ``old_base``'s).

    Raises :class:`WrongPiccKey`, :class:`RandomUid` or :class:`DamKeysRefused` before anything
    is written; a card error (DesfireError, IntegrityError) if the card fails on the way.
    """
    if not 0 <= version <= 0xFF:
        raise ValueError("a key version is one byte")
    uid = iso7816.get_uid(card.transport)
    _authenticate_master(card, picc_master_key)
    if card.get_card_uid() != uid:
        raise RandomUid("the card announces a random UID: its DAM keys could not be derived")
    new = crypto.diversify_dam_keys(base, uid)
    old = FACTORY_KEYS if old_base is None else crypto.diversify_dam_keys(old_base, uid)
    was = "factory" if old_base is None else "old base keys"
    # The auth key is checked first, without changing anything: a card whose DAM keys were
    # written by someone else is refused before the first ChangeKey.
    if not (_holds_auth_key(card, old.auth) or _holds_auth_key(card, new.auth)):
        what = "the factory's" if old_base is None else "derived from the old base keys"
        hint = "" if old_base is not None else " (give --rotate-from with the old base keys)"
        raise DamKeysRefused(
            f"the card's DAM auth key is neither {what} nor the new one: nothing was written{hint}"
        )
    _authenticate_master(card, picc_master_key)
    results = []
    for key_no, name in ORDER:
        old_key, new_key = getattr(old, name), getattr(new, name)
        try:
            card.change_key(key_no, new_key, version, old_key=old_key)
            results.append(KeyWritten(key_no, name, version, "written", was))
            continue
        except DesfireError as error:
            if error.status != Status.INTEGRITY_ERROR:
                raise
        # The CRC of the new key did not match: the key is not the old one. Is it the new one?
        _authenticate_master(card, picc_master_key)
        try:
            card.change_key(key_no, new_key, version, old_key=new_key)
        except DesfireError as error:
            if error.status != Status.INTEGRITY_ERROR:
                raise
            before = ", ".join(r.name for r in results if r.outcome == "written") or "none"
            raise DamKeysRefused(
                f"the card's DAM {name.upper()} key (0x{key_no:02X}) is neither the expected old "
                f"key nor the new one; keys written before it: {before}"
            ) from error
        results.append(KeyWritten(key_no, name, version, "unchanged", "new"))
    card.end_session()
    return DamKeysResult(uid=uid, keys=tuple(sorted(results, key=lambda r: r.key_no)))
