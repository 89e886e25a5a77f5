"""The federation slice: peer routers, their keys and catalogue, and router-to-router requests.

Pure rules (the catalogue's rules, the signature profile, the circuit breaker, the status cache,
the wire format) import neither Flask nor SQLAlchemy; the services that fetch, forward and answer
use them. HTTP faces live in ``router.api.federation``, commands in ``router.federation.cli``.
"""
