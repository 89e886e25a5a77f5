"""Services: the router's use cases, shared by the REST and GraphQL adapters.

Each function takes the SQLAlchemy session and the authenticated caller, enforces the rules
(ownership, scopes, lifecycle), raises :mod:`router.domain.errors` on refusal, and commits its own
transaction when it writes, so that a refused request changes nothing.
"""
