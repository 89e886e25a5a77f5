"""Delegations between institutions, on the institutions' side (never the router's).

- :mod:`~sgc_client.delegation.host`: a host (its kiosk) asks for a delegation and opens the answer.
- :mod:`~sgc_client.delegation.home`: the home's desk judges requests by its policy and answers.
- :mod:`~sgc_client.delegation.keystore`: the private keys and DAM base keys, on disk (0600).
- :mod:`~sgc_client.delegation.directory`: other institutions' public keys, optionally pinned.

The message formats are :mod:`sgc_client.protocol.delegation`'s; the card cryptography is
:mod:`reader_tools.desfire.crypto`'s.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sgc_client.delegation.directory import KeyResolver, UntrustedKey
    from sgc_client.delegation.home import HomeDesk, PassReport
    from sgc_client.delegation.host import (
        Authorisation,
        DelegationError,
        DelegationHost,
        PreparedRequest,
        Refused,
    )
    from sgc_client.delegation.keystore import KeyStore, KeyStoreError
    from sgc_client.delegation.ledger import Ledger
    from sgc_client.delegation.policy import Policy, load_policy, parse_policy

# Each name's module, imported on first use: the client imports sgc_client.delegation.api on
# every start, and the rest (JOSE, cryptography) is needed only by the delegation commands.
_HOMES = {
    "Authorisation": "host",
    "DelegationError": "host",
    "DelegationHost": "host",
    "HomeDesk": "home",
    "KeyResolver": "directory",
    "KeyStore": "keystore",
    "KeyStoreError": "keystore",
    "Ledger": "ledger",
    "PassReport": "home",
    "Policy": "policy",
    "PreparedRequest": "host",
    "Refused": "host",
    "UntrustedKey": "directory",
    "load_policy": "policy",
    "parse_policy": "policy",
}
_SUBMODULES = frozenset(
    {"api", "cli", "dam", "directory", "home", "host", "keystore", "ledger", "policy"}
)


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        value = getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Authorisation",
    "DelegationError",
    "DelegationHost",
    "HomeDesk",
    "KeyResolver",
    "KeyStore",
    "KeyStoreError",
    "Ledger",
    "PassReport",
    "Policy",
    "PreparedRequest",
    "Refused",
    "UntrustedKey",
    "load_policy",
    "parse_policy",
]
