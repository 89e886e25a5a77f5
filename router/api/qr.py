"""``GET /api/v2/cards/{escn}/qr``: the card's QR code as SVG, base64 text or PNG."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from marshmallow import fields, validate
from werkzeug.exceptions import NotAcceptable

from router.api.blueprint import operation_doc
from router.api.fields import ESCN_PARAMETER
from router.api.routing import ESCN_SEGMENT
from router.api.schemas import InputSchema
from router.api.v2_cards import blp
from router.qr import (
    Colours,
    Orientation,
    QrOptions,
    QrSize,
    render_png,
    render_svg,
    svg_as_base64,
    verification_url,
)
from router.request_context import current_caller, db_session, settings
from router.services import cards

MEDIA_TYPES = ("image/svg+xml", "text/plain", "image/png")


class QrArgs(InputSchema):
    """Drawing options of the QR code."""

    orientation = fields.String(
        load_default="horizontal", validate=validate.OneOf([o.value for o in Orientation])
    )
    colours = fields.String(
        load_default="normal", validate=validate.OneOf([c.value for c in Colours])
    )
    size = fields.String(load_default="S", validate=validate.OneOf([s.value for s in QrSize]))


@blp.route(f"/{ESCN_SEGMENT}/qr", parameters=[ESCN_PARAMETER])
class CardQr(MethodView):
    """A card's QR code."""

    @blp.arguments(QrArgs, location="query")
    @blp.response(
        200,
        content_type="image/svg+xml",
        description="The QR code (Accept: image/svg+xml, text/plain for base64, image/png)",
    )
    @blp.doc(**operation_doc("getQRCode", 400, 401, 403, 404, 500))
    def get(self, args: dict[str, Any], escn: str) -> Response:
        """Download the QR code pointing at the card's public verification page."""
        card = cards.get_card(db_session(), current_caller(), escn)
        options = QrOptions(
            orientation=Orientation(args["orientation"]),
            colours=Colours(args["colours"]),
            size=QrSize(args["size"]),
        )
        url = verification_url(settings().public_url, card.card_number)
        # No Accept, or */*, gets the SVG: the real router's default.
        chosen = request.accept_mimetypes.best_match(MEDIA_TYPES)
        if not request.accept_mimetypes or request.accept_mimetypes.best == "*/*":
            chosen = "image/svg+xml"
        if chosen is None:
            raise NotAcceptable(
                f"The QR code is served as {', '.join(MEDIA_TYPES)}; "
                f"none of them is acceptable to {request.headers.get('Accept')!r}."
            )
        if chosen == "image/png":
            return Response(render_png(url, options), mimetype="image/png")
        svg = render_svg(url, card.card_number, options)
        if chosen == "text/plain":
            return Response(svg_as_base64(svg), mimetype="text/plain")
        return Response(svg, mimetype="image/svg+xml")
