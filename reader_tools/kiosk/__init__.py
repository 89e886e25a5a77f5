"""``escr-reader kiosk``: the host institution's kiosk of delegation flow A-F (docs/kiosk.md).

- :mod:`~reader_tools.kiosk.config`: ``host.toml`` and the secret files it names;
- :mod:`~reader_tools.kiosk.flow`: one card's visit, from reading it to reporting the outcome;
- :mod:`~reader_tools.kiosk.card`: what is written to the card once the home approved;
- :mod:`~reader_tools.kiosk.display`: what the student sees, or JSON lines;
- :mod:`~reader_tools.kiosk.command`: the command itself, around a pyscard card monitor.
"""
