"""The federation slice of the router: institutions' keys and delegations, and peer routers.

- Institutions' public keys and the delegations between them: the router checks and records the
  institutions' signed messages; it never holds a private key or a secret.
- Peer routers: their keys and catalogue, and router-to-router requests. Pure rules (the
  catalogue's rules, the signature profile, the circuit breaker, the status cache, the wire
  format) import neither Flask nor SQLAlchemy; the services that fetch, forward and answer use
  them.

HTTP and GraphQL faces are thin adapters in ``router.api`` and ``router.graphql``; peer-router
commands live in ``router.federation.cli``.
"""
