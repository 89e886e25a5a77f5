"""escr_protocol: the messages institutions exchange through a router, and how they are sealed.

One pure package (the standard library, ``cryptography`` and ``joserfc``; no Flask, SQLAlchemy or
HTTP client), imported by the router to check messages, by ``sgc_client`` to write and open them
on the home institution's and the host's side, and by the kiosk. It is the one documented place of
the formats: :mod:`escr_protocol.jose` (keys, JWS, JWE, hashes), :mod:`escr_protocol.delegation`
(the delegation request and the decision), :mod:`escr_protocol.application` (the DAM layout of the
application asked for) and :mod:`escr_protocol.sealed` (the secrets they carry). See
``docs/delegation.md`` for the protocol in prose.
"""
