"""The federation slice of the router: institutions' public keys and delegations between them.

Its services (the key directory, delegation requests and decisions) and its pure rules live here;
its HTTP and GraphQL faces are thin adapters in ``router.api`` and ``router.graphql``. The router
checks and records the institutions' signed messages; it never holds a private key or a secret.
"""
