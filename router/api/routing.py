"""URL converters: a path parameter never swallows a sibling route's fixed name.

``/api/v2/cards/<escn>`` would otherwise also match ``/api/v2/cards/generate-escn``, so that a
``DELETE`` there reached the card deletion (a 400 "not a card number") instead of answering 405
with the methods ``generate-escn`` allows, and ``OPTIONS`` advertised the card's methods too.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.routing import BaseConverter, Map


class ExceptConverter(BaseConverter):
    """A path segment, except the given fixed names: ``<except("me"):identifier>``."""

    def __init__(self, url_map: Map, *excluded: str, **kwargs: Any) -> None:
        super().__init__(url_map, **kwargs)
        names = "|".join(re.escape(name) for name in excluded)
        self.regex = rf"(?!(?:{names})$)[^/]+"


# The card routes' parameter: not one of the fixed names beside it under /api/v2/cards.
ESCN_SEGMENT = '<except("generate-escn", "csv-config", "validate-csv"):escn>'
# An organisation's identifier, not ``me`` (the caller's own organisation).
ORGANISATION_SEGMENT = '<except("me"):identifier>'
