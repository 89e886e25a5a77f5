"""The messages institutions exchange through a router, and how they are sealed.

The institutions write these messages (the host its request, the home its decision), so their
formats live with the institutions' library; the router imports this package only to check them,
and it imports nothing back (the standard library, ``cryptography`` and ``joserfc``; no Flask,
SQLAlchemy or HTTP client). It is the one documented place of the formats: :mod:`.jose` (keys,
JWS, JWE, hashes), :mod:`.delegation` (the delegation request and the decision),
:mod:`.application` (the DAM layout of the application asked for) and :mod:`.sealed` (the secrets
they carry). ``docs/delegation.md`` tells the protocol in prose.
"""
