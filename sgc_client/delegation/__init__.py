"""Delegations between institutions, on the institutions' side (never the router's).

- :mod:`~sgc_client.delegation.host`: a host (its kiosk) asks for a delegation and opens the answer.
- :mod:`~sgc_client.delegation.home`: the home's desk judges requests by its policy and answers.
- :mod:`~sgc_client.delegation.keystore`: the private keys and DAM base keys, on disk (0600).
- :mod:`~sgc_client.delegation.directory`: other institutions' public keys, optionally pinned.

The message formats are :mod:`sgc_client.protocol.delegation`'s; the card cryptography is
:mod:`reader_tools.desfire.crypto`'s.
"""

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
